#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

using namespace tg;

namespace {

std::vector<std::string> names(const Module& m) {
    std::vector<std::string> out;
    for (const auto& [name, p] : m.named_parameters()) out.push_back(name);
    return out;
}

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

}  // namespace

TEST_CASE("cell parameters: PyTorch names, shapes and init bounds") {
    manual_seed(0);
    LSTMCell lstm({.input_size = 3, .hidden_size = 16});
    CHECK(names(lstm) == std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"});
    CHECK(lstm.weight_ih.shape() == Shape{64, 3});
    CHECK(lstm.weight_hh.shape() == Shape{64, 16});
    CHECK(lstm.bias_hh.shape() == Shape{64});
    for (const Tensor& p : lstm.parameters()) {
        auto v = values(p);
        CHECK(*std::max_element(v.begin(), v.end()) <= 0.25);
        CHECK(*std::min_element(v.begin(), v.end()) >= -0.25);
    }
    GRUCell gru({.input_size = 3, .hidden_size = 4, .bias = false});
    CHECK(names(gru) == std::vector<std::string>{"weight_ih", "weight_hh"});
    CHECK(gru.weight_ih.shape() == Shape{12, 3});
    CHECK_FALSE(gru.bias_ih.defined());
    RNNCell rnn({.input_size = 3, .hidden_size = 4, .nonlinearity = "relu"});
    CHECK(rnn.weight_hh.shape() == Shape{4, 4});
}

TEST_CASE("cells compute the cell ops; a missing state is zeros") {
    manual_seed(1);
    Tensor x = randn({2, 3}), h = randn({2, 4}), c = randn({2, 4});
    RNNCell rnn({.input_size = 3, .hidden_size = 4, .nonlinearity = "relu"});
    CHECK(values(rnn(x, h)) ==
          values(rnn_cell(x, h, rnn.weight_ih, rnn.weight_hh, rnn.bias_ih, rnn.bias_hh, "relu")));
    CHECK(values(rnn(x)) == values(rnn(x, zeros({2, 4}))));

    LSTMCell lstm({.input_size = 3, .hidden_size = 4});
    auto [h1, c1] = lstm(x, {h, c});
    auto expected = lstm_cell(x, h, c, lstm.weight_ih, lstm.weight_hh, lstm.bias_ih, lstm.bias_hh);
    CHECK(values(h1) == values(expected.h));
    CHECK(values(c1) == values(expected.c));
    CHECK(values(lstm(x).c) == values(lstm(x, {zeros({2, 4}), zeros({2, 4})}).c));

    GRUCell gru({.input_size = 3, .hidden_size = 4, .bias = false});
    CHECK(values(gru(x, h)) == values(gru_cell(x, h, gru.weight_ih, gru.weight_hh)));
    CHECK(values(gru(x)) == values(gru(x, zeros({2, 4}))));
}

TEST_CASE("unbatched 1-D input gives a 1-D state") {
    manual_seed(2);
    Tensor x = randn({1, 3}), h = randn({1, 4}), c = randn({1, 4});
    GRUCell gru({.input_size = 3, .hidden_size = 4});
    Tensor single = gru(x[0], h[0]);
    CHECK(single.shape() == Shape{4});
    CHECK(values(single) == values(gru(x, h)));
    CHECK(gru(x[0]).shape() == Shape{4});

    LSTMCell lstm({.input_size = 3, .hidden_size = 4});
    auto [h1, c1] = lstm(x[0], {h[0], c[0]});
    CHECK(c1.shape() == Shape{4});
    CHECK(values(h1) == values(lstm(x, {h, c}).h));

    RNNCell rnn({.input_size = 3, .hidden_size = 4});
    CHECK(values(rnn(x[0])) == values(rnn(x)));
}

TEST_CASE("cells in float64: input and state gradients match finite differences") {
    manual_seed(3);
    Tensor x = randn({2, 3}, DType::f64), h = randn({2, 4}, DType::f64);
    Tensor c = randn({2, 4}, DType::f64);
    RNNCell rnn({.input_size = 3, .hidden_size = 4});
    LSTMCell lstm({.input_size = 3, .hidden_size = 4});
    GRUCell gru({.input_size = 3, .hidden_size = 4});
    for (Module* m : std::initializer_list<Module*>{&rnn, &lstm, &gru}) m->to(DType::f64);
    CHECK(gradcheck([&](const std::vector<Tensor>& v) { return rnn(v[0], v[1]); }, {x, h}));
    CHECK(gradcheck([&](const std::vector<Tensor>& v) { return gru(v[0], v[1]); }, {x[1], h[1]}));
    CHECK(gradcheck(
        [&](const std::vector<Tensor>& v) {
            auto [h1, c1] = lstm(v[0], {v[1], v[2]});
            return h1 * c1;
        },
        {x, h, c}));
    // The parameters are leaves that receive gradients.
    Tensor y = sum(gru(x, h));
    y.backward();
    CHECK(gru.weight_hh.grad().shape() == Shape{12, 4});
    CHECK(gru.bias_ih.grad().dtype() == DType::f64);
}

TEST_CASE("cells reject bad inputs, naming the cell") {
    RNNCell rnn({.input_size = 3, .hidden_size = 4});
    LSTMCell lstm({.input_size = 3, .hidden_size = 4});
    GRUCell gru({.input_size = 3, .hidden_size = 4});
    clear_tape();
    Tensor x = ones({2, 3}).requires_grad_();
    CHECK_THROWS_WITH_AS(gru(ones({2, 2, 3})),
                         "GRUCell: input must be 1-D [input_size] or 2-D [batch, input_size], "
                         "got [2, 2, 3]",
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn(ones({2, 5})),
                         "RNNCell: input [2, 5] has 5 features, expected input_size 3", ShapeError);
    CHECK_THROWS_WITH_AS(rnn(x, ones({3, 4})),
                         "RNNCell: the state must be [2, 4] for input [2, 3], got [3, 4]",
                         ShapeError);
    CHECK_THROWS_WITH_AS(gru(ones({3}), ones({1, 4})),
                         "GRUCell: the state must be [4] for input [3], got [1, 4]", ShapeError);
    CHECK_THROWS_WITH_AS(lstm(x, {ones({2, 4}), ones({2, 5})}),
                         doctest::Contains("LSTMCell: the state must be [2, 4]"), ShapeError);
    CHECK_THROWS_AS(lstm(x, {ones({2, 4}), {}}), ValueError);
    CHECK_THROWS_WITH_AS(rnn(ones({2, 3}, DType::f64)),
                         doctest::Contains("RNNCell: input is float64 but the parameters are "
                                           "float32"),
                         DTypeError);
    CHECK_THROWS_AS(gru(x, ones({2, 4}, DType::f64)), DTypeError);
    CHECK(tape_size() == 0);
    CHECK_THROWS_WITH_AS(RNNCell({.input_size = 3, .hidden_size = 4, .nonlinearity = "tan"}),
                         doctest::Contains("got 'tan'"), ValueError);
    CHECK_THROWS_AS(GRUCell({.input_size = 0, .hidden_size = 4}), ValueError);
}
