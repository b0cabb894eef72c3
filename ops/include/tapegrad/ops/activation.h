#pragma once

#include <cstdint>

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// Activations with PyTorch's semantics. Float-only math (everything but relu)
// works on a float32 copy of an int64 input, as the elementwise family does;
// relu keeps int64, as PyTorch's does.

Tensor tanh(const Tensor& x);
// 1 / (1 + e^-x), evaluated so that no exponential overflows for large |x|.
Tensor sigmoid(const Tensor& x);
// max(x, 0); the gradient at x = 0 is 0, as in PyTorch.
Tensor relu(const Tensor& x);

// Softmax / log-softmax along dim (negative counts from the end), computed
// after subtracting the maximum along dim so large inputs do not overflow.
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

// Inverted dropout: in training, each element is kept with probability 1 - p
// (mask drawn from the default generator, so manual_seed fixes it) and
// scaled by 1 / (1 - p); p = 1 gives zeros. With training = false or p = 0,
// x itself is returned (no copy, nothing recorded). p outside [0, 1] is a
// ValueError.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);

}  // namespace tg
