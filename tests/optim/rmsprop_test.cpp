#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include "optim/parity_case.h"

using namespace tg;
using tg::test::Mismatch;

TEST_CASE("RMSprop matches PyTorch on every rmsprop case") {
    auto cases = test::parity_cases("rmsprop");
    REQUIRE(cases.size() == 8);
    Mismatch worst[2];
    for (const auto& c : cases) {
        Mismatch m = test::run_optimizer_case(c, [&](std::vector<Tensor> params) {
            return RMSprop(params, {.lr = c.number("lr"),
                                    .alpha = c.number("alpha"),
                                    .eps = c.number("eps"),
                                    .weight_decay = c.number("weight_decay"),
                                    .momentum = c.number("momentum"),
                                    .centered = c.flag("centered")});
        });
        test::merge(worst[c.text("dtype") == "float64"], m);
    }
    MESSAGE("RMSprop worst rel error: float32 ", worst[0].rel, ", float64 ", worst[1].rel);
}

TEST_CASE("RMSprop divides the gradient by the root of its running mean square") {
    Tensor w = zeros({2}, DType::f64).requires_grad_();
    RMSprop rmsprop({w}, {.lr = 0.1, .alpha = 0.75, .eps = 0.0});
    w.set_grad(Tensor::from({2.0, -4.0}, DType::f64));
    rmsprop.step();  // s = 0.25 g^2, p -= 0.1 g / (0.5 |g|)
    CHECK(w.to_vector<double>() == std::vector<double>{-0.2, 0.2});
    StateDict state = rmsprop.state_dict();
    CHECK(state.at("state.0.square_avg").to_vector<double>() == std::vector<double>{1.0, 4.0});
    CHECK(state.at("state.0.step").item() == 1.0);
    CHECK_FALSE(state.contains("state.0.grad_avg"));
}

TEST_CASE("centered RMSprop subtracts the squared mean gradient") {
    Tensor w = zeros({1}, DType::f64).requires_grad_();
    RMSprop rmsprop({w}, {.lr = 1.0, .alpha = 0.5, .eps = 0.0, .centered = true});
    w.set_grad(Tensor::from({2.0}, DType::f64));
    rmsprop.step();  // s = 2, a = 1, avg = sqrt(2 - 1) = 1
    CHECK(w.item() == -2.0);
    CHECK(rmsprop.state_dict().at("state.0.grad_avg").item() == 1.0);
}

TEST_CASE("RMSprop rejects invalid options as PyTorch does") {
    Tensor w = ones({2}).requires_grad_();
    CHECK_THROWS_WITH_AS(RMSprop({w}, {.lr = -1e-3}),
                         doctest::Contains("RMSprop: invalid learning rate: -0.001"), ValueError);
    CHECK_THROWS_WITH_AS(RMSprop({w}, {.eps = -1}),
                         doctest::Contains("RMSprop: invalid epsilon value: -1"), ValueError);
    CHECK_THROWS_WITH_AS(RMSprop({w}, {.momentum = -1}),
                         doctest::Contains("RMSprop: invalid momentum value: -1"), ValueError);
    CHECK_THROWS_WITH_AS(RMSprop({w}, {.weight_decay = -1}),
                         doctest::Contains("RMSprop: invalid weight_decay value: -1"), ValueError);
    CHECK_THROWS_WITH_AS(RMSprop({w}, {.alpha = -0.5}),
                         doctest::Contains("RMSprop: invalid alpha value: -0.5"), ValueError);
}
