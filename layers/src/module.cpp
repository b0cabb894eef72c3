#include <tapegrad/core/safetensors.h>
#include <tapegrad/core/tape.h>
#include <tapegrad/layers/module.h>

#include <algorithm>

namespace tg {

namespace {
void check_name(const std::string& name, const char* what) {
    if (name.empty() || name.find('.') != std::string::npos)
        throw ValueError(
            fmt::format("{}: name '{}' must be non-empty and contain no '.'", what, name));
}
}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor value) {
    check_name(name, "register_parameter");
    if (!value.defined()) return value;
    for (const auto& [existing, tensor] : parameters_)
        if (existing == name)
            throw ValueError(fmt::format("register_parameter: '{}' is already registered", name));
    value = value.detach();
    value.requires_grad_();
    parameters_.emplace_back(name, value);
    return value;
}

void Module::add_child(const std::string& name, Module& module) {
    check_name(name, "register_module");
    if (&module == this) throw ValueError("register_module: a module cannot contain itself");
    for (const auto& [existing, child] : children_)
        if (existing == name)
            throw ValueError(fmt::format("register_module: '{}' is already registered", name));
    children_.emplace_back(name, &module);
}

void Module::collect(const std::string& prefix,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
    for (const auto& [name, tensor] : parameters_) out.emplace_back(prefix + name, tensor);
    for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
    std::vector<std::pair<std::string, Tensor>> out;
    collect("", out);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, tensor] : named_parameters()) out.push_back(tensor);
    return out;
}

std::int64_t Module::num_parameters() const {
    std::int64_t n = 0;
    for (const Tensor& p : parameters()) n += p.numel();
    return n;
}

void Module::to(DType dtype) {
    if (!is_floating(dtype))
        throw DTypeError(fmt::format("Module::to: parameters must be floating, not {}", dtype));
    NoGrad no_grad;
    for (auto& [name, p] : named_parameters()) p.set_data(p.to(dtype));
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
    for (Tensor& p : parameters()) p.zero_grad();
}

StateDict Module::state_dict() const {
    StateDict out;
    for (auto& [name, tensor] : named_parameters()) out.emplace(name, tensor.detach());
    return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
    auto own = named_parameters();
    // Check everything first, so a bad state dict leaves the module untouched.
    std::vector<std::string> missing, unexpected;
    for (const auto& [name, param] : own) {
        auto it = state.find(name);
        if (it == state.end()) {
            missing.push_back(name);
            continue;
        }
        if (it->second.shape() != param.shape())
            throw ShapeError(
                fmt::format("load_state_dict: '{}' has shape {} in the state dict "
                            "but {} in the module",
                            name, it->second.shape(), param.shape()));
        if (!is_floating(it->second.dtype()))
            throw DTypeError(fmt::format("load_state_dict: '{}' is {}, expected a floating dtype",
                                         name, it->second.dtype()));
    }
    for (const auto& entry : state)  // not a structured binding: clang < 16 cannot capture one
        if (std::none_of(own.begin(), own.end(),
                         [&](const auto& p) { return p.first == entry.first; }))
            unexpected.push_back(entry.first);
    if (strict && (!missing.empty() || !unexpected.empty()))
        throw ValueError(fmt::format("load_state_dict: missing keys [{}], unexpected keys [{}]",
                                     fmt::join(missing, ", "), fmt::join(unexpected, ", ")));
    NoGrad no_grad;
    for (auto& [name, param] : own)
        if (auto it = state.find(name); it != state.end()) param.copy_(it->second);
}

void Module::save(const std::string& path) const { save_safetensors(path, state_dict()); }

void Module::load(const std::string& path, bool strict) {
    StateDict state = load_safetensors(path).tensors;  // its errors name the file
    with_context(path, [&] { load_state_dict(state, strict); });
}

}  // namespace tg
