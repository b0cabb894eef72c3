#pragma once

#include <cstdint>

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// Activations with PyTorch's semantics. Float-only math (everything but relu)
// works on a float32 copy of an int64 input, as the elementwise family does;
// relu keeps int64, as PyTorch's does.

Tensor tanh(const Tensor& x, CallSite site = CallSite::current());
// 1 / (1 + e^-x), evaluated so that no exponential overflows for large |x|.
Tensor sigmoid(const Tensor& x, CallSite site = CallSite::current());
// max(x, 0); the gradient at x = 0 is 0, as in PyTorch.
Tensor relu(const Tensor& x, CallSite site = CallSite::current());

// Softmax / log-softmax along dim (negative counts from the end), computed
// after subtracting the maximum along dim so large inputs do not overflow.
Tensor softmax(const Tensor& x, std::int64_t dim, CallSite site = CallSite::current());
Tensor log_softmax(const Tensor& x, std::int64_t dim, CallSite site = CallSite::current());

// Inverted dropout: in training, each element is kept with probability 1 - p
// (mask drawn from the default generator, so manual_seed fixes it) and
// scaled by 1 / (1 - p); p = 1 gives zeros. With training = false or p = 0,
// x itself is returned (no copy, nothing recorded). p outside [0, 1] is a
// ValueError.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true,
               CallSite site = CallSite::current());

// Plain function pointers (`Tensor (*f)(const Tensor&) = tg::tanh`), as for
// the elementwise ops: a call through the pointer reports no call site.
template <class = void>
Tensor tanh(const Tensor& x) {
    return tanh(x, CallSite{});
}
template <class = void>
Tensor sigmoid(const Tensor& x) {
    return sigmoid(x, CallSite{});
}
template <class = void>
Tensor relu(const Tensor& x) {
    return relu(x, CallSite{});
}

}  // namespace tg
