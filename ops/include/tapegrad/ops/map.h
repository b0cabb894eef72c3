#pragma once

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

// Loops shared by the elementwise families: the forward value of an op and
// the arithmetic inside backward functions. No recording happens here.
namespace tg::detail {

// Float-only math on an integer tensor works on its float32 copy, as PyTorch.
inline Tensor floating(const Tensor& x, const char* op) {
    if (!x.defined()) throw ValueError(fmt::format("{}: undefined tensor", op));
    return is_floating(x.dtype()) ? x : x.to(DType::f32);
}

// x in dtype d; the conversion is recorded as part of op, called from site.
inline Tensor converted(const Tensor& x, DType d, const char* op, CallSite site) {
    if (x.dtype() == d) return x;
    CallSiteScope scope(op, site);
    return x.to(d);
}

// y[i] = f(x[i]) in x's dtype; f is a generic lambda.
template <class F>
Tensor map(const Tensor& x, F f) {
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    dispatch(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        T* py = y.mutable_data<T>();
        for (std::int64_t i = 0, n = x.numel(); i < n; ++i) py[i] = static_cast<T>(f(px[i]));
    });
    return y;
}

// z[i] = f(a[i], b[i]) for two tensors of one shape and dtype.
template <class F>
Tensor zip(const Tensor& a, const Tensor& b, F f) {
    Tensor z = Tensor::empty(a.shape(), a.dtype());
    dispatch(a.dtype(), [&]<class T>() {
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        T* pz = z.mutable_data<T>();
        for (std::int64_t i = 0, n = a.numel(); i < n; ++i) pz[i] = static_cast<T>(f(pa[i], pb[i]));
    });
    return z;
}

}  // namespace tg::detail
