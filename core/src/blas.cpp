#include <tapegrad/core/blas.h>
#include <tapegrad/core/error.h>

#include <dlfcn.h>
#include <fmt/format.h>
#include <link.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <type_traits>

// Why tapegrad opens OpenBLAS itself (dlopen on first use) rather than
// linking it: OpenBLAS picks its kernels once, in the constructor that runs
// when the library is loaded, and an OpenBLAS older than the CPU falls back
// to generic ones (0.3.21 runs its SSE3 "Prescott" kernels on CPUs it does
// not know, a fifth of the speed of the AVX-512 ones). The one way to steer
// it is OPENBLAS_CORETYPE, read at that moment. A linked library is loaded
// before main(), too early for any tapegrad code, so every user would have to
// know to set it in their shell. Loading on first use lets tapegrad set the
// variable from cpuid just before, and put the environment back right after.
// The user's OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS always win. The
// price: a missing library shows up at the first matrix product rather than
// at start-up (config() forces it), and a program that loaded OpenBLAS before
// keeps that copy and its choice (config() says so).

namespace tg::blas {

namespace {

// The CBLAS ABI of an OpenBLAS built with 32-bit integers, as distributions
// ship libopenblas.so.0; enum values from the CBLAS standard.
using blas_int = int;
constexpr int row_major = 101;
constexpr int no_trans = 111, trans = 112;

template <class T>
using GemmFn = void (*)(int order, int trans_a, int trans_b, blas_int m, blas_int n, blas_int k,
                        T alpha, const T* a, blas_int lda, const T* b, blas_int ldb, T beta, T* c,
                        blas_int ldc);

struct OpenBlas {
    GemmFn<float> sgemm;
    GemmFn<double> dgemm;
    int (*get_num_threads)();
    void (*set_num_threads)(int);
    Library info;
};

constexpr const char* library_names[] = {"libopenblas.so.0", "libopenblas.so"};

// Sets an environment variable until destroyed, then restores what was there.
// Not thread-safe against getenv elsewhere, as setenv never is; it runs once,
// inside the first BLAS call.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_)
            setenv(name_, old_->c_str(), 1);
        else
            unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

template <class F>
F symbol(void* handle, const char* name, const std::string& path) {
    void* p = dlsym(handle, name);
    if (!p)
        throw Error(fmt::format("blas: {} has no symbol {}; tapegrad needs OpenBLAS", path, name));
    return reinterpret_cast<F>(p);
}

std::string loaded_path(void* handle, const char* fallback) {
    link_map* map = nullptr;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map || !map->l_name || !*map->l_name)
        return fallback;
    std::error_code ec;
    auto path = std::filesystem::canonical(map->l_name, ec);
    return ec ? std::string(map->l_name) : path.string();
}

// A program that already holds OpenBLAS (linked it, or loaded it through
// another library) shares that copy, whose kernels are chosen already.
void* already_loaded(const char*& name) {
    for (const char* candidate : library_names)
        if (void* handle = dlopen(candidate, RTLD_NOW | RTLD_NOLOAD)) {
            name = candidate;
            return handle;
        }
    return nullptr;
}

void* open_library(const char*& name) {
    std::string tried;
    for (const char* candidate : library_names) {
        if (void* handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL)) {
            name = candidate;
            return handle;
        }
        const char* why = dlerror();
        tried += fmt::format("\n  {}: {}", candidate, why ? why : "not found");
    }
    throw Error(fmt::format(
        "blas: cannot load OpenBLAS, which tapegrad needs for matrix products; tried:{}\n"
        "Install it (Debian/Ubuntu: apt-get install libopenblas0) or put its directory on "
        "LD_LIBRARY_PATH.",
        tried));
}

OpenBlas load() {
    OpenBlas lib{};
    const char* name = nullptr;
    void* handle = already_loaded(name);
    if (handle) {
        lib.info.core_choice = CoreChoice::preloaded;
    } else {
        const char* user_core = std::getenv("OPENBLAS_CORETYPE");
        std::string core = user_core && *user_core ? "" : openblas_core_for(cpu_features());
        if (user_core && *user_core)
            lib.info.core_choice = CoreChoice::user;
        else if (!core.empty())
            lib.info.core_choice = CoreChoice::tapegrad;
        std::optional<ScopedEnv> env;
        if (!core.empty()) env.emplace("OPENBLAS_CORETYPE", core);
        handle = open_library(name);
    }
    std::string path = loaded_path(handle, name);
    lib.sgemm = symbol<GemmFn<float>>(handle, "cblas_sgemm", path);
    lib.dgemm = symbol<GemmFn<double>>(handle, "cblas_dgemm", path);
    lib.get_num_threads = symbol<int (*)()>(handle, "openblas_get_num_threads", path);
    lib.set_num_threads = symbol<void (*)(int)>(handle, "openblas_set_num_threads", path);
    auto corename = symbol<char* (*)()>(handle, "openblas_get_corename", path);
    auto config = symbol<char* (*)()>(handle, "openblas_get_config", path);
    lib.info.path = path;
    lib.info.config = config();
    lib.info.core = corename();
    // A 64-bit-integer build takes every size as int64: calling it through
    // the 32-bit ABI above would read garbage sizes, so refuse it.
    if (lib.info.config.find("USE64BITINT") != std::string::npos)
        throw Error(
            fmt::format("blas: {} is built with 64-bit integers ({}); tapegrad needs "
                        "the 32-bit-integer OpenBLAS",
                        path, lib.info.config));
    return lib;
}

// Thread-safe: a function-local static is initialised once; if load()
// throws, the next call tries again.
const OpenBlas& openblas() {
    static const OpenBlas lib = load();
    return lib;
}

int op(bool transpose) { return transpose ? trans : no_trans; }

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
    constexpr std::int64_t limit = std::numeric_limits<blas_int>::max();
    for (std::int64_t v : {m, n, k, lda, ldb, ldc})
        if (v > limit)
            throw ShapeError(
                fmt::format("gemm: size {} exceeds what this BLAS accepts ({})", v, limit));
    auto i = [](std::int64_t v) { return static_cast<blas_int>(v); };
    const OpenBlas& lib = openblas();
    if constexpr (std::is_same_v<T, float>)
        lib.sgemm(row_major, op(trans_a), op(trans_b), i(m), i(n), i(k), alpha, a, i(lda), b,
                  i(ldb), beta, c, i(ldc));
    else
        lib.dgemm(row_major, op(trans_a), op(trans_b), i(m), i(n), i(k), alpha, a, i(lda), b,
                  i(ldb), beta, c, i(ldc));
}

}  // namespace

const Library& library() { return openblas().info; }

int num_threads() { return openblas().get_num_threads(); }

void set_num_threads(int n) {
    if (n < 1) throw ValueError(fmt::format("set_num_threads: n must be >= 1, got {}", n));
    openblas().set_num_threads(n);
}

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
