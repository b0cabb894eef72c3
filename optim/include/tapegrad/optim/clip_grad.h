#pragma once

#include <limits>
#include <vector>

#include <tapegrad/core/tensor.h>

namespace tg {

// torch.nn.utils.clip_grad_norm_: scales every gradient in place by
// min(1, max_norm / (total_norm + 1e-6)), where total_norm is the p-norm of all
// gradients together (norm_type = infinity: the largest |g|). Parameters
// without a gradient are skipped; with none at all the norm is 0. Returns the
// total norm before clipping, rounded as PyTorch computes it: in float32
// unless some gradient is float64. max_norm >= 0 and norm_type > 0 (or
// infinity), else ValueError.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// torch.nn.utils.clip_grad_value_: clamps every gradient in place into
// [-clip_value, clip_value]; clip_value >= 0, else ValueError.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace tg
