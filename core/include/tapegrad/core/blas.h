#pragma once

#include <cstdint>

namespace tg::blas {

// C = alpha * op(A) op(B) + beta * C, row-major; op transposes when asked.
// op(A) is [m, k], op(B) is [k, n], C is [m, n]; ld* are row strides.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc);
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc);

}  // namespace tg::blas
