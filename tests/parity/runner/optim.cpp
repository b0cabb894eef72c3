#include <memory>

#include "parity_case.h"

namespace parity {

namespace {

// Feeds grad.0 ... grad.<steps-1> to the optimizer one step at a time.
template <class Make>
Results run_steps(const Case& c, Make make) {
    tg::Tensor param = c.tensor("param").clone().requires_grad_();
    std::unique_ptr<tg::Optimizer> opt = make(std::vector<tg::Tensor>{param});
    for (std::int64_t step = 0; step < c.integer("steps"); ++step) {
        param.set_grad(c.tensor(fmt::format("grad.{}", step)).clone());
        opt->step();
    }
    return {{"param", param.detach()}};
}

Results run_sgd(const Case& c) {
    return run_steps(c, [&](std::vector<tg::Tensor> p) {
        return std::make_unique<tg::SGD>(std::move(p),
                                         tg::SGDOptions{.lr = c.number("lr"),
                                                        .momentum = c.number("momentum", 0),
                                                        .dampening = c.number("dampening", 0),
                                                        .weight_decay = c.number("weight_decay", 0),
                                                        .nesterov = c.flag("nesterov", false)});
    });
}

tg::AdamOptions adam_options(const Case& c, double default_decay) {
    return {.lr = c.number("lr", 1e-3),
            .betas = {c.number("beta1", 0.9), c.number("beta2", 0.999)},
            .eps = c.number("eps", 1e-8),
            .weight_decay = c.number("weight_decay", default_decay),
            .amsgrad = c.flag("amsgrad", false)};
}

Results run_adam(const Case& c) {
    return run_steps(c, [&](std::vector<tg::Tensor> p) {
        return std::make_unique<tg::Adam>(std::move(p), adam_options(c, 0.0));
    });
}

Results run_adamw(const Case& c) {
    return run_steps(c, [&](std::vector<tg::Tensor> p) {
        tg::AdamOptions o = adam_options(c, 1e-2);
        return std::make_unique<tg::AdamW>(std::move(p),
                                           tg::AdamWOptions{.lr = o.lr,
                                                            .betas = o.betas,
                                                            .eps = o.eps,
                                                            .weight_decay = o.weight_decay,
                                                            .amsgrad = o.amsgrad});
    });
}

Results run_rmsprop(const Case& c) {
    return run_steps(c, [&](std::vector<tg::Tensor> p) {
        return std::make_unique<tg::RMSprop>(
            std::move(p), tg::RMSpropOptions{.lr = c.number("lr", 1e-2),
                                             .alpha = c.number("alpha", 0.99),
                                             .eps = c.number("eps", 1e-8),
                                             .weight_decay = c.number("weight_decay", 0),
                                             .momentum = c.number("momentum", 0),
                                             .centered = c.flag("centered", false)});
    });
}

// Leaves holding grad.0, grad.1, ... as their gradients.
std::vector<tg::Tensor> leaves_with_grads(const Case& c) {
    std::vector<tg::Tensor> params;
    for (int i = 0; c.has(fmt::format("grad.{}", i)); ++i) {
        tg::Tensor g = c.tensor(fmt::format("grad.{}", i));
        tg::Tensor p = tg::zeros(g.shape(), g.dtype()).requires_grad_();
        p.set_grad(g.clone());
        params.push_back(p);
    }
    return params;
}

Results grads_of(const std::vector<tg::Tensor>& params) {
    Results r;
    for (std::size_t i = 0; i < params.size(); ++i) r[fmt::format("grad.{}", i)] = params[i].grad();
    return r;
}

Results run_clip_grad_norm(const Case& c) {
    auto params = leaves_with_grads(c);
    double norm = tg::clip_grad_norm_(params, c.number("max_norm"), c.number("norm_type", 2.0));
    Results r = grads_of(params);
    r["total_norm"] = tg::Tensor::scalar(norm, c.dtype());
    return r;
}

Results run_clip_grad_value(const Case& c) {
    auto params = leaves_with_grads(c);
    tg::clip_grad_value_(params, c.number("clip_value"));
    return grads_of(params);
}

Results lrs_of(std::vector<double> lrs) {
    return {{"lrs", tg::Tensor::from(std::move(lrs), tg::DType::f64)}};
}

// The lr after construction and after each of `steps` scheduler steps.
template <class Scheduler>
Results run_lr_schedule(const Case& c, auto options) {
    tg::Tensor p = tg::zeros({1}).requires_grad_();
    tg::SGD opt({p}, {.lr = c.number("lr")});
    Scheduler scheduler(opt, options);
    std::vector<double> lrs{opt.lr()};
    for (std::int64_t i = 0; i < c.integer("steps"); ++i) {
        scheduler.step();
        lrs.push_back(opt.lr());
    }
    return lrs_of(lrs);
}

Results run_reduce_lr_on_plateau(const Case& c) {
    tg::Tensor p = tg::zeros({1}).requires_grad_();
    tg::SGD opt({p}, {.lr = c.number("lr")});
    tg::ReduceLROnPlateau scheduler(opt, {.mode = c.text("mode"),
                                          .factor = c.number("factor"),
                                          .patience = c.integer("patience"),
                                          .threshold = c.number("threshold"),
                                          .threshold_mode = c.text("threshold_mode"),
                                          .cooldown = c.integer("cooldown"),
                                          .min_lr = c.number("min_lr"),
                                          .eps = c.number("eps")});
    auto metrics = c.tensor("metrics").to_vector<double>();
    std::vector<double> lrs{opt.lr()};
    for (std::int64_t i = 0; i < c.integer("steps"); ++i) {
        scheduler.step(metrics.at(static_cast<std::size_t>(i)));
        lrs.push_back(opt.lr());
    }
    return lrs_of(lrs);
}

}  // namespace

void add_optim_runners(std::map<std::string, Runner>& runners) {
    runners["sgd"] = run_sgd;
    runners["adam"] = run_adam;
    runners["adamw"] = run_adamw;
    runners["rmsprop"] = run_rmsprop;
    runners["clip_grad_norm"] = run_clip_grad_norm;
    runners["clip_grad_value"] = run_clip_grad_value;
    runners["step_lr"] = [](const Case& c) {
        return run_lr_schedule<tg::StepLR>(
            c, tg::StepLROptions{.step_size = c.integer("step_size"), .gamma = c.number("gamma")});
    };
    runners["exponential_lr"] = [](const Case& c) {
        return run_lr_schedule<tg::ExponentialLR>(
            c, tg::ExponentialLROptions{.gamma = c.number("gamma")});
    };
    runners["cosine_annealing_lr"] = [](const Case& c) {
        return run_lr_schedule<tg::CosineAnnealingLR>(
            c, tg::CosineAnnealingLROptions{.T_max = c.integer("T_max"),
                                            .eta_min = c.number("eta_min", 0)});
    };
    runners["reduce_lr_on_plateau"] = run_reduce_lr_on_plateau;
}

}  // namespace parity
