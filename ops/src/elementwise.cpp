#include <tapegrad/ops/broadcast.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/map.h>

#include <cmath>
#include <tuple>

namespace tg {

namespace {

using detail::converted;
using detail::floating;

using detail::map;
using detail::zip;

// z = f(a, b) with broadcasting, both operands already in z's dtype.
template <class F>
Tensor broadcast_zip(const Tensor& a, const Tensor& b, const char* op, F f) {
    if (a.shape() == b.shape()) return zip(a, b, f);
    Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
    Tensor z = Tensor::empty(shape, a.dtype());
    dispatch(a.dtype(), [&]<class T>() {
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        T* pz = z.mutable_data<T>();
        if (b.numel() == 1) {
            T s = pb[0];
            for (std::int64_t i = 0, n = z.numel(); i < n; ++i) pz[i] = static_cast<T>(f(pa[i], s));
            return;
        }
        detail::broadcast_loop<2>(shape, {&a.shape(), &b.shape()}, [&](std::int64_t i, auto j) {
            pz[i] = static_cast<T>(f(pa[j[0]], pb[j[1]]));
        });
    });
    return z;
}

void check_defined(const Tensor& a, const Tensor& b, const char* op) {
    if (!a.defined() || !b.defined())
        throw ValueError(fmt::format("{}: an operand is an undefined tensor", op));
}

// Both operands in their common dtype (recorded, so gradients convert back).
// Shapes are checked first, so a failed op records no conversion.
std::pair<Tensor, Tensor> promoted(const Tensor& a, const Tensor& b, const char* op, CallSite site,
                                   bool to_floating = false) {
    check_defined(a, b, op);
    broadcast_shapes(a.shape(), b.shape(), op);
    DType d = promote(a.dtype(), b.dtype());
    if (to_floating && !is_floating(d)) d = DType::f32;
    return {converted(a, d, op, site), converted(b, d, op, site)};
}

Tensor as_operand(double v, const Tensor& like) {
    // Only a whole number that int64 can hold stays int64 (inf or 1e300 would overflow).
    bool integral = std::nearbyint(v) == v && std::abs(v) < 0x1p63;
    DType d = is_floating(like.dtype()) || integral ? like.dtype() : DType::f32;
    return Tensor::scalar(v, d);
}

template <class F>
Tensor compare(const Tensor& a0, const Tensor& b0, const char* op, F f) {
    auto [a, b] = promoted(a0.detach(), b0.detach(), op, CallSite{});
    return broadcast_zip(a, b, op, [f](auto x, auto y) { return f(x, y) ? 1 : 0; });
}

}  // namespace

// z = a + b;  da = dz, db = dz (summed over broadcast dimensions).
Tensor add(const Tensor& a0, const Tensor& b0, CallSite site) {
    auto [a, b] = promoted(a0, b0, "add", site);
    Tensor z = broadcast_zip(a, b, "add", [](auto x, auto y) { return x + y; });
    return record(
        "add", {a, b}, z,
        [sa = a.shape(), sb = b.shape()](const Tensor& dz, Grads& dx) {
            if (dx.needs(0)) dx[0] += sum_to(dz, sa);
            if (dx.needs(1)) dx[1] += sum_to(dz, sb);
        },
        site);
}

// z = a - b;  da = dz, db = -dz.
Tensor sub(const Tensor& a0, const Tensor& b0, CallSite site) {
    auto [a, b] = promoted(a0, b0, "sub", site);
    Tensor z = broadcast_zip(a, b, "sub", [](auto x, auto y) { return x - y; });
    return record(
        "sub", {a, b}, z,
        [sa = a.shape(), sb = b.shape()](const Tensor& dz, Grads& dx) {
            if (dx.needs(0)) dx[0] += sum_to(dz, sa);
            if (dx.needs(1)) dx[1] += sum_to(neg(dz), sb);
        },
        site);
}

// z = a * b;  da = dz * b, db = dz * a.
Tensor mul(const Tensor& a0, const Tensor& b0, CallSite site) {
    Tensor a, b;  // not a structured binding: clang < 16 cannot capture one
    std::tie(a, b) = promoted(a0, b0, "mul", site);
    Tensor z = broadcast_zip(a, b, "mul", [](auto x, auto y) { return x * y; });
    return record(
        "mul", {a, b}, z,
        [a, b](const Tensor& dz, Grads& dx) {
            if (dx.needs(0)) dx[0] += sum_to(dz * b, a.shape());
            if (dx.needs(1)) dx[1] += sum_to(dz * a, b.shape());
        },
        site);
}

// z = a / b;  da = dz / b, db = -dz * a / b^2.
Tensor div(const Tensor& a0, const Tensor& b0, CallSite site) {
    Tensor a, b;  // not a structured binding: clang < 16 cannot capture one
    std::tie(a, b) = promoted(a0, b0, "div", site, /*to_floating=*/true);
    Tensor z = broadcast_zip(a, b, "div", [](auto x, auto y) { return x / y; });
    return record(
        "div", {a, b}, z,
        [a, b](const Tensor& dz, Grads& dx) {
            if (dx.needs(0)) dx[0] += sum_to(dz / b, a.shape());
            if (dx.needs(1)) dx[1] += sum_to(neg(dz * a / (b * b)), b.shape());
        },
        site);
}

Tensor operator+(Operand a, const Tensor& b) { return add(a.tensor, b, a.site); }
Tensor operator-(Operand a, const Tensor& b) { return sub(a.tensor, b, a.site); }
Tensor operator*(Operand a, const Tensor& b) { return mul(a.tensor, b, a.site); }
Tensor operator/(Operand a, const Tensor& b) { return div(a.tensor, b, a.site); }
Tensor operator+(Operand a, double b) { return add(a.tensor, as_operand(b, a.tensor), a.site); }
Tensor operator-(Operand a, double b) { return sub(a.tensor, as_operand(b, a.tensor), a.site); }
Tensor operator*(Operand a, double b) { return mul(a.tensor, as_operand(b, a.tensor), a.site); }
Tensor operator/(Operand a, double b) { return div(a.tensor, as_operand(b, a.tensor), a.site); }
Tensor operator+(double a, Operand b) { return add(as_operand(a, b.tensor), b.tensor, b.site); }
Tensor operator-(double a, Operand b) { return sub(as_operand(a, b.tensor), b.tensor, b.site); }
Tensor operator*(double a, Operand b) { return mul(as_operand(a, b.tensor), b.tensor, b.site); }
Tensor operator/(double a, Operand b) { return div(as_operand(a, b.tensor), b.tensor, b.site); }
Tensor operator-(Operand x) { return neg(x.tensor, x.site); }

// y = -x;  dx = -dy.
Tensor neg(const Tensor& x, CallSite site) {
    Tensor y = map(x, [](auto v) { return -v; });
    return record(
        "neg", {x}, y, [](const Tensor& dy, Grads& dx) { dx[0] += neg(dy); }, site);
}

// y = x^p;  dx = dy * p * x^(p-1), and 0 for p = 0 (not 0 * inf at x = 0), as PyTorch.
Tensor pow(const Tensor& x0, double p, CallSite site) {
    Tensor x = floating(x0, "pow");
    Tensor y = map(x, [p](auto v) { return std::pow(v, p); });
    return record(
        "pow", {x}, y,
        [x, p](const Tensor& dy, Grads& dx) {
            dx[0] += p == 0 ? zeros_like(dy) : dy * p * pow(x, p - 1.0);
        },
        site);
}

// y = x^e;  dx = dy * e * x^(e-1) (0 where e = 0),
// de = dy * y * log(x) (0 where x = 0 and e >= 0), as PyTorch.
Tensor pow(const Tensor& x0, const Tensor& e0, CallSite site) {
    Tensor x, e;  // not a structured binding: clang < 16 cannot capture one
    std::tie(x, e) = promoted(x0, e0, "pow", site, /*to_floating=*/true);
    Tensor y = broadcast_zip(x, e, "pow", [](auto a, auto b) { return std::pow(a, b); });
    return record(
        "pow", {x, e}, y,
        [x, e, y](const Tensor& dy, Grads& dx) {
            Tensor zero = zeros({}, y.dtype());
            if (dx.needs(0))
                dx[0] += sum_to(where(eq(e, zero), zero, dy * e * pow(x, e - 1.0)), x.shape());
            if (dx.needs(1)) {
                Tensor at_zero = eq(x, zero) * ge(e, zero);
                dx[1] += sum_to(dy * where(at_zero, zero, y * log(x)), e.shape());
            }
        },
        site);
}

// y = e^x;  dx = dy * y.
Tensor exp(const Tensor& x0, CallSite site) {
    Tensor x = floating(x0, "exp");
    Tensor y = map(x, [](auto v) { return std::exp(v); });
    return record(
        "exp", {x}, y, [y](const Tensor& dy, Grads& dx) { dx[0] += dy * y; }, site);
}

// y = ln x;  dx = dy / x.
Tensor log(const Tensor& x0, CallSite site) {
    Tensor x = floating(x0, "log");
    Tensor y = map(x, [](auto v) { return std::log(v); });
    return record(
        "log", {x}, y, [x](const Tensor& dy, Grads& dx) { dx[0] += dy / x; }, site);
}

// y = sqrt(x);  dx = dy / (2 y).
Tensor sqrt(const Tensor& x0, CallSite site) {
    Tensor x = floating(x0, "sqrt");
    Tensor y = map(x, [](auto v) { return std::sqrt(v); });
    return record(
        "sqrt", {x}, y, [y](const Tensor& dy, Grads& dx) { dx[0] += dy / (2.0 * y); }, site);
}

// y = |x|;  dx = dy * sign(x), with sign(0) = 0 as PyTorch.
Tensor abs(const Tensor& x, CallSite site) {
    Tensor y = map(x, [](auto v) { return v < 0 ? -v : v; });
    return record(
        "abs", {x}, y,
        [x](const Tensor& dy, Grads& dx) {
            dx[0] += dy * map(x, [](auto v) { return (v > 0) - (v < 0); });
        },
        site);
}

// y = sin x;  dx = dy * cos x.
Tensor sin(const Tensor& x0, CallSite site) {
    Tensor x = floating(x0, "sin");
    Tensor y = map(x, [](auto v) { return std::sin(v); });
    return record(
        "sin", {x}, y, [x](const Tensor& dy, Grads& dx) { dx[0] += dy * cos(x); }, site);
}

// y = cos x;  dx = -dy * sin x.
Tensor cos(const Tensor& x0, CallSite site) {
    Tensor x = floating(x0, "cos");
    Tensor y = map(x, [](auto v) { return std::cos(v); });
    return record(
        "cos", {x}, y, [x](const Tensor& dy, Grads& dx) { dx[0] += neg(dy * sin(x)); }, site);
}

// y = min(max(x, lo), hi);  dx = dy where lo <= x <= hi, else 0.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max, CallSite site) {
    if (!x.defined()) throw ValueError("clamp: undefined tensor");
    if (!min && !max) throw ValueError("clamp: at least one of min and max must be given");
    double lo = min.value_or(-INFINITY), hi = max.value_or(INFINITY);
    if (std::isnan(lo) || std::isnan(hi))
        throw ValueError(fmt::format("clamp: bounds must not be NaN (min={}, max={})", lo, hi));
    auto inside = [lo, hi](auto v) { return v >= lo && v <= hi; };
    // max first, then min: with lo > hi everything becomes hi, as PyTorch; NaN stays NaN.
    Tensor y = map(x, [lo, hi](auto v) {
        using T = decltype(v);
        if (v < lo) v = static_cast<T>(lo);
        if (v > hi) v = static_cast<T>(hi);
        return v;
    });
    return record(
        "clamp", {x}, y,
        [x, inside](const Tensor& dy, Grads& dx) {
            dx[0] += dy * map(x, [inside](auto v) { return inside(v) ? 1 : 0; });
        },
        site);
}

