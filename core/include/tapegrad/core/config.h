#pragma once

#include <string>

// What tapegrad runs on: its version, the BLAS library it loaded, the BLAS
// kernels in use and why, the thread count and the CPU features seen.
// Programs print config().to_string() once at start, so a slow run can be
// told apart from a slow machine:
//
//     tapegrad 0.1.0 | OpenBLAS 0.3.21 SkylakeX (chosen from cpuid) | 1 thread

namespace tg {

// The instruction sets that decide which BLAS kernels can run, as the CPU
// reports them and the operating system enables them (XCR0).
struct CpuFeatures {
    std::string vendor;  // "GenuineIntel", "AuthenticAMD", "" off x86
    bool avx = false, avx2 = false, fma = false;
    bool avx512f = false, avx512cd = false, avx512bw = false, avx512dq = false, avx512vl = false;
    bool avx512_bf16 = false;

    // The AVX-512 subsets every AVX-512 BLAS kernel may use (F, CD, BW, DQ, VL).
    bool avx512() const { return avx512f && avx512cd && avx512bw && avx512dq && avx512vl; }
    std::string str() const;  // "avx2 fma avx512 avx512_bf16"
};

CpuFeatures cpu_features();

// The OPENBLAS_CORETYPE tapegrad asks for on a CPU with these features, or ""
// to leave the choice to OpenBLAS: Cooperlake with AVX-512 and BF16,
// SkylakeX with AVX-512, Haswell (Zen on AMD) with AVX2 and FMA. These name
// kernel families, not CPU models, so a CPU newer than the installed
// OpenBLAS still gets kernels it can run at full width.
std::string openblas_core_for(const CpuFeatures& cpu);

// Who picked the BLAS core type in use.
enum class CoreChoice {
    tapegrad,   // from cpuid, because OPENBLAS_CORETYPE was not set
    user,       // OPENBLAS_CORETYPE was set
    openblas,   // tapegrad had no better choice than OpenBLAS's own
    preloaded,  // OpenBLAS was already loaded into the process; its choice stands
};

struct Config {
    std::string version;       // tapegrad's, "0.1.0"
    std::string blas_path;     // the file loaded, links resolved
    std::string blas_config;   // openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."
    std::string blas_version;  // "0.3.21"
    std::string core;          // openblas_get_corename(): "SkylakeX"
    CoreChoice core_choice = CoreChoice::openblas;
    int threads = 1;  // BLAS threads
    CpuFeatures cpu;

    // One line for a program's first output.
    std::string to_string() const;
};

// Loads the BLAS library if nothing has yet, then reports. Throws tg::Error
// if it cannot be loaded.
Config config();

// The number of threads BLAS calls use from now on (n >= 1), overriding
// OPENBLAS_NUM_THREADS; throws ValueError otherwise.
void set_num_threads(int n);

}  // namespace tg
