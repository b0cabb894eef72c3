#include <tapegrad/core/error.h>
#include <tapegrad/layers/keras.h>
#include <tapegrad/ops/activation.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/index.h>
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

// y [batch, time, features] with time reversed: one gather of rows.
Tensor reversed_in_time(const Tensor& y) {
    const std::int64_t batch = y.size(0), steps = y.size(1);
    Tensor index = Tensor::empty({batch, steps}, DType::i64);
    std::int64_t* pi = index.mutable_data<std::int64_t>();
    for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t t = 0; t < steps; ++t) pi[b * steps + t] = b * steps + steps - 1 - t;
    return embedding(index, y.reshape({batch * steps, y.size(2)}));
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

Tensor Layer::operator()(const Tensor& x, CallSite site) {
    CallSiteScope scope("keras layer", site);
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

    std::vector<Tensor> r = sequence(
        x, initial_state,
        {.reverse = options.go_backwards,
         .batch_first = true,
         .activation = activation_from_name(options.activation, ("keras::" + name).c_str())});
    // Keras keeps go_backwards outputs in reading order (reversed in time).
    Tensor output = !options.return_sequences ? r[1]
                    : options.go_backwards    ? reversed_in_time(r[0])
                                              : r[0];
    std::vector<Tensor> result = {output};
    if (options.return_state) result.insert(result.end(), r.begin() + 1, r.end());
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

std::vector<Tensor> SimpleRNN::sequence(const Tensor& x, const std::vector<Tensor>& state,
                                        SequenceOptions o) const {
    return rnn_sequence(x, state.empty() ? Tensor() : state[0],
                        {t(kernel), t(recurrent_kernel), bias, {}, {}}, o);
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

// Keras's gate order i, f, c, o is PyTorch's; its one bias is PyTorch's b_ih.
std::vector<Tensor> LSTM::sequence(const Tensor& x, const std::vector<Tensor>& state,
                                   SequenceOptions o) const {
    Tensor h0 = state.empty() ? Tensor() : state[0], c0 = state.empty() ? Tensor() : state[1];
    return lstm_sequence(x, h0, c0, {t(kernel), t(recurrent_kernel), bias, {}, {}}, o);
}

GRU::GRU(RecurrentOptions o) : Recurrent(std::move(o), 3, 1) {
    check_units("GRU", options.units);
    check_activation("GRU", options.activation);
}

std::unique_ptr<Layer> GRU::clone_config() const { return std::make_unique<GRU>(options); }

// reset_after: separate input (row 0) and recurrent (row 1) biases.
Tensor GRU::initial_bias() const { return zeros({2, 3 * options.units}); }

// Keras's gates z, r, h are PyTorch's r, z, n with the first two swapped;
// bias[0] is PyTorch's b_ih and bias[1] its b_hh.
std::vector<Tensor> GRU::sequence(const Tensor& x, const std::vector<Tensor>& state,
                                  SequenceOptions o) const {
    const std::int64_t u = options.units;
    auto torch_order = [u](const Tensor& w) {
        return cat({narrow(w, 0, u, u), narrow(w, 0, 0, u), narrow(w, 0, 2 * u, u)}, 0);
    };
    SequenceWeights w{torch_order(t(kernel)), torch_order(t(recurrent_kernel)), {}, {}, {}};
    if (bias.defined()) {
        w.b_ih = torch_order(bias[0]);
        w.b_hh = torch_order(bias[1]);
    }
    return gru_sequence(x, state.empty() ? Tensor() : state[0], w, o);
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
