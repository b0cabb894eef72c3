#include <tapegrad/core/blas.h>
#include <tapegrad/core/config.h>
#include <tapegrad/core/error.h>

#include <fmt/format.h>

#include <cstring>
#include <sstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifndef TAPEGRAD_VERSION
#error "TAPEGRAD_VERSION must be defined by the build"
#endif

namespace tg {

namespace {

#if defined(__x86_64__) || defined(__i386__)
bool bit(unsigned reg, int n) { return (reg >> n) & 1u; }

// The register state the OS saves on a context switch: an instruction set
// the CPU has but the OS does not save is not usable.
unsigned long long xcr0() {
    unsigned eax = 0, edx = 0;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

const char* choice_text(CoreChoice choice) {
    switch (choice) {
        case CoreChoice::tapegrad:
            return "chosen from cpuid";
        case CoreChoice::user:
            return "set by OPENBLAS_CORETYPE";
        case CoreChoice::openblas:
            return "OpenBLAS's choice";
        case CoreChoice::preloaded:
            return "loaded before tapegrad";
    }
    return "";
}

}  // namespace

CpuFeatures cpu_features() {
    CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return f;
    const unsigned max_leaf = eax;
    char vendor[13] = {};
    std::memcpy(vendor, &ebx, 4);
    std::memcpy(vendor + 4, &edx, 4);
    std::memcpy(vendor + 8, &ecx, 4);
    f.vendor = vendor;

    __get_cpuid(1, &eax, &ebx, &ecx, &edx);
    const bool osxsave = bit(ecx, 27);
    const unsigned long long xcr = osxsave ? xcr0() : 0;
    const bool ymm = (xcr & 0x6) == 0x6;    // SSE and AVX state
    const bool zmm = (xcr & 0xe6) == 0xe6;  // plus opmask and the upper ZMM registers
    f.avx = ymm && bit(ecx, 28);
    f.fma = f.avx && bit(ecx, 12);
    if (max_leaf < 7) return f;

    __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx);
    const unsigned max_subleaf = eax;
    f.avx2 = f.avx && bit(ebx, 5);
    f.avx512f = zmm && bit(ebx, 16);
    f.avx512dq = zmm && bit(ebx, 17);
    f.avx512cd = zmm && bit(ebx, 28);
    f.avx512bw = zmm && bit(ebx, 30);
    f.avx512vl = zmm && bit(ebx, 31);
    if (max_subleaf >= 1) {
        __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx);
        f.avx512_bf16 = zmm && bit(eax, 5);
    }
#endif
    return f;
}

std::string CpuFeatures::str() const {
    std::string s;
    auto add = [&s](bool on, const char* name) {
        if (!on) return;
        if (!s.empty()) s += ' ';
        s += name;
    };
    add(avx, "avx");
    add(avx2, "avx2");
    add(fma, "fma");
    add(avx512(), "avx512");
    add(avx512_bf16, "avx512_bf16");
    return s.empty() ? "none of avx, avx2, fma, avx512" : s;
}

std::string openblas_core_for(const CpuFeatures& cpu) {
    // Cooperlake is SkylakeX's kernels plus bfloat16 ones: for float and
    // double it is the same code, and it keeps what OpenBLAS would pick
    // itself on the CPUs it knows.
    if (cpu.avx512()) return cpu.avx512_bf16 ? "Cooperlake" : "SkylakeX";
    // Zen is OpenBLAS's AMD tuning of the Haswell kernels.
    if (cpu.avx2 && cpu.fma) return cpu.vendor == "AuthenticAMD" ? "Zen" : "Haswell";
    return "";
}

std::string Config::to_string() const {
    // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." -> "OpenBLAS 0.3.21"
    std::string blas = blas_version.empty() ? blas_config : "OpenBLAS " + blas_version;
    return fmt::format("tapegrad {} | {} {} ({}) | {} thread{}", version, blas, core,
                       choice_text(core_choice), threads, threads == 1 ? "" : "s");
}

Config config() {
    const blas::Library& lib = blas::library();
    Config c;
    c.version = TAPEGRAD_VERSION;
    c.blas_path = lib.path;
    c.blas_config = lib.config;
    std::istringstream words(lib.config);
    std::string name, version;
    if (words >> name >> version && name == "OpenBLAS") c.blas_version = version;
    c.core = lib.core;
    c.core_choice = lib.core_choice;
    c.threads = blas::num_threads();
    c.cpu = cpu_features();
    return c;
}

void set_num_threads(int n) { blas::set_num_threads(n); }

}  // namespace tg
