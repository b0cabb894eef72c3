#pragma once

#include <cstdint>
#include <optional>

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// int64 indices of any shape -> int64 tensor with a trailing dimension of
// num_classes, 1 at each index and 0 elsewhere. num_classes = -1 takes
// max(indices) + 1. An index that is negative or not below num_classes is an
// IndexError. No gradient.
Tensor one_hot(const Tensor& indices, std::int64_t num_classes = -1);

// Looks up rows of weight [num, dim] for int64 indices of any shape, giving
// [..., dim]. The gradient of weight adds up the gradient rows of every
// lookup (repeated indices accumulate), except for row padding_idx (negative
// counts from the end), which gets none, as torch.nn.functional.embedding.
Tensor embedding(const Tensor& indices, const Tensor& weight,
                 std::optional<std::int64_t> padding_idx = std::nullopt,
                 CallSite site = CallSite::current());

}  // namespace tg
