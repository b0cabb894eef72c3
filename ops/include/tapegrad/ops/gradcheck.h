#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.h>

namespace tg {

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-5;
    double rtol = 1e-6;
};

// The outcome of a gradient check; `report` names the worst element.
struct GradcheckResult {
    bool ok = true;
    std::size_t input = 0;   // worst input
    std::int64_t index = 0;  // flat index of the worst element within it
    double analytic = 0, numeric = 0;
    double error = 0;  // |analytic - numeric| - (atol + rtol |numeric|); > 0 fails
    std::string report;
    explicit operator bool() const { return ok; }
};
std::ostream& operator<<(std::ostream& os, const GradcheckResult& r);

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Compares the tape's gradient of fn with central differences, in float64.
// A non-scalar output is projected on fixed pseudo-random weights, so every
// output element counts. Every floating input is checked, and so are
// `parameters`: float64 leaves that fn reads itself (a module's weights),
// perturbed in place and restored.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          GradcheckOptions options = {},
                          const std::vector<Tensor>& parameters = {});
GradcheckResult gradcheck(const std::function<Tensor(const Tensor&)>& fn, const Tensor& input,
                          GradcheckOptions options = {});

}  // namespace tg
