#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <new>
#include <type_traits>

using namespace tg;

// Counts the allocations made while `counting` is on, to show that the
// layers allocate per call and never per time step. Not inlined, so that g++
// does not see malloc and free behind new and delete and warn of a mismatch.
namespace {
bool counting = false;
std::size_t allocations = 0;
}  // namespace

[[gnu::noinline]] void* operator new(std::size_t size) {
    if (counting) ++allocations;
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

template <class F>
std::size_t allocations_of(F f) {
    allocations = 0;
    counting = true;
    f();
    counting = false;
    return allocations;
}

std::vector<std::string> names(const Module& m) {
    std::vector<std::string> out;
    for (const auto& [name, p] : m.named_parameters()) out.push_back(name);
    return out;
}

Shape shape_of(const Module& m, const std::string& name) {
    for (const auto& [n, p] : m.named_parameters())
        if (n == name) return p.shape();
    FAIL("no parameter ", name);
    return {};
}

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

double max_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    std::vector<double> va = values(a), vb = values(b);
    double m = 0;
    for (std::size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
    return m;
}

// Largest |a - b| / max(|a|, |b|, 1) over the values in order, whatever the
// shapes: near zero an absolute difference, so that values which cancel to
// almost nothing do not need to agree in every bit.
double max_relative_diff(const Tensor& a, const Tensor& b) {
    std::vector<double> va = values(a), vb = values(b);
    REQUIRE(va.size() == vb.size());
    double m = 0;
    for (std::size_t i = 0; i < va.size(); ++i) {
        const double scale = std::max({std::abs(va[i]), std::abs(vb[i]), 1.0});
        m = std::max(m, std::abs(va[i] - vb[i]) / scale);
    }
    return m;
}

}  // namespace

TEST_CASE("parameters follow PyTorch's names, shapes and order") {
    RNN rnn({.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
    CHECK(names(rnn) == std::vector<std::string>{
                            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                            "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                            "bias_hh_l0_reverse", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1",
                            "bias_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse",
                            "bias_ih_l1_reverse", "bias_hh_l1_reverse"});
    CHECK(shape_of(rnn, "weight_ih_l1_reverse") == Shape{4, 8});
    CHECK(rnn.weights.size() == 4);
    CHECK(rnn.weights[3].bias_hh.shape() == Shape{4});

    LSTM lstm({.input_size = 3, .hidden_size = 5, .num_layers = 2, .proj_size = 2});
    CHECK(names(lstm) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                  "bias_hh_l0", "weight_hr_l0", "weight_ih_l1",
                                                  "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
                                                  "weight_hr_l1"});
    CHECK(shape_of(lstm, "weight_ih_l0") == Shape{20, 3});
    CHECK(shape_of(lstm, "weight_hh_l0") == Shape{20, 2});
    CHECK(shape_of(lstm, "weight_hr_l0") == Shape{2, 5});
    CHECK(shape_of(lstm, "weight_ih_l1") == Shape{20, 2});

    GRU gru({.input_size = 3, .hidden_size = 4, .bias = false, .bidirectional = true});
    CHECK(names(gru) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0",
                                                 "weight_ih_l0_reverse", "weight_hh_l0_reverse"});
    CHECK(shape_of(gru, "weight_hh_l0_reverse") == Shape{12, 4});
    CHECK_FALSE(gru.weights[0].bias_ih.defined());
}

TEST_CASE("every parameter starts in U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))") {
    manual_seed(0);
    LSTM lstm({.input_size = 7, .hidden_size = 16, .proj_size = 3});
    for (const auto& [name, p] : lstm.named_parameters()) {
        auto v = values(p);
        CHECK_MESSAGE(*std::max_element(v.begin(), v.end()) <= 0.25, name);
        CHECK_MESSAGE(*std::min_element(v.begin(), v.end()) >= -0.25, name);
        CHECK_MESSAGE(*std::max_element(v.begin(), v.end()) > 0.2, name);  // spread, not all 0
    }
}

