#include <tapegrad/optim/sgd.h>

#include <cmath>

#include <fmt/format.h>

#include <tapegrad/core/tape.h>

namespace tg {

namespace {

void check_options(const SGDOptions& o) {
    if (!(o.momentum >= 0.0))
        throw ValueError(fmt::format("SGD: invalid momentum value: {}", o.momentum));
    if (!(o.weight_decay >= 0.0))
        throw ValueError(fmt::format("SGD: invalid weight_decay value: {}", o.weight_decay));
    if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0))
        throw ValueError(fmt::format(
            "SGD: Nesterov momentum requires a momentum and zero dampening (momentum {}, "
            "dampening {})",
            o.momentum, o.dampening));
}

double required_lr(double lr) {
    if (std::isnan(lr))
        throw ValueError("SGD: lr is required (torch.optim.SGD has no default either)");
    return lr;
}

// One parameter's update in PyTorch's order of operations: scalars rounded to
// T, every tensor op rounded to T, and x.add_(y, alpha=a) as fma(a, y, x), the
// single rounding of PyTorch's vectorised CPU kernels. `first` creates the
// momentum buffer from d.
template <class T>
void update(Tensor& param, const Tensor& grad, Tensor* buffer, bool first, const SGDOptions& o,
            double lr) {
    const T weight_decay = T(o.weight_decay), momentum = T(o.momentum);
    const T one_minus_dampening = T(1 - o.dampening), neg_lr = T(-lr);
    const T* g = grad.data<T>();
    T* p = param.mutable_data<T>();
    T* b = buffer ? buffer->mutable_data<T>() : nullptr;
    for (std::int64_t i = 0, n = param.numel(); i < n; ++i) {
        T d = g[i];
        if (o.weight_decay != 0) d = std::fma(weight_decay, p[i], d);
        if (b) {
            b[i] = first ? d : std::fma(one_minus_dampening, d, b[i] * momentum);
            d = o.nesterov ? std::fma(momentum, b[i], d) : b[i];
        }
        p[i] = std::fma(neg_lr, d, p[i]);
    }
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : Optimizer(std::move(params), required_lr(options.lr), "SGD"), options_(options) {
    check_options(options_);
}

void SGD::step() {
    NoGrad no_grad;
    for (std::size_t i = 0; i < parameters().size(); ++i) {
        Tensor param = parameters()[i];
        Tensor grad = param.grad();
        if (!grad.defined()) continue;
        Tensor* buffer = nullptr;
        bool first = false;
        if (options_.momentum != 0) {
            std::map<std::string, Tensor>& s = state(i);
            first = s.empty();
            if (first) s["momentum_buffer"] = zeros_like(param);
            buffer = &s.at("momentum_buffer");
        }
        dispatch_floating(param.dtype(), [&]<class T>() {
            update<T>(param, grad, buffer, first, options_, lr());
        });
    }
}

std::vector<std::string> SGD::state_names() const {
    if (options_.momentum == 0) return {};
    return {"momentum_buffer"};
}

StateDict SGD::options_state() const {
    return {{"momentum", number_tensor(options_.momentum)},
            {"dampening", number_tensor(options_.dampening)},
            {"weight_decay", number_tensor(options_.weight_decay)},
            {"nesterov", number_tensor(options_.nesterov)}};
}

void SGD::load_options(const StateDict& entries) {
    SGDOptions o = options_;
    o.momentum = read_number(entries, "momentum", name());
    o.dampening = read_number(entries, "dampening", name());
    o.weight_decay = read_number(entries, "weight_decay", name());
    o.nesterov = read_flag(entries, "nesterov", name());
    check_options(o);
    options_ = o;
}

}  // namespace tg
