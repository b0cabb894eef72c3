#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>

using namespace tg;

namespace {

double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

Tensor column(std::vector<double> values, DType dtype = DType::f32) {
    auto n = static_cast<std::int64_t>(values.size());
    return Tensor::from(std::move(values), Shape{n, 1}, dtype);
}

Tensor rnd(Shape shape) { return randn(std::move(shape), DType::f64); }

}  // namespace

TEST_CASE("rnn_cell adds both projections and applies tanh or relu") {
    Tensor x = Tensor::from({1.0, 2.0});
    Tensor h = Tensor::from({0.5});
    Tensor w_ih = Tensor::from({{0.1, 0.2}}), w_hh = Tensor::from({{0.3}});
    Tensor b_ih = Tensor::from({0.05}), b_hh = Tensor::from({-0.1});
    // 0.1 + 0.4 + 0.05 + 0.15 - 0.1 = 0.6
    CHECK(rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh).item() == doctest::Approx(std::tanh(0.6)));
    CHECK(rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, "relu").item() == doctest::Approx(0.6));
    // Without biases: 0.5 + 0.15 = 0.65; a negative sum gives relu 0.
    CHECK(rnn_cell(x, h, w_ih, w_hh).item() == doctest::Approx(std::tanh(0.65)));
    CHECK(rnn_cell(-x, h, w_ih, w_hh, {}, {}, "relu").item() == 0.0);
}

TEST_CASE("lstm_cell uses gate order i, f, g, o") {
    Tensor x = Tensor::from({0.5}), h = Tensor::from({-0.3}), c = Tensor::from({0.8});
    Tensor w_ih = column({0.1, 0.2, 0.3, 0.4}), w_hh = column({0.5, -0.6, 0.7, -0.8});
    Tensor b_ih = Tensor::from({0.01, 0.02, 0.03, 0.04}), b_hh = Tensor::from({0.1, 0.1, 0.1, 0.1});
    // Gate sums: i 0.05 + 0.01 - 0.15 + 0.1, f 0.1 + 0.02 + 0.18 + 0.1,
    // g 0.15 + 0.03 - 0.21 + 0.1, o 0.2 + 0.04 + 0.24 + 0.1.
    double c_next = sig(0.4) * 0.8 + sig(0.01) * std::tanh(0.07);
    double h_next = sig(0.58) * std::tanh(c_next);
    auto [h1, c1] = lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh);
    CHECK(h1.shape() == Shape{1});
    CHECK(c1.item() == doctest::Approx(c_next).epsilon(1e-6));
    CHECK(h1.item() == doctest::Approx(h_next).epsilon(1e-6));
}

TEST_CASE("gru_cell keeps b_hn inside the reset gate's product, as PyTorch") {
    Tensor x = Tensor::from({2.0}), h = Tensor::from({0.5});
    Tensor w_ih = column({0.1, 0.2, 0.3}), w_hh = column({0.4, 0.5, 0.6});
    Tensor b_ih = Tensor::from({0.0, 0.1, 0.2}), b_hh = Tensor::from({0.3, 0.4, 0.5});
    double r = sig(0.2 + 0.0 + 0.2 + 0.3), z = sig(0.4 + 0.1 + 0.25 + 0.4);
    double n = std::tanh(0.6 + 0.2 + r * (0.3 + 0.5));
    CHECK(gru_cell(x, h, w_ih, w_hh, b_ih, b_hh).item() ==
          doctest::Approx((1 - z) * n + z * 0.5).epsilon(1e-6));
}

TEST_CASE("batched cells compute each row like the unbatched cell") {
    manual_seed(3);
    Tensor x = rnd({2, 3}), h = rnd({2, 4}), c = rnd({2, 4});
    Tensor w_ih = rnd({16, 3}), w_hh = rnd({16, 4}), b_ih = rnd({16}), b_hh = rnd({16});
    auto [h1, c1] = lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh);
    Tensor g = gru_cell(x, h, narrow(w_ih, 0, 0, 12), narrow(w_hh, 0, 0, 12));
    Tensor r = rnn_cell(x, h, narrow(w_ih, 0, 0, 4), narrow(w_hh, 0, 0, 4), {}, {}, "relu");
    for (std::int64_t b = 0; b < 2; ++b) {
        auto [hb, cb] = lstm_cell(x[b], h[b], c[b], w_ih, w_hh, b_ih, b_hh);
        CHECK(hb.to_vector<double>() == h1[b].to_vector<double>());
        CHECK(cb.to_vector<double>() == c1[b].to_vector<double>());
        CHECK(gru_cell(x[b], h[b], narrow(w_ih, 0, 0, 12), narrow(w_hh, 0, 0, 12))
                  .to_vector<double>() == g[b].to_vector<double>());
        CHECK(rnn_cell(x[b], h[b], narrow(w_ih, 0, 0, 4), narrow(w_hh, 0, 0, 4), {}, {}, "relu")
                  .to_vector<double>() == r[b].to_vector<double>());
    }
}

