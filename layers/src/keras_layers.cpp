#include <tapegrad/core/error.h>
#include <tapegrad/layers/keras.h>
#include <tapegrad/ops/activation.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/linalg.h>
#include <tapegrad/ops/shape.h>

#include <cmath>

namespace tg::keras {

namespace {

void check_activation(const char* layer, const std::string& name) {
    if (name != "tanh" && name != "relu" && name != "sigmoid" && name != "linear")
        throw ValueError(fmt::format(
            "keras::{}: activation must be 'tanh', 'relu', 'sigmoid' or 'linear', got '{}'", layer,
            name));
}

void check_units(const char* layer, std::int64_t units) {
    if (units <= 0)
        throw ValueError(fmt::format("keras::{}: units must be positive, got {}", layer, units));
}

void check_input(const char* layer, const Tensor& x, const Tensor& kernel, std::int64_t rank) {
    if (!x.defined())
        throw ValueError(fmt::format("keras::{}: the input is an undefined tensor", layer));
    if (rank > 0 ? x.dim() != rank : x.dim() < 2)
        throw ShapeError(fmt::format("keras::{}: input must be {} with the batch first, got {}",
                                     layer, rank > 0 ? "[batch, time, features]" : "[batch, ...]",
                                     x.shape()));
    if (x.size(-1) != kernel.size(0))
        throw ShapeError(
            fmt::format("keras::{}: input {} has {} features, the layer was built "
                        "for {}",
                        layer, x.shape(), x.size(-1), kernel.size(0)));
    if (x.dtype() != kernel.dtype())
        throw DTypeError(fmt::format("keras::{}: input is {} but the parameters are {}", layer,
                                     x.dtype(), kernel.dtype()));
}

}  // namespace

Tensor activation(const Tensor& x, const std::string& name) {
    if (name == "tanh") return tg::tanh(x);
    if (name == "relu") return tg::relu(x);
    if (name == "sigmoid") return tg::sigmoid(x);
    if (name == "linear") return x;
    check_activation("activation", name);
    return x;
}

// ---- initialisers ----------------------------------------------------------

Tensor glorot_uniform(const Shape& shape, DType dtype) {
    if (shape.rank() != 2)
        throw ShapeError(fmt::format("glorot_uniform: shape must be 2-D, got {}", shape));
    double limit = std::sqrt(6.0 / static_cast<double>(shape[0] + shape[1]));
    return uniform(shape, limit, DType::f64).to(dtype);
}

// Keras: q, r = qr(normal(max, min)); q *= sign(diag(r)); transpose if the
// rows are fewer. Gram-Schmidt gives r a positive diagonal by construction,
// so its q is already the sign-fixed one. Modified Gram-Schmidt, run twice
// per column so the columns stay orthonormal to rounding.
Tensor orthogonal(const Shape& shape, DType dtype) {
    if (shape.rank() != 2 || shape[0] <= 0 || shape[1] <= 0)
        throw ShapeError(fmt::format("orthogonal: shape must be 2-D and non-empty, got {}", shape));
    const std::int64_t n = std::max(shape[0], shape[1]), m = std::min(shape[0], shape[1]);
    Tensor a = randn({n, m}, DType::f64);
    std::vector<double> q = a.to_vector<double>();  // row-major [n, m]; column j is q[i * m + j]
    auto col = [&](std::int64_t i, std::int64_t j) -> double& {
        return q[static_cast<std::size_t>(i * m + j)];
    };
    for (std::int64_t j = 0; j < m; ++j) {
        for (int pass = 0; pass < 2; ++pass)
            for (std::int64_t k = 0; k < j; ++k) {
                double dot = 0;
                for (std::int64_t i = 0; i < n; ++i) dot += col(i, k) * col(i, j);
                for (std::int64_t i = 0; i < n; ++i) col(i, j) -= dot * col(i, k);
            }
        double norm = 0;
        for (std::int64_t i = 0; i < n; ++i) norm += col(i, j) * col(i, j);
        norm = std::sqrt(norm);
        for (std::int64_t i = 0; i < n; ++i) col(i, j) /= norm;
    }
    Tensor result = Tensor::from(q, Shape{n, m}, DType::f64);
    if (shape[0] < shape[1]) result = t(result);
    return result.to(dtype);
}

// ---- Layer -----------------------------------------------------------------

void Layer::build(const Shape& input_shape) {
    if (built_) throw ValueError(fmt::format("keras::{}: the layer is already built", type()));
    create(input_shape);
    built_ = true;
}

Tensor Layer::operator()(const Tensor& x) {
    if (!built_) {
        if (!x.defined() || x.dim() < 2)
            throw ShapeError(
                fmt::format("keras::{}: cannot build from an input without a batch "
                            "dimension",
                            type()));
        std::vector<std::int64_t> dims(x.shape().begin() + 1, x.shape().end());
        build(Shape(dims));
    }
    return forward(x);
}

void Layer::check_built(const char* what) const {
    if (!built_)
        throw ValueError(
            fmt::format("keras::{}: {} before the layer is built; call build(), "
                        "layer(x), or put it in a Sequential with an input_shape",
                        type(), what));
}

// ---- recurrent layers ------------------------------------------------------

Recurrent::Recurrent(RecurrentOptions o, std::int64_t gates, std::size_t states)
    : options(std::move(o)), gates_(gates), states_(states) {}

Shape Recurrent::output_shape(const Shape& input_shape) const {
    if (input_shape.rank() != 2)
        throw ShapeError(
            fmt::format("keras::{}: input_shape must be (time, features), got {} "
                        "(Keras: expected ndim=3 with the batch)",
                        type(), input_shape));
    if (options.return_sequences) return {input_shape[0], options.units};
    return {options.units};
}

Tensor Recurrent::initial_bias() const { return zeros({gates_ * options.units}); }

void Recurrent::create(const Shape& input_shape) {
    output_shape(input_shape);  // checks the rank
    const std::int64_t features = input_shape[1], width = gates_ * options.units;
    if (features <= 0)
        throw ShapeError(
            fmt::format("keras::{}: input_shape {} has no features", type(), input_shape));
    kernel = register_parameter("kernel", glorot_uniform({features, width}));
    recurrent_kernel = register_parameter("recurrent_kernel", orthogonal({options.units, width}));
    if (options.use_bias) bias = register_parameter("bias", initial_bias());
}

std::vector<Tensor> Recurrent::call(const Tensor& x,
                                    const std::vector<Tensor>& initial_state) const {
    const std::string name = type();
    check_built("call");
    check_input(name.c_str(), x, kernel, 3);
    const std::int64_t batch = x.size(0), steps = x.size(1);
    if (steps == 0)
        throw ShapeError(fmt::format("keras::{}: the sequence length must be positive, input is {}",
                                     name, x.shape()));
    if (!initial_state.empty() && initial_state.size() != states_)
        throw ValueError(fmt::format("keras::{}: initial_state needs {} tensors, got {}", name,
                                     states_, initial_state.size()));
    const Shape state_shape{batch, options.units};
    for (const Tensor& s : initial_state) {
        if (!s.defined() || s.shape() != state_shape)
            throw ShapeError(fmt::format(
                "keras::{}: each initial state must be {} ([batch, "
                "units]) for input {}, got {}",
                name, state_shape, x.shape(), s.defined() ? s.shape().str() : "undefined"));
        if (s.dtype() != x.dtype())
            throw DTypeError(fmt::format("keras::{}: initial state is {} but the input is {}", name,
                                         s.dtype(), x.dtype()));
    }

    std::vector<Tensor> state = initial_state;
    if (state.empty()) state.assign(states_, zeros(state_shape, x.dtype()));
    // The input's part of every gate, for all steps at once: [B, T, units * gates].
    Tensor xw = matmul(x, kernel);
    if (Tensor b = input_bias(); b.defined()) xw = xw + b;
    std::vector<Tensor> outputs;
    for (std::int64_t s = 0; s < steps; ++s) {
        std::int64_t t = options.go_backwards ? steps - 1 - s : s;
        state = step(select(xw, 1, t), state);
        outputs.push_back(state[0]);
    }
    // Keras keeps go_backwards outputs in reading order (reversed in time).
    std::vector<Tensor> result = {options.return_sequences ? stack(outputs, 1) : state[0]};
    if (options.return_state) result.insert(result.end(), state.begin(), state.end());
    return result;
}

Tensor Recurrent::forward(const Tensor& x) const { return call(x)[0]; }

SimpleRNN::SimpleRNN(RecurrentOptions o) : Recurrent(std::move(o), 1, 1) {
    check_units("SimpleRNN", options.units);
    check_activation("SimpleRNN", options.activation);
}

std::unique_ptr<Layer> SimpleRNN::clone_config() const {
    return std::make_unique<SimpleRNN>(options);
}

std::vector<Tensor> SimpleRNN::step(const Tensor& xw, const std::vector<Tensor>& state) const {
    return {activation(xw + matmul(state[0], recurrent_kernel), options.activation)};
}

LSTM::LSTM(RecurrentOptions o) : Recurrent(std::move(o), 4, 2) {
    check_units("LSTM", options.units);
    check_activation("LSTM", options.activation);
}

std::unique_ptr<Layer> LSTM::clone_config() const { return std::make_unique<LSTM>(options); }

// unit_forget_bias=True: the forget gate (the second block) starts at 1.
Tensor LSTM::initial_bias() const {
    const std::int64_t u = options.units;
    return cat({zeros({u}), ones({u}), zeros({2 * u})}, 0);
}

std::vector<Tensor> LSTM::step(const Tensor& xw, const std::vector<Tensor>& state) const {
    std::vector<Tensor> z = chunk(xw + matmul(state[0], recurrent_kernel), 4, 1);
    Tensor i = sigmoid(z[0]), f = sigmoid(z[1]), o = sigmoid(z[3]);
    Tensor c = f * state[1] + i * activation(z[2], options.activation);
    return {o * activation(c, options.activation), c};
}

GRU::GRU(RecurrentOptions o) : Recurrent(std::move(o), 3, 1) {
    check_units("GRU", options.units);
    check_activation("GRU", options.activation);
}

std::unique_ptr<Layer> GRU::clone_config() const { return std::make_unique<GRU>(options); }

// reset_after: separate input (row 0) and recurrent (row 1) biases.
Tensor GRU::initial_bias() const { return zeros({2, 3 * options.units}); }

Tensor GRU::input_bias() const { return bias.defined() ? bias[0] : Tensor(); }

std::vector<Tensor> GRU::step(const Tensor& xw, const std::vector<Tensor>& state) const {
    const Tensor& h = state[0];
    Tensor hw = matmul(h, recurrent_kernel);
    if (bias.defined()) hw = hw + bias[1];
    std::vector<Tensor> x3 = chunk(xw, 3, 1), h3 = chunk(hw, 3, 1);
    Tensor z = sigmoid(x3[0] + h3[0]), r = sigmoid(x3[1] + h3[1]);
    Tensor hh = activation(x3[2] + r * h3[2], options.activation);
    return {z * h + (1.0 - z) * hh};
}

// ---- Dense -----------------------------------------------------------------

Dense::Dense(DenseOptions o) : options(std::move(o)) {
    check_units("Dense", options.units);
    check_activation("Dense", options.activation);
}

std::unique_ptr<Layer> Dense::clone_config() const { return std::make_unique<Dense>(options); }

Shape Dense::output_shape(const Shape& input_shape) const {
    if (input_shape.rank() < 1)
        throw ShapeError(
            fmt::format("keras::Dense: input_shape must have at least one dimension "
                        "(features), got {}",
                        input_shape));
    Shape out = input_shape;
    out[out.size() - 1] = options.units;
    return out;
}

void Dense::create(const Shape& input_shape) {
    output_shape(input_shape);  // checks the rank
    kernel = register_parameter("kernel", glorot_uniform({input_shape.back(), options.units}));
    if (options.use_bias) bias = register_parameter("bias", zeros({options.units}));
}

Tensor Dense::forward(const Tensor& x) const {
    check_built("forward");
    check_input("Dense", x, kernel, 0);
    Tensor y = matmul(x, kernel);
    if (bias.defined()) y = y + bias;
    return activation(y, options.activation);
}

}  // namespace tg::keras
