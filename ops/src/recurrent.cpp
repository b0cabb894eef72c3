#include <tapegrad/ops/activation.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/linalg.h>
#include <tapegrad/ops/recurrent.h>
#include <tapegrad/ops/shape.h>

namespace tg {

namespace {

// The state shape a cell expects for input x: x's batch (if any), then features.
Shape state_shape(const Tensor& x, std::int64_t features) {
    return x.dim() == 2 ? Shape{x.size(0), features} : Shape{features};
}

// Checks one step's operands before anything is computed; returns hidden_size.
// square: the state has hidden_size features (all cells but a projected LSTM).
std::int64_t check_cell(const char* op, std::int64_t gates, bool square, const Tensor& x,
                        const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                        const Tensor& b_hh) {
    if (!x.defined() || !h.defined() || !w_ih.defined() || !w_hh.defined())
        throw ValueError(
            fmt::format("{}: input, state, w_ih and w_hh must be defined tensors", op));
    if (w_ih.dim() != 2 || w_ih.size(0) == 0 || w_ih.size(0) % gates != 0)
        throw ShapeError(fmt::format(
            "{}: w_ih must be [{} * hidden_size, input_size] with hidden_size > 0, got {}", op,
            gates, w_ih.shape()));
    const std::int64_t hidden = w_ih.size(0) / gates;
    if (w_hh.dim() != 2 || w_hh.size(0) != w_ih.size(0) || (square && w_hh.size(1) != hidden))
        throw ShapeError(fmt::format("{}: w_hh must be [{}, {}] to match w_ih {}, got {}", op,
                                     w_ih.size(0), square ? fmt::format("{}", hidden) : "state",
                                     w_ih.shape(), w_hh.shape()));
    if (x.dim() != 1 && x.dim() != 2)
        throw ShapeError(
            fmt::format("{}: input must be 1-D [input_size] or 2-D [batch, input_size], got {}", op,
                        x.shape()));
    if (x.size(-1) != w_ih.size(1))
        throw ShapeError(fmt::format("{}: input {} has {} features, but w_ih {} expects {}", op,
                                     x.shape(), x.size(-1), w_ih.shape(), w_ih.size(1)));
    Shape expected = state_shape(x, w_hh.size(1));
    if (h.shape() != expected)
        throw ShapeError(fmt::format("{}: hidden state must be {} for input {} and w_hh {}, got {}",
                                     op, expected, x.shape(), w_hh.shape(), h.shape()));
    for (const Tensor* b : {&b_ih, &b_hh})
        if (b->defined() && b->shape() != Shape{w_ih.size(0)})
            throw ShapeError(fmt::format("{}: biases must be [{}] to match w_ih {}, got {}", op,
                                         w_ih.size(0), w_ih.shape(), b->shape()));
    return hidden;
}

// W_ih x + b_ih + W_hh h + b_hh, all gates side by side: [..., gates * hidden].
Tensor gate_sums(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                 const Tensor& b_ih, const Tensor& b_hh) {
    return linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh);
}

}  // namespace

// h' = act(W_ih x + b_ih + W_hh h + b_hh); the gradient flows through act
// and the two linear maps.
Tensor rnn_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh, std::string_view nonlinearity,
                CallSite site) {
    CallSiteScope scope("rnn_cell", site);
    if (nonlinearity != "tanh" && nonlinearity != "relu")
        throw ValueError(
            fmt::format("rnn_cell: nonlinearity must be 'tanh' or 'relu', got '{}'", nonlinearity));
    check_cell("rnn_cell", 1, true, x, h, w_ih, w_hh, b_ih, b_hh);
    Tensor pre = gate_sums(x, h, w_ih, w_hh, b_ih, b_hh);
    return nonlinearity == "tanh" ? tanh(pre) : relu(pre);
}

// c' = f c + i g, h' = o tanh(c') with i, f, o = sigmoid and g = tanh of the
// gate sums in PyTorch's order i, f, g, o.
LSTMState lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih,
                    const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh, CallSite site) {
    CallSiteScope scope("lstm_cell", site);
    std::int64_t hidden = check_cell("lstm_cell", 4, false, x, h, w_ih, w_hh, b_ih, b_hh);
    if (!c.defined() || c.shape() != state_shape(x, hidden))
        throw ShapeError(
            fmt::format("lstm_cell: cell state must be {} for input {} and w_ih {}, "
                        "got {}",
                        state_shape(x, hidden), x.shape(), w_ih.shape(),
                        c.defined() ? c.shape().str() : "undefined"));
    std::vector<Tensor> g = chunk(gate_sums(x, h, w_ih, w_hh, b_ih, b_hh), 4, -1);
    Tensor i = sigmoid(g[0]), f = sigmoid(g[1]), cell = tanh(g[2]), o = sigmoid(g[3]);
    Tensor c_next = f * c + i * cell;
    return {o * tanh(c_next), c_next};
}

// GRU: r multiplies (W_hn h + b_hn), bias included, as PyTorch does, so the
// input and hidden projections stay separate; h' = n + z (h - n) is
// PyTorch's arrangement of (1 - z) n + z h.
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh, CallSite site) {
    CallSiteScope scope("gru_cell", site);
    check_cell("gru_cell", 3, true, x, h, w_ih, w_hh, b_ih, b_hh);
    std::vector<Tensor> gi = chunk(linear(x, w_ih, b_ih), 3, -1);
    std::vector<Tensor> gh = chunk(linear(h, w_hh, b_hh), 3, -1);
    Tensor r = sigmoid(gi[0] + gh[0]);
    Tensor z = sigmoid(gi[1] + gh[1]);
    Tensor n = tanh(gi[2] + r * gh[2]);
    return n + z * (h - n);
}

}  // namespace tg
