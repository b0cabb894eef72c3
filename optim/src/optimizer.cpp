#include <tapegrad/optim/optimizer.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tg {

Optimizer::Optimizer(std::vector<Tensor> params, double lr, const char* name)
    : params_(std::move(params)), state_(params_.size()), lr_(lr), name_(name) {
    if (!(lr >= 0.0)) throw ValueError(fmt::format("{}: invalid learning rate: {}", name, lr));
    if (params_.empty()) throw ValueError(fmt::format("{}: got an empty parameter list", name));
    for (std::size_t i = 0; i < params_.size(); ++i) {
        const Tensor& p = params_[i];
        if (!p.defined()) throw ValueError(fmt::format("{}: parameter {} is undefined", name, i));
        if (!is_floating(p.dtype()))
            throw DTypeError(
                fmt::format("{}: parameter {} is {}, not a floating tensor", name, i, p.dtype()));
        if (!p.is_leaf())
            throw ValueError(
                fmt::format("{}: can't optimize a non-leaf tensor (parameter {}, shape {})", name,
                            i, p.shape()));
        for (std::size_t j = 0; j < i; ++j)
            if (params_[j].is_same(p))
                throw ValueError(
                    fmt::format("{}: parameter {} is the same tensor as parameter {}; it would be "
                                "updated twice per step",
                                name, i, j));
    }
}

void Optimizer::zero_grad() {
    for (Tensor& p : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
    if (!(lr >= 0.0)) throw ValueError(fmt::format("{}: invalid learning rate: {}", name_, lr));
    lr_ = lr;
}

namespace {

// A fresh copy of t in dtype, so saved and loaded state never share storage
// with the optimizer's own buffers.
Tensor copy_as(const Tensor& t, DType dtype) {
    Tensor copy = Tensor::empty(t.shape(), dtype);
    copy.copy_(t);
    return copy;
}

std::string state_key(std::size_t index, const std::string& name) {
    return fmt::format("state.{}.{}", index, name);
}

constexpr std::string_view state_prefix = "state.";

bool is_state_key(const std::string& key) { return key.starts_with(state_prefix); }

}  // namespace

StateDict Optimizer::state_dict() const {
    StateDict out = options_state();
    out["lr"] = number_tensor(lr_);
    for (std::size_t i = 0; i < state_.size(); ++i)
        for (const auto& [name, t] : state_[i]) out[state_key(i, name)] = copy_as(t, t.dtype());
    return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
    StateDict expected = options_state();
    expected["lr"] = Tensor();
    for (const auto& [key, t] : state)
        if (!is_state_key(key) && !expected.contains(key))
            throw ValueError(fmt::format(
                "{}: load_state_dict: unexpected entry '{}' (not a hyper-parameter of {} and "
                "not 'state.<index>.<name>')",
                name_, key, name_));
    double lr = read_number(state, "lr", name_);
    if (!(lr >= 0.0))
        throw ValueError(fmt::format("{}: load_state_dict: invalid learning rate: {}", name_, lr));

    // The state entries an optimizer keeps depend on its options (amsgrad adds
    // max_exp_avg_sq), so the options are loaded first and restored if the
    // state does not fit them.
    StateDict old_options = options_state();
    load_options(state);
    try {
        state_ = parse_state(state);
    } catch (...) {
        load_options(old_options);
        throw;
    }
    lr_ = lr;
}

std::vector<std::map<std::string, Tensor>> Optimizer::parse_state(const StateDict& state) const {
    std::vector<std::string> names = state_names();
    std::vector<std::map<std::string, Tensor>> parsed(params_.size());
    for (const auto& [key, t] : state) {
        if (!is_state_key(key)) continue;
        std::string_view rest = std::string_view(key).substr(state_prefix.size());
        std::size_t dot = rest.find('.');
        std::size_t index = 0;
        auto [end, error] =
            std::from_chars(rest.data(), rest.data() + std::min(dot, rest.size()), index);
        if (dot == std::string_view::npos || error != std::errc() || end != rest.data() + dot)
            throw ValueError(fmt::format(
                "{}: load_state_dict: entry '{}' is not named 'state.<index>.<name>'", name_, key));
        if (index >= params_.size())
            throw ValueError(
                fmt::format("{}: load_state_dict: entry '{}' is for parameter {}, but the "
                            "optimizer has {} parameters",
                            name_, key, index, params_.size()));
        std::string name(rest.substr(dot + 1));
        if (std::find(names.begin(), names.end(), name) == names.end())
            throw ValueError(fmt::format(
                "{}: load_state_dict: unexpected entry '{}' ({} with these options keeps {})",
                name_, key, name_, names));
        const Tensor& p = params_[index];
        Shape shape = name == "step" ? Shape{} : p.shape();
        if (t.shape() != shape)
            throw ShapeError(
                fmt::format("{}: load_state_dict: entry '{}' has shape {}, expected {}", name_, key,
                            t.shape(), shape));
        // Buffers follow their parameter's dtype, as PyTorch's load_state_dict casts them.
        parsed[index][name] = copy_as(t, name == "step" ? DType::f64 : p.dtype());
    }
    for (std::size_t i = 0; i < parsed.size(); ++i) {
        if (parsed[i].empty()) continue;  // a parameter that never had a step
        for (const std::string& name : names)
            if (!parsed[i].contains(name))
                throw ValueError(fmt::format("{}: load_state_dict: missing entry '{}'", name_,
                                             state_key(i, name)));
    }
    return parsed;
}

Tensor number_tensor(double value) { return Tensor::scalar(value, DType::f64); }

double read_number(const StateDict& entries, const std::string& key, const char* owner) {
    auto it = entries.find(key);
    if (it == entries.end() || !it->second.defined())
        throw ValueError(fmt::format("{}: load_state_dict: missing entry '{}'", owner, key));
    if (it->second.dim() != 0)
        throw ShapeError(fmt::format("{}: load_state_dict: entry '{}' should be 0-D, got shape {}",
                                     owner, key, it->second.shape()));
    return it->second.item();
}

bool read_flag(const StateDict& entries, const std::string& key, const char* owner) {
    double value = read_number(entries, key, owner);
    if (value != 0.0 && value != 1.0)
        throw ValueError(
            fmt::format("{}: load_state_dict: entry '{}' is a flag and should be 0 or 1, got {}",
                        owner, key, value));
    return value == 1.0;
}

}  // namespace tg
