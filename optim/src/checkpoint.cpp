#include <tapegrad/core/generator.h>
#include <tapegrad/core/safetensors.h>
#include <tapegrad/core/tape.h>
#include <tapegrad/optim/checkpoint.h>

#include <vector>

namespace tg {

namespace {

constexpr const char* kModel = "model.";
constexpr const char* kOptim = "optim.";
constexpr const char* kExtra = "extra.";
constexpr const char* kGenerator = "generator";

void add_prefixed(StateDict& out, const std::string& prefix, const StateDict& part) {
    for (const auto& [key, tensor] : part) out.emplace(prefix + key, tensor);
}

// The entries of state whose key starts with prefix, with the prefix removed.
StateDict strip_prefix(const StateDict& state, const std::string& prefix) {
    StateDict out;
    for (const auto& [key, tensor] : state)
        if (key.starts_with(prefix)) out.emplace(key.substr(prefix.size()), tensor);
    return out;
}

}  // namespace

void save_checkpoint(const std::string& path, const Module& model, const Optimizer& optimizer,
                     const StateDict& extra) {
    for (const auto& [key, tensor] : extra) {
        if (key.empty())
            throw ValueError(fmt::format("save_checkpoint: {}: an extra has an empty key", path));
        if (!tensor.defined())
            throw ValueError(
                fmt::format("save_checkpoint: {}: extra '{}' is an undefined tensor", path, key));
    }
    StateDict all;
    add_prefixed(all, kModel, model.state_dict());
    add_prefixed(all, kOptim, optimizer.state_dict());
    add_prefixed(all, kExtra, extra);
    all.emplace(kGenerator, generator_state());
    save_safetensors(path, all, {{"format", "tapegrad-checkpoint"}});
}

StateDict load_checkpoint(const std::string& path, Module& model, Optimizer& optimizer,
                          const CheckpointExtraCheck& check_extra) {
    StateDict all = load_safetensors(path).tensors;
    for (const auto& [key, tensor] : all)
        if (!key.starts_with(kModel) && !key.starts_with(kOptim) && !key.starts_with(kExtra) &&
            key != kGenerator)
            throw ValueError(
                fmt::format("load_checkpoint: {}: unexpected key '{}' (keys start "
                            "with '{}', '{}' or '{}', or are '{}')",
                            path, key, kModel, kOptim, kExtra, kGenerator));
    auto generator = all.find(kGenerator);
    if (generator == all.end())
        throw ValueError(fmt::format("load_checkpoint: {}: missing key '{}'", path, kGenerator));
    StateDict extra = strip_prefix(all, kExtra);
    // The parts below check what they are given, not knowing the file: their
    // errors get its name in front.
    with_context(path, [&] {
        if (check_extra) check_extra(extra);

        // Each step below checks everything before changing anything; what an
        // earlier step changed is put back if a later one refuses its part.
        Tensor previous_generator = generator_state();
        set_generator_state(generator->second);
        StateDict previous_model;
        for (const auto& [name, p] : model.state_dict()) previous_model.emplace(name, p.clone());
        try {
            model.load_state_dict(strip_prefix(all, kModel), /*strict=*/true);
            optimizer.load_state_dict(strip_prefix(all, kOptim));
        } catch (...) {
            model.load_state_dict(previous_model);
            set_generator_state(previous_generator);
            throw;
        }
    });
    return extra;
}

}  // namespace tg
