#pragma once

#include <tapegrad/core/call_site.h>
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
    // site: the caller's line, which anomaly reports and tape graphs name.
    Tensor forward(const Tensor& x, CallSite site = CallSite::current()) const;
    Tensor operator()(const Tensor& x, CallSite site = CallSite::current()) const {
        return forward(x, site);
    }

    LinearOptions options;
    Tensor weight;  // [out_features, in_features]
    Tensor bias;    // [out_features], undefined without bias
};

}  // namespace tg
