#include "harness.h"

#include <tapegrad/core/blas.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace bench {

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

Timing time_each(const std::function<void()>& step, const TimingOptions& options) {
    for (int i = 0; i < options.warmup; ++i) step();
    std::vector<double> ms;
    double total = 0;
    while (static_cast<int>(ms.size()) < options.max_iters &&
           (static_cast<int>(ms.size()) < options.min_iters || total < options.min_time)) {
        auto start = Clock::now();
        step();
        double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        ms.push_back(seconds * 1e3);
        total += seconds;
    }
    return {median(ms), static_cast<int>(ms.size())};
}

double peak_rss_mb() {
    // VmHWM is the high-water mark of this process image alone. getrusage's
    // ru_maxrss would do on its own, but Linux carries it over from the
    // parent through fork and exec, so a small workload started by a large
    // parent would report the parent's peak.
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

double sgemm_gflops(int n) {
    std::size_t size = static_cast<std::size_t>(n) * n;
    std::vector<float> a(size), b(size), c(size);
    for (std::size_t i = 0; i < size; ++i) {
        a[i] = static_cast<float>(i % 97) / 97.0f - 0.5f;
        b[i] = static_cast<float>(i % 89) / 89.0f - 0.5f;
    }
    auto product = [&] {
        tg::blas::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    };
    Timing t = time_each(product, {.warmup = 1, .min_iters = 5, .max_iters = 50, .min_time = 0.5});
    return 2.0 * n * n * n / (t.median_ms * 1e-3) / 1e9;
}

}  // namespace bench
