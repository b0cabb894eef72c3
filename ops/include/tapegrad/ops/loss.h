#pragma once

#include <cstdint>

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// Loss functions with torch.nn.functional's semantics and numbers. The input
// must be floating (DTypeError otherwise); the result has the promoted dtype
// of the operands. Reduction::none keeps one loss per element (or per
// sample), sum adds them up, mean divides the sum as PyTorch does (the mean
// of no elements is NaN). Class weights and pos_weight are constants: like
// PyTorch, no gradient flows into them. Bad shapes throw ShapeError, bad
// dtypes DTypeError, bad values ValueError, and a class index out of range
// IndexError; all before anything is recorded.
enum class Reduction { none, mean, sum };

// (input - target)^2 and |input - target| elementwise, then reduced; the
// gradient of |d| at d = 0 is 0, as PyTorch. The shapes must match exactly:
// PyTorch broadcasts them with a warning, which hides a [N] vs [N, 1]
// mistake by silently computing an [N, N] loss, so tapegrad refuses instead.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                CallSite site = CallSite::current());
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
               CallSite site = CallSite::current());

struct NllLossOptions {
    Reduction reduction = Reduction::mean;
    // Targets equal to this give loss 0 and count for nothing in the mean.
    std::int64_t ignore_index = -100;
    Tensor weight = {};  // optional [C] class weights, floating
};

struct CrossEntropyOptions {
    Reduction reduction = Reduction::mean;
    std::int64_t ignore_index = -100;  // class-index targets only
    // In [0, 1]: the target becomes (1 - s) * target + s / C, as PyTorch.
    double label_smoothing = 0.0;
    Tensor weight = {};  // optional [C] class weights, floating
};

// Negative log-likelihood of log-probabilities. input is [N, C],
// [N, C, d1, ...] or [C]; target holds int64 class indices of shape [N],
// [N, d1, ...] or [] (input's shape without the class dimension 1).
// loss = -weight[t] * input[.., t, ..]; the mean divides by the sum of
// weight[t] over the targets that are not ignore_index (their count without
// weights), so it is NaN when every target is ignored.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NllLossOptions& options = {},
                CallSite site = CallSite::current());

// log_softmax over the class dimension (1, or 0 for a [C] input) followed by
// nll_loss, with the same shapes. target may instead hold class
// probabilities: floating and of input's shape; then
// loss = -sum over classes of weight * target * log_softmax(input), the mean
// divides by the number of samples (N * d1 * ...), ignore_index plays no
// part, and the gradient also flows into the target.
Tensor cross_entropy(const Tensor& input, const Tensor& target,
                     const CrossEntropyOptions& options = {}, CallSite site = CallSite::current());

// -[p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] with p = pos_weight
// (1 when undefined), computed as (1 - t) x + (1 + (p - 1) t) softplus(-x)
// where softplus(-x) = max(-x, 0) + log(1 + e^-|x|), so no exponential
// overflows. target is floating and of input's shape; pos_weight broadcasts
// to input's shape (e.g. one weight per class of a [N, C] input). The
// gradient flows into input and target.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction = Reduction::mean,
                                        const Tensor& pos_weight = {},
                                        CallSite site = CallSite::current());

}  // namespace tg
