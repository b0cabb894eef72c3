#pragma once

// What the fused recurrent ops share: the argument checks, the row layout of
// their matrices, the activations and a few loops. Private to ops/src.

#include <tapegrad/core/blas.h>
#include <tapegrad/ops/fused_recurrent.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

namespace tg::fused {

// Every matrix of a fused op (input, output, saved activations, gradients)
// has one row per (time, batch) pair, in x's order, so a time step's rows are
// `batch` rows `batch_stride` apart and the whole sequence is one GEMM.
struct Steps {
    std::int64_t steps = 0, batch = 0;
    std::int64_t time_stride = 0;   // rows from time t to time t + 1
    std::int64_t batch_stride = 0;  // rows from one batch entry to the next
    bool reverse = false;

    std::int64_t rows() const { return steps * batch; }
    // The time index the recurrence reads at its step s.
    std::int64_t time(std::int64_t s) const { return reverse ? steps - 1 - s : s; }
    std::int64_t row(std::int64_t t, std::int64_t b) const {
        return t * time_stride + b * batch_stride;
    }
};

// A [rows, width] matrix laid out as Steps says.
template <class T>
struct Rows {
    T* data;
    std::int64_t width;

    T* at(const Steps& s, std::int64_t t, std::int64_t b) const {
        return data + s.row(t, b) * width;
    }
    T* step(const Steps& s, std::int64_t t) const { return at(s, t, 0); }
    // Leading dimension of one step's [batch, width] block.
    std::int64_t ld(const Steps& s) const { return s.batch_stride * width; }
};

// The inputs of a fused op, in the order they are named here; absent
// (undefined) ones are not on the tape.
enum Input { x_in, h0_in, c0_in, w_ih_in, w_hh_in, b_ih_in, b_hh_in, w_hr_in, input_count };

struct Sizes {
    Steps steps;
    std::int64_t input = 0;   // features of x
    std::int64_t hidden = 0;  // features of each gate
    std::int64_t state = 0;   // features of h: hidden, or proj_size for a projected LSTM
    DType dtype = DType::f32;
    Shape output_shape, state_shape, cell_shape;
    std::array<int, input_count> slot{};  // position among the tape's inputs, -1 if absent

    bool has(Input k) const { return slot[k] >= 0; }
    bool wants(const Grads& dx, Input k) const { return has(k) && dx.needs(slot[k]); }
    void give(Grads& dx, Input k, const Tensor& g) const { dx[slot[k]] += g; }
};

struct Checked {
    Sizes sizes;
    std::vector<Tensor> inputs;  // for the tape
};

// Checks every argument of op (gates per cell: 1, 3 or 4; c0 only for the
// LSTM) before anything is computed.
Checked check_sequence(const char* op, std::int64_t gates, const Tensor& x, const Tensor& h0,
                       const Tensor* c0, const SequenceWeights& w, const SequenceOptions& o);

template <class T>
const T* data_or_null(const Tensor& t) {
    return t.defined() ? t.data<T>() : nullptr;
}

// [n] holding a + b, a alone, or zeros, for absent biases.
template <class T>
Tensor bias_sum(const Tensor& a, const Tensor& b, std::int64_t begin, std::int64_t n) {
    Tensor out = zeros({n}, dtype_of<T>());
    T* po = out.mutable_data<T>();
    for (const Tensor* bias : {&a, &b}) {
        if (!bias->defined()) continue;
        const T* pb = bias->data<T>() + begin;
        for (std::int64_t j = 0; j < n; ++j) po[j] += pb[j];
    }
    return out;
}

// Copies one step's [batch, width] rows from a dense block (or zeros when src is null).
template <class T>
void put_step(const Steps& s, Rows<T> dst, std::int64_t t, const T* src) {
    for (std::int64_t b = 0; b < s.batch; ++b) {
        T* d = dst.at(s, t, b);
        for (std::int64_t j = 0; j < dst.width; ++j) d[j] = src ? src[b * dst.width + j] : T(0);
    }
}

// The reverse of put_step: one step's rows into a dense [batch, width] block.
template <class S, class T>
void take_step(const Steps& s, Rows<S> src, std::int64_t t, T* dst) {
    for (std::int64_t b = 0; b < s.batch; ++b) {
        const S* p = src.at(s, t, b);
        for (std::int64_t j = 0; j < src.width; ++j) dst[b * src.width + j] = p[j];
    }
}

// Copies one step's rows of src (time ts) to another step's rows of dst (time td).
template <class S, class T>
void copy_step(const Steps& s, Rows<S> src, std::int64_t ts, Rows<T> dst, std::int64_t td) {
    for (std::int64_t b = 0; b < s.batch; ++b) {
        const S* p = src.at(s, ts, b);
        T* d = dst.at(s, td, b);
        for (std::int64_t j = 0; j < src.width; ++j) d[j] = p[j];
    }
}

// Bias gradient: the column sums of a [rows, cols] matrix.
template <class T>
Tensor column_sums(const T* m, std::int64_t rows, std::int64_t cols) {
    Tensor out = zeros({cols}, dtype_of<T>());
    T* __restrict po = out.mutable_data<T>();
    for (std::int64_t r = 0; r < rows; ++r) {
        const T* __restrict row = m + r * cols;
        for (std::int64_t j = 0; j < cols; ++j) po[j] += row[j];
    }
    return out;
}

// Row-major C = op(A) op(B) + beta C with explicit leading dimensions.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    blas::gemm(trans_a, trans_b, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
}