// y = c ? a : b;  da = dy where c, db = dy elsewhere.
Tensor where(const Tensor& condition, const Tensor& a0, const Tensor& b0, CallSite site) {
    if (!condition.defined()) throw ValueError("where: condition is an undefined tensor");
    check_defined(a0, b0, "where");
    Shape shape = broadcast_shapes(broadcast_shapes(condition.shape(), a0.shape(), "where"),
                                   b0.shape(), "where");
    Tensor a, b;  // not a structured binding: clang < 16 cannot capture one
    std::tie(a, b) = promoted(a0, b0, "where", site);
    Tensor c = condition.detach().to(DType::f64);
    Tensor y = Tensor::empty(shape, a.dtype());
    dispatch(a.dtype(), [&]<class T>() {
        const double* pc = c.data<double>();
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        T* py = y.mutable_data<T>();
        detail::broadcast_loop<3>(
            shape, {&c.shape(), &a.shape(), &b.shape()},
            [&](std::int64_t i, auto j) { py[i] = pc[j[0]] != 0 ? pa[j[1]] : pb[j[2]]; });
    });
    return record(
        "where", {a, b}, y,
        [c, a, b](const Tensor& dy, Grads& dx) {
            Tensor zero = zeros({}, dy.dtype());
            if (dx.needs(0)) dx[0] += sum_to(where(c, dy, zero), a.shape());
            if (dx.needs(1)) dx[1] += sum_to(where(c, zero, dy), b.shape());
        },
        site);
}

