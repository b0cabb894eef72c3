#include "fused_recurrent_kernel.h"

namespace tg {

Activation activation_from_name(std::string_view name, const char* op) {
    if (name == "tanh") return Activation::tanh;
    if (name == "relu") return Activation::relu;
    if (name == "sigmoid") return Activation::sigmoid;
    if (name == "linear" || name == "identity") return Activation::identity;
    throw ValueError(fmt::format(
        "{}: activation must be 'tanh', 'relu', 'sigmoid' or 'linear', got '{}'", op, name));
}

namespace fused {

namespace {

std::string shape_or_undefined(const Tensor& t) {
    return t.defined() ? t.shape().str() : "undefined";
}

}  // namespace

Checked check_sequence(const char* op, std::int64_t gates, const Tensor& x, const Tensor& h0,
                       const Tensor* c0, const SequenceWeights& w, const SequenceOptions& o) {
    if (!x.defined() || !w.w_ih.defined() || !w.w_hh.defined())
        throw ValueError(fmt::format(
            "{}: x, w_ih and w_hh must be defined tensors (got {}, {}, {})", op,
            shape_or_undefined(x), shape_or_undefined(w.w_ih), shape_or_undefined(w.w_hh)));
    if (!is_floating(x.dtype()))
        throw DTypeError(
            fmt::format("{}: x {} is {}; needs float32 or float64", op, x.shape(), x.dtype()));
    const std::pair<const char*, const Tensor*> named[] = {
        {"h0", &h0},       {"c0", c0},        {"w_ih", &w.w_ih}, {"w_hh", &w.w_hh},
        {"b_ih", &w.b_ih}, {"b_hh", &w.b_hh}, {"w_hr", &w.w_hr}};
    for (const auto& [name, t] : named)
        if (t && t->defined() && t->dtype() != x.dtype())
            throw DTypeError(fmt::format("{}: {} {} is {} but x {} is {}", op, name, t->shape(),
                                         t->dtype(), x.shape(), x.dtype()));
    if (x.dim() != 2 && x.dim() != 3)
        throw ShapeError(fmt::format(
            "{}: x must be [seq_len, batch, input_size] ([batch, seq_len, input_size] with "
            "batch_first) or unbatched [seq_len, input_size], got {}",
            op, x.shape()));
    if (w.w_ih.dim() != 2 || w.w_ih.size(0) == 0 || w.w_ih.size(0) % gates != 0)
        throw ShapeError(fmt::format(
            "{}: w_ih must be [{} * hidden_size, input_size] with hidden_size > 0, got {}", op,
            gates, w.w_ih.shape()));
    if (x.size(-1) != w.w_ih.size(1))
        throw ShapeError(fmt::format("{}: x {} has {} features, but w_ih {} expects {}", op,
                                     x.shape(), x.size(-1), w.w_ih.shape(), w.w_ih.size(1)));
    const bool batched = x.dim() == 3, batch_first = batched && o.batch_first;
    const std::int64_t steps = x.size(batch_first ? 1 : 0);
    const std::int64_t batch = batched ? x.size(batch_first ? 0 : 1) : 1;
    if (steps == 0)
        throw ShapeError(
            fmt::format("{}: the sequence length must be positive, x is {}", op, x.shape()));
    const std::int64_t rows = w.w_ih.size(0), hidden = rows / gates;
    std::int64_t state = hidden;
    if (w.w_hr.defined()) {
        if (!c0) throw ValueError(fmt::format("{}: w_hr is for lstm_sequence only", op));
        if (w.w_hr.dim() != 2 || w.w_hr.size(0) == 0 || w.w_hr.size(1) != hidden)
            throw ShapeError(fmt::format(
                "{}: w_hr must be [proj_size, {}] (hidden_size of w_ih {}) with proj_size > 0, "
                "got {}",
                op, hidden, w.w_ih.shape(), w.w_hr.shape()));
        state = w.w_hr.size(0);
    }
    if (w.w_hh.shape() != Shape{rows, state})
        throw ShapeError(fmt::format(
            "{}: w_hh must be [{}, {}] to match w_ih {}{}, got {}", op, rows, state, w.w_ih.shape(),
            w.w_hr.defined() ? fmt::format(" and w_hr {}", w.w_hr.shape()) : std::string(),
            w.w_hh.shape()));
    for (const Tensor* b : {&w.b_ih, &w.b_hh})
        if (b->defined() && b->shape() != Shape{rows})
            throw ShapeError(fmt::format("{}: biases must be [{}] to match w_ih {}, got {}", op,
                                         rows, w.w_ih.shape(), b->shape()));

    Checked c;
    Sizes& s = c.sizes;
    s.steps = Steps{steps, batch, batch_first ? 1 : batch, batch_first ? steps : 1, o.reverse};
    s.input = x.size(-1);
    s.hidden = hidden;
    s.state = state;
    s.dtype = x.dtype();
    s.state_shape = batched ? Shape{batch, state} : Shape{state};
    s.cell_shape = batched ? Shape{batch, hidden} : Shape{hidden};
    std::vector<std::int64_t> out = x.shape().dims();
    out.back() = state;
    s.output_shape = Shape(std::move(out));
    if (h0.defined() && h0.shape() != s.state_shape)
        throw ShapeError(fmt::format("{}: h0 must be {} for x {} and w_hh {}, got {}", op,
                                     s.state_shape, x.shape(), w.w_hh.shape(), h0.shape()));
    if (c0 && c0->defined() && c0->shape() != s.cell_shape)
        throw ShapeError(fmt::format("{}: c0 must be {} for x {} and w_ih {}, got {}", op,
                                     s.cell_shape, x.shape(), w.w_ih.shape(), c0->shape()));

    const Tensor* by_input[input_count] = {&x,      &h0,     c0,      &w.w_ih,
                                           &w.w_hh, &w.b_ih, &w.b_hh, &w.w_hr};
    for (int k = 0; k < input_count; ++k) {
        const Tensor* t = by_input[k];
        s.slot[k] = t && t->defined() ? static_cast<int>(c.inputs.size()) : -1;
        if (s.slot[k] >= 0) c.inputs.push_back(*t);
    }
    return c;
}

}  // namespace fused

}  // namespace tg
