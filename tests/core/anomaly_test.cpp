#include <doctest/doctest.h>
#include <tapegrad/core/anomaly.h>
#include <tapegrad/tapegrad.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

using namespace tg;

namespace {

// The message of the AnomalyError that f throws, or a note that it threw none.
template <class F>
std::string anomaly_message(F f) {
    try {
        f();
    } catch (const AnomalyError& e) {
        return e.what();
    }
    return "no AnomalyError";
}

// "anomaly_test.cpp:<line>", as a message names a call site of this file.
std::string here(int line) { return fmt::format("anomaly_test.cpp:{}", line); }

// Leaves the tape empty whatever a test case left behind, so cases stay independent.
struct CleanTape {
    ~CleanTape() { clear_tape(); }
};

}  // namespace

TEST_CASE("anomaly mode is off by default and NaN then passes silently") {
    REQUIRE_FALSE(detect_anomaly());
    Tensor x = Tensor::from({1.0, -1.0, 4.0}).requires_grad_();
    Tensor y = log(x);
    CHECK(std::isnan(y.at({1})));
    Tensor s = sqrt(x);
    CHECK(std::isnan(s.at({1})));
    sum(s).backward();
    CHECK(std::isnan(x.grad().at({1})));
}

TEST_CASE("DetectAnomaly switches the mode for its lifetime and restores the previous one") {
    {
        DetectAnomaly on;
        CHECK(detect_anomaly());
        {
            DetectAnomaly off(false);
            CHECK_FALSE(detect_anomaly());
        }
        CHECK(detect_anomaly());
    }
    CHECK_FALSE(detect_anomaly());
    set_detect_anomaly(true);
    {
        DetectAnomaly on;
        CHECK(detect_anomaly());
    }
    CHECK(detect_anomaly());
    set_detect_anomaly(false);
}

