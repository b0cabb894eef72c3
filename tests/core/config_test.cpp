#include <doctest/doctest.h>

#include <tapegrad/core/blas.h>
#include <tapegrad/core/config.h>
#include <tapegrad/core/error.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

const char* user_core() {
    const char* v = std::getenv("OPENBLAS_CORETYPE");
    return v && *v ? v : nullptr;
}

// Runs this test program again with OPENBLAS_CORETYPE=core and only the test
// case named; returns its exit status.
int run_child(const std::string& core, const std::string& test_case) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        if (std::string(*e).rfind("OPENBLAS_CORETYPE=", 0) != 0) env_strings.emplace_back(*e);
    env_strings.push_back("OPENBLAS_CORETYPE=" + core);
    std::vector<char*> env;
    for (auto& s : env_strings) env.push_back(s.data());
    env.push_back(nullptr);

    std::string self = "/proc/self/exe", filter = "--test-case=" + test_case;
    std::vector<char*> argv = {self.data(), filter.data(), nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv.data(), env.data()) != 0) return -1;
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

tg::CpuFeatures avx512_cpu() {
    tg::CpuFeatures f;
    f.vendor = "GenuineIntel";
    f.avx = f.avx2 = f.fma = true;
    f.avx512f = f.avx512cd = f.avx512bw = f.avx512dq = f.avx512vl = true;
    return f;
}

}  // namespace

TEST_CASE("config: the core type follows the instruction sets, not the CPU model") {
    tg::CpuFeatures f = avx512_cpu();
    CHECK(tg::openblas_core_for(f) == "SkylakeX");
    f.avx512_bf16 = true;
    CHECK(tg::openblas_core_for(f) == "Cooperlake");

    // Without all five AVX-512 subsets the AVX-512 kernels may fault.
    f = avx512_cpu();
    f.avx512vl = false;
    CHECK(tg::openblas_core_for(f) == "Haswell");
    f.vendor = "AuthenticAMD";
    CHECK(tg::openblas_core_for(f) == "Zen");

    f = avx512_cpu();
    f.avx512f = f.avx512cd = f.avx512bw = f.avx512dq = f.avx512vl = false;
    f.fma = false;
    CHECK(tg::openblas_core_for(f) == "");
    CHECK(tg::openblas_core_for(tg::CpuFeatures{}) == "");
}

TEST_CASE("config: reports the library, the core and the threads") {
    tg::Config c = tg::config();
    CHECK(c.version == "0.1.0");
    CHECK(!c.core.empty());
    CHECK(c.blas_config.rfind("OpenBLAS", 0) == 0);
    CHECK(!c.blas_version.empty());
    CHECK(c.blas_path.find("openblas") != std::string::npos);
    CHECK(c.threads >= 1);
    std::string line = c.to_string();
    CHECK(line.find("tapegrad 0.1.0 | OpenBLAS " + c.blas_version + " " + c.core) == 0);
    CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("config: tapegrad picks the core from cpuid unless the user did") {
    tg::Config c = tg::config();
    if (const char* core = user_core()) {
        CHECK(c.core_choice == tg::CoreChoice::user);
        CHECK(c.core == std::string(core));
        return;
    }
    // Loading put the environment back as it was.
    CHECK(user_core() == nullptr);
    std::string expected = tg::openblas_core_for(c.cpu);
    if (expected.empty()) {
        CHECK(c.core_choice == tg::CoreChoice::openblas);
    } else {
        CHECK(c.core_choice == tg::CoreChoice::tapegrad);
        CHECK(c.core == expected);
    }
    if (c.cpu.avx512()) CHECK((c.core == "SkylakeX" || c.core == "Cooperlake"));
}

TEST_CASE("config: a user's OPENBLAS_CORETYPE wins") {
    if (const char* core = user_core()) {
        tg::Config c = tg::config();
        CHECK(c.core == std::string(core));
        CHECK(c.core_choice == tg::CoreChoice::user);
        CHECK(std::string(user_core()) == core);
        return;
    }
    // Nehalem (SSE4.2) runs on any x86-64 tapegrad targets and is never
    // tapegrad's own choice, so only the variable can have picked it.
    CHECK(run_child("Nehalem", "config: a user's OPENBLAS_CORETYPE wins") == 0);
}

TEST_CASE("config: set_num_threads changes what BLAS calls use") {
    int before = tg::config().threads;
    tg::set_num_threads(1);
    CHECK(tg::config().threads == 1);
    CHECK_THROWS_AS(tg::set_num_threads(0), tg::ValueError);
    tg::set_num_threads(before);
    CHECK(tg::config().threads == before);
}

TEST_CASE("config: products through the loaded library are right") {
    // [2, 3] x [3, 2], and the same with both operands transposed.
    const float a[] = {1, 2, 3, 4, 5, 6};
    const float b[] = {7, 8, 9, 10, 11, 12};
    float c[4] = {1, 1, 1, 1};
    tg::blas::gemm(false, false, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
    CHECK(c[0] == 58);
    CHECK(c[1] == 64);
    CHECK(c[2] == 139);
    CHECK(c[3] == 154);
    const double at[] = {1, 4, 2, 5, 3, 6};
    const double bt[] = {7, 9, 11, 8, 10, 12};
    double d[4] = {1, 1, 1, 1};
    tg::blas::gemm(true, true, 2, 2, 3, 2.0, at, 2, bt, 3, 1.0, d, 2);
    CHECK(d[0] == 117);
    CHECK(d[1] == 129);
    CHECK(d[2] == 279);
    CHECK(d[3] == 309);
}
