#include <tapegrad/layers/linear.h>

#include "parity_case.h"

namespace parity {

namespace {

Results run_linear(const Case& c) {
    tg::Linear model({.in_features = c.integer("in_features"),
                      .out_features = c.integer("out_features"),
                      .bias = c.flag("bias", true)});
    model.to(c.dtype());
    model.load_state_dict(c.parameters());
    tg::Tensor input = c.tensor("input").detach().requires_grad_();
    tg::Tensor output = model(input);
    weighted_sum(c, {{output, "grad_output"}}).backward();
    Results r{{"output", output}};
    add_grads(r, {{"input", input}});
    add_grads(r, model.named_parameters());
    return r;
}

}  // namespace

void add_linear_runners(std::map<std::string, Runner>& runners) { runners["linear"] = run_linear; }

}  // namespace parity