TEST_CASE("log of a negative number names log, the shapes, the element and this line") {
    CleanTape clean;
    DetectAnomaly on;
    Tensor x = Tensor::from({1.0, -1.0, 4.0}).requires_grad_();
    const int line = __LINE__ + 1;
    std::string m = anomaly_message([&] { return log(x); });
    CHECK(m.find("'log'") != std::string::npos);
    CHECK(m.find("[3] float32") != std::string::npos);
    CHECK(m.find("1 NaN among 3 elements, the first at [1] (nan)") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
    CHECK(tape_size() == 0);  // refused before anything was recorded
}

TEST_CASE("0 / 0 through operator/ reports div at the line of the expression") {
    CleanTape clean;
    DetectAnomaly on;
    Tensor a = zeros({2, 2}).requires_grad_();
    Tensor b = Tensor::from({{1.0, 0.0}, {2.0, 0.0}});
    const int line = __LINE__ + 1;
    std::string m = anomaly_message([&] { return a / b; });
    CHECK(m.find("'div'") != std::string::npos);
    CHECK(m.find("2 NaN among 4 elements, the first at [0, 1] (nan)") != std::string::npos);
    CHECK(m.find("input 0:    [2, 2] float32") != std::string::npos);
    CHECK(m.find("input 1:    [2, 2] float32") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
}

TEST_CASE("sqrt of a negative number is reported also when nothing records") {
    DetectAnomaly on;
    NoGrad no_grad;
    Tensor x = Tensor::from({-1.0}, DType::f64);
    const int line = __LINE__ + 1;
    std::string m = anomaly_message([&] { return sqrt(x); });
    CHECK(m.find("'sqrt'") != std::string::npos);
    CHECK(m.find("[1] float64") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
}

TEST_CASE("Inf in forward: exp overflows float32, 1 / 0 through a scalar operator") {
    DetectAnomaly on;
    Tensor x = Tensor::from({0.0, 100.0});
    int line = __LINE__ + 1;
    std::string m = anomaly_message([&] { return exp(x); });
    CHECK(m.find("'exp'") != std::string::npos);
    CHECK(m.find("1 Inf among 2 elements, the first at [1] (inf)") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
    line = __LINE__ + 1;
    m = anomaly_message([&] { return 1.0 / Tensor::from({0.0}); });
    CHECK(m.find("'div'") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
}

TEST_CASE("an op inside a composite reports the composite and the user's line") {
    CleanTape clean;
    DetectAnomaly on;
    Tensor input = Tensor::from({1.0, 2.0}).requires_grad_();
    Tensor target = Tensor::from({0.0, INFINITY});
    const int line = __LINE__ + 1;
    std::string m = anomaly_message([&] { return mse_loss(input, target); });
    CHECK(m.find("'sub'") != std::string::npos);
    CHECK(m.find("(through 'mse_loss')") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
    // The Inf was in the target already: the message says it came from outside.
    CHECK(m.find("input 1:    [2] float32, already holding 1 Inf") != std::string::npos);
}

TEST_CASE("sqrt at 0: finite forward, infinite gradient names sqrt and its forward call site") {
    CleanTape clean;
    DetectAnomaly on;
    Tensor x = Tensor::from({4.0, 0.0}, DType::f64).requires_grad_();
    const int line = __LINE__ + 1;
    Tensor y = sqrt(x);
    Tensor loss = sum(y);
    std::string m = anomaly_message([&] { loss.backward(); });
    CHECK(m.find("anomaly in backward") != std::string::npos);
    CHECK(m.find("'sqrt' computed for its input 0 ([2] float64)") != std::string::npos);
    CHECK(m.find("1 Inf among 2 elements, the first at [1] (inf)") != std::string::npos);
    CHECK(m.find("forward op: sqrt: [2] float64 -> [2] float64") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
    CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a finite quotient whose gradient overflows names div, input 1 and the line of a / b") {
    CleanTape clean;
    DetectAnomaly on;
    Tensor a = Tensor::from({1.0}).requires_grad_();
    Tensor b = Tensor::from({1e-30}).requires_grad_();
    const int line = __LINE__ + 1;
    Tensor q = a / b;  // 1e30 fits float32, but db = -a / b^2 does not
    CHECK(std::isfinite(q.item()));
    std::string m = anomaly_message([&] { q.backward(); });
    CHECK(m.find("'div' computed for its input 1 ([1] float32)") != std::string::npos);
    CHECK(m.find("Inf") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
}

TEST_CASE("pow at 0 with exponent 0.5: the backward anomaly names pow") {
    CleanTape clean;
    DetectAnomaly on;
    Tensor x = zeros({3}, DType::f64).requires_grad_();
    const int line = __LINE__ + 1;
    Tensor y = pow(x, 0.5);
    std::string m = anomaly_message([&] { sum(y).backward(); });
    CHECK(m.find("'pow' computed for its input 0") != std::string::npos);
    CHECK(m.find("3 Inf among 3 elements") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
}

TEST_CASE("a non-finite gradient given to backward() is reported at the op it enters") {
    CleanTape clean;
    DetectAnomaly on;
    Tensor x = ones({2}).requires_grad_();
    Tensor y = x * 3.0;
    std::string m = anomaly_message([&] { y.backward(Tensor::from({1.0, NAN})); });
    CHECK(m.find("gradient arriving at the output of 'mul'") != std::string::npos);
    CHECK(m.find("1 NaN among 2 elements, the first at [1]") != std::string::npos);
}

TEST_CASE("no false positives on a training step: Linear, tanh, mse_loss, backward") {
    CleanTape clean;
    DetectAnomaly on;
    manual_seed(3);
    Linear layer({.in_features = 3, .out_features = 2});
    Tensor x = randn({4, 3});
    Tensor target = randn({4, 2});
    Tensor loss = mse_loss(tanh(layer(x)), target);
    CHECK_NOTHROW(loss.backward());
    CHECK(layer.weight.grad().defined());
    CHECK(layer.bias.grad().defined());

    LSTM lstm({.input_size = 3, .hidden_size = 5});
    LSTMOutput out = lstm(randn({6, 2, 3}));
    CHECK_NOTHROW(sum(out.output * out.output).backward());
    CHECK(lstm.parameters()[0].grad().defined());
}

TEST_CASE("an op inside a layer reports the line that called the layer, through the layer") {
    CleanTape clean;
    DetectAnomaly on;
    manual_seed(5);
    // With weight_ih all ones, the input Inf, -Inf makes Inf - Inf, a NaN,
    // in every gate sum: the fused op's output is NaN though its input is not.
    Tensor x = zeros({2, 1, 3}), step = zeros({1, 3});
    x.mutable_data<float>()[0] = INFINITY;
    x.mutable_data<float>()[1] = -INFINITY;
    step.mutable_data<float>()[1] = INFINITY;

    LSTM lstm({.input_size = 3, .hidden_size = 4});
    Tensor& lstm_w_ih = lstm.weights[0].weight_ih;
    std::fill_n(lstm_w_ih.mutable_data<float>(), lstm_w_ih.numel(), 1.0f);
    int line = __LINE__ + 1;
    std::string m = anomaly_message([&] { return lstm(x); });
    CHECK(m.find("'lstm_sequence'") != std::string::npos);
    CHECK(m.find("(through 'LSTM')") != std::string::npos);
    CHECK(m.find("NaN") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
    CHECK(m.find("rnn.cpp") == std::string::npos);

    Linear linear_layer({.in_features = 3, .out_features = 2});
    line = __LINE__ + 1;
    m = anomaly_message([&] { return linear_layer(x); });
    CHECK(m.find("'linear'") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
    line = __LINE__ + 1;
    m = anomaly_message([&] { return linear_layer.forward(x); });
    CHECK(m.find(here(line)) != std::string::npos);

    GRUCell cell({.input_size = 3, .hidden_size = 2});
    line = __LINE__ + 1;
    m = anomaly_message([&] { return cell(step); });
    CHECK(m.find("(through 'GRUCell')") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);

    // The reference cell ops, called directly, are the call the user wrote.
    Tensor w_ih = randn({2, 3}), w_hh = randn({2, 2}), h = zeros({1, 2});
    line = __LINE__ + 1;
    m = anomaly_message([&] { return rnn_cell(step, h, w_ih, w_hh); });
    CHECK(m.find("(through 'rnn_cell')") != std::string::npos);
    CHECK(m.find(here(line)) != std::string::npos);
}

TEST_CASE("the mode is global: a thread started later sees it") {
    DetectAnomaly on;
    std::string m;
    std::thread worker([&] { m = anomaly_message([] { return log(Tensor::from({-1.0})); }); });
    worker.join();
    CHECK(m.find("'log'") != std::string::npos);
}
