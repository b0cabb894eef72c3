#include <tapegrad/core/generator.h>
#include <tapegrad/ops/activation.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/map.h>

#include <cmath>
#include <limits>
#include <mutex>

namespace tg {

namespace {

using detail::floating;

using detail::map;
using detail::zip;

// A tensor seen as [outer, n, inner] around one dimension: each of the
// outer * inner lanes holds n elements that lie `inner` apart.
struct Lanes {
    std::int64_t outer = 1, n = 1, inner = 1;
};

// dim must already be normalized; a 0-D tensor is one lane of one element.
Lanes lanes_around(const Shape& shape, std::int64_t dim) {
    Lanes l;
    if (shape.rank() == 0) return l;
    for (std::int64_t d = 0; d < dim; ++d) l.outer *= shape[d];
    l.n = shape[dim];
    for (std::int64_t d = dim + 1; d < shape.rank(); ++d) l.inner *= shape[d];
    return l;
}

// Calls f(first, stride) for every lane; element k of the lane is at first + k * stride.
template <class F>
void for_each_lane(const Lanes& l, F f) {
    for (std::int64_t o = 0; o < l.outer; ++o)
        for (std::int64_t i = 0; i < l.inner; ++i) f(o * l.n * l.inner + i, l.inner);
}

// Softmax (or its log) of every lane. Subtracting the lane's maximum first
// keeps every exponential in (0, 1], so nothing overflows; sums run in double.
Tensor softmax_lanes(const Tensor& x, const Lanes& l, bool log) {
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    dispatch_floating(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        T* py = y.mutable_data<T>();
        for_each_lane(l, [&](std::int64_t first, std::int64_t stride) {
            double m = -std::numeric_limits<double>::infinity();
            for (std::int64_t k = 0; k < l.n; ++k)
                m = std::max(m, static_cast<double>(px[first + k * stride]));
            double total = 0;
            for (std::int64_t k = 0; k < l.n; ++k)
                total += std::exp(static_cast<double>(px[first + k * stride]) - m);
            double log_total = std::log(total);
            for (std::int64_t k = 0; k < l.n; ++k) {
                double shifted = static_cast<double>(px[first + k * stride]) - m;
                py[first + k * stride] =
                    static_cast<T>(log ? shifted - log_total : std::exp(shifted) / total);
            }
        });
    });
    return y;
}

// softmax: dx = y * (dy - sum(dy * y));  log_softmax: dx = dy - e^y * sum(dy),
// the sums running along each lane.
Tensor softmax_lanes_grad(const Tensor& y, const Tensor& dy0, const Lanes& l, bool log) {
    Tensor dy = dy0.dtype() == y.dtype() ? dy0 : dy0.to(y.dtype());
    Tensor dx = Tensor::empty(y.shape(), y.dtype());
    dispatch_floating(y.dtype(), [&]<class T>() {
        const T* py = y.data<T>();
        const T* pdy = dy.data<T>();
        T* pdx = dx.mutable_data<T>();
        for_each_lane(l, [&](std::int64_t first, std::int64_t stride) {
            double total = 0;
            for (std::int64_t k = 0, i = first; k < l.n; ++k, i += stride)
                total += log ? static_cast<double>(pdy[i])
                             : static_cast<double>(pdy[i]) * static_cast<double>(py[i]);
            for (std::int64_t k = 0, i = first; k < l.n; ++k, i += stride) {
                double v = py[i], g = pdy[i];
                pdx[i] = static_cast<T>(log ? g - std::exp(v) * total : v * (g - total));
            }
        });
    });
    return dx;
}

// Kept elements (probability 1 - p) hold 1 / (1 - p), dropped ones 0.
Tensor dropout_mask(const Shape& shape, DType dtype, double p) {
    double keep = 1.0 - p;
    double scale = keep > 0 ? 1.0 / keep : 0.0;
    Tensor m = Tensor::empty(shape, dtype);
    std::lock_guard lock(default_generator_mutex());
    Generator& g = default_generator();
    dispatch_floating(dtype, [&]<class T>() {
        T* pm = m.mutable_data<T>();
        for (std::int64_t i = 0, n = m.numel(); i < n; ++i)
            pm[i] = g.uniform() < keep ? static_cast<T>(scale) : T(0);
    });
    return m;
}

}  // namespace

