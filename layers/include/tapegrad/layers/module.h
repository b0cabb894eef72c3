#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/core/tensor.h>

namespace tg {

// Parameters by their dotted PyTorch names ("rnn.weight_ih_l0").
using StateDict = std::map<std::string, Tensor>;

// A model part with named parameters and named submodules, as torch.nn.Module.
// Parameters are public members of the subclass, registered once in its
// constructor; registration order is the order of named_parameters().
class Module {
public:
    Module() = default;
    Module(const Module&) = delete;  // submodules are registered by address
    Module& operator=(const Module&) = delete;
    virtual ~Module() = default;

    std::vector<std::pair<std::string, Tensor>> named_parameters() const;
    std::vector<Tensor> parameters() const;
    std::int64_t num_parameters() const;

    // Converts every parameter to dtype in place (model.double() in PyTorch).
    void to(DType dtype);

    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }
    void zero_grad();

    // Detached handles on the parameters' data, by dotted name.
    StateDict state_dict() const;
    // Copies values into the existing parameters (they stay the same tensors).
    // strict: a missing or unexpected name is an error; a wrong shape always is.
    void load_state_dict(const StateDict& state, bool strict = true);
    void save(const std::string& path) const;  // safetensors; atomic replace
    void load(const std::string& path, bool strict = true);

protected:
    // Makes value a leaf that requires grad and registers it under name;
    // an undefined value (an absent bias) is not registered.
    Tensor register_parameter(const std::string& name, Tensor value);
    template <class M>
    M& register_module(const std::string& name, M& module) {
        add_child(name, module);
        return module;
    }

private:
    void add_child(const std::string& name, Module& module);
    void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;

    std::vector<std::pair<std::string, Tensor>> parameters_;
    std::vector<std::pair<std::string, Module*>> children_;
    bool training_ = true;
};

}  // namespace tg
