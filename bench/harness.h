#pragma once

#include <functional>

namespace bench {

// How long to measure one workload. Python's side (compare_torch.py) uses the
// same rule, so both report the same statistic.
struct TimingOptions {
    int warmup = 2;     // untimed iterations first (allocator, caches, thread pools)
    int min_iters = 5;  // then at least this many timed ones
    int max_iters = 1000;
    double min_time = 1.0;  // seconds of timed iterations, at least
};

struct Timing {
    double median_ms = 0;
    int iters = 0;
};

// Times each call of step separately and keeps the median, which a stray
// context switch on a shared machine moves less than the mean.
Timing time_each(const std::function<void()>& step, const TimingOptions& options);

// The most memory this process has held so far (its peak resident set), in MB.
double peak_rss_mb();

// Rate of a square float32 GEMM of size n through tapegrad's BLAS wrapper, in GFLOP/s.
double sgemm_gflops(int n = 2048);

}  // namespace bench
