#include <doctest/doctest.h>

#include <cmath>
#include <regex>
#include <sstream>

#include <tapegrad/optim/keras_adam.h>
#include <tapegrad/optim/keras_fit.h>
#include <tapegrad/tapegrad.h>

using namespace tg;

namespace {

keras::Sequential small_model() {
    return keras::Sequential({keras::SimpleRNN({.units = 4}), keras::Dense({.units = 2})},
                             /*input_shape=*/{3, 2});
}

// Samples whose values tell them apart: sample i of x is filled with i.
Tensor numbered(std::int64_t n, Shape sample) {
    std::vector<double> values;
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < sample.numel(); ++j) values.push_back(static_cast<double>(i));
    std::vector<std::int64_t> dims = {n};
    for (std::int64_t d : sample) dims.push_back(d);
    return Tensor::from(values, Shape(dims));
}

bool matches(const std::string& text, const char* pattern) {
    return std::regex_search(text, std::regex(pattern));
}

}  // namespace

TEST_CASE(
    "keras::Adam's first step is lr sqrt(1 - beta_2) / (1 - beta_1) m / (sqrt(v) + epsilon)") {
    std::vector<double> start = {1.0, -2.0, 0.5}, g = {0.1, -3.0, 1e-6};
    Tensor p = Tensor::from(start, DType::f64).requires_grad_();
    p.set_grad(Tensor::from(g, DType::f64));
    keras::Adam optimizer({p}, {.learning_rate = 0.01});
    optimizer.step();
    // m = 0.1 g and v = 0.001 g^2 after one step; epsilon is added to sqrt(v)
    // itself, so it dominates for the tiny third gradient.
    double alpha = 0.01 * std::sqrt(0.001) / 0.1;
    for (int i = 0; i < 3; ++i) {
        double expected =
            start[i] - alpha * 0.1 * g[i] / (std::sqrt(0.001) * std::abs(g[i]) + 1e-7);
        CHECK(p.at({i}) == doctest::Approx(expected).epsilon(1e-13));
    }
    CHECK(p.at({2}) == doctest::Approx(0.5 - 0.0024025307).epsilon(1e-8));
}

TEST_CASE("keras::Adam equals tg::Adam with eps = epsilon / sqrt(1 - beta_2^t)") {
    // Keras's epsilon enters before the bias correction, PyTorch's after, so
    // at step 1 they agree when PyTorch's eps is Keras's over sqrt(0.001).
    std::vector<double> start = {0.3, -1.5, 2.0, 1e-3}, g = {2e-7, -0.4, 1e-5, 3.0};
    Tensor a = Tensor::from(start, DType::f64).requires_grad_();
    Tensor b = Tensor::from(start, DType::f64).requires_grad_();
    a.set_grad(Tensor::from(g, DType::f64));
    b.set_grad(Tensor::from(g, DType::f64));
    keras::Adam keras_adam({a}, {.learning_rate = 0.05, .epsilon = 1e-6});
    Adam torch_adam({b}, {.lr = 0.05, .eps = 1e-6 / std::sqrt(1 - 0.999)});
    keras_adam.step();
    torch_adam.step();
    for (int i = 0; i < 4; ++i) CHECK(a.at({i}) == doctest::Approx(b.at({i})).epsilon(1e-12));

    // With epsilon 0 the two are the same algorithm at every step.
    Tensor c = Tensor::from(start).requires_grad_(), d = Tensor::from(start).requires_grad_();
    keras::Adam keras_zero({c}, {.learning_rate = 0.05, .epsilon = 0.0});
    Adam torch_zero({d}, {.lr = 0.05, .eps = 0.0});
    for (int step = 0; step < 5; ++step) {
        for (Tensor* p : {&c, &d}) {
            Tensor loss = sum((*p - 0.25) * (*p - 0.25) * Tensor::from({1.0, 2.0, 3.0, 4.0}));
            p->zero_grad();
            loss.backward();
        }
        keras_zero.step();
        torch_zero.step();
    }
    for (int i = 0; i < 4; ++i) CHECK(c.at({i}) == doctest::Approx(d.at({i})).epsilon(1e-5));
}

TEST_CASE("keras::Adam saves and restores its state under Keras's names") {
    Tensor p = Tensor::from({1.0, 2.0}).requires_grad_();
    p.set_grad(Tensor::from({0.5, -0.5}));
    keras::Adam optimizer({p}, {.epsilon = 1e-5});
    optimizer.step();
    StateDict state = optimizer.state_dict();
    for (const char* key :
         {"lr", "beta_1", "beta_2", "epsilon", "state.0.step", "state.0.m", "state.0.v"})
        CHECK_MESSAGE(state.contains(key), std::string(key));
    CHECK(state.at("epsilon").item() == 1e-5);

    Tensor q = Tensor::from({1.0, 2.0}).requires_grad_();
    keras::Adam restored({q});
    restored.load_state_dict(state);
    CHECK(restored.state_dict().at("state.0.m").to_vector<float>() ==
          state.at("state.0.m").to_vector<float>());
    CHECK_THROWS_AS(keras::Adam({q}, {.beta_2 = 1.0}), ValueError);
}

