#include <set>

#include "parity_case.h"

namespace parity {

namespace {

tg::Reduction reduction_of(const Case& c) {
    std::string r = c.text("reduction", "mean");
    if (r == "none") return tg::Reduction::none;
    if (r == "mean") return tg::Reduction::mean;
    if (r == "sum") return tg::Reduction::sum;
    throw tg::ValueError(
        fmt::format("{}: metadata 'reduction' = '{}' is not none / mean / sum", c.path(), r));
}

// Fails a case holding an input tensor this runner would silently skip;
// grad_output belongs only to an unreduced (vector) loss.
void check_known(const Case& c, tg::Reduction reduction, std::set<std::string> known) {
    known.insert({"input", "target"});
    if (reduction == tg::Reduction::none) known.insert("grad_output");
    for (const auto& [name, t] : c.tensors())
        if (!name.starts_with("expected.") && !known.count(name))
            throw tg::ValueError(
                fmt::format("{}: module '{}' with reduction {} does not use "
                            "tensor '{}'",
                            c.path(), c.module(), c.text("reduction", "mean"), name));
}

// target_kind says how to read the target; its dtype must agree.
void check_target_kind(const Case& c) {
    std::string kind = c.text("target_kind", "indices");
    bool indices = c.tensor("target").dtype() == tg::DType::i64;
    if ((kind != "indices" && kind != "probabilities") || indices != (kind == "indices"))
        throw tg::ValueError(fmt::format("{}: target_kind '{}' does not fit a target of dtype {}",
                                         c.path(), kind, c.tensor("target").dtype()));
}

// Runs loss(input, target) on a leaf copy of the input. A scalar loss is
// differentiated itself; an unreduced one through sum(loss * grad_output).
template <class F>
Results run(const Case& c, tg::Reduction reduction, F loss_of) {
    tg::Tensor input = c.tensor("input").detach().requires_grad_();
    tg::Tensor loss = loss_of(input, c.tensor("target"));
    if (reduction == tg::Reduction::none)
        weighted_sum(c, {{loss, "grad_output"}}).backward();
    else
        loss.backward();
    Results r{{"loss", loss}};
    add_grads(r, {{"input", input}});
    return r;
}

Results run_mse_loss(const Case& c) {
    tg::Reduction reduction = reduction_of(c);
    check_known(c, reduction, {});
    return run(c, reduction, [&](const tg::Tensor& x, const tg::Tensor& t) {
        return tg::mse_loss(x, t, reduction);
    });
}

Results run_l1_loss(const Case& c) {
    tg::Reduction reduction = reduction_of(c);
    check_known(c, reduction, {});
    return run(c, reduction, [&](const tg::Tensor& x, const tg::Tensor& t) {
        return tg::l1_loss(x, t, reduction);
    });
}

Results run_nll_loss(const Case& c) {
    tg::Reduction reduction = reduction_of(c);
    check_known(c, reduction, {"weight"});
    check_target_kind(c);
    tg::NllLossOptions options{.reduction = reduction,
                               .ignore_index = c.integer("ignore_index", -100),
                               .weight = c.optional("weight")};
    return run(c, reduction, [&](const tg::Tensor& x, const tg::Tensor& t) {
        return tg::nll_loss(x, t, options);
    });
}

Results run_cross_entropy(const Case& c) {
    tg::Reduction reduction = reduction_of(c);
    check_known(c, reduction, {"weight"});
    check_target_kind(c);
    tg::CrossEntropyOptions options{.reduction = reduction,
                                    .ignore_index = c.integer("ignore_index", -100),
                                    .label_smoothing = c.number("label_smoothing", 0.0),
                                    .weight = c.optional("weight")};
    return run(c, reduction, [&](const tg::Tensor& x, const tg::Tensor& t) {
        return tg::cross_entropy(x, t, options);
    });
}

Results run_binary_cross_entropy_with_logits(const Case& c) {
    tg::Reduction reduction = reduction_of(c);
    check_known(c, reduction, {"pos_weight"});
    return run(c, reduction, [&](const tg::Tensor& x, const tg::Tensor& t) {
        return tg::binary_cross_entropy_with_logits(x, t, reduction, c.optional("pos_weight"));
    });
}

}  // namespace

void add_loss_runners(std::map<std::string, Runner>& runners) {
    runners["mse_loss"] = run_mse_loss;
    runners["l1_loss"] = run_l1_loss;
    runners["nll_loss"] = run_nll_loss;
    runners["cross_entropy"] = run_cross_entropy;
    runners["binary_cross_entropy_with_logits"] = run_binary_cross_entropy_with_logits;
}

}  // namespace parity
