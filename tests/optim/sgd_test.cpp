#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include "optim/parity_case.h"

using namespace tg;
using tg::test::Mismatch;

TEST_CASE("SGD matches PyTorch on every sgd case") {
    auto cases = test::parity_cases("sgd");
    REQUIRE(cases.size() == 10);
    Mismatch worst[2];
    for (const auto& c : cases) {
        Mismatch m = test::run_optimizer_case(c, [&](std::vector<Tensor> params) {
            return SGD(params, {.lr = c.number("lr"),
                                .momentum = c.number("momentum"),
                                .dampening = c.number("dampening"),
                                .weight_decay = c.number("weight_decay"),
                                .nesterov = c.flag("nesterov")});
        });
        test::merge(worst[c.text("dtype") == "float64"], m);
    }
    MESSAGE("SGD worst rel error: float32 ", worst[0].rel, ", float64 ", worst[1].rel);
}

TEST_CASE("SGD without momentum is p -= lr * grad") {
    Tensor w = Tensor::from({1.0, -1.0}, DType::f64).requires_grad_();
    SGD sgd({w}, {.lr = 0.5});
    w.set_grad(Tensor::from({2.0, 0.25}, DType::f64));
    sgd.step();
    CHECK(w.to_vector<double>() == std::vector<double>{0.0, -1.125});
    CHECK(sgd.state_dict().size() == 5);  // lr and four options, no state without momentum
}

TEST_CASE("SGD momentum starts from the first gradient, then b = momentum b + (1 - dampening) g") {
    Tensor w = zeros({1}, DType::f64).requires_grad_();
    SGD sgd({w}, {.lr = 1.0, .momentum = 0.5, .dampening = 0.5});
    w.set_grad(Tensor::from({4.0}, DType::f64));
    sgd.step();  // b = 4 (no dampening on the first step), w = -4
    CHECK(w.item() == -4.0);
    sgd.step();  // b = 2 + 2 = 4, w = -8
    CHECK(w.item() == -8.0);
    CHECK(sgd.state_dict().at("state.0.momentum_buffer").item() == 4.0);
}

TEST_CASE("SGD with Nesterov momentum steps along g + momentum b") {
    Tensor w = zeros({1}, DType::f64).requires_grad_();
    SGD sgd({w}, {.lr = 1.0, .momentum = 0.5, .nesterov = true});
    w.set_grad(Tensor::from({2.0}, DType::f64));
    sgd.step();  // b = 2, step 2 + 1 = 3
    CHECK(w.item() == -3.0);
    sgd.step();  // b = 1 + 2 = 3, step 2 + 1.5 = 3.5
    CHECK(w.item() == -6.5);
}

TEST_CASE("SGD weight decay adds weight_decay * p to the gradient") {
    Tensor w = Tensor::from({2.0}, DType::f64).requires_grad_();
    SGD sgd({w}, {.lr = 0.5, .weight_decay = 0.25});
    w.set_grad(Tensor::from({1.0}, DType::f64));
    sgd.step();  // d = 1 + 0.5
    CHECK(w.item() == 1.25);
}

TEST_CASE("SGD rejects invalid options as PyTorch does") {
    Tensor w = ones({2}).requires_grad_();
    CHECK_THROWS_WITH_AS(SGD({w}, {.momentum = 0.9}), doctest::Contains("SGD: lr is required"),
                         ValueError);
    CHECK_THROWS_WITH_AS(SGD({w}, {.lr = -1}), doctest::Contains("SGD: invalid learning rate: -1"),
                         ValueError);
    CHECK_THROWS_WITH_AS(SGD({w}, {.lr = 0.1, .momentum = -0.5}),
                         doctest::Contains("SGD: invalid momentum value: -0.5"), ValueError);
    CHECK_THROWS_WITH_AS(SGD({w}, {.lr = 0.1, .weight_decay = -2}),
                         doctest::Contains("SGD: invalid weight_decay value: -2"), ValueError);
    CHECK_THROWS_WITH_AS(SGD({w}, {.lr = 0.1, .nesterov = true}),
                         doctest::Contains("Nesterov momentum requires a momentum and zero "
                                           "dampening"),
                         ValueError);
    CHECK_THROWS_AS(SGD({w}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                    ValueError);
}
