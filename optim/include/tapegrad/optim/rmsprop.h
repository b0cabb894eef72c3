#pragma once

#include <vector>

#include <tapegrad/optim/optimizer.h>

namespace tg {

struct RMSpropOptions {
    double lr = 1e-2;
    double alpha = 0.99;
    double eps = 1e-8;
    double weight_decay = 0.0;  // L2: added to the gradient
    double momentum = 0.0;
    bool centered = false;
};

// torch.optim.RMSprop (foreach=False): per parameter
//   g = grad + weight_decay * p,  s = alpha s + (1 - alpha) g^2
//   centered: a = alpha a + (1 - alpha) g,  avg = sqrt(s - a^2) + eps;  else avg = sqrt(s) + eps
//   momentum: b = momentum b + g / avg, p -= lr * b;  else p -= lr * g / avg
// State: step, square_avg (, momentum_buffer, grad_avg).
class RMSprop : public Optimizer {
public:
    explicit RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
    void step() override;

protected:
    std::vector<std::string> state_names() const override;
    StateDict options_state() const override;
    void load_options(const StateDict& entries) override;

private:
    RMSpropOptions options_;  // options_.lr is only read at construction; lr() is the live value
};

}  // namespace tg
