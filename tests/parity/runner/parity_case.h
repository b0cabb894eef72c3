#pragma once

// A PyTorch parity case (see the README's "Parity with PyTorch"): a module's
// configuration, its parameters, an input, and what PyTorch computed.

#include <functional>
#include <map>
#include <string>

#include <tapegrad/tapegrad.h>

namespace parity {

class Case {
public:
    explicit Case(const std::string& path);

    const std::string& path() const { return path_; }
    const std::string& module() const { return module_; }
    tg::DType dtype() const { return dtype_; }

    bool has(const std::string& name) const { return tensors_.count(name) > 0; }
    // The tensor called name; a missing one is an error naming the case.
    const tg::Tensor& tensor(const std::string& name) const;
    tg::Tensor optional(const std::string& name) const;  // undefined when absent
    const std::map<std::string, tg::Tensor>& tensors() const { return tensors_; }

    // Metadata values; a missing key without a fallback is an error.
    std::string text(const std::string& key) const;
    std::string text(const std::string& key, const std::string& fallback) const;
    std::int64_t integer(const std::string& key) const;
    std::int64_t integer(const std::string& key, std::int64_t fallback) const;
    double number(const std::string& key) const;
    double number(const std::string& key, double fallback) const;
    bool flag(const std::string& key, bool fallback) const;

    // Parameters stored under prefix (e.g. "0." for the first layer of a
    // sequential), with the prefix removed.
    tg::StateDict parameters(const std::string& prefix = "") const;

private:
    std::string path_, module_;
    tg::DType dtype_;
    std::map<std::string, tg::Tensor> tensors_;
    std::map<std::string, std::string> metadata_;
};

// What tapegrad computed, keyed like the case's tensors without "expected."
// ("output", "h_n", "grad.input", "grad.weight_ih_l0", "param", ...).
using Results = std::map<std::string, tg::Tensor>;
using Runner = std::function<Results(const Case&)>;

// The runners by module name, one per family file.
void add_linear_runners(std::map<std::string, Runner>& runners);
void add_recurrent_runners(std::map<std::string, Runner>& runners);
void add_loss_runners(std::map<std::string, Runner>& runners);
void add_optim_runners(std::map<std::string, Runner>& runners);
void add_sequential_runners(std::map<std::string, Runner>& runners);

// Helpers shared by the runners: sum(output * grad_output) over the
// (output, grad name) pairs present, then the gradients of every leaf.
tg::Tensor weighted_sum(const Case& c, const std::vector<std::pair<tg::Tensor, std::string>>& outs);
void add_grads(Results& results, const std::vector<std::pair<std::string, tg::Tensor>>& leaves);

}  // namespace parity