Tensor eq(const Tensor& a, const Tensor& b) {
    return compare(a, b, "eq", [](auto x, auto y) { return x == y; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
    return compare(a, b, "ne", [](auto x, auto y) { return x != y; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
    return compare(a, b, "lt", [](auto x, auto y) { return x < y; });
}
Tensor le(const Tensor& a, const Tensor& b) {
    return compare(a, b, "le", [](auto x, auto y) { return x <= y; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
    return compare(a, b, "gt", [](auto x, auto y) { return x > y; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
    return compare(a, b, "ge", [](auto x, auto y) { return x >= y; });
}
Tensor operator==(const Tensor& a, double b) { return eq(a, as_operand(b, a)); }
Tensor operator<(const Tensor& a, double b) { return lt(a, as_operand(b, a)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, as_operand(b, a)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, as_operand(b, a)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, as_operand(b, a)); }

// y = x summed over the dimensions that broadcasting to x's shape added or
// stretched; dx = dy broadcast back.
Tensor sum_to(const Tensor& x, const Shape& shape, CallSite site) {
    if (x.shape() == shape) return x;
    if (broadcast_shapes(shape, x.shape(), "sum_to") != x.shape())
        throw ShapeError(
            fmt::format("sum_to: shape {} does not broadcast to {}", shape, x.shape()));
    Tensor y = zeros(shape, x.dtype());
    dispatch(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        T* py = y.mutable_data<T>();
        detail::broadcast_loop<1>(x.shape(), {&shape},
                                  [&](std::int64_t i, auto j) { py[j[0]] += px[i]; });
    });
    return record(
        "sum_to", {x}, y,
        [xs = x.shape()](const Tensor& dy, Grads& dx) { dx[0] += dy + zeros(xs, dy.dtype()); },
        site);
}

}  // namespace tg
