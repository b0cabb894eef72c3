#include <tapegrad/core/blas.h>
#include <tapegrad/core/error.h>

#include <cblas.h>
#include <fmt/format.h>

#include <limits>
#include <type_traits>

namespace tg::blas {

namespace {

CBLAS_TRANSPOSE op(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

template <class T>
void gemm_any(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
              const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
              std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        // C = beta * C; OpenBLAS refuses the leading dimension 0 an empty k brings.
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j)
                c[i * ldc + j] = beta == 0 ? T(0) : beta * c[i * ldc + j];
        return;
    }
    constexpr std::int64_t limit = std::numeric_limits<blasint>::max();
    for (std::int64_t v : {m, n, k, lda, ldb, ldc})
        if (v > limit)
            throw ShapeError(
                fmt::format("gemm: size {} exceeds what this BLAS accepts ({})", v, limit));
    auto i = [](std::int64_t v) { return static_cast<blasint>(v); };
    if constexpr (std::is_same_v<T, float>)
        cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), i(m), i(n), i(k), alpha, a, i(lda), b,
                    i(ldb), beta, c, i(ldc));
    else
        cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), i(m), i(n), i(k), alpha, a, i(lda), b,
                    i(ldb), beta, c, i(ldc));
}

}  // namespace

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc) {
    gemm_any(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc) {
    gemm_any(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace tg::blas