TEST_CASE("output shapes for every option") {
    RNN rnn({.input_size = 3, .hidden_size = 4, .num_layers = 3});
    auto [y, h_n] = rnn(zeros({5, 2, 3}));
    CHECK(y.shape() == Shape{5, 2, 4});
    CHECK(h_n.shape() == Shape{3, 2, 4});

    RNN bf({.input_size = 3, .hidden_size = 4, .batch_first = true, .bidirectional = true});
    auto out = bf(zeros({2, 5, 3}), zeros({2, 2, 4}));
    CHECK(out.output.shape() == Shape{2, 5, 8});
    CHECK(out.h_n.shape() == Shape{2, 2, 4});
    CHECK(bf(zeros({5, 3})).output.shape() == Shape{5, 8});  // unbatched ignores batch_first
    CHECK(bf(zeros({5, 3}), zeros({2, 4})).h_n.shape() == Shape{2, 4});

    LSTM lstm({.input_size = 3,
               .hidden_size = 5,
               .num_layers = 2,
               .bidirectional = true,
               .proj_size = 2});
    auto [ly, lh, lc] = lstm(zeros({4, 3, 3}));
    CHECK(ly.shape() == Shape{4, 3, 4});
    CHECK(lh.shape() == Shape{4, 3, 2});
    CHECK(lc.shape() == Shape{4, 3, 5});
    auto unbatched = lstm(zeros({4, 3}), {zeros({4, 2}), zeros({4, 5})});
    CHECK(unbatched.output.shape() == Shape{4, 4});
    CHECK(unbatched.c_n.shape() == Shape{4, 5});

    GRU gru({.input_size = 3, .hidden_size = 4, .num_layers = 2, .batch_first = true});
    CHECK(gru(zeros({2, 1, 3})).output.shape() == Shape{2, 1, 4});
    CHECK(gru(zeros({0, 6, 3})).output.shape() == Shape{0, 6, 4});  // an empty batch
}

// The fused kernel adds the same terms in another order than the cell ops,
// so the two agree to rounding, not bit for bit.
TEST_CASE("one step of one layer is the cell op; h0 is used") {
    manual_seed(1);
    RNN rnn({.input_size = 3, .hidden_size = 4, .nonlinearity = "relu"});
    Tensor x = randn({1, 2, 3}), h0 = randn({1, 2, 4});
    const RecurrentWeights& w = rnn.weights[0];
    Tensor expected = rnn_cell(x[0], h0[0], w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, "relu");
    auto [y, h_n] = rnn(x, h0);
    CHECK(max_diff(y[0], expected) < 1e-6);
    CHECK(max_diff(h_n[0], expected) < 1e-6);

    LSTM lstm({.input_size = 3, .hidden_size = 4, .bias = false, .proj_size = 2});
    Tensor h = randn({1, 2, 2}), c = randn({1, 2, 4});
    const RecurrentWeights& lw = lstm.weights[0];
    auto cell = lstm_cell(x[0], h[0], c[0], lw.weight_ih, lw.weight_hh);
    auto out = lstm(x, {h, c});
    CHECK(max_diff(out.c_n[0], cell.c) < 1e-6);
    CHECK(max_diff(out.h_n[0], linear(cell.h, lw.weight_hr)) < 1e-6);
}

TEST_CASE("the reverse direction reads time backwards and comes second") {
    manual_seed(2);
    GRU gru({.input_size = 3, .hidden_size = 4, .bidirectional = true});
    Tensor x = randn({3, 2, 3}), h0 = randn({2, 2, 4});
    auto [y, h_n] = gru(x, h0);
    const RecurrentWeights& f = gru.weights[0];
    const RecurrentWeights& r = gru.weights[1];
    Tensor forward0 = gru_cell(x[0], h0[0], f.weight_ih, f.weight_hh, f.bias_ih, f.bias_hh);
    Tensor reverse2 = gru_cell(x[2], h0[1], r.weight_ih, r.weight_hh, r.bias_ih, r.bias_hh);
    CHECK(max_diff(narrow(y[0], 1, 0, 4), forward0) < 1e-6);
    CHECK(max_diff(narrow(y[2], 1, 4, 4), reverse2) < 1e-6);
    CHECK(values(h_n[0]) == values(narrow(y[2], 1, 0, 4)));  // forward ends at t = T - 1
    CHECK(values(h_n[1]) == values(narrow(y[0], 1, 4, 4)));  // reverse ends at t = 0
}