TEST_CASE("rnn_cell gradient matches finite differences") {
    manual_seed(4);
    Tensor x = rnd({3, 2}), h = rnd({3, 4}), w_ih = rnd({4, 2}), w_hh = rnd({4, 4});
    Tensor b_ih = rnd({4}), b_hh = rnd({4});
    for (const char* act : {"tanh", "relu"}) {
        CHECK(gradcheck(
            [&](const std::vector<Tensor>& v) {
                return rnn_cell(v[0], v[1], v[2], v[3], v[4], v[5], act);
            },
            {x, h, w_ih, w_hh, b_ih, b_hh}));
        CHECK(gradcheck(
            [&](const std::vector<Tensor>& v) {
                return rnn_cell(v[0], v[1], v[2], v[3], {}, {}, act);
            },
            {x[0], h[0], w_ih, w_hh}));
    }
}

TEST_CASE("lstm_cell gradient matches finite differences, with a projected state too") {
    manual_seed(5);
    Tensor x = rnd({2, 3}), c = rnd({2, 4}), w_ih = rnd({16, 3}), b_ih = rnd({16});
    Tensor b_hh = rnd({16});
    for (std::int64_t state : {4, 2}) {  // 2: proj_size < hidden_size
        Tensor h = rnd({2, state}), w_hh = rnd({16, state});
        CHECK(gradcheck(
            [](const std::vector<Tensor>& v) {
                auto [h1, c1] = lstm_cell(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
                return cat({h1, c1 * 0.7}, 1);
            },
            {x, h, c, w_ih, w_hh, b_ih, b_hh}));
    }
    CHECK(gradcheck(
        [](const std::vector<Tensor>& v) {
            auto [h1, c1] = lstm_cell(v[0], v[1], v[2], v[3], v[4]);
            return h1 + c1;
        },
        {x[1], rnd({4}), c[1], w_ih, rnd({16, 4})}));
}

TEST_CASE("gru_cell gradient matches finite differences") {
    manual_seed(6);
    Tensor x = rnd({2, 3}), h = rnd({2, 5}), w_ih = rnd({15, 3}), w_hh = rnd({15, 5});
    Tensor b_ih = rnd({15}), b_hh = rnd({15});
    CHECK(gradcheck(
        [](const std::vector<Tensor>& v) { return gru_cell(v[0], v[1], v[2], v[3], v[4], v[5]); },
        {x, h, w_ih, w_hh, b_ih, b_hh}));
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return gru_cell(v[0], v[1], v[2], v[3]); },
                    {x[0], h[0], w_ih, w_hh}));
}

TEST_CASE("cells work on an empty batch") {
    Tensor x = zeros({0, 3}), h = zeros({0, 2});
    CHECK(rnn_cell(x, h, ones({2, 3}), ones({2, 2})).shape() == Shape{0, 2});
    CHECK(gru_cell(x, h, ones({6, 3}), ones({6, 2})).shape() == Shape{0, 2});
    CHECK(lstm_cell(x, h, h, ones({8, 3}), ones({8, 2})).c.shape() == Shape{0, 2});
}

TEST_CASE("cells reject inconsistent shapes before recording anything") {
    Tensor x = ones({2, 3}).requires_grad_(), h = ones({2, 4});
    Tensor w_ih = ones({4, 3}), w_hh = ones({4, 4});
    clear_tape();
    CHECK_THROWS_WITH_AS(rnn_cell(ones({2, 5}), h, w_ih, w_hh),
                         "rnn_cell: input [2, 5] has 5 features, but w_ih [4, 3] expects 3",
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn_cell(ones({1, 2, 3}), h, w_ih, w_hh),
                         doctest::Contains("input must be 1-D [input_size] or 2-D"), ShapeError);
    CHECK_THROWS_WITH_AS(rnn_cell(x, ones({3, 4}), w_ih, w_hh),
                         "rnn_cell: hidden state must be [2, 4] for input [2, 3] and w_hh [4, 4], "
                         "got [3, 4]",
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn_cell(x, ones({4}), w_ih, w_hh), doctest::Contains("got [4]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn_cell(x, h, w_ih, ones({4, 3})),
                         doctest::Contains("w_hh must be [4, 4] to match w_ih [4, 3], got [4, 3]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn_cell(x, h, w_ih, w_hh, ones({3})),
                         doctest::Contains("biases must be [4] to match w_ih [4, 3], got [3]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(rnn_cell(x, h, w_ih, w_hh, {}, {}, "sigmoid"),
                         doctest::Contains("'tanh' or 'relu', got 'sigmoid'"), ValueError);
    CHECK_THROWS_WITH_AS(gru_cell(x, h, w_ih, w_hh),
                         doctest::Contains("w_ih must be [3 * hidden_size, input_size]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(lstm_cell(x, ones({2, 2}), ones({2, 3}), ones({16, 3}), ones({16, 2})),
                         "lstm_cell: cell state must be [2, 4] for input [2, 3] and w_ih [16, 3], "
                         "got [2, 3]",
                         ShapeError);
    CHECK_THROWS_WITH_AS(lstm_cell(x, h, {}, ones({16, 3}), ones({16, 4})),
                         doctest::Contains("got undefined"), ShapeError);
    CHECK_THROWS_AS(gru_cell(x, {}, ones({12, 3}), ones({12, 4})), ValueError);
    CHECK(tape_size() == 0);
}
