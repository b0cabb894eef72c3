#include <tapegrad/layers/cells.h>
#include <tapegrad/ops/shape.h>

#include <cmath>

namespace tg {

namespace {

const RNNCellOptions& checked(const RNNCellOptions& o) {
    if (o.nonlinearity != "tanh" && o.nonlinearity != "relu")
        throw ValueError(fmt::format("RNNCell: nonlinearity must be 'tanh' or 'relu', got '{}'",
                                     o.nonlinearity));
    return o;
}

}  // namespace

CellBase::CellBase(const char* name, std::int64_t gates, std::int64_t input_size,
                   std::int64_t hidden_size, bool bias)
    : name_(name), input_size_(input_size), hidden_size_(hidden_size) {
    if (input_size <= 0 || hidden_size <= 0)
        throw ValueError(fmt::format("{}: input_size ({}) and hidden_size ({}) must be positive",
                                     name, input_size, hidden_size));
    // PyTorch's default: every parameter from U(-1/sqrt(hidden), 1/sqrt(hidden)).
    const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
    const std::int64_t rows = gates * hidden_size;
    weight_ih = register_parameter("weight_ih", uniform({rows, input_size}, bound));
    weight_hh = register_parameter("weight_hh", uniform({rows, hidden_size}, bound));
    if (bias) {
        bias_ih = register_parameter("bias_ih", uniform({rows}, bound));
        bias_hh = register_parameter("bias_hh", uniform({rows}, bound));
    }
}

std::vector<Tensor> CellBase::batched(const Tensor& x, const std::vector<Tensor>& states) const {
    if (!x.defined()) throw ValueError(fmt::format("{}: the input is an undefined tensor", name_));
    if (x.dim() != 1 && x.dim() != 2)
        throw ShapeError(
            fmt::format("{}: input must be 1-D [input_size] or 2-D [batch, input_size], got {}",
                        name_, x.shape()));
    if (x.dtype() != weight_ih.dtype())
        throw DTypeError(
            fmt::format("{}: input is {} but the parameters are {}; convert one "
                        "(Module::to or Tensor::to)",
                        name_, x.dtype(), weight_ih.dtype()));
    if (x.size(-1) != input_size_)
        throw ShapeError(fmt::format("{}: input {} has {} features, expected input_size {}", name_,
                                     x.shape(), x.size(-1), input_size_));
    Shape expected = x.dim() == 2 ? Shape{x.size(0), hidden_size_} : Shape{hidden_size_};
    for (const Tensor& s : states) {
        if (!s.defined()) continue;
        if (s.shape() != expected)
            throw ShapeError(fmt::format("{}: the state must be {} for input {}, got {}", name_,
                                         expected, x.shape(), s.shape()));
        if (s.dtype() != x.dtype())
            throw DTypeError(fmt::format("{}: the state is {} but the input is {}", name_,
                                         s.dtype(), x.dtype()));
    }
    std::vector<Tensor> out = {x.dim() == 1 ? unsqueeze(x, 0) : x};
    for (const Tensor& s : states) {
        if (!s.defined())
            out.push_back(zeros({out[0].size(0), hidden_size_}, x.dtype()));
        else
            out.push_back(x.dim() == 1 ? unsqueeze(s, 0) : s);
    }
    return out;
}

Tensor CellBase::unbatched(const Tensor& x, const Tensor& y) const {
    return x.dim() == 1 ? squeeze(y, 0) : y;
}

RNNCell::RNNCell(RNNCellOptions o)
    : CellBase("RNNCell", 1, checked(o).input_size, o.hidden_size, o.bias), options(std::move(o)) {}

Tensor RNNCell::forward(const Tensor& x, const Tensor& hx, CallSite site) const {
    CallSiteScope scope("RNNCell", site);
    std::vector<Tensor> b = batched(x, {hx});
    return unbatched(
        x, rnn_cell(b[0], b[1], weight_ih, weight_hh, bias_ih, bias_hh, options.nonlinearity));
}

LSTMCell::LSTMCell(LSTMCellOptions o)
    : CellBase("LSTMCell", 4, o.input_size, o.hidden_size, o.bias), options(o) {}

LSTMState LSTMCell::forward(const Tensor& x, const LSTMState& state, CallSite site) const {
    CallSiteScope scope("LSTMCell", site);
    if (state.h.defined() != state.c.defined())
        throw ValueError("LSTMCell: give both hx and cx of the state, or neither (zeros)");
    std::vector<Tensor> b = batched(x, {state.h, state.c});
    auto [h, c] = lstm_cell(b[0], b[1], b[2], weight_ih, weight_hh, bias_ih, bias_hh);
    return {unbatched(x, h), unbatched(x, c)};
}

GRUCell::GRUCell(GRUCellOptions o)
    : CellBase("GRUCell", 3, o.input_size, o.hidden_size, o.bias), options(o) {}

Tensor GRUCell::forward(const Tensor& x, const Tensor& hx, CallSite site) const {
    CallSiteScope scope("GRUCell", site);
    std::vector<Tensor> b = batched(x, {hx});
    return unbatched(x, gru_cell(b[0], b[1], weight_ih, weight_hh, bias_ih, bias_hh));
}

}  // namespace tg
