// Data-parallel throughput of one LSTM train step: forward, MSE against a
// fixed target, backward, gradient all-reduce and Adam, with the global batch
// split evenly across the ranks. Run it at 1, 2, ... ranks and compare:
//
//   OPENBLAS_NUM_THREADS=1 mpiexec -n 2 build/bench/dist/dist_lstm
//   options: --batch 64 --seq-len 100 --hidden 256 --steps 20 --warmup 3 --bucket-mb 4
#include <tapegrad/core/config.h>
#include <tapegrad/distributed.h>
#include <tapegrad/tapegrad.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace {

struct Options {
    std::int64_t batch = 64, seq_len = 100, hidden = 256;
    int steps = 20, warmup = 3;
    double bucket_mb = 4;
};

Options parse(int argc, char** argv) {
    Options o;
    std::map<std::string, std::string> values;
    for (int i = 1; i + 1 < argc; i += 2) values[argv[i]] = argv[i + 1];
    auto number = [&](const char* flag, double fallback) {
        auto it = values.find(flag);
        return it == values.end() ? fallback : std::stod(it->second);
    };
    o.batch = static_cast<std::int64_t>(number("--batch", 64));
    o.seq_len = static_cast<std::int64_t>(number("--seq-len", 100));
    o.hidden = static_cast<std::int64_t>(number("--hidden", 256));
    o.steps = static_cast<int>(number("--steps", 20));
    o.warmup = static_cast<int>(number("--warmup", 3));
    o.bucket_mb = number("--bucket-mb", 4);
    return o;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU time of this process: next to wall time it tells a slow step from a
// machine busy with other work.
double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    tg::dist::Session session(argc, argv);
    Options o = parse(argc, argv);
    int ranks = tg::dist::world_size(), rank = tg::dist::rank();
    if (o.batch % ranks != 0)
        throw tg::ValueError(
            fmt::format("dist_lstm: batch {} does not split into {} equal shares", o.batch, ranks));
    std::int64_t local_batch = o.batch / ranks;

    tg::manual_seed(0);
    tg::LSTM lstm({.input_size = o.hidden, .hidden_size = o.hidden, .batch_first = true});
    tg::dist::broadcast_parameters(lstm);
    tg::Adam adam(lstm.parameters());
    tg::manual_seed(1 + static_cast<std::uint64_t>(rank));
    tg::Tensor x = tg::randn({local_batch, o.seq_len, o.hidden});
    tg::Tensor target = tg::randn({local_batch, o.seq_len, o.hidden});
    tg::dist::GradientSyncOptions sync{.bucket_bytes =
                                           static_cast<std::size_t>(o.bucket_mb * (1 << 20))};

    std::vector<double> step_times, sync_times, cpu_times;
    tg::dist::GradientSyncStats stats;
    tg::dist::barrier();
    for (int i = 0; i < o.warmup + o.steps; ++i) {
        auto start = std::chrono::steady_clock::now();
        double cpu_start = cpu_seconds();
        tg::Tensor loss = tg::mse_loss(lstm(x).output, target);
        adam.zero_grad();
        loss.backward();
        auto sync_start = std::chrono::steady_clock::now();
        stats = tg::dist::all_reduce_gradients(lstm, sync);
        double sync_time = seconds_since(sync_start);
        adam.step();
        double step_time = seconds_since(start), cpu_time = cpu_seconds() - cpu_start;
        // The job is as fast as its slowest rank.
        step_time = tg::dist::all_reduce(step_time, tg::dist::ReduceOp::max);
        sync_time = tg::dist::all_reduce(sync_time, tg::dist::ReduceOp::max);
        cpu_time = tg::dist::all_reduce(cpu_time, tg::dist::ReduceOp::max);
        if (i >= o.warmup) {
            step_times.push_back(step_time);
            sync_times.push_back(sync_time);
            cpu_times.push_back(cpu_time);
        }
    }

    // The all-reduce alone, every rank arriving together: its cost without
    // the wait for the slowest rank that the step's all-reduce includes.
    std::vector<double> alone_times;
    for (int i = 0; i < std::max(o.steps, 5); ++i) {
        tg::dist::barrier();
        auto start = std::chrono::steady_clock::now();
        tg::dist::all_reduce_gradients(lstm, sync);
        alone_times.push_back(tg::dist::all_reduce(seconds_since(start), tg::dist::ReduceOp::max));
    }

    if (rank != 0) return 0;
    double step = median(step_times), sync_part = median(sync_times), cpu = median(cpu_times);
    // A ring all-reduce sends (and receives) 2 (N - 1) / N of the gradient bytes per rank.
    double ring_bytes = 2.0 * (ranks - 1) / ranks * static_cast<double>(stats.bytes);
    std::printf("%s\n", tg::config().to_string().c_str());
    std::printf(
        "dist_lstm: LSTM I=H=%lld T=%lld float32, %lld parameters, global batch %lld on %d "
        "rank%s (%lld each)\n",
        static_cast<long long>(o.hidden), static_cast<long long>(o.seq_len),
        static_cast<long long>(lstm.num_parameters()), static_cast<long long>(o.batch), ranks,
        ranks > 1 ? "s" : "", static_cast<long long>(local_batch));
    std::printf(
        "  step %.1f ms (median of %d; CPU %.1f ms on the busiest rank), of which all-reduce "
        "%.2f ms in %d bucket%s; %.1f samples/s\n",
        step * 1e3, o.steps, cpu * 1e3, sync_part * 1e3, stats.buckets,
        stats.buckets == 1 ? "" : "s", static_cast<double>(o.batch) / step);
    std::printf(
        "  gradients %.2f MB per rank per step; a ring all-reduce moves %.2f MB per rank; "
        "the all-reduce alone takes %.2f ms\n",
        static_cast<double>(stats.bytes) / 1e6, ring_bytes / 1e6, median(alone_times) * 1e3);
    return 0;
}
