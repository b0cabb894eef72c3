#include <tapegrad/optim/clip_grad.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace tg {

namespace {

// The p-norm of one tensor, accumulated in double; p is 1, 2, infinity or
// any other positive number, with the special cases PyTorch's kernels take.
double norm(const Tensor& x, double p) {
    double total = 0.0;
    dispatch_floating(x.dtype(), [&]<class T>() {
        const T* v = x.data<T>();
        for (std::int64_t i = 0, n = x.numel(); i < n; ++i) {
            double a = std::abs(static_cast<double>(v[i]));
            if (std::isinf(p))
                total = std::isnan(a) || std::isnan(total) ? a + total : std::max(total, a);
            else if (p == 1.0)
                total += a;
            else if (p == 2.0)
                total += a * a;
            else
                total += std::pow(a, p);
        }
    });
    if (std::isinf(p) || p == 1.0) return total;
    if (p == 2.0) return std::sqrt(total);
    return std::pow(total, 1.0 / p);
}

// Rounds a double to the precision PyTorch holds it in.
double round_to(double value, DType dtype) {
    return dtype == DType::f64 ? value : static_cast<double>(static_cast<float>(value));
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
    if (!(max_norm >= 0.0))
        throw ValueError(fmt::format("clip_grad_norm_: max_norm must be >= 0, got {}", max_norm));
    if (!(norm_type > 0.0))
        throw ValueError(fmt::format(
            "clip_grad_norm_: norm_type must be positive or infinity, got {}", norm_type));
    std::vector<Tensor> grads;
    for (const Tensor& p : params)
        if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
    if (grads.empty()) return 0.0;

    // As PyTorch: the norm of each gradient in its own dtype, then the norm of
    // those norms in the promoted dtype.
    DType dtype = DType::f32;
    for (const Tensor& g : grads)
        if (g.dtype() == DType::f64) dtype = DType::f64;
    std::vector<double> norms;
    for (const Tensor& g : grads) norms.push_back(round_to(norm(g, norm_type), g.dtype()));
    double total = round_to(norm(Tensor::from(norms, DType::f64), norm_type), dtype);

    // clip_coef = max_norm / (total_norm + 1e-6), clamped to 1, in the norm's dtype.
    double clip_coef = dispatch_floating(dtype, [&]<class T>() {
        T coef = T(max_norm) / (T(total) + T(1e-6));
        return static_cast<double>(std::min(coef, T(1)));
    });
    for (Tensor& g : grads)
        dispatch_floating(g.dtype(), [&]<class T>() {
            T* v = g.mutable_data<T>();
            for (std::int64_t i = 0, n = g.numel(); i < n; ++i) v[i] = v[i] * T(clip_coef);
        });
    return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
    if (!(clip_value >= 0.0))
        throw ValueError(
            fmt::format("clip_grad_value_: clip_value must be >= 0, got {}", clip_value));
    for (const Tensor& p : params) {
        if (!p.defined() || !p.grad().defined()) continue;
        Tensor g = p.grad();
        dispatch_floating(g.dtype(), [&]<class T>() {
            T* v = g.mutable_data<T>();
            const T high = T(clip_value);
            for (std::int64_t i = 0, n = g.numel(); i < n; ++i)
                if (!std::isnan(v[i])) v[i] = std::clamp(v[i], -high, high);  // NaN stays
        });
    }
}

}  // namespace tg
