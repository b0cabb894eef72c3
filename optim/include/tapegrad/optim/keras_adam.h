#pragma once

#include <vector>

#include <tapegrad/optim/optimizer.h>

namespace tg::keras {

struct AdamOptions {
    double learning_rate = 1e-3;
    double beta_1 = 0.9;
    double beta_2 = 0.999;
    double epsilon = 1e-7;
};

// keras.optimizers.Adam: per parameter, at step t,
//   m = m + (g - m) (1 - beta_1),  v = v + (g^2 - v) (1 - beta_2)
//   p -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)
// Keras's epsilon is the paper's "epsilon hat": it is added to sqrt(v)
// before the bias correction, where tg::Adam (as torch.optim.Adam) adds its
// eps after. The two agree for epsilon = 0; otherwise Keras's epsilon acts as
// a PyTorch eps of epsilon / sqrt(1 - beta_2^t), 32 times larger at the
// first step and shrinking towards epsilon. State: step, m, v.
class Adam : public Optimizer {
public:
    explicit Adam(std::vector<Tensor> params, AdamOptions options = {});
    void step() override;

protected:
    std::vector<std::string> state_names() const override;
    StateDict options_state() const override;
    void load_options(const StateDict& entries) override;

private:
    AdamOptions options_;  // options_.learning_rate is only read at construction; lr() is live
};

}  // namespace tg::keras
