#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// Reductions with PyTorch's semantics. `dims` may be negative and must not
// repeat; an empty list reduces every dimension (PyTorch's dim=[]). keepdim
// leaves the reduced dimensions in place with size 1.

// Sum of all elements (a 0-D tensor) or over dims. Integers stay int64; the
// sum of no elements is 0.
Tensor sum(const Tensor& x, std::vector<std::int64_t> dims = {}, bool keepdim = false,
           CallSite site = CallSite::current());

// Mean of all elements or over dims; floating tensors only (int64 is a
// DTypeError, as in PyTorch). The mean of no elements is NaN, as in PyTorch.
Tensor mean(const Tensor& x, std::vector<std::int64_t> dims = {}, bool keepdim = false,
            CallSite site = CallSite::current());

// Largest / smallest element along dim with its int64 index. Ties pick the
// first occurrence, NaN counts as larger and smaller than everything (it
// propagates), and the gradient goes to the selected element only.
struct ValuesIndices {
    Tensor values;
    Tensor indices;
};
ValuesIndices max(const Tensor& x, std::int64_t dim, bool keepdim = false,
                  CallSite site = CallSite::current());
ValuesIndices min(const Tensor& x, std::int64_t dim, bool keepdim = false,
                  CallSite site = CallSite::current());

// Largest / smallest element of the whole tensor, 0-D. The gradient is split
// evenly among tied extremes (PyTorch's evenly_distribute_backward).
Tensor max(const Tensor& x, CallSite site = CallSite::current());
Tensor min(const Tensor& x, CallSite site = CallSite::current());

// int64 index of the first largest / smallest element along dim; without a
// dim, the index into the flattened tensor (keepdim then gives all sizes 1).
// No gradient.
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim = {}, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim = {}, bool keepdim = false);

}  // namespace tg
