#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.h>

namespace tg {

// Named tensors, the form in which optimizers and schedulers save and resume
// (it goes into a safetensors file next to the model's parameters).
using StateDict = std::map<std::string, Tensor>;

// Updates a fixed list of leaf tensors from their .grad(), as torch.optim does
// for one parameter group. Parameters are updated in place, so they stay the
// same tensors the model holds; parameters without a gradient are skipped.
class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
    void zero_grad();
    virtual void step() = 0;

    double lr() const { return lr_; }
    void set_lr(double lr);  // what schedulers call; lr >= 0
    const std::vector<Tensor>& parameters() const { return params_; }

    // A copy of the state: hyper-parameters as 0-D float64 tensors ("lr",
    // "beta1", flags as 0/1) and per-parameter state "state.<index>.<name>"
    // ("state.0.exp_avg", "state.0.step"). Parameters that never had a step
    // have no entries, as in PyTorch.
    StateDict state_dict() const;
    // Replaces hyper-parameters and state with copies of the entries of a
    // state_dict() from the same kind of optimizer over parameters of the same
    // shapes. Buffers are cast to their parameter's dtype, as PyTorch does.
    // Throws ValueError / ShapeError naming the offending entry and leaves
    // the optimizer unchanged.
    void load_state_dict(const StateDict& state);

protected:
    // Checks the parameters: non-empty, defined, floating, leaves, distinct.
    Optimizer(std::vector<Tensor> params, double lr, const char* name);

    // The state of parameter i, empty until its first step.
    std::map<std::string, Tensor>& state(std::size_t i) { return state_[i]; }
    // The names the state of each parameter holds under the current options;
    // "step" is 0-D, every other entry has the parameter's shape.
    virtual std::vector<std::string> state_names() const = 0;
    // Hyper-parameters other than lr, as 0-D float64 tensors.
    virtual StateDict options_state() const = 0;
    // Reads the entries options_state() writes; validates all before changing any.
    virtual void load_options(const StateDict& entries) = 0;

    const char* name() const { return name_; }

private:
    std::vector<std::map<std::string, Tensor>> parse_state(const StateDict& state) const;

    std::vector<Tensor> params_;
    std::vector<std::map<std::string, Tensor>> state_;
    double lr_;
    const char* name_;
};

// Helpers for options_state / load_options: a number as a 0-D float64 tensor,
// and reading one back. read_number throws ValueError naming `owner` and a
// missing entry, ShapeError for an entry that is not 0-D; read_flag also
// requires 0 or 1.
Tensor number_tensor(double value);
double read_number(const StateDict& entries, const std::string& key, const char* owner);
bool read_flag(const StateDict& entries, const std::string& key, const char* owner);

}  // namespace tg
