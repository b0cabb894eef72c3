#include <tapegrad/core/blas.h>
#include <tapegrad/ops/broadcast.h>
#include <tapegrad/ops/linalg.h>
#include <tapegrad/ops/map.h>

#include <algorithm>
#include <cassert>

namespace tg {

namespace {

using detail::converted;

// C = op(A) op(B) + beta C on dense row-major matrices: op(A) [m, k],
// op(B) [k, n], C [m, n], so the leading dimensions follow from the sizes.
template <class T>
void gemm_into(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
               const T* a, const T* b, T beta, T* c) {
    assert(beta == T(0) || beta == T(1));
    blas::gemm(trans_a, trans_b, m, n, k, T(1), a, trans_a ? m : k, b, trans_b ? k : n, beta, c, n);
}

DType floating_dtype(DType d, const char* op, const Shape& a, const Shape& b) {
    if (!is_floating(d))
        throw DTypeError(
            fmt::format("{}: needs floating tensors, got int64 operands {} and {}", op, a, b));
    return d;
}

// a is read as [batch_a..., n, k] and b as [batch_b..., k, m].
struct MatmulPlan {
    Shape batch;             // the result's batch dimensions (batch_a and batch_b broadcast)
    Shape batch_a, batch_b;  // each operand's own batch dimensions
    std::int64_t n = 1, k = 1, m = 1;
    Shape out;
};

MatmulPlan plan_matmul(const Shape& sa, const Shape& sb) {
    if (sa.rank() == 0 || sb.rank() == 0)
        throw ShapeError(fmt::format(
            "matmul: both operands need at least one dimension, got a {} and b {}", sa, sb));
    // A 1-D a is a row [1, k], a 1-D b a column [k, 1].
    std::vector<std::int64_t> da = sa.dims(), db = sb.dims();
    if (sa.rank() == 1) da.insert(da.begin(), 1);
    if (sb.rank() == 1) db.push_back(1);
    MatmulPlan p;
    p.n = da[da.size() - 2];
    p.k = da.back();
    p.m = db.back();
    if (db[db.size() - 2] != p.k)
        throw ShapeError(fmt::format("matmul: inner dimensions differ: a is {}, b is {}", sa, sb));
    p.batch_a = Shape(std::vector<std::int64_t>(da.begin(), da.end() - 2));
    p.batch_b = Shape(std::vector<std::int64_t>(db.begin(), db.end() - 2));
    try {
        p.batch = broadcast_shapes(p.batch_a, p.batch_b, "matmul");
    } catch (const ShapeError& e) {
        throw ShapeError(fmt::format(
            "matmul: batch dimensions of a {} and b {} do not broadcast ({})", sa, sb, e.what()));
    }
    std::vector<std::int64_t> out = p.batch.dims();
    if (sa.rank() > 1) out.push_back(p.n);
    if (sb.rank() > 1) out.push_back(p.m);
    p.out = Shape(std::move(out));
    // Against one matrix b, a's batch is just more rows: one GEMM instead of many.
    if (p.batch_b.rank() == 0) {
        p.n *= p.batch_a.numel();
        p.batch_a = p.batch = Shape{};
    }
    return p;
}

// f(i, ja, jb) for each result matrix i and the matrices of a and b it comes from.
template <class F>
void for_each_batch(const MatmulPlan& p, F f) {
    detail::broadcast_loop<2>(p.batch, {&p.batch_a, &p.batch_b},
                              [&](std::int64_t i, auto j) { f(i, j[0], j[1]); });
}

}  // namespace

// y = a b per batch matrix;  da = dy b^T, db = a^T dy, each summed over the
// batch entries its operand was broadcast to.
Tensor matmul(const Tensor& a0, const Tensor& b0, CallSite site) {
    if (!a0.defined() || !b0.defined())
        throw ValueError("matmul: an operand is an undefined tensor");
    MatmulPlan p = plan_matmul(a0.shape(), b0.shape());
    DType d = floating_dtype(promote(a0.dtype(), b0.dtype()), "matmul", a0.shape(), b0.shape());
    Tensor a = converted(a0, d, "matmul", site), b = converted(b0, d, "matmul", site);
    Tensor y = Tensor::empty(p.out, d);
    const std::int64_t size_a = p.n * p.k, size_b = p.k * p.m, size_y = p.n * p.m;
    dispatch_floating(d, [&]<class T>() {
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        T* py = y.mutable_data<T>();
        for_each_batch(p, [&](std::int64_t i, std::int64_t ja, std::int64_t jb) {
            gemm_into(false, false, p.n, p.m, p.k, pa + ja * size_a, pb + jb * size_b, T(0),
                      py + i * size_y);
        });
    });
    return record(
        "matmul", {a, b}, y,
        [a, b, p](const Tensor& dy, Grads& dx) {
            const std::int64_t size_a = p.n * p.k, size_b = p.k * p.m, size_y = p.n * p.m;
            dispatch_floating(dy.dtype(), [&]<class T>() {
                const T* pdy = dy.data<T>();
                // beta = 1 adds the products of every batch entry that reused a matrix.
                if (dx.needs(0)) {
                    Tensor da = zeros(a.shape(), a.dtype());
                    const T* pb = b.data<T>();
                    T* pda = da.mutable_data<T>();
                    for_each_batch(p, [&](std::int64_t i, std::int64_t ja, std::int64_t jb) {
                        gemm_into(false, true, p.n, p.k, p.m, pdy + i * size_y, pb + jb * size_b,
                                  T(1), pda + ja * size_a);
                    });
                    dx[0] += da;
                }
                if (dx.needs(1)) {
                    Tensor db = zeros(b.shape(), b.dtype());
                    const T* pa = a.data<T>();
                    T* pdb = db.mutable_data<T>();
                    for_each_batch(p, [&](std::int64_t i, std::int64_t ja, std::int64_t jb) {
                        gemm_into(true, false, p.k, p.m, p.n, pa + ja * size_a, pdy + i * size_y,
                                  T(1), pdb + jb * size_b);
                    });
                    dx[1] += db;
                }
            });
        },
        site);
}

// y = x w^T + b over the rows of x;  dx = dy w, dw = dy^T x, db = dy summed over rows.
Tensor linear(const Tensor& x0, const Tensor& w0, const Tensor& b0, CallSite site) {
    if (!x0.defined() || !w0.defined())
        throw ValueError("linear: input and weight must be defined tensors");
    if (w0.dim() != 2)
        throw ShapeError(fmt::format(
            "linear: weight must be 2-D [out_features, in_features], got {}", w0.shape()));
    if (x0.dim() == 0)
        throw ShapeError("linear: input must have at least one dimension (features last), got 0-D");
    const std::int64_t out = w0.size(0), in = w0.size(1);
    if (x0.size(-1) != in)
        throw ShapeError(fmt::format("linear: input {} has {} features, weight {} expects {}",
                                     x0.shape(), x0.size(-1), w0.shape(), in));
    const bool has_bias = b0.defined();
    if (has_bias && b0.shape() != Shape{out})
        throw ShapeError(fmt::format("linear: bias {} does not match weight {}; expected [{}]",
                                     b0.shape(), w0.shape(), out));
    DType d = promote(x0.dtype(), w0.dtype());
    if (has_bias) d = promote(d, b0.dtype());
    floating_dtype(d, "linear", x0.shape(), w0.shape());

    Tensor x = converted(x0, d, "linear", site), w = converted(w0, d, "linear", site);
    Tensor b = has_bias ? converted(b0, d, "linear", site) : Tensor();
    std::vector<std::int64_t> dims = x.shape().dims();
    dims.back() = out;
    const std::int64_t rows =
        Shape(std::vector<std::int64_t>(dims.begin(), dims.end() - 1)).numel();
    Tensor y = Tensor::empty(Shape(std::move(dims)), d);
    dispatch_floating(d, [&]<class T>() {
        T* py = y.mutable_data<T>();
        if (has_bias) {  // every row starts as the bias, then the GEMM adds onto it
            const T* pb = b.data<T>();
            for (std::int64_t r = 0; r < rows; ++r) std::copy(pb, pb + out, py + r * out);
        }
        gemm_into(false, true, rows, out, in, x.data<T>(), w.data<T>(), T(has_bias ? 1 : 0), py);
    });

    std::vector<Tensor> inputs = {x, w};
    if (has_bias) inputs.push_back(b);
    auto backward = [x, w, rows, in, out](const Tensor& dy, Grads& dx) {
        dispatch_floating(dy.dtype(), [&]<class T>() {
            const T* pdy = dy.data<T>();
            if (dx.needs(0)) {
                Tensor dx0 = Tensor::empty(x.shape(), x.dtype());
                gemm_into(false, false, rows, in, out, pdy, w.data<T>(), T(0),
                          dx0.mutable_data<T>());
                dx[0] += dx0;
            }
            if (dx.needs(1)) {
                Tensor dw = Tensor::empty(w.shape(), w.dtype());
                gemm_into(true, false, out, in, rows, pdy, x.data<T>(), T(0), dw.mutable_data<T>());
                dx[1] += dw;
            }
            if (dx.size() > 2 && dx.needs(2)) {
                Tensor db = zeros({out}, dy.dtype());
                T* pdb = db.mutable_data<T>();
                for (std::int64_t r = 0; r < rows; ++r)
                    for (std::int64_t j = 0; j < out; ++j) pdb[j] += pdy[r * out + j];
                dx[2] += db;
            }
        });
    };
    return record("linear", std::move(inputs), y, backward, site);
}

}  // namespace tg
