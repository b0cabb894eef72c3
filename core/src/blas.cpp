#include <tapegrad/core/blas.h>

#include <cblas.h>

namespace tg::blas {

namespace {
CBLAS_TRANSPOSE op(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

// An empty inner dimension leaves C = beta * C; OpenBLAS refuses ld = 0 there.
template <class T>
void scale_only(std::int64_t m, std::int64_t n, T beta, T* c, std::int64_t ldc) {
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j)
            c[i * ldc + j] = beta == 0 ? T(0) : beta * c[i * ldc + j];
}
}  // namespace

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) return scale_only(m, n, beta, c, ldc);
    cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), blasint(m), blasint(n), blasint(k), alpha,
                a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc));
}

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) return scale_only(m, n, beta, c, ldc);
    cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), blasint(m), blasint(n), blasint(k), alpha,
                a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc));
}

}  // namespace tg::blas
