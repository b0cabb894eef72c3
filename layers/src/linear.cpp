#include <tapegrad/layers/linear.h>
#include <tapegrad/ops/linalg.h>

#include <cmath>

namespace tg {

Linear::Linear(LinearOptions o) : options(o) {
    if (o.in_features <= 0 || o.out_features <= 0)
        throw ValueError(
            fmt::format("Linear: in_features ({}) and out_features ({}) must be "
                        "positive",
                        o.in_features, o.out_features));
    // PyTorch's default: kaiming_uniform(a=sqrt(5)) on the weight reduces to
    // U(-1/sqrt(in), 1/sqrt(in)), and the bias uses the same bound.
    double bound = 1.0 / std::sqrt(static_cast<double>(o.in_features));
    weight = register_parameter("weight", uniform({o.out_features, o.in_features}, bound));
    if (o.bias) bias = register_parameter("bias", uniform({o.out_features}, bound));
}

Tensor Linear::forward(const Tensor& x, CallSite site) const {
    return linear(x, weight, bias, site);
}

}  // namespace tg
