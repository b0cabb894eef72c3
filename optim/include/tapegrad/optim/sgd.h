#pragma once

#include <limits>
#include <vector>

#include <tapegrad/optim/optimizer.h>

namespace tg {

struct SGDOptions {
    double lr = std::numeric_limits<double>::quiet_NaN();  // required, as in PyTorch
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;  // L2: added to the gradient
    bool nesterov = false;      // needs momentum > 0 and dampening = 0
};

// torch.optim.SGD (foreach=False): per parameter
//   d = grad + weight_decay * p
//   b = d at the first step, then b = momentum b + (1 - dampening) d
//   p -= lr * (nesterov ? d + momentum b : b)      (p -= lr * d without momentum)
// State: momentum_buffer (only with momentum).
class SGD : public Optimizer {
public:
    SGD(std::vector<Tensor> params, SGDOptions options);
    void step() override;

protected:
    std::vector<std::string> state_names() const override;
    StateDict options_state() const override;
    void load_options(const StateDict& entries) override;

private:
    SGDOptions options_;  // options_.lr is only read at construction; lr() is the live value
};

}  // namespace tg
