#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <array>
#include <cmath>
#include <limits>

using namespace tg;

namespace {

enum class Kind { rnn, lstm, gru };
enum class Layout { time_major, batch_first, unbatched };

struct Dims {
    std::int64_t steps = 4, batch = 3, input = 5, hidden = 6, proj = 2;
};

struct Case {
    Kind kind;
    Activation activation = Activation::tanh;
    bool proj = false;
    bool bias = true;
    bool h0 = true;
    bool reverse = false;
    Layout layout = Layout::time_major;
    DType dtype = DType::f64;
    Dims dims = {};
};

// Random inputs for one case: every tensor a leaf that requires grad.
struct Problem {
    Tensor x, h0, c0;
    SequenceWeights w;

    std::array<Tensor*, 8> slots() {
        return {&x, &h0, &c0, &w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh, &w.w_hr};
    }
    std::vector<Tensor> leaves() {
        std::vector<Tensor> all;
        for (Tensor* t : slots())
            if (t->defined()) all.push_back(*t);
        return all;
    }
    // A copy whose defined tensors are v, in leaves() order.
    Problem with(const std::vector<Tensor>& v) const {
        Problem q = *this;
        std::size_t k = 0;
        for (Tensor* t : q.slots())
            if (t->defined()) *t = v[k++];
        return q;
    }
};

Tensor leaf(Shape shape, DType dtype, double scale = 1.0) {
    return (randn(std::move(shape), DType::f64) * scale).to(dtype).detach().requires_grad_();
}

std::int64_t gates(Kind k) { return k == Kind::lstm ? 4 : k == Kind::gru ? 3 : 1; }

Problem make(const Case& c) {
    const auto [t, b, input, hidden, proj] = c.dims;
    const std::int64_t rows = gates(c.kind) * hidden, state = c.proj ? proj : hidden;
    const bool batched = c.layout != Layout::unbatched;
    Problem p;
    p.x = leaf(!batched                          ? Shape{t, input}
               : c.layout == Layout::batch_first ? Shape{b, t, input}
                                                 : Shape{t, b, input},
               c.dtype);
    if (c.h0) p.h0 = leaf(batched ? Shape{b, state} : Shape{state}, c.dtype);
    if (c.h0 && c.kind == Kind::lstm)
        p.c0 = leaf(batched ? Shape{b, hidden} : Shape{hidden}, c.dtype);
    p.w.w_ih = leaf({rows, input}, c.dtype, 0.5);
    p.w.w_hh = leaf({rows, state}, c.dtype, 0.5);
    if (c.bias) {
        p.w.b_ih = leaf({rows}, c.dtype, 0.5);
        p.w.b_hh = leaf({rows}, c.dtype, 0.5);
    }
    if (c.proj) p.w.w_hr = leaf({proj, hidden}, c.dtype, 0.5);
    return p;
}

std::vector<Tensor> fused(const Case& c, const Problem& p) {
    SequenceOptions o{.reverse = c.reverse,
                      .batch_first = c.layout == Layout::batch_first,
                      .activation = c.activation};
    switch (c.kind) {
        case Kind::rnn:
            return rnn_sequence(p.x, p.h0, p.w, o);
        case Kind::lstm:
            return lstm_sequence(p.x, p.h0, p.c0, p.w, o);
        case Kind::gru:
            break;
    }
    return gru_sequence(p.x, p.h0, p.w, o);
}

Tensor activate(Activation a, const Tensor& v) {
    switch (a) {
        case Activation::tanh:
            return tanh(v);
        case Activation::relu:
            return relu(v);
        case Activation::sigmoid:
            return sigmoid(v);
        case Activation::identity:
            break;
    }
    return v;
}

// The reference path: the cell ops stepped over time (composed of ops for
// the activations the cells do not offer).
std::vector<Tensor> reference(const Case& c, const Problem& p) {
    const bool batched = c.layout != Layout::unbatched;
    const SequenceWeights& w = p.w;
    const std::int64_t hidden = c.dims.hidden, proj = c.dims.proj;
    Tensor x = c.layout == Layout::batch_first ? transpose(p.x, 0, 1) : p.x;
    const std::int64_t t_count = x.size(0), b = batched ? x.size(1) : 0;
    auto state_of = [&](std::int64_t features) {
        return batched ? zeros({b, features}, c.dtype) : zeros({features}, c.dtype);
    };
    Tensor h = p.h0.defined() ? p.h0 : state_of(c.proj ? proj : hidden);
    Tensor cell = p.c0.defined() ? p.c0 : state_of(hidden);
    const Activation a = c.activation;
    std::vector<Tensor> outputs(static_cast<std::size_t>(t_count));
    for (std::int64_t s = 0; s < t_count; ++s) {
        const std::int64_t t = c.reverse ? t_count - 1 - s : s;
        Tensor xt = x[t];
        Tensor sums = linear(xt, w.w_ih, w.b_ih) + linear(h, w.w_hh, w.b_hh);
        if (c.kind == Kind::rnn) {
            h = a == Activation::tanh   ? rnn_cell(xt, h, w.w_ih, w.w_hh, w.b_ih, w.b_hh, "tanh")
                : a == Activation::relu ? rnn_cell(xt, h, w.w_ih, w.w_hh, w.b_ih, w.b_hh, "relu")
                                        : activate(a, sums);
        } else if (c.kind == Kind::lstm) {
            Tensor out;
            if (a == Activation::tanh) {
                auto next = lstm_cell(xt, h, cell, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
                out = next.h, cell = next.c;
            } else {
                std::vector<Tensor> g = chunk(sums, 4, -1);
                cell = sigmoid(g[1]) * cell + sigmoid(g[0]) * activate(a, g[2]);
                out = sigmoid(g[3]) * activate(a, cell);
            }
            h = w.w_hr.defined() ? linear(out, w.w_hr) : out;
        } else if (a == Activation::tanh) {
            h = gru_cell(xt, h, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
        } else {
            std::vector<Tensor> gi = chunk(linear(xt, w.w_ih, w.b_ih), 3, -1);
            std::vector<Tensor> gh = chunk(linear(h, w.w_hh, w.b_hh), 3, -1);
            Tensor r = sigmoid(gi[0] + gh[0]), z = sigmoid(gi[1] + gh[1]);
            Tensor n = activate(a, gi[2] + r * gh[2]);
            h = n + z * (h - n);
        }
        outputs[static_cast<std::size_t>(t)] = h;
    }
    Tensor y = stack(outputs, 0);
    std::vector<Tensor> result = {c.layout == Layout::batch_first ? transpose(y, 0, 1) : y, h};
    if (c.kind == Kind::lstm) result.push_back(cell);
    return result;
}

// The outputs and the gradients of a fixed weighting of them w.r.t. every input.
std::vector<Tensor> values_and_grads(const std::vector<Tensor>& outputs,
                                     const std::vector<Tensor>& weights,
                                     const std::vector<Tensor>& inputs) {
    Tensor loss = sum(outputs[0] * weights[0]);
    for (std::size_t k = 1; k < outputs.size(); ++k) loss = loss + sum(outputs[k] * weights[k]);
    std::vector<Tensor> all = outputs;
    for (const Tensor& g : grad({loss}, inputs)) all.push_back(g);
    return all;
}

// Largest |a - b| relative to the size of b's values (at least 1).
double relative_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
    double diff = 0, size = 1;
    for (std::size_t i = 0; i < va.size(); ++i) {
        diff = std::max(diff, std::abs(va[i] - vb[i]));
        size = std::max(size, std::abs(vb[i]));
    }
    return diff / size;
}

std::string describe(const Case& c) {
    return fmt::format(
        "kind {} activation {} proj {} bias {} h0 {} reverse {} layout {} dtype {} dims {} {} {} "
        "{} {}",
        static_cast<int>(c.kind), static_cast<int>(c.activation), c.proj, c.bias, c.h0, c.reverse,
        static_cast<int>(c.layout), c.dtype, c.dims.steps, c.dims.batch, c.dims.input,
        c.dims.hidden, c.dims.proj);
}

void check_matches_reference(const Case& c) {
    CAPTURE(describe(c));
    Problem p = make(c);
    std::vector<Tensor> inputs = p.leaves();
    std::vector<Tensor> got_outputs = fused(c, p);
    std::vector<Tensor> weights;
    for (const Tensor& y : got_outputs) weights.push_back(randn(y.shape(), c.dtype));
    std::vector<Tensor> got = values_and_grads(got_outputs, weights, inputs);
    std::vector<Tensor> want = values_and_grads(reference(c, p), weights, inputs);
    REQUIRE(got.size() == want.size());
    const double tolerance = c.dtype == DType::f64 ? 1e-12 : 2e-6;
    for (std::size_t k = 0; k < got.size(); ++k) {
        CAPTURE(k);
        CHECK(got[k].dtype() == c.dtype);
        CHECK(relative_diff(got[k], want[k]) < tolerance);
    }
}

std::vector<Case> kinds() {
    std::vector<Case> all;
    for (Activation a :
         {Activation::tanh, Activation::relu, Activation::sigmoid, Activation::identity}) {
        all.push_back({.kind = Kind::rnn, .activation = a});
        all.push_back({.kind = Kind::lstm, .activation = a});
        all.push_back({.kind = Kind::gru, .activation = a});
    }
    all.push_back({.kind = Kind::lstm, .proj = true});
    all.push_back({.kind = Kind::lstm, .activation = Activation::relu, .proj = true});
    return all;
}

}  // namespace

TEST_CASE("fused ops equal the reference cells: outputs and every gradient") {
    manual_seed(1);
    int variant = 0;
    for (Case c : kinds())
        for (Layout layout : {Layout::time_major, Layout::batch_first, Layout::unbatched})
            for (bool reverse : {false, true})
                for (DType dtype : {DType::f64, DType::f32}) {
                    c.layout = layout;
                    c.reverse = reverse;
                    c.dtype = dtype;
                    // Biases and initial states absent in some of the cases.
                    c.bias = variant % 3 != 1;
                    c.h0 = variant % 4 != 2;
                    ++variant;
                    check_matches_reference(c);
                }
}

TEST_CASE("fused ops equal the reference cells for other shapes") {
    manual_seed(5);
    int variant = 0;
    for (Dims dims : {Dims{7, 1, 2, 3, 1}, Dims{2, 5, 8, 1, 1}, Dims{9, 4, 3, 8, 5}})
        for (Case c : {Case{.kind = Kind::rnn}, Case{.kind = Kind::lstm},
                       Case{.kind = Kind::lstm, .proj = true}, Case{.kind = Kind::gru}})
            for (DType dtype : {DType::f64, DType::f32}) {
                c.dims = dims;
                c.dtype = dtype;
                c.reverse = variant % 2 == 1;
                c.layout = variant % 3 == 0 ? Layout::batch_first : Layout::time_major;
                ++variant;
                check_matches_reference(c);
            }
}

TEST_CASE("fused ops pass a float64 gradient check on every input") {
    manual_seed(2);
    std::vector<Case> cases = {
        {.kind = Kind::rnn},
        {.kind = Kind::rnn, .activation = Activation::relu, .reverse = true},
        {.kind = Kind::rnn, .activation = Activation::sigmoid, .layout = Layout::batch_first},
        {.kind = Kind::lstm},
        {.kind = Kind::lstm, .reverse = true, .layout = Layout::batch_first},
        {.kind = Kind::lstm, .proj = true},
        {.kind = Kind::lstm, .proj = true, .reverse = true, .layout = Layout::unbatched},
        {.kind = Kind::lstm, .activation = Activation::identity, .reverse = true},
        {.kind = Kind::gru},
        {.kind = Kind::gru, .reverse = true, .layout = Layout::batch_first},
        {.kind = Kind::gru, .activation = Activation::relu, .layout = Layout::unbatched},
    };
    for (const Case& c : cases) {
        CAPTURE(describe(c));
        Case small = c;
        small.dims = {.steps = 3, .batch = 2, .input = 3, .hidden = 3, .proj = 2};
        Problem p = make(small);
        std::vector<Tensor> inputs = p.leaves();
        auto f = [&](const std::vector<Tensor>& v) {
            std::vector<Tensor> flat;
            for (const Tensor& y : fused(c, p.with(v))) flat.push_back(y.flatten());
            return cat(flat);
        };
        CHECK(gradcheck(f, inputs));
    }
}

TEST_CASE("fused float32 activations are within a few ulp of the exact ones") {
    // One step from h0 = 0 with w_ih = I: the output is act(x) itself. A
    // width of 1 runs the gate loop one element at a time, a width of 64 runs
    // it in the vector instructions the CPU has.
    std::vector<double> xs;
    for (double v = -30; v <= 30; v += 0.0007) xs.push_back(v);
    for (double v : {1e-30, -1e-12, 1e-6, 0.6249, 0.625, 0.6251, -0.625, 80.0, -80.0})
        xs.push_back(v);
    for (std::int64_t width : {1, 64}) {
        while (xs.size() % width != 0) xs.push_back(0.0);
        const auto n = static_cast<std::int64_t>(xs.size());
        std::vector<double> identity(width * width, 0.0);
        for (std::int64_t i = 0; i < width; ++i) identity[i * width + i] = 1.0;
        Tensor x = Tensor::from(xs, Shape{1, n / width, width});
        SequenceWeights w{
            Tensor::from(identity, Shape{width, width}), zeros({width, width}), {}, {}, {}};
        for (Activation a : {Activation::tanh, Activation::sigmoid}) {
            std::vector<float> y = rnn_sequence(x, {}, w, {.activation = a})[0].to_vector<float>();
            double worst = 0;
            for (std::int64_t i = 0; i < n; ++i) {
                const double v = static_cast<float>(xs[i]);
                const double exact = a == Activation::tanh ? std::tanh(v) : 1 / (1 + std::exp(-v));
                int exponent = 0;
                std::frexp(exact, &exponent);
                const double ulp = std::ldexp(1.0, exponent - 24);
                worst = std::max(worst, std::abs(y[i] - exact) / ulp);
            }
            CAPTURE(width);
            CAPTURE(static_cast<int>(a));
            CHECK(worst <= 3.0);
        }
    }
    // Saturation, infinities and NaN.
    SequenceWeights w{ones({1, 1}), zeros({1, 1}), {}, {}, {}};
    const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
    Tensor special = Tensor::from({-inf, -200.0, 200.0, inf, nan}, Shape{1, 5, 1});
    std::vector<float> t = rnn_sequence(special, {}, w)[0].to_vector<float>();
    CHECK(t[0] == -1.0f);
    CHECK(t[1] == -1.0f);
    CHECK(t[2] == 1.0f);
    CHECK(t[3] == 1.0f);
    CHECK(std::isnan(t[4]));
    std::vector<float> s =
        rnn_sequence(special, {}, w, {.activation = Activation::sigmoid})[0].to_vector<float>();
    CHECK(s[0] < 1e-37f);
    CHECK(s[1] < 1e-37f);
    CHECK(s[2] == 1.0f);
    CHECK(s[3] == 1.0f);
    CHECK(std::isnan(s[4]));
}

TEST_CASE("fused ops handle one step and an empty batch") {
    manual_seed(3);
    for (Kind kind : {Kind::rnn, Kind::lstm, Kind::gru}) {
        Case c{.kind = kind};
        c.dims.steps = 1;
        check_matches_reference(c);
        c.dims.steps = 3;
        c.dims.batch = 0;
        Problem empty = make(c);
        std::vector<Tensor> out = fused(c, empty);
        CHECK(out[0].shape() == Shape{3, 0, c.dims.hidden});
        CHECK(out[1].shape() == Shape{0, c.dims.hidden});
        std::vector<Tensor> inputs = empty.leaves();
        std::vector<Tensor> g = grad({sum(out[0]) + sum(out[1])}, inputs);
        for (std::size_t k = 0; k < g.size(); ++k) {
            CHECK(g[k].shape() == inputs[k].shape());
            for (double v : g[k].to_vector<double>()) CHECK(v == 0.0);
        }
    }
}

TEST_CASE("fused backward leaves its saved state intact for a second backward") {
    manual_seed(4);
    Case c{.kind = Kind::lstm, .proj = true, .layout = Layout::batch_first};
    Problem p = make(c);
    std::vector<Tensor> out = fused(c, p);
    Tensor loss = sum(out[0] * out[0]) + sum(out[2]);
    std::vector<Tensor> first = grad({loss}, p.leaves(), {}, {.retain_graph = true});
    std::vector<Tensor> second = grad({loss}, p.leaves());
    for (std::size_t k = 0; k < first.size(); ++k)
        CHECK(first[k].to_vector<double>() == second[k].to_vector<double>());
}

TEST_CASE("fused ops record one tape entry and nothing without grad") {
    Case c{.kind = Kind::gru};
    Problem p = make(c);
    clear_tape();
    std::vector<Tensor> out = fused(c, p);
    CHECK(tape_size() == 1);
    clear_tape();
    {
        NoGrad off;
        fused(c, p);
    }
    CHECK(tape_size() == 0);
}

TEST_CASE("fused ops reject bad arguments, naming the op and the shapes") {
    Tensor x = zeros({5, 2, 3}).requires_grad_();
    SequenceWeights w{zeros({16, 3}), zeros({16, 4}), zeros({16}), zeros({16}), {}};
    clear_tape();
    CHECK_THROWS_WITH_AS(lstm_sequence(zeros({5, 2, 7}), {}, {}, w),
                         "lstm_sequence: x [5, 2, 7] has 7 features, but w_ih [16, 3] expects 3",
                         ShapeError);
    CHECK_THROWS_WITH_AS(lstm_sequence(zeros({3}), {}, {}, w),
                         doctest::Contains("lstm_sequence: x must be [seq_len, batch, input_size]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(lstm_sequence(x, zeros({2, 3}), zeros({2, 4}), w),
                         "lstm_sequence: h0 must be [2, 4] for x [5, 2, 3] and w_hh [16, 4], got "
                         "[2, 3]",
                         ShapeError);
    CHECK_THROWS_WITH_AS(
        lstm_sequence(x, zeros({2, 4}), zeros({4}), w),
        "lstm_sequence: c0 must be [2, 4] for x [5, 2, 3] and w_ih [16, 3], got [4]", ShapeError);
    CHECK_THROWS_WITH_AS(
        lstm_sequence(zeros({2, 5, 3}), zeros({5, 4}), {}, w, {.batch_first = true}),
        doctest::Contains("h0 must be [2, 4] for x [2, 5, 3]"), ShapeError);
    CHECK_THROWS_WITH_AS(gru_sequence(x, {}, w),
                         doctest::Contains("gru_sequence: w_ih must be [3 * hidden_size, "
                                           "input_size] with hidden_size > 0, got [16, 3]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn_sequence(x, {}, {zeros({4, 3}), zeros({4, 3}), {}, {}, {}}),
                         "rnn_sequence: w_hh must be [4, 4] to match w_ih [4, 3], got [4, 3]",
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn_sequence(x, {}, {zeros({4, 3}), zeros({4, 4}), zeros({3}), {}, {}}),
                         "rnn_sequence: biases must be [4] to match w_ih [4, 3], got [3]",
                         ShapeError);
    SequenceWeights projected = w;
    projected.w_hr = zeros({2, 3});
    CHECK_THROWS_WITH_AS(lstm_sequence(x, {}, {}, projected),
                         doctest::Contains("lstm_sequence: w_hr must be [proj_size, 4]"),
                         ShapeError);
    projected.w_hr = zeros({2, 4});
    CHECK_THROWS_WITH_AS(lstm_sequence(x, {}, {}, projected),
                         doctest::Contains("w_hh must be [16, 2] to match w_ih [16, 3] and w_hr "
                                           "[2, 4], got [16, 4]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn_sequence(x, {}, {zeros({4, 3}), zeros({4, 4}), {}, {}, zeros({2, 4})}),
                         "rnn_sequence: w_hr is for lstm_sequence only", ValueError);
    CHECK_THROWS_WITH_AS(lstm_sequence(zeros({0, 2, 3}), {}, {}, w),
                         "lstm_sequence: the sequence length must be positive, x is [0, 2, 3]",
                         ShapeError);
    CHECK_THROWS_WITH_AS(lstm_sequence(zeros({5, 2, 3}, DType::f64), {}, {}, w),
                         "lstm_sequence: w_ih [16, 3] is float32 but x [5, 2, 3] is float64",
                         DTypeError);
    CHECK_THROWS_WITH_AS(gru_sequence(zeros({5, 2, 3}, DType::i64), {}, w),
                         doctest::Contains("needs float32 or float64"), DTypeError);
    CHECK_THROWS_WITH_AS(gru_sequence(x, {}, {zeros({12, 3}), {}, {}, {}, {}}),
                         doctest::Contains("gru_sequence: x, w_ih and w_hh must be defined"),
                         ValueError);
    CHECK_THROWS_WITH_AS(activation_from_name("gelu", "op"),
                         "op: activation must be 'tanh', 'relu', 'sigmoid' or 'linear', got 'gelu'",
                         ValueError);
    CHECK(tape_size() == 0);
}
