#pragma once

#include <tapegrad/layers/module.h>

namespace tg {

struct LinearOptions {
    std::int64_t in_features;
    std::int64_t out_features;
    bool bias = true;
};

// y = x W^T + b over the last dimension of x, as torch.nn.Linear.
class Linear : public Module {
public:
    explicit Linear(LinearOptions options);
    Tensor forward(const Tensor& x) const;
    Tensor operator()(const Tensor& x) const { return forward(x); }

    LinearOptions options;
    Tensor weight;  // [out_features, in_features]
    Tensor bias;    // [out_features], undefined without bias
};

}  // namespace tg
