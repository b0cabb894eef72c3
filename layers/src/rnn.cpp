#include <tapegrad/layers/rnn.h>
#include <tapegrad/ops/activation.h>
#include <tapegrad/ops/shape.h>

#include <cmath>

namespace tg {

namespace {

const char* const state_names[] = {"h0", "c0"};

const RNNOptions& checked(const RNNOptions& o) {
    if (o.nonlinearity != "tanh" && o.nonlinearity != "relu")
        throw ValueError(
            fmt::format("RNN: nonlinearity must be 'tanh' or 'relu', got '{}'", o.nonlinearity));
    return o;
}

SequenceWeights sequence_weights(const RecurrentWeights& w) {
    return {w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, w.weight_hr};
}

}  // namespace

RecurrentBase::RecurrentBase(Config c) : config_(c) {
    if (c.input_size <= 0 || c.hidden_size <= 0 || c.num_layers <= 0)
        throw ValueError(
            fmt::format("{}: input_size ({}), hidden_size ({}) and num_layers ({}) "
                        "must be positive",
                        c.name, c.input_size, c.hidden_size, c.num_layers));
    if (!(c.dropout >= 0 && c.dropout <= 1))
        throw ValueError(fmt::format("{}: dropout must be in [0, 1], got {}", c.name, c.dropout));
    if (c.proj_size < 0 || c.proj_size >= c.hidden_size)
        throw ValueError(fmt::format("{}: proj_size ({}) must be in [0, hidden_size ({}))", c.name,
                                     c.proj_size, c.hidden_size));
    // PyTorch initialises every parameter, biases and projection included,
    // from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
    const double bound = 1.0 / std::sqrt(static_cast<double>(c.hidden_size));
    const std::int64_t rows = c.gates * c.hidden_size;
    const std::int64_t out = c.proj_size > 0 ? c.proj_size : c.hidden_size;
    for (std::int64_t layer = 0; layer < c.num_layers; ++layer) {
        for (std::int64_t direction = 0; direction < num_directions(); ++direction) {
            std::string suffix = fmt::format("_l{}{}", layer, direction == 1 ? "_reverse" : "");
            std::int64_t in = layer == 0 ? c.input_size : out * num_directions();
            RecurrentWeights w;
            w.weight_ih = register_parameter("weight_ih" + suffix, uniform({rows, in}, bound));
            w.weight_hh = register_parameter("weight_hh" + suffix, uniform({rows, out}, bound));
            if (c.bias) {
                w.bias_ih = register_parameter("bias_ih" + suffix, uniform({rows}, bound));
                w.bias_hh = register_parameter("bias_hh" + suffix, uniform({rows}, bound));
            }
            if (c.proj_size > 0)
                w.weight_hr = register_parameter("weight_hr" + suffix,
                                                 uniform({c.proj_size, c.hidden_size}, bound));
            weights.push_back(w);
        }
    }
}

// Features of h (the projected size for an LSTM with proj_size), then of c.
std::vector<std::int64_t> RecurrentBase::state_sizes(std::size_t count) const {
    std::int64_t h = config_.proj_size > 0 ? config_.proj_size : config_.hidden_size;
    std::vector<std::int64_t> sizes = {h, config_.hidden_size};
    sizes.resize(count);
    return sizes;
}

void RecurrentBase::check(const Tensor& x, const std::vector<Tensor>& initial) const {
    const char* name = config_.name;
    if (!x.defined()) throw ValueError(fmt::format("{}: the input is an undefined tensor", name));
    if (x.dim() != 2 && x.dim() != 3)
        throw ShapeError(fmt::format(
            "{}: input must be 2-D [seq_len, input_size] (unbatched) or 3-D "
            "[seq_len, batch, input_size] ([batch, seq_len, input_size] with batch_first), got {}",
            name, x.shape()));
    DType dtype = weights[0].weight_ih.dtype();
    if (x.dtype() != dtype)
        throw DTypeError(
            fmt::format("{}: input is {} but the parameters are {}; convert one "
                        "(Module::to or Tensor::to)",
                        name, x.dtype(), dtype));
    if (x.size(-1) != config_.input_size)
        throw ShapeError(fmt::format("{}: input {} has {} features, expected input_size {}", name,
                                     x.shape(), x.size(-1), config_.input_size));
    const bool batched = x.dim() == 3;
    if (x.size(batched && config_.batch_first ? 1 : 0) == 0)
        throw ShapeError(
            fmt::format("{}: the sequence length must be positive, input is {}", name, x.shape()));
    const std::int64_t stacked = config_.num_layers * num_directions();
    std::vector<std::int64_t> sizes = state_sizes(initial.size());
    for (std::size_t k = 0; k < initial.size(); ++k) {
        const Tensor& s = initial[k];
        if (!s.defined()) continue;
        Shape expected = batched ? Shape{stacked, x.size(config_.batch_first ? 0 : 1), sizes[k]}
                                 : Shape{stacked, sizes[k]};
        if (s.shape() != expected)
            throw ShapeError(fmt::format(
                "{}: {} must be {} ([num_directions * num_layers, {}{}]) for input {}, got {}",
                name, state_names[k], expected, batched ? "batch, " : "",
                k == 0 && config_.proj_size > 0 ? "proj_size" : "hidden_size", x.shape(),
                s.shape()));
        if (s.dtype() != dtype)
            throw DTypeError(fmt::format("{}: {} is {} but the parameters are {}", name,
                                         state_names[k], s.dtype(), dtype));
    }
}

std::vector<Tensor> RecurrentBase::run(const Tensor& x, const std::vector<Tensor>& initial) const {
    check(x, initial);
    const std::int64_t directions = num_directions();
    // The fused ops read every layout (time-major, batch_first, unbatched)
    // as it is, so nothing is transposed here.
    SequenceOptions options{.batch_first = config_.batch_first};
    std::vector<std::vector<Tensor>> finals(initial.size());  // [state][layer * D + direction]
    Tensor input = x;
    for (std::int64_t layer = 0; layer < config_.num_layers; ++layer) {
        std::vector<Tensor> outputs_by_direction;
        for (std::int64_t direction = 0; direction < directions; ++direction) {
            const std::int64_t index = layer * directions + direction;
            std::vector<Tensor> state;
            for (const Tensor& s : initial) state.push_back(s.defined() ? s[index] : Tensor());
            options.reverse = direction == 1;
            std::vector<Tensor> r =
                sequence(input, state, weights[static_cast<std::size_t>(index)], options);
            outputs_by_direction.push_back(r[0]);
            for (std::size_t k = 0; k < finals.size(); ++k) finals[k].push_back(r[k + 1]);
        }
        Tensor output = directions == 1 ? outputs_by_direction[0] : cat(outputs_by_direction, -1);
        // PyTorch drops out between layers only, never after the last one.
        bool last = layer + 1 == config_.num_layers;
        input = last ? output : dropout(output, config_.dropout, is_training());
    }

    std::vector<Tensor> result = {input};
    for (const auto& states : finals)
        result.push_back(states.size() == 1 ? unsqueeze(states[0], 0) : stack(states, 0));
    return result;
}

RNN::RNN(RNNOptions o)
    : RecurrentBase({"RNN", 1, checked(o).input_size, o.hidden_size, o.num_layers, o.bias,
                     o.batch_first, o.dropout, o.bidirectional, 0}),
      options(std::move(o)) {}

RNNOutput RNN::forward(const Tensor& x, const Tensor& h0, CallSite site) const {
    CallSiteScope scope("RNN", site);
    std::vector<Tensor> r = run(x, {h0});
    return {r[0], r[1]};
}

std::vector<Tensor> RNN::sequence(const Tensor& x, const std::vector<Tensor>& state,
                                  const RecurrentWeights& w, SequenceOptions o) const {
    o.activation = options.nonlinearity == "relu" ? Activation::relu : Activation::tanh;
    return rnn_sequence(x, state[0], sequence_weights(w), o);
}

LSTM::LSTM(LSTMOptions o)
    : RecurrentBase({"LSTM", 4, o.input_size, o.hidden_size, o.num_layers, o.bias, o.batch_first,
                     o.dropout, o.bidirectional, o.proj_size}),
      options(o) {}

LSTMOutput LSTM::forward(const Tensor& x, const LSTMState& state, CallSite site) const {
    CallSiteScope scope("LSTM", site);
    if (state.h.defined() != state.c.defined())
        throw ValueError("LSTM: give both h0 and c0 of the initial state, or neither (zeros)");
    std::vector<Tensor> r = run(x, {state.h, state.c});
    return {r[0], r[1], r[2]};
}

// With proj_size, the state carried to the next step and to the output is
// the projection W_hr h of the cell's h; the fused op applies it.
std::vector<Tensor> LSTM::sequence(const Tensor& x, const std::vector<Tensor>& state,
                                   const RecurrentWeights& w, SequenceOptions o) const {
    return lstm_sequence(x, state[0], state[1], sequence_weights(w), o);
}

GRU::GRU(GRUOptions o)
    : RecurrentBase({"GRU", 3, o.input_size, o.hidden_size, o.num_layers, o.bias, o.batch_first,
                     o.dropout, o.bidirectional, 0}),
      options(o) {}

RNNOutput GRU::forward(const Tensor& x, const Tensor& h0, CallSite site) const {
    CallSiteScope scope("GRU", site);
    std::vector<Tensor> r = run(x, {h0});
    return {r[0], r[1]};
}

std::vector<Tensor> GRU::sequence(const Tensor& x, const std::vector<Tensor>& state,
                                  const RecurrentWeights& w, SequenceOptions o) const {
    return gru_sequence(x, state[0], sequence_weights(w), o);
}

}  // namespace tg
