// build/tests/parity CASE.safetensors [CASE ...]: runs each PyTorch parity
// case with tapegrad and compares every expected tensor it holds.

#include <cmath>
#include <cstdio>

#include "parity_case.h"

namespace {

struct Tolerance {
    double atol, rtol;
};

Tolerance tolerance(tg::DType dtype, bool gradient) {
    if (dtype == tg::DType::f64) return gradient ? Tolerance{1e-8, 1e-8} : Tolerance{1e-10, 1e-10};
    return gradient ? Tolerance{1e-4, 1e-3} : Tolerance{1e-5, 1e-4};
}

// Prints one line per compared tensor; true when every one is close.
bool compare(const parity::Case& c, const parity::Results& results) {
    bool ok = true;
    for (const auto& [name, expected] : c.tensors()) {
        if (!name.starts_with("expected.")) continue;
        std::string key = name.substr(9);
        auto it = results.find(key);
        if (it == results.end()) {
            fmt::print("  {:<28} FAIL: module '{}' did not produce it\n", key, c.module());
            ok = false;
            continue;
        }
        const tg::Tensor& got = it->second;
        if (got.shape() != expected.shape()) {
            fmt::print("  {:<28} FAIL: shape {} but expected {}\n", key, got.shape(),
                       expected.shape());
            ok = false;
            continue;
        }
        Tolerance tol = tolerance(c.dtype(), key.starts_with("grad."));
        auto a = got.to_vector<double>(), e = expected.to_vector<double>();
        double max_abs = 0, max_rel = 0;
        bool close = true;
        for (std::size_t i = 0; i < a.size(); ++i) {
            double err = std::abs(a[i] - e[i]);
            if (std::isnan(a[i]) != std::isnan(e[i])) err = INFINITY;
            if (std::isnan(a[i]) && std::isnan(e[i])) err = 0;
            max_abs = std::max(max_abs, err);
            if (e[i] != 0) max_rel = std::max(max_rel, err / std::abs(e[i]));
            close = close && err <= tol.atol + tol.rtol * std::abs(e[i]);
        }
        fmt::print("  {:<28} {:<16} max abs {:.3e}  max rel {:.3e}  {}\n", key,
                   expected.shape().str(), max_abs, max_rel, close ? "ok" : "FAIL");
        ok = ok && close;
    }
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, parity::Runner> runners;
    parity::add_linear_runners(runners);
    parity::add_recurrent_runners(runners);
    parity::add_loss_runners(runners);
    parity::add_optim_runners(runners);
    parity::add_sequential_runners(runners);

    int passed = 0, failed = 0;
    for (int i = 1; i < argc; ++i) {
        std::string path = argv[i];
        fmt::print("{}\n", path);
        try {
            parity::Case c(path);
            auto runner = runners.find(c.module());
            if (runner == runners.end())
                throw tg::ValueError(fmt::format("{}: unknown module '{}'", path, c.module()));
            tg::manual_seed(0);
            bool ok = compare(c, runner->second(c));
            tg::clear_tape();
            ok ? ++passed : ++failed;
        } catch (const std::exception& e) {
            tg::clear_tape();
            fmt::print("  FAIL: {}\n", e.what());
            ++failed;
        }
    }
    if (argc < 2) {
        std::fputs("usage: parity CASE.safetensors [CASE ...]\n", stderr);
        return 2;
    }
    fmt::print("{} passed, {} failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
