#include <tapegrad/optim/rmsprop.h>

#include <cmath>

#include <fmt/format.h>

#include <tapegrad/core/tape.h>

namespace tg {

namespace {

void check_options(const RMSpropOptions& o) {
    if (!(o.eps >= 0.0)) throw ValueError(fmt::format("RMSprop: invalid epsilon value: {}", o.eps));
    if (!(o.momentum >= 0.0))
        throw ValueError(fmt::format("RMSprop: invalid momentum value: {}", o.momentum));
    if (!(o.weight_decay >= 0.0))
        throw ValueError(fmt::format("RMSprop: invalid weight_decay value: {}", o.weight_decay));
    if (!(o.alpha >= 0.0))
        throw ValueError(fmt::format("RMSprop: invalid alpha value: {}", o.alpha));
}

// One parameter's update in PyTorch's order of operations: scalars rounded to
// T, every tensor op rounded to T, and x.add_(y, alpha=a) as fma(a, y, x),
// x.addcmul_(y, z, value=a) as fma(a * y, z, x): the single rounding of
// PyTorch's vectorised CPU kernels.
template <class T>
void update(Tensor& param, const Tensor& grad, std::map<std::string, Tensor>& state,
            const RMSpropOptions& o, double lr) {
    const T alpha = T(o.alpha), one_minus_alpha = T(1 - o.alpha), eps = T(o.eps);
    const T weight_decay = T(o.weight_decay), momentum = T(o.momentum), neg_lr = T(-lr);
    const T* g = grad.data<T>();
    T* p = param.mutable_data<T>();
    T* square_avg = state.at("square_avg").mutable_data<T>();
    T* grad_avg = o.centered ? state.at("grad_avg").mutable_data<T>() : nullptr;
    T* buffer = o.momentum > 0 ? state.at("momentum_buffer").mutable_data<T>() : nullptr;
    for (std::int64_t i = 0, n = param.numel(); i < n; ++i) {
        T gi = g[i];
        if (o.weight_decay != 0) gi = std::fma(weight_decay, p[i], gi);
        square_avg[i] = std::fma(one_minus_alpha * gi, gi, square_avg[i] * alpha);
        T avg;
        if (grad_avg) {
            grad_avg[i] = std::fma(one_minus_alpha, gi, grad_avg[i] * alpha);
            avg = std::sqrt(std::fma(-grad_avg[i], grad_avg[i], square_avg[i]));
        } else {
            avg = std::sqrt(square_avg[i]);
        }
        avg = avg + eps;
        if (buffer) {
            buffer[i] = buffer[i] * momentum + gi / avg;
            p[i] = std::fma(neg_lr, buffer[i], p[i]);
        } else {
            p[i] = p[i] + neg_lr * gi / avg;
        }
    }
}

}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : Optimizer(std::move(params), options.lr, "RMSprop"), options_(options) {
    check_options(options_);
}

void RMSprop::step() {
    NoGrad no_grad;
    for (std::size_t i = 0; i < parameters().size(); ++i) {
        Tensor param = parameters()[i];
        Tensor grad = param.grad();
        if (!grad.defined()) continue;
        std::map<std::string, Tensor>& s = state(i);
        if (s.empty()) {
            s["step"] = number_tensor(0.0);
            s["square_avg"] = zeros_like(param);
            if (options_.momentum > 0) s["momentum_buffer"] = zeros_like(param);
            if (options_.centered) s["grad_avg"] = zeros_like(param);
        }
        // The step count is kept as PyTorch keeps it, though RMSprop's update never reads it.
        s.at("step").fill_(s.at("step").item() + 1);
        dispatch_floating(param.dtype(),
                          [&]<class T>() { update<T>(param, grad, s, options_, lr()); });
    }
}

std::vector<std::string> RMSprop::state_names() const {
    std::vector<std::string> names = {"step", "square_avg"};
    if (options_.momentum > 0) names.push_back("momentum_buffer");
    if (options_.centered) names.push_back("grad_avg");
    return names;
}

StateDict RMSprop::options_state() const {
    return {{"alpha", number_tensor(options_.alpha)},
            {"eps", number_tensor(options_.eps)},
            {"weight_decay", number_tensor(options_.weight_decay)},
            {"momentum", number_tensor(options_.momentum)},
            {"centered", number_tensor(options_.centered)}};
}

void RMSprop::load_options(const StateDict& entries) {
    RMSpropOptions o = options_;
    o.alpha = read_number(entries, "alpha", name());
    o.eps = read_number(entries, "eps", name());
    o.weight_decay = read_number(entries, "weight_decay", name());
    o.momentum = read_number(entries, "momentum", name());
    o.centered = read_flag(entries, "centered", name());
    check_options(o);
    options_ = o;
}

}  // namespace tg