TEST_CASE("batch_first and unbatched inputs give the time-major results") {
    manual_seed(3);
    LSTM a({.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
    LSTM b({.input_size = 3,
            .hidden_size = 4,
            .num_layers = 2,
            .batch_first = true,
            .bidirectional = true});
    b.load_state_dict(a.state_dict());
    Tensor x = randn({5, 2, 3}), h = randn({4, 2, 4}), c = randn({4, 2, 4});
    // The layouts hand the GEMMs other leading dimensions and row counts, for
    // which OpenBLAS may pick other kernels (depending on the CPU it detects)
    // that sum in another order: the same values to a few float32 ulp, not
    // always the same bits.
    const double tolerance = 1e-6;
    auto ta = a(x, {h, c});
    auto tb = b(transpose(x, 0, 1), {h, c});
    CHECK(max_relative_diff(tb.output, transpose(ta.output, 0, 1)) < tolerance);
    CHECK(max_relative_diff(tb.h_n, ta.h_n) < tolerance);
    CHECK(max_relative_diff(tb.c_n, ta.c_n) < tolerance);

    Tensor x1 = narrow(x, 1, 0, 1), h1 = narrow(h, 1, 0, 1), c1 = narrow(c, 1, 0, 1);
    auto batched = a(x1, {h1, c1});
    auto single = a(squeeze(x1, 1), {squeeze(h1, 1), squeeze(c1, 1)});
    CHECK(max_relative_diff(single.output, batched.output) < tolerance);
    CHECK(max_relative_diff(single.h_n, batched.h_n) < tolerance);
    CHECK(single.h_n.shape() == Shape{4, 4});
}

TEST_CASE("dropout acts between layers in training mode only") {
    manual_seed(4);
    RNN rnn({.input_size = 3, .hidden_size = 4, .num_layers = 2, .dropout = 1.0});
    Tensor x1 = randn({3, 2, 3}), x2 = randn({3, 2, 3}), h0 = randn({2, 2, 4});
    // p = 1 zeroes the first layer's output, so the second sees the same zeros.
    CHECK(values(rnn(x1, h0).output) == values(rnn(x2, h0).output));
    CHECK(values(rnn(x1, h0).h_n[0]) != values(rnn(x2, h0).h_n[0]));
    rnn.eval();
    CHECK(values(rnn(x1, h0).output) != values(rnn(x2, h0).output));
}

TEST_CASE("multi-layer bidirectional layers: gradients match finite differences") {
    manual_seed(5);
    Tensor x = randn({2, 2, 2}, DType::f64);
    SUBCASE("RNN") {
        RNN rnn({.input_size = 2,
                 .hidden_size = 3,
                 .num_layers = 2,
                 .batch_first = false,
                 .bidirectional = true});
        rnn.to(DType::f64);
        auto f = [&](const std::vector<Tensor>& v) {
            auto [y, h_n] = rnn(v[0], v[1]);
            return cat({y.flatten(), h_n.flatten()});
        };
        CHECK(gradcheck(f, {x, randn({4, 2, 3}, DType::f64)}, {}, rnn.parameters()));
    }
    SUBCASE("LSTM with proj_size") {
        LSTM lstm({.input_size = 2,
                   .hidden_size = 2,
                   .num_layers = 2,
                   .batch_first = true,
                   .bidirectional = true,
                   .proj_size = 1});
        lstm.to(DType::f64);
        Tensor h = randn({4, 2, 1}, DType::f64), c = randn({4, 2, 2}, DType::f64);
        CHECK(gradcheck(
            [&](const std::vector<Tensor>& v) {
                auto [y, h_n, c_n] = lstm(v[0], {v[1], v[2]});
                return cat({y.flatten(), h_n.flatten(), c_n.flatten()});
            },
            {x, h, c}, {}, lstm.parameters()));
    }
    SUBCASE("GRU without bias, unbatched, zero initial state") {
        GRU gru({.input_size = 2,
                 .hidden_size = 2,
                 .num_layers = 2,
                 .bias = false,
                 .bidirectional = true});
        gru.to(DType::f64);
        CHECK(gradcheck(
            [&](const std::vector<Tensor>& v) {
                auto [y, h_n] = gru(v[0]);
                return cat({y.flatten(), h_n.flatten()});
            },
            {x[0]}, {}, gru.parameters()));
    }
}

TEST_CASE("bad inputs are ShapeErrors naming the layer and the shapes") {
    RNN rnn({.input_size = 3, .hidden_size = 4, .num_layers = 2});
    clear_tape();
    Tensor x = zeros({5, 2, 3}).requires_grad_();
    CHECK_THROWS_WITH_AS(rnn(zeros({3})), doctest::Contains("RNN: input must be 2-D"), ShapeError);
    CHECK_THROWS_WITH_AS(rnn(zeros({5, 2, 6})),
                         "RNN: input [5, 2, 6] has 6 features, expected input_size 3", ShapeError);
    CHECK_THROWS_WITH_AS(rnn(x, zeros({1, 2, 4})),
                         "RNN: h0 must be [2, 2, 4] ([num_directions * num_layers, batch, "
                         "hidden_size]) for input [5, 2, 3], got [1, 2, 4]",
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn(zeros({5, 3}), zeros({2, 1, 4})),
                         doctest::Contains("h0 must be [2, 4]"), ShapeError);
    CHECK_THROWS_WITH_AS(rnn(zeros({0, 2, 3})), doctest::Contains("sequence length"), ShapeError);
    CHECK_THROWS_WITH_AS(rnn(zeros({5, 2, 3}, DType::f64)),
                         doctest::Contains("RNN: input is float64 but the parameters are float32"),
                         DTypeError);
    CHECK_THROWS_AS(rnn(x, zeros({2, 2, 4}, DType::f64)), DTypeError);
    CHECK(tape_size() == 0);

    LSTM lstm({.input_size = 3, .hidden_size = 4, .bidirectional = true, .proj_size = 2});
    CHECK_THROWS_WITH_AS(lstm(x, {zeros({2, 2, 4}), zeros({2, 2, 4})}),
                         doctest::Contains("LSTM: h0 must be [2, 2, 2] ([num_directions * "
                                           "num_layers, batch, proj_size])"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(lstm(x, {zeros({2, 2, 2}), zeros({2, 2, 2})}),
                         doctest::Contains("LSTM: c0 must be [2, 2, 4]"), ShapeError);
    CHECK_THROWS_AS(lstm(x, {zeros({2, 2, 2}), {}}), ValueError);
    GRU gru({.input_size = 3, .hidden_size = 4, .batch_first = true});
    CHECK_THROWS_WITH_AS(gru(zeros({2, 5, 3}), zeros({1, 5, 4})),
                         doctest::Contains("GRU: h0 must be [1, 2, 4]"), ShapeError);
}

TEST_CASE("bad options are ValueErrors") {
    CHECK_THROWS_WITH_AS(RNN({.input_size = 3, .hidden_size = 4, .nonlinearity = "gelu"}),
                         doctest::Contains("'tanh' or 'relu', got 'gelu'"), ValueError);
    CHECK_THROWS_AS(RNN({.input_size = 3, .hidden_size = 0}), ValueError);
    CHECK_THROWS_AS(GRU({.input_size = 3, .hidden_size = 4, .num_layers = 0}), ValueError);
    CHECK_THROWS_AS(GRU({.input_size = 3, .hidden_size = 4, .dropout = 1.5}), ValueError);
    CHECK_THROWS_WITH_AS(LSTM({.input_size = 3, .hidden_size = 4, .proj_size = 4}),
                         "LSTM: proj_size (4) must be in [0, hidden_size (4))", ValueError);
}

namespace {

// The reference path: every layer and direction stepped with the cell ops
// (the layers' loop before the fused kernels). initial: {h0} or {h0, c0}.
template <class Layer>
std::vector<Tensor> stepped(const Layer& m, const Tensor& x, const std::vector<Tensor>& initial) {
    const auto& o = m.options;
    const std::int64_t directions = o.bidirectional ? 2 : 1;
    const bool batched = x.dim() == 3;
    Tensor input = !batched ? unsqueeze(x, 1) : o.batch_first ? transpose(x, 0, 1) : x;
    std::vector<Tensor> start;
    for (const Tensor& s : initial) start.push_back(batched ? s : unsqueeze(s, 1));
    std::vector<std::vector<Tensor>> finals(initial.size());
    for (std::int64_t layer = 0; layer < o.num_layers; ++layer) {
        std::vector<Tensor> by_direction;
        for (std::int64_t d = 0; d < directions; ++d) {
            const std::int64_t index = layer * directions + d;
            const RecurrentWeights& w = m.weights[static_cast<std::size_t>(index)];
            std::vector<Tensor> state;
            for (const Tensor& s : start) state.push_back(s[index]);
            std::vector<Tensor> outputs(static_cast<std::size_t>(input.size(0)));
            for (std::int64_t s = 0; s < input.size(0); ++s) {
                const std::int64_t t = d == 0 ? s : input.size(0) - 1 - s;
                Tensor xt = input[t];
                if constexpr (std::is_same_v<Layer, LSTM>) {
                    auto next = lstm_cell(xt, state[0], state[1], w.weight_ih, w.weight_hh,
                                          w.bias_ih, w.bias_hh);
                    state = {w.weight_hr.defined() ? linear(next.h, w.weight_hr) : next.h, next.c};
                } else if constexpr (std::is_same_v<Layer, GRU>) {
                    state = {
                        gru_cell(xt, state[0], w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)};
                } else {
                    state = {rnn_cell(xt, state[0], w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh,
                                      o.nonlinearity)};
                }
                outputs[static_cast<std::size_t>(t)] = state[0];
            }
            for (std::size_t k = 0; k < state.size(); ++k) finals[k].push_back(state[k]);
            by_direction.push_back(stack(outputs, 0));
        }
        input = directions == 1 ? by_direction[0] : cat(by_direction, 2);
    }
    std::vector<Tensor> result = {!batched        ? squeeze(input, 1)
                                  : o.batch_first ? transpose(input, 0, 1)
                                                  : input};
    for (const auto& states : finals) {
        Tensor s = stack(states, 0);
        result.push_back(batched ? s : squeeze(s, 1));
    }
    return result;
}

// Outputs of the layer, then the gradients of a fixed weighting of them
// w.r.t. the input, the initial states and every parameter.
std::vector<Tensor> with_grads(const Module& m, const std::vector<Tensor>& outputs,
                               const std::vector<Tensor>& weights,
                               const std::vector<Tensor>& leaves) {
    Tensor loss = sum(outputs[0] * weights[0]);
    for (std::size_t k = 1; k < outputs.size(); ++k) loss = loss + sum(outputs[k] * weights[k]);
    std::vector<Tensor> wrt = leaves;
    for (const Tensor& p : m.parameters()) wrt.push_back(p);
    std::vector<Tensor> all = outputs;
    for (const Tensor& g : grad({loss}, wrt)) all.push_back(g);
    return all;
}

template <class Layer, class Options>
void check_against_stepped(Options options, bool unbatched, DType dtype) {
    CAPTURE(options.num_layers);
    CAPTURE(options.bidirectional);
    CAPTURE(options.batch_first);
    CAPTURE(unbatched);
    CAPTURE(dtype);
    Layer m(options);
    m.to(dtype);
    const std::int64_t stacked = options.num_layers * (options.bidirectional ? 2 : 1);
    const std::int64_t steps = 5, batch = 3, hidden = options.hidden_size;
    std::int64_t state = hidden;
    if constexpr (std::is_same_v<Layer, LSTM>)
        if (options.proj_size > 0) state = options.proj_size;
    auto leaf = [&](Shape shape) { return randn(std::move(shape), dtype).requires_grad_(); };
    Tensor x = unbatched             ? leaf({steps, options.input_size})
               : options.batch_first ? leaf({batch, steps, options.input_size})
                                     : leaf({steps, batch, options.input_size});
    auto state_of = [&](std::int64_t features) {
        return unbatched ? leaf({stacked, features}) : leaf({stacked, batch, features});
    };
    const bool lstm = std::is_same_v<Layer, LSTM>;
    std::vector<Tensor> initial = lstm ? std::vector<Tensor>{state_of(state), state_of(hidden)}
                                       : std::vector<Tensor>{state_of(state)};
    std::vector<Tensor> leaves =
        lstm ? std::vector<Tensor>{x, initial[0], initial[1]} : std::vector<Tensor>{x, initial[0]};

    std::vector<Tensor> fused_out;
    if constexpr (std::is_same_v<Layer, LSTM>) {
        auto r = m(x, {initial[0], initial[1]});
        fused_out = {r.output, r.h_n, r.c_n};
    } else {
        auto r = m(x, initial[0]);
        fused_out = {r.output, r.h_n};
    }
    std::vector<Tensor> weights;
    for (const Tensor& y : fused_out) weights.push_back(randn(y.shape(), dtype));
    std::vector<Tensor> got = with_grads(m, fused_out, weights, leaves);
    std::vector<Tensor> want = with_grads(m, stepped(m, x, initial), weights, leaves);
    REQUIRE(got.size() == want.size());
    const double tolerance = dtype == DType::f64 ? 1e-12 : 1e-5;
    for (std::size_t k = 0; k < got.size(); ++k) {
        CAPTURE(k);
        double scale = 1;
        for (double v : want[k].to_vector<double>()) scale = std::max(scale, std::abs(v));
        CHECK(max_diff(got[k], want[k]) / scale < tolerance);
    }
}

}  // namespace

TEST_CASE("multi-layer, bidirectional layers equal the reference cells: values and gradients") {
    manual_seed(8);
    for (DType dtype : {DType::f64, DType::f32})
        for (bool batch_first : {false, true})
            for (bool unbatched : {false, true}) {
                if (batch_first && unbatched) continue;
                check_against_stepped<RNN>(RNNOptions{.input_size = 3,
                                                      .hidden_size = 4,
                                                      .num_layers = 2,
                                                      .nonlinearity = "relu",
                                                      .batch_first = batch_first,
                                                      .bidirectional = true},
                                           unbatched, dtype);
                check_against_stepped<LSTM>(LSTMOptions{.input_size = 3,
                                                        .hidden_size = 5,
                                                        .num_layers = 3,
                                                        .batch_first = batch_first,
                                                        .bidirectional = true,
                                                        .proj_size = 2},
                                            unbatched, dtype);
                check_against_stepped<LSTM>(LSTMOptions{.input_size = 3,
                                                        .hidden_size = 4,
                                                        .num_layers = 2,
                                                        .bias = false,
                                                        .batch_first = batch_first},
                                            unbatched, dtype);
                check_against_stepped<GRU>(GRUOptions{.input_size = 3,
                                                      .hidden_size = 4,
                                                      .num_layers = 2,
                                                      .batch_first = batch_first,
                                                      .bidirectional = true},
                                           unbatched, dtype);
            }
}

TEST_CASE("forward and backward allocate per call, never per time step") {
    manual_seed(7);
    LSTM lstm({.input_size = 3,
               .hidden_size = 4,
               .num_layers = 2,
               .bidirectional = true,
               .proj_size = 2});
    GRU gru({.input_size = 3, .hidden_size = 4, .batch_first = true});
    RNN rnn({.input_size = 3,
             .hidden_size = 4,
             .num_layers = 2,
             .nonlinearity = "relu",
             .dropout = 0.5});
    // A training step of each layer on a sequence of `steps`.
    auto train_step = [&](std::int64_t steps) {
        Tensor x = randn({steps, 2, 3}), xb = randn({2, steps, 3}), h = randn({2, 2, 4});
        lstm.zero_grad();
        gru.zero_grad();
        rnn.zero_grad();
        return allocations_of([&] {
            auto l = lstm(x);
            auto g = gru(xb);
            auto r = rnn(x, h);
            Tensor loss = sum(l.output) + sum(l.c_n) + sum(g.output * g.output) + sum(r.h_n);
            loss.backward();
        });
    };
    train_step(5);  // first calls may grow buffers that later calls reuse
    train_step(50);
    const std::size_t short_sequence = train_step(5), long_sequence = train_step(50);
    CHECK(short_sequence > 0);
    CHECK(long_sequence == short_sequence);

    // The count does see per-step work: the reference cells stepped over
    // time allocate at every step.
    const RecurrentWeights& w = gru.weights[0];
    auto reference_step = [&](std::int64_t steps) {
        Tensor x = randn({steps, 2, 3});
        return allocations_of([&] {
            Tensor h = zeros({2, 4}), total = zeros({});
            for (std::int64_t t = 0; t < steps; ++t) {
                h = gru_cell(x[t], h, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh);
                total = total + sum(h);
            }
            total.backward();
        });
    };
    CHECK(reference_step(50) > reference_step(5));
}
