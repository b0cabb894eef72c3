#include <tapegrad/optim/keras_adam.h>

#include <cmath>

#include <fmt/format.h>

#include <tapegrad/core/tape.h>

namespace tg::keras {

namespace {

void check_options(const AdamOptions& o) {
    if (!(o.epsilon >= 0.0))
        throw ValueError(fmt::format("keras::Adam: invalid epsilon value: {}", o.epsilon));
    if (!(o.beta_1 >= 0.0 && o.beta_1 < 1.0) || !(o.beta_2 >= 0.0 && o.beta_2 < 1.0))
        throw ValueError(
            fmt::format("keras::Adam: beta_1 = {} and beta_2 = {} must both lie in [0, 1)",
                        o.beta_1, o.beta_2));
}

// Keras's update_step in its order of operations, every value rounded to the
// parameter's dtype as TensorFlow computes it.
template <class T>
void update(Tensor& param, const Tensor& grad, std::map<std::string, Tensor>& state,
            const AdamOptions& o, double lr, double step) {
    const T beta_1_power = std::pow(T(o.beta_1), T(step));
    const T beta_2_power = std::pow(T(o.beta_2), T(step));
    const T alpha = T(lr) * std::sqrt(T(1) - beta_2_power) / (T(1) - beta_1_power);
    const T one_minus_beta_1 = T(1) - T(o.beta_1), one_minus_beta_2 = T(1) - T(o.beta_2);
    const T epsilon = T(o.epsilon);

    const T* g = grad.data<T>();
    T* p = param.mutable_data<T>();
    T* m = state.at("m").mutable_data<T>();
    T* v = state.at("v").mutable_data<T>();
    for (std::int64_t i = 0, n = param.numel(); i < n; ++i) {
        m[i] += (g[i] - m[i]) * one_minus_beta_1;
        v[i] += (g[i] * g[i] - v[i]) * one_minus_beta_2;
        p[i] -= (m[i] * alpha) / (std::sqrt(v[i]) + epsilon);
    }
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Optimizer(std::move(params), options.learning_rate, "keras::Adam"), options_(options) {
    check_options(options_);
}

void Adam::step() {
    NoGrad no_grad;
    for (std::size_t i = 0; i < parameters().size(); ++i) {
        Tensor param = parameters()[i];
        Tensor grad = param.grad();
        if (!grad.defined()) continue;
        std::map<std::string, Tensor>& s = state(i);
        if (s.empty()) {
            s["step"] = number_tensor(0.0);
            s["m"] = zeros_like(param);
            s["v"] = zeros_like(param);
        }
        double step = s.at("step").item() + 1;
        s.at("step").fill_(step);
        dispatch_floating(param.dtype(),
                          [&]<class T>() { update<T>(param, grad, s, options_, lr(), step); });
    }
}

std::vector<std::string> Adam::state_names() const { return {"step", "m", "v"}; }

StateDict Adam::options_state() const {
    return {{"beta_1", number_tensor(options_.beta_1)},
            {"beta_2", number_tensor(options_.beta_2)},
            {"epsilon", number_tensor(options_.epsilon)}};
}

void Adam::load_options(const StateDict& entries) {
    AdamOptions o = options_;
    o.beta_1 = read_number(entries, "beta_1", name());
    o.beta_2 = read_number(entries, "beta_2", name());
    o.epsilon = read_number(entries, "epsilon", name());
    check_options(o);
    options_ = o;
}

}  // namespace tg::keras