// c ? x : y without a branch. g++ (trapping math on, as by default) will not
// turn a ?: whose arms lead to float arithmetic into a vector select, and a
// branch in a loop stops it vectorising the loop.
inline float pick(bool c, float x, float y) {
    const std::int32_t mask = -static_cast<std::int32_t>(c);
    return std::bit_cast<float>((std::bit_cast<std::int32_t>(x) & mask) |
                                (std::bit_cast<std::int32_t>(y) & ~mask));
}

// e^x in float32 as Cephes' expf (within 2 ulp), written with plain
// arithmetic so that g++ vectorises the gate loops around it, which a call
// to std::exp prevents. The argument is clamped to [-87, 88], where 2^n stays
// a normal float: beyond it sigmoid and tanh are 0 or 1 to float32
// precision anyway. NaN passes through. float64 keeps std::exp.
inline float exp_of(float x) {
    x = pick(x < -87.0f, -87.0f, pick(x > 88.0f, 88.0f, x));
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // x - n ln 2 in two parts
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    // A NaN must not reach the conversion to int (undefined behaviour): p carries it on.
    const std::int32_t bits = (static_cast<std::int32_t>(pick(n == n, n, 0.0f)) + 127) << 23;
    return p * std::bit_cast<float>(bits);
}
inline double exp_of(double x) { return std::exp(x); }

template <class T>
inline T sigmoid(T v) {
    return T(1) / (T(1) + exp_of(-v));
}

// glibc's tanhf goes through expm1f and costs as much as the rest of an LSTM
// step's gate math together, so float32 uses Cephes' tanhf instead: an odd
// polynomial below 0.625, 1 - 2 / (e^2|x| + 1) above, within 2 ulp of tanh
// over the whole range. float64 (gradient checks) keeps std::tanh.
inline float tanh_of(float v) {
    const float a = std::fabs(v), z = v * v;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const float near_zero = p * z * v + v;
    const float far = std::copysign(1.0f - 2.0f / (exp_of(2.0f * a) + 1.0f), v);
    return pick(a < 0.625f, near_zero, far);
}
inline double tanh_of(double v) { return std::tanh(v); }

template <Activation A, class T>
inline T activate(T v) {
    if constexpr (A == Activation::tanh) return tanh_of(v);
    if constexpr (A == Activation::relu) return v < T(0) ? T(0) : v;  // NaN passes, as PyTorch
    if constexpr (A == Activation::sigmoid) return sigmoid(v);
    return v;
}

// The activation's derivative from its output y, so backward needs no input.
template <Activation A, class T>
inline T slope(T y) {
    if constexpr (A == Activation::tanh) return T(1) - y * y;
    if constexpr (A == Activation::relu) return y > T(0) ? T(1) : T(0);
    if constexpr (A == Activation::sigmoid) return y * (T(1) - y);
    return T(1);
}

// The project builds for plain x86-64, where the gate loops vectorise only
// 4 floats wide; they are also compiled for AVX2 and AVX-512 and the widest
// the CPU runs is picked once per step, not per element. Both have FMA, which
// g++ uses for a * b + c in C++ by default: the float32 results may then
// differ from the plain x86-64 ones in the last bit or so, as OpenBLAS's
// per-CPU kernels already make them, well within the ulp bounds the tests
// hold the activations to.
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define TAPEGRAD_FUSED_WIDE_VECTORS 1

template <class F>
[[gnu::target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"), gnu::flatten]] void run_avx512(F& f) {
    f();
}
template <class F>
[[gnu::target("avx2,fma"), gnu::flatten]] void run_avx2(F& f) {
    f();
}

enum class VectorIsa { baseline, avx2, avx512 };

inline VectorIsa vector_isa() {
    static const VectorIsa isa = [] {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("fma"))
            return VectorIsa::avx512;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return VectorIsa::avx2;
        return VectorIsa::baseline;
    }();
    return isa;
}
#endif

// Runs f, a gate loop over one step, with the widest vectors the CPU has.
template <class F>
void widest(F&& f) {
#ifdef TAPEGRAD_FUSED_WIDE_VECTORS
    switch (vector_isa()) {
        case VectorIsa::avx512:
            return run_avx512(f);
        case VectorIsa::avx2:
            return run_avx2(f);
        case VectorIsa::baseline:
            break;
    }
#endif
    f();
}

// Calls f.template operator()<T, A>() for x's dtype and the activation.
template <class F>
decltype(auto) dispatch_kernel(DType dtype, Activation a, F&& f) {
    return dispatch_floating(dtype, [&]<class T>() {
        switch (a) {
            case Activation::relu:
                return f.template operator()<T, Activation::relu>();
            case Activation::sigmoid:
                return f.template operator()<T, Activation::sigmoid>();
            case Activation::identity:
                return f.template operator()<T, Activation::identity>();
            case Activation::tanh:
                break;
        }
        return f.template operator()<T, Activation::tanh>();
    });
}

}  // namespace tg::fused
