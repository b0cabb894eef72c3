#include "parity_case.h"

#include <cstdlib>

namespace parity {

Case::Case(const std::string& path) : path_(path) {
    tg::SafetensorsFile file = tg::load_safetensors(path);
    tensors_ = std::move(file.tensors);
    metadata_ = std::move(file.metadata);
    module_ = text("module");
    std::string dtype = text("dtype", "float32");
    if (dtype != "float32" && dtype != "float64")
        throw tg::ValueError(fmt::format("{}: unknown dtype '{}'", path_, dtype));
    dtype_ = dtype == "float64" ? tg::DType::f64 : tg::DType::f32;
    for (const auto& [name, t] : tensors_)
        if (is_floating(t.dtype()) && t.dtype() != dtype_)
            throw tg::DTypeError(fmt::format("{}: tensor '{}' is {} but the case is {}", path_,
                                             name, t.dtype(), dtype));
}

const tg::Tensor& Case::tensor(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end())
        throw tg::ValueError(fmt::format("{}: module '{}' needs tensor '{}', which the case lacks",
                                         path_, module_, name));
    return it->second;
}

tg::Tensor Case::optional(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? tg::Tensor() : it->second;
}

std::string Case::text(const std::string& key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end())
        throw tg::ValueError(fmt::format("{}: metadata '{}' is missing", path_, key));
    return it->second;
}

std::string Case::text(const std::string& key, const std::string& fallback) const {
    auto it = metadata_.find(key);
    return it == metadata_.end() ? fallback : it->second;
}

std::int64_t Case::integer(const std::string& key) const {
    std::string s = text(key);
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0')
        throw tg::ValueError(
            fmt::format("{}: metadata '{}' = '{}' is not an integer", path_, key, s));
    return v;
}

std::int64_t Case::integer(const std::string& key, std::int64_t fallback) const {
    return metadata_.count(key) ? integer(key) : fallback;
}

double Case::number(const std::string& key) const {
    std::string s = text(key);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0')
        throw tg::ValueError(
            fmt::format("{}: metadata '{}' = '{}' is not a number", path_, key, s));
    return v;
}

double Case::number(const std::string& key, double fallback) const {
    return metadata_.count(key) ? number(key) : fallback;
}

bool Case::flag(const std::string& key, bool fallback) const {
    std::string s = text(key, fallback ? "true" : "false");
    if (s != "true" && s != "false")
        throw tg::ValueError(
            fmt::format("{}: metadata '{}' = '{}' is not true/false", path_, key, s));
    return s == "true";
}

tg::StateDict Case::parameters(const std::string& prefix) const {
    tg::StateDict out;
    for (const auto& [name, t] : tensors_) {
        bool is_data = name.starts_with("expected.") || name.starts_with("grad") ||
                       name == "input" || name == "target" || name == "h0" || name == "c0" ||
                       name == "hx" || name == "cx";
        if (!is_data && name.starts_with(prefix)) out.emplace(name.substr(prefix.size()), t);
    }
    return out;
}

tg::Tensor weighted_sum(const Case& c,
                        const std::vector<std::pair<tg::Tensor, std::string>>& outs) {
    tg::Tensor total;
    for (const auto& [out, grad_name] : outs) {
        tg::Tensor g = c.optional(grad_name);
        if (!g.defined() || !out.defined()) continue;
        tg::Tensor term = tg::sum(out * g);
        total = total.defined() ? total + term : term;
    }
    if (!total.defined())
        throw tg::ValueError(fmt::format("{}: no grad_output to form the loss", c.path()));
    return total;
}

void add_grads(Results& results, const std::vector<std::pair<std::string, tg::Tensor>>& leaves) {
    for (const auto& [name, leaf] : leaves)
        if (leaf.defined() && leaf.grad().defined()) results["grad." + name] = leaf.grad();
}

}  // namespace parity
