#pragma once

#include <cstdint>
#include <string>

#include <tapegrad/core/config.h>

namespace tg::blas {

// The OpenBLAS in use. Every function here loads it on first use (see
// blas.cpp for why tapegrad opens it itself) and throws tg::Error if it
// cannot. Loading sets OPENBLAS_CORETYPE for a moment, and setenv may race
// with getenv in other threads: a program that starts threads of its own
// should call tg::config() (or any matrix product) before it does.
struct Library {
    std::string path;    // as loaded, links resolved
    std::string config;  // openblas_get_config()
    std::string core;    // openblas_get_corename()
    CoreChoice core_choice = CoreChoice::openblas;
};
const Library& library();
int num_threads();
void set_num_threads(int n);  // n >= 1

// C = alpha * op(A) op(B) + beta * C, row-major; op transposes when asked.
// op(A) is [m, k], op(B) is [k, n], C is [m, n]; ld* are row strides.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc);
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc);

}  // namespace tg::blas
