#pragma once

#include <array>
#include <vector>

#include <tapegrad/optim/optimizer.h>

namespace tg {

struct AdamOptions {
    double lr = 1e-3;
    std::array<double, 2> betas = {0.9, 0.999};
    double eps = 1e-8;
    double weight_decay = 0.0;  // L2: added to the gradient
    bool amsgrad = false;
};

// torch.optim.Adam (foreach=False): per parameter
//   g = grad + weight_decay * p
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2   (amsgrad: v_max = max(v_max, v))
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// State: step, exp_avg, exp_avg_sq (, max_exp_avg_sq).
class Adam : public Optimizer {
public:
    explicit Adam(std::vector<Tensor> params, AdamOptions options = {});
    void step() override;

protected:
    std::vector<std::string> state_names() const override;
    StateDict options_state() const override;
    void load_options(const StateDict& entries) override;

    Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled, const char* name);

private:
    AdamOptions options_;  // options_.lr is only read at construction; lr() is the live value
    bool decoupled_;       // AdamW's weight decay
};

struct AdamWOptions {
    double lr = 1e-3;
    std::array<double, 2> betas = {0.9, 0.999};
    double eps = 1e-8;
    double weight_decay = 1e-2;  // decoupled: p *= 1 - lr * weight_decay before the Adam step
    bool amsgrad = false;
};

// torch.optim.AdamW (foreach=False): Adam without the L2 term, with the
// parameter shrunk by (1 - lr * weight_decay) first.
class AdamW : public Adam {
public:
    explicit AdamW(std::vector<Tensor> params, AdamWOptions options = {});
};

}  // namespace tg