TEST_CASE("fit lowers the loss of a small recurrent model") {
    manual_seed(0);
    keras::Sequential model = small_model();
    Tensor x = rand({16, 3, 2}), y = rand({16, 2});
    keras::Adam optimizer(model.parameters(), {.learning_rate = 0.01});
    keras::History history =
        keras::fit(model, x, y, {.epochs = 40, .batch_size = 4, .verbose = 0}, optimizer);
    REQUIRE(history.loss.size() == 40);
    CHECK(history.val_loss.empty());
    CHECK(history.loss.back() < 0.5 * history.loss.front());
    // The last epoch's loss averages losses taken before each update, so the
    // model afterwards does at least about as well.
    CHECK(keras::evaluate(model, x, y) < history.loss.back() * 1.1);
}

TEST_CASE("validation_split holds out the last samples, taken before shuffling") {
    Tensor x = numbered(8, {3, 2}), y = numbered(8, {2});
    keras::Split split = keras::split_validation(x, y, 0.25);  // floor(8 * 0.75) = 6 to train
    CHECK(split.x_train.shape() == Shape{6, 3, 2});
    CHECK(split.x_val.shape() == Shape{2, 3, 2});
    CHECK(split.x_val.at({0, 0, 0}) == 6);
    CHECK(split.y_val.at({1, 0}) == 7);
    CHECK(split.y_train.at({5, 1}) == 5);
    CHECK(keras::split_validation(x, y, 0.3).x_train.size(0) == 5);  // floor(5.6)

    // In fit: the first epoch's loss is the loss of one batch of the first 6
    // samples before any update; val_loss is the last 2 after the epoch.
    manual_seed(1);
    keras::Sequential model = small_model();
    Tensor xs = rand({8, 3, 2}), ys = rand({8, 2});
    double before = keras::evaluate(model, narrow(xs, 0, 0, 6), narrow(ys, 0, 0, 6));
    keras::Adam optimizer(model.parameters());
    keras::History history = keras::fit(
        model, xs, ys, {.epochs = 1, .batch_size = 6, .validation_split = 0.25, .verbose = 0},
        optimizer);
    REQUIRE(history.val_loss.size() == 1);
    CHECK(history.loss[0] == doctest::Approx(before).epsilon(1e-6));
    CHECK(history.val_loss[0] == keras::evaluate(model, narrow(xs, 0, 6, 2), narrow(ys, 0, 6, 2)));

    CHECK_THROWS_WITH_AS(keras::split_validation(x, y, 1.0),
                         doctest::Contains("validation_split must be in (0, 1), got 1"),
                         ValueError);
    CHECK_THROWS_WITH_AS(keras::split_validation(x, y, 0.9),
                         doctest::Contains("8 samples are not enough"), ValueError);
}

TEST_CASE("shuffling is a permutation drawn from the seeded default generator") {
    manual_seed(5);
    auto first = keras::epoch_order(10, true);
    manual_seed(5);
    CHECK(keras::epoch_order(10, true) == first);
    auto sorted = first;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == keras::epoch_order(10, false));
    CHECK(first != sorted);

    auto run = [](bool shuffle) {
        manual_seed(2);
        keras::Sequential model = small_model();
        Tensor x = rand({12, 3, 2}), y = rand({12, 2});
        keras::Adam optimizer(model.parameters(), {.learning_rate = 0.01});
        return keras::fit(model, x, y,
                          {.epochs = 3, .batch_size = 5, .shuffle = shuffle, .verbose = 0},
                          optimizer)
            .loss;
    };
    CHECK(run(true) == run(true));  // bit for bit
    CHECK(run(true) != run(false));
}

TEST_CASE("fit's log reads like Keras's") {
    manual_seed(3);
    keras::Sequential model = small_model();
    Tensor x = rand({10, 3, 2}), y = rand({10, 2});
    keras::Adam optimizer(model.parameters());
    std::ostringstream log;
    keras::fit(model, x, y,
               {.epochs = 2, .batch_size = 4, .validation_split = 0.2, .verbose = 1, .out = &log},
               optimizer);
    std::string text = log.str();
    // 8 training samples in batches of 4: two steps per epoch.
    CHECK(matches(
        text,
        R"(^Epoch 1/2\n2/2 \[={30}\] - \d+s \d+(s|ms|us)/step - loss: \d\.\d{4} - val_loss: \d\.\d{4}\nEpoch 2/2\n)"));

    std::ostringstream quiet, brief;
    keras::fit(model, x, y, {.epochs = 1, .verbose = 0, .out = &quiet}, optimizer);
    CHECK(quiet.str().empty());
    keras::fit(model, x, y, {.epochs = 1, .verbose = 2, .out = &brief}, optimizer);
    CHECK(matches(brief.str(),
                  R"(^1/1 - \d+s - loss: \d\.\d{4} - \d+(s|ms|us)/epoch - \d+(s|ms|us)/step\n$)"));
}

TEST_CASE("fit refuses data it cannot use, naming the shapes") {
    keras::Sequential model = small_model();
    keras::Adam optimizer(model.parameters());
    CHECK_THROWS_WITH_AS(keras::fit(model, rand({4, 3, 2}), rand({5, 2}), {}, optimizer),
                         doctest::Contains("x is [4, 3, 2], y is [5, 2]"), ShapeError);
    CHECK_THROWS_WITH_AS(
        keras::fit(model, rand({4, 3, 2}), rand({4, 2}), {.batch_size = 0}, optimizer),
        doctest::Contains("batch_size must be >= 1, got 0"), ValueError);
}
