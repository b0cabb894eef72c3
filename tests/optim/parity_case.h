#pragma once

// Reading the PyTorch cases of tests/parity/optim (made by
// tools/parity_cases/optim.py) in the optim suites.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

namespace tg::test {

struct ParityCase {
    std::string name;  // file stem, e.g. "adam_amsgrad_f32"
    SafetensorsFile file;

    const Tensor& tensor(const std::string& key) const { return file.tensors.at(key); }
    const std::string& text(const std::string& key) const { return file.metadata.at(key); }
    double number(const std::string& key) const { return std::stod(text(key)); }
    bool flag(const std::string& key) const { return text(key) == "true"; }
};

// Every case whose metadata module is `module`, in file name order.
inline std::vector<ParityCase> parity_cases(const std::string& module) {
    const char* root = std::getenv("TAPEGRAD_SOURCE_DIR");
    REQUIRE_MESSAGE(root != nullptr, "TAPEGRAD_SOURCE_DIR is not set (run the tests with ctest)");
    std::vector<std::filesystem::path> paths;
    for (const auto& entry :
         std::filesystem::directory_iterator(std::filesystem::path(root) / "tests/parity/optim"))
        if (entry.path().extension() == ".safetensors") paths.push_back(entry.path());
    std::sort(paths.begin(), paths.end());
    std::vector<ParityCase> cases;
    for (const auto& path : paths) {
        ParityCase c{path.stem().string(), load_safetensors(path.string())};
        if (c.file.metadata.at("module") == module) cases.push_back(std::move(c));
    }
    return cases;
}

// The largest |actual - expected| and the largest relative error, where the
// relative error of an element is |actual - expected| / max(|expected|, 1e-3)
// (elements that crossed zero would otherwise dominate).
struct Mismatch {
    double abs = 0.0;
    double rel = 0.0;
};

inline Mismatch compare(const Tensor& actual, const Tensor& expected) {
    REQUIRE(actual.shape() == expected.shape());
    REQUIRE(actual.dtype() == expected.dtype());
    std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
    Mismatch worst;
    for (std::size_t i = 0; i < a.size(); ++i) {
        double diff = std::abs(a[i] - e[i]);
        if (std::isnan(a[i]) != std::isnan(e[i])) diff = INFINITY;
        worst.abs = std::max(worst.abs, diff);
        worst.rel = std::max(worst.rel, diff / std::max(std::abs(e[i]), 1e-3));
    }
    return worst;
}

inline void merge(Mismatch& total, Mismatch m) {
    total.abs = std::max(total.abs, m.abs);
    total.rel = std::max(total.rel, m.rel);
}

// The relative error optimizers must stay within: far tighter than the
// parity runner's tolerances, since they repeat PyTorch's operations.
inline double optimizer_rtol(DType dtype) { return dtype == DType::f64 ? 1e-12 : 1e-6; }

// Feeds grad.0 ... grad.<steps-1> to a fresh copy of `param` through the
// optimizer that make(params) builds, and compares with expected.param.
template <class Make>
Mismatch run_optimizer_case(const ParityCase& c, Make make) {
    Tensor param = c.tensor("param").clone().requires_grad_();
    auto optimizer = make(std::vector<Tensor>{param});
    auto steps = static_cast<int>(c.number("steps"));
    for (int k = 0; k < steps; ++k) {
        param.set_grad(c.tensor(fmt::format("grad.{}", k)).clone());
        optimizer.step();
    }
    Mismatch m = compare(param, c.tensor("expected.param"));
    INFO(c.name, ": max abs error ", m.abs, ", max rel error ", m.rel);
    CHECK(m.rel <= optimizer_rtol(param.dtype()));
    return m;
}

}  // namespace tg::test
