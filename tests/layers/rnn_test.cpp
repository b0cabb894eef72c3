#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>
#include <functional>

using namespace tg;

namespace {

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

TEST_CASE("one step of one layer is the cell op; h0 is used") {
    manual_seed(1);
    RNN rnn({.input_size = 3, .hidden_size = 4, .nonlinearity = "relu"});
    Tensor x = randn({1, 2, 3}), h0 = randn({1, 2, 4});
    const RecurrentWeights& w = rnn.weights[0];
    Tensor expected = rnn_cell(x[0], h0[0], w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, "relu");
    auto [y, h_n] = rnn(x, h0);
    CHECK(values(y[0]) == values(expected));
    CHECK(values(h_n[0]) == values(expected));

    LSTM lstm({.input_size = 3, .hidden_size = 4, .bias = false, .proj_size = 2});
    Tensor h = randn({1, 2, 2}), c = randn({1, 2, 4});
    const RecurrentWeights& lw = lstm.weights[0];
    auto cell = lstm_cell(x[0], h[0], c[0], lw.weight_ih, lw.weight_hh);
    auto out = lstm(x, {h, c});
    CHECK(values(out.c_n) == values(cell.c));
    CHECK(values(out.h_n) == values(linear(cell.h, lw.weight_hr)));
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
    CHECK(values(narrow(y[0], 1, 0, 4)) == values(forward0));
    CHECK(values(narrow(y[2], 1, 4, 4)) == values(reverse2));
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
    auto ta = a(x, {h, c});
    auto tb = b(transpose(x, 0, 1), {h, c});
    CHECK(values(tb.output) == values(transpose(ta.output, 0, 1)));
    CHECK(values(tb.h_n) == values(ta.h_n));
    CHECK(values(tb.c_n) == values(ta.c_n));

    Tensor x1 = narrow(x, 1, 0, 1), h1 = narrow(h, 1, 0, 1), c1 = narrow(c, 1, 0, 1);
    auto batched = a(x1, {h1, c1});
    auto single = a(squeeze(x1, 1), {squeeze(h1, 1), squeeze(c1, 1)});
    CHECK(values(single.output) == values(batched.output));
    CHECK(values(single.h_n) == values(batched.h_n));
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
