#include <tapegrad/optim/adam.h>

#include <cmath>

#include <fmt/format.h>

#include <tapegrad/core/tape.h>

namespace tg {

namespace {

void check_options(const AdamOptions& o, const char* name) {
    if (!(o.eps >= 0.0))
        throw ValueError(fmt::format("{}: invalid epsilon value: {}", name, o.eps));
    for (int i = 0; i < 2; ++i)
        if (!(o.betas[i] >= 0.0 && o.betas[i] < 1.0))
            throw ValueError(
                fmt::format("{}: invalid beta parameter at index {}: {} (need 0 <= "
                            "beta < 1)",
                            name, i, o.betas[i]));
    if (!(o.weight_decay >= 0.0))
        throw ValueError(fmt::format("{}: invalid weight_decay value: {}", name, o.weight_decay));
}

// torch.maximum: NaN wins.
template <class T>
T maximum(T a, T b) {
    if (std::isnan(a) || std::isnan(b)) return a + b;
    return a < b ? b : a;
}

// One parameter's update in PyTorch's order of operations: scalars rounded to
// T, every tensor op rounded to T, and x.add_(y, alpha=a) as fma(a, y, x),
// x.addcmul_(y, z, value=a) as fma(a * y, z, x): the single rounding of
// PyTorch's vectorised CPU kernels.
template <class T>
void update(Tensor& param, const Tensor& grad, std::map<std::string, Tensor>& state,
            const AdamOptions& o, double lr, bool decoupled, double step) {
    const T beta1 = T(o.betas[0]), beta2 = T(o.betas[1]);
    const T one_minus_beta1 = T(1 - o.betas[0]), one_minus_beta2 = T(1 - o.betas[1]);
    const T weight_decay = T(o.weight_decay), eps = T(o.eps);
    const T decay = T(1 - lr * o.weight_decay);  // AdamW
    double bias_correction1 = 1 - std::pow(o.betas[0], step);
    double bias_correction2 = 1 - std::pow(o.betas[1], step);
    const T neg_step_size = T(-(lr / bias_correction1));
    const T bias_correction2_sqrt = T(std::sqrt(bias_correction2));

    const T* g = grad.data<T>();
    T* p = param.mutable_data<T>();
    T* m = state.at("exp_avg").mutable_data<T>();
    T* v = state.at("exp_avg_sq").mutable_data<T>();
    T* v_max = o.amsgrad ? state.at("max_exp_avg_sq").mutable_data<T>() : nullptr;
    for (std::int64_t i = 0, n = param.numel(); i < n; ++i) {
        T gi = g[i];
        if (decoupled)
            p[i] = p[i] * decay;
        else if (o.weight_decay != 0)
            gi = std::fma(weight_decay, p[i], gi);
        m[i] = std::fma(one_minus_beta1, gi, m[i] * beta1);
        v[i] = std::fma(one_minus_beta2 * gi, gi, v[i] * beta2);
        T second = v[i];
        if (v_max) second = v_max[i] = maximum(v_max[i], v[i]);
        T denom = std::sqrt(second) / bias_correction2_sqrt + eps;
        p[i] = p[i] + neg_step_size * m[i] / denom;
    }
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam(std::move(params), options, false, "Adam") {}

Adam::Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled, const char* name)
    : Optimizer(std::move(params), options.lr, name), options_(options), decoupled_(decoupled) {
    check_options(options_, name);
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions o)
    : Adam(std::move(params),
           {.lr = o.lr,
            .betas = o.betas,
            .eps = o.eps,
            .weight_decay = o.weight_decay,
            .amsgrad = o.amsgrad},
           true, "AdamW") {}

void Adam::step() {
    NoGrad no_grad;
    for (std::size_t i = 0; i < parameters().size(); ++i) {
        Tensor param = parameters()[i];
        Tensor grad = param.grad();
        if (!grad.defined()) continue;
        std::map<std::string, Tensor>& s = state(i);
        if (s.empty()) {
            s["step"] = number_tensor(0.0);
            s["exp_avg"] = zeros_like(param);
            s["exp_avg_sq"] = zeros_like(param);
            if (options_.amsgrad) s["max_exp_avg_sq"] = zeros_like(param);
        }
        double step = s.at("step").item() + 1;
        s.at("step").fill_(step);
        dispatch_floating(param.dtype(), [&]<class T>() {
            update<T>(param, grad, s, options_, lr(), decoupled_, step);
        });
    }
}

std::vector<std::string> Adam::state_names() const {
    std::vector<std::string> names = {"step", "exp_avg", "exp_avg_sq"};
    if (options_.amsgrad) names.push_back("max_exp_avg_sq");
    return names;
}

StateDict Adam::options_state() const {
    return {{"beta1", number_tensor(options_.betas[0])},
            {"beta2", number_tensor(options_.betas[1])},
            {"eps", number_tensor(options_.eps)},
            {"weight_decay", number_tensor(options_.weight_decay)},
            {"amsgrad", number_tensor(options_.amsgrad)}};
}

void Adam::load_options(const StateDict& entries) {
    AdamOptions o = options_;
    o.betas = {read_number(entries, "beta1", name()), read_number(entries, "beta2", name())};
    o.eps = read_number(entries, "eps", name());
    o.weight_decay = read_number(entries, "weight_decay", name());
    o.amsgrad = read_flag(entries, "amsgrad", name());
    check_options(o, name());
    options_ = o;
}

}  // namespace tg
