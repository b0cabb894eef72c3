#pragma once

#include <optional>

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// Every op that records takes a last CallSite parameter whose default
// captures the caller's line (see core/call_site.h): leave it out.

// Arithmetic with NumPy/PyTorch broadcasting and dtype promotion
// (float64 > float32 > int64). A scalar operand takes the tensor's dtype.
Tensor add(const Tensor& a, const Tensor& b, CallSite site = CallSite::current());
Tensor sub(const Tensor& a, const Tensor& b, CallSite site = CallSite::current());
Tensor mul(const Tensor& a, const Tensor& b, CallSite site = CallSite::current());
// True division: integers give float32.
Tensor div(const Tensor& a, const Tensor& b, CallSite site = CallSite::current());

// An operator's tensor operand. Operators cannot take a defaulted CallSite,
// but the implicit conversion from Tensor can: its default argument
// captures the line of the expression `a + b`.
struct Operand {
    Operand(const Tensor& tensor, CallSite site = CallSite::current())  // implicit on purpose
        : tensor(tensor), site(site) {}
    const Tensor& tensor;
    CallSite site;
};

Tensor operator+(Operand a, const Tensor& b);
Tensor operator-(Operand a, const Tensor& b);
Tensor operator*(Operand a, const Tensor& b);
Tensor operator/(Operand a, const Tensor& b);
Tensor operator+(Operand a, double b);
Tensor operator-(Operand a, double b);
Tensor operator*(Operand a, double b);
Tensor operator/(Operand a, double b);
Tensor operator+(double a, Operand b);
Tensor operator-(double a, Operand b);
Tensor operator*(double a, Operand b);
Tensor operator/(double a, Operand b);
Tensor operator-(Operand x);

Tensor neg(const Tensor& x, CallSite site = CallSite::current());
Tensor pow(const Tensor& x, double exponent, CallSite site = CallSite::current());
Tensor pow(const Tensor& x, const Tensor& exponent, CallSite site = CallSite::current());
Tensor exp(const Tensor& x, CallSite site = CallSite::current());
Tensor log(const Tensor& x, CallSite site = CallSite::current());
Tensor sqrt(const Tensor& x, CallSite site = CallSite::current());
Tensor abs(const Tensor& x, CallSite site = CallSite::current());
Tensor sin(const Tensor& x, CallSite site = CallSite::current());
Tensor cos(const Tensor& x, CallSite site = CallSite::current());
// Limits either side (or both); the gradient passes where min <= x <= max.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max,
             CallSite site = CallSite::current());
// Elementwise choice: a where condition is non-zero, else b (all broadcast).
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b,
             CallSite site = CallSite::current());

// Comparisons give 0/1 masks in the promoted dtype of their operands and
// carry no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);

// Sums a broadcast result back down to `shape` (the gradient of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape, CallSite site = CallSite::current());

// So that these ops still convert to plain function pointers
// (`Tensor (*f)(const Tensor&) = tg::exp`): a direct call prefers the
// functions above, which capture the call site; a call through the pointer
// reports none.
template <class = void>
Tensor add(const Tensor& a, const Tensor& b) {
    return add(a, b, CallSite{});
}
template <class = void>
Tensor sub(const Tensor& a, const Tensor& b) {
    return sub(a, b, CallSite{});
}
template <class = void>
Tensor mul(const Tensor& a, const Tensor& b) {
    return mul(a, b, CallSite{});
}
template <class = void>
Tensor div(const Tensor& a, const Tensor& b) {
    return div(a, b, CallSite{});
}
template <class = void>
Tensor neg(const Tensor& x) {
    return neg(x, CallSite{});
}
template <class = void>
Tensor exp(const Tensor& x) {
    return exp(x, CallSite{});
}
template <class = void>
Tensor log(const Tensor& x) {
    return log(x, CallSite{});
}
template <class = void>
Tensor sqrt(const Tensor& x) {
    return sqrt(x, CallSite{});
}
template <class = void>
Tensor abs(const Tensor& x) {
    return abs(x, CallSite{});
}
template <class = void>
Tensor sin(const Tensor& x) {
    return sin(x, CallSite{});
}
template <class = void>
Tensor cos(const Tensor& x) {
    return cos(x, CallSite{});
}

}  // namespace tg
