// tapegrad_bench: times the workloads of workloads.cpp.
//
//   tapegrad_bench                  every workload, each in its own process, as a table
//   tapegrad_bench --run NAME       one workload in this process
//   tapegrad_bench --sgemm          the float32 GEMM rate through tapegrad's BLAS wrapper
//   tapegrad_bench --list | --config
//
// Options: --json (one JSON object per line, for compare_torch.py),
// --filter TEXT (only names containing TEXT), --threads N, --min-time S,
// --min-iters N, --warmup N.
//
// Each workload runs in a process of its own so that its peak RSS is its own
// and no workload inherits another's heap or warm caches.

#include "harness.h"
#include "workloads.h"

#include <tapegrad/core/config.h>

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Args {
    std::string mode = "all";  // all, run, sgemm, list, config
    std::string name, filter;
    bool json = false;
    std::optional<int> threads;
    bench::TimingOptions timing;
    std::vector<std::string> pass_on;  // timing and thread options, for child processes
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "tapegrad_bench: %s\nusage: tapegrad_bench [--run NAME | --sgemm | --list | "
                 "--config] [--json] [--filter TEXT] [--threads N] [--min-time S] "
                 "[--min-iters N] [--warmup N]\n",
                 why.c_str());
    std::exit(2);
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(arg + " needs a value");
            return argv[++i];
        };
        auto number = [&](const std::string& v) {
            try {
                return std::stod(v);
            } catch (const std::exception&) {
                usage(arg + " needs a number, got '" + v + "'");
            }
        };
        if (arg == "--run") {
            a.mode = "run";
            a.name = value();
        } else if (arg == "--sgemm" || arg == "--list" || arg == "--config") {
            a.mode = arg.substr(2);
        } else if (arg == "--json") {
            a.json = true;
        } else if (arg == "--filter") {
            a.filter = value();
        } else if (arg == "--threads" || arg == "--min-time" || arg == "--min-iters" ||
                   arg == "--warmup") {
            std::string v = value();
            double x = number(v);
            if (arg == "--threads") a.threads = static_cast<int>(x);
            if (arg == "--min-time") a.timing.min_time = x;
            if (arg == "--min-iters") a.timing.min_iters = static_cast<int>(x);
            if (arg == "--warmup") a.timing.warmup = static_cast<int>(x);
            a.pass_on.insert(a.pass_on.end(), {arg, v});
        } else {
            usage("unknown argument '" + arg + "'");
        }
    }
    return a;
}

nlohmann::json config_json() {
    tg::Config c = tg::config();
    return {{"line", c.to_string()},
            {"core", c.core},
            {"blas", c.blas_config},
            {"blas_path", c.blas_path},
            {"threads", c.threads},
            {"cpu", c.cpu.str()},
            {"core_chosen_by_tapegrad", c.core_choice == tg::CoreChoice::tapegrad}};
}

nlohmann::json spec_json(const bench::Workload& w) {
    return {{"name", w.name},
            {"kind", w.kind},
            {"mode", w.mode},
            {"batch", w.batch},
            {"seq_len", w.seq_len},
            {"input_size", w.input_size},
            {"hidden_size", w.hidden_size},
            {"num_layers", w.num_layers},
            {"bidirectional", w.bidirectional},
            {"forward_gemm_flops", w.forward_gemm_flops}};
}

int run_one(const Args& a) {
    for (const bench::Workload& w : bench::workloads()) {
        if (w.name != a.name) continue;
        auto step = w.make();
        bench::Timing t = bench::time_each(step, a.timing);
        nlohmann::json out = spec_json(w);
        out["median_ms"] = t.median_ms;
        out["iters"] = t.iters;
        out["peak_rss_mb"] = bench::peak_rss_mb();
        out["threads"] = tg::config().threads;
        if (a.json)
            fmt::print("{}\n", out.dump());
        else
            fmt::print("{}: {:.3f} ms median of {}, peak RSS {:.1f} MB\n", w.name, t.median_ms,
                       t.iters, bench::peak_rss_mb());
        return 0;
    }
    usage("no workload named '" + a.name + "' (see --list)");
}

// Runs this program again with args and returns what it printed.
std::string run_child(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::string self = "/proc/self/exe";
    std::vector<std::string> all = {self};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : all) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    std::string out;
    char buffer[4096];
    for (ssize_t n; rc == 0 && (n = read(fds[0], buffer, sizeof buffer)) > 0;)
        out.append(buffer, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    if (rc != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        throw std::runtime_error(fmt::format("'{}' failed", fmt::join(all, " ")));
    return out;
}

int run_all(const Args& a) {
    nlohmann::json config = config_json();
    std::vector<std::string> sgemm_args = {"--sgemm", "--json"};
    sgemm_args.insert(sgemm_args.end(), a.pass_on.begin(), a.pass_on.end());
    double gflops = nlohmann::json::parse(run_child(sgemm_args))["sgemm_gflops"].get<double>();
    if (!a.json) {
        fmt::print("{}\nsgemm 2048^3 through tapegrad: {:.1f} GF/s\n\n",
                   config["line"].get<std::string>(), gflops);
        fmt::print("{:<32} {:>10} {:>6} {:>11} {:>13} {:>8}\n", "workload", "median ms", "iters",
                   "peak RSS MB", "GEMM bound ms", "x bound");
    } else {
        fmt::print("{}\n", nlohmann::json{{"config", config}, {"sgemm_gflops", gflops}}.dump());
    }
    for (const bench::Workload& w : bench::workloads()) {
        if (w.name.find(a.filter) == std::string::npos) continue;
        std::vector<std::string> args = {"--run", w.name, "--json"};
        args.insert(args.end(), a.pass_on.begin(), a.pass_on.end());
        nlohmann::json r = nlohmann::json::parse(run_child(args));
        // A train step does about three times the forward's matrix work
        // (forward, and the input and weight gradients in backward).
        double bound_ms = (w.mode == "train" ? 3 : 1) * w.forward_gemm_flops / (gflops * 1e9) * 1e3;
        r["gemm_bound_ms"] = bound_ms;
        r["sgemm_gflops"] = gflops;
        double ms = r["median_ms"].get<double>();
        if (a.json)
            fmt::print("{}\n", r.dump());
        else
            fmt::print("{:<32} {:>10.3f} {:>6} {:>11.1f} {:>13.3f} {:>8.1f}\n", w.name, ms,
                       r["iters"].get<int>(), r["peak_rss_mb"].get<double>(), bound_ms,
                       ms / bound_ms);
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse(argc, argv);
    try {
        if (a.threads) tg::set_num_threads(*a.threads);
        if (a.mode == "run") return run_one(a);
        if (a.mode == "sgemm") {
            double gflops = bench::sgemm_gflops();
            nlohmann::json out = {{"sgemm_gflops", gflops}, {"threads", tg::config().threads}};
            fmt::print("{}\n", a.json ? out.dump() : fmt::format("{:.1f} GF/s", gflops));
            return 0;
        }
        if (a.mode == "config") {
            nlohmann::json c = config_json();
            fmt::print("{}\n", a.json ? c.dump() : c["line"].get<std::string>());
            return 0;
        }
        if (a.mode == "list") {
            for (const bench::Workload& w : bench::workloads())
                if (w.name.find(a.filter) != std::string::npos)
                    fmt::print("{}\n", a.json ? spec_json(w).dump() : w.name);
            return 0;
        }
        return run_all(a);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tapegrad_bench: %s\n", e.what());
        return 1;
    }
}