// y = tanh x;  dx = dy * (1 - y^2).
Tensor tanh(const Tensor& x0, CallSite site) {
    Tensor x = floating(x0, "tanh");
    Tensor y = map(x, [](auto v) { return std::tanh(v); });
    return record(
        "tanh", {x}, y, [y](const Tensor& dy, Grads& dx) { dx[0] += dy * (1.0 - y * y); }, site);
}

// y = 1 / (1 + e^-x);  dx = dy * y * (1 - y).
Tensor sigmoid(const Tensor& x0, CallSite site) {
    Tensor x = floating(x0, "sigmoid");
    // Only ever exponentiate a non-positive number, so e^|x| never overflows.
    Tensor y = map(x, [](auto v) {
        using T = decltype(v);
        if (v >= 0) return static_cast<T>(T(1) / (T(1) + std::exp(-v)));
        T e = static_cast<T>(std::exp(v));
        return e / (T(1) + e);
    });
    return record(
        "sigmoid", {x}, y, [y](const Tensor& dy, Grads& dx) { dx[0] += dy * y * (1.0 - y); }, site);
}

// y = max(x, 0);  dx = dy where x > 0, else 0 (also at x = 0, as PyTorch).
Tensor relu(const Tensor& x, CallSite site) {
    if (!x.defined()) throw ValueError("relu: undefined tensor");
    // `v < 0` is false for NaN, so NaN propagates as in PyTorch.
    Tensor y = map(x, [](auto v) { return v < 0 ? decltype(v)(0) : v; });
    return record(
        "relu", {x}, y,
        [y](const Tensor& dy, Grads& dx) {
            dx[0] += dy * map(y, [](auto v) { return v > 0 ? 1 : 0; });
        },
        site);
}

// y = e^(x - m) / sum e^(x - m) along dim, m = max along dim;
// dx = y * (dy - sum(dy * y)) along dim.
Tensor softmax(const Tensor& x0, std::int64_t dim, CallSite site) {
    if (!x0.defined()) throw ValueError("softmax: undefined tensor");
    Lanes l = lanes_around(x0.shape(), normalize_dim(dim, x0.dim(), "softmax"));
    Tensor x = floating(x0, "softmax");
    Tensor y = softmax_lanes(x, l, /*log=*/false);
    return record(
        "softmax", {x}, y,
        [y, l](const Tensor& dy, Grads& dx) {
            dx[0] += softmax_lanes_grad(y, dy, l, /*log=*/false);
        },
        site);
}

// y = x - m - log(sum e^(x - m)) along dim, m = max along dim;
// dx = dy - e^y * sum(dy) along dim.
Tensor log_softmax(const Tensor& x0, std::int64_t dim, CallSite site) {
    if (!x0.defined()) throw ValueError("log_softmax: undefined tensor");
    Lanes l = lanes_around(x0.shape(), normalize_dim(dim, x0.dim(), "log_softmax"));
    Tensor x = floating(x0, "log_softmax");
    Tensor y = softmax_lanes(x, l, /*log=*/true);
    return record(
        "log_softmax", {x}, y,
        [y, l](const Tensor& dy, Grads& dx) {
            dx[0] += softmax_lanes_grad(y, dy, l, /*log=*/true);
        },
        site);
}

// y = x * m, m = Bernoulli(1 - p) / (1 - p);  dx = dy * m (the same mask).
Tensor dropout(const Tensor& x0, double p, bool training, CallSite site) {
    if (!x0.defined()) throw ValueError("dropout: undefined tensor");
    if (!(p >= 0 && p <= 1))
        throw ValueError(fmt::format("dropout: probability p must be in [0, 1], got {}", p));
    if (!training || p == 0) return x0;
    Tensor x = floating(x0, "dropout");
    Tensor m = dropout_mask(x.shape(), x.dtype(), p);
    Tensor y = zip(x, m, [](auto a, auto b) { return a * b; });
    return record(
        "dropout", {x}, y, [m](const Tensor& dy, Grads& dx) { dx[0] += dy * m; }, site);
}

}  // namespace tg
