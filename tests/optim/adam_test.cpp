#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include "optim/parity_case.h"

using namespace tg;
using tg::test::Mismatch;

namespace {

AdamOptions adam_options(const test::ParityCase& c) {
    return {.lr = c.number("lr"),
            .betas = {c.number("beta1"), c.number("beta2")},
            .eps = c.number("eps"),
            .weight_decay = c.number("weight_decay"),
            .amsgrad = c.flag("amsgrad")};
}

}  // namespace

TEST_CASE("Adam matches PyTorch on every adam case") {
    auto cases = test::parity_cases("adam");
    REQUIRE(cases.size() == 10);
    Mismatch worst[2];
    for (const auto& c : cases) {
        Mismatch m = test::run_optimizer_case(
            c, [&](std::vector<Tensor> params) { return Adam(params, adam_options(c)); });
        test::merge(worst[c.text("dtype") == "float64"], m);
    }
    MESSAGE("Adam worst rel error: float32 ", worst[0].rel, ", float64 ", worst[1].rel);
}

TEST_CASE("AdamW matches PyTorch on every adamw case") {
    auto cases = test::parity_cases("adamw");
    REQUIRE(cases.size() == 6);
    Mismatch worst[2];
    for (const auto& c : cases) {
        Mismatch m = test::run_optimizer_case(c, [&](std::vector<Tensor> params) {
            AdamOptions o = adam_options(c);
            return AdamW(params, {.lr = o.lr,
                                  .betas = o.betas,
                                  .eps = o.eps,
                                  .weight_decay = o.weight_decay,
                                  .amsgrad = o.amsgrad});
        });
        test::merge(worst[c.text("dtype") == "float64"], m);
    }
    MESSAGE("AdamW worst rel error: float32 ", worst[0].rel, ", float64 ", worst[1].rel);
}

TEST_CASE("Adam's first step moves each parameter by about lr against its gradient's sign") {
    // Step 1: m / (1 - beta1) = g and sqrt(v / (1 - beta2)) = |g|, so p -= lr g / (|g| + eps).
    Tensor w = Tensor::from({1.0, -2.0, 0.5}, DType::f64).requires_grad_();
    Adam adam({w}, {.lr = 0.1});
    w.set_grad(Tensor::from({3.0, -0.25, 0.0}, DType::f64));
    adam.step();
    CHECK(w.at({0}) == doctest::Approx(0.9).epsilon(1e-7));
    CHECK(w.at({1}) == doctest::Approx(-1.9).epsilon(1e-7));
    CHECK(w.at({2}) == 0.5);  // a zero gradient leaves the parameter (0 / eps)
}

TEST_CASE("AdamW shrinks parameters by 1 - lr * weight_decay, independent of the gradient") {
    Tensor w = Tensor::from({2.0, -4.0}).requires_grad_();
    AdamW adamw({w}, {.lr = 0.5, .weight_decay = 0.1});
    w.set_grad(zeros({2}));
    adamw.step();  // m = v = 0: the Adam part adds 0
    CHECK(w.to_vector<double>() == std::vector<double>{1.9f, -3.8f});
    CHECK(adamw.state_dict().at("weight_decay").item() == 0.1);
}

TEST_CASE("Adam updates in place, keeps the parameter object and skips missing gradients") {
    Tensor a = ones({2, 2}).requires_grad_();
    Tensor b = ones({3}).requires_grad_();
    const float* storage = a.data<float>();
    Adam adam({a, b}, {.lr = 0.1});
    a.set_grad(ones({2, 2}));
    std::uint64_t version = a.version();
    adam.step();
    CHECK(a.data<float>() == storage);
    CHECK(a.version() > version);
    CHECK(a.at({1, 1}) == doctest::Approx(0.9));
    CHECK(b.to_vector<float>() == std::vector<float>{1, 1, 1});
    CHECK(tape_size() == 0);
    StateDict state = adam.state_dict();
    CHECK(state.contains("state.0.exp_avg"));
    CHECK_FALSE(state.contains("state.1.exp_avg"));  // b never had a step, as in PyTorch
    CHECK(state.at("state.0.step").item() == 1.0);
    CHECK_FALSE(state.contains("state.0.max_exp_avg_sq"));
}

TEST_CASE("Adam with amsgrad keeps max_exp_avg_sq, the running maximum of exp_avg_sq") {
    Tensor w = zeros({1}, DType::f64).requires_grad_();
    Adam adam({w}, {.lr = 0.1, .betas = {0.5, 0.5}, .amsgrad = true});
    w.set_grad(Tensor::from({2.0}, DType::f64));
    adam.step();  // v = 0.5 * 4 = 2
    w.set_grad(Tensor::from({0.0}, DType::f64));
    adam.step();  // v = 1, max stays 2
    StateDict state = adam.state_dict();
    CHECK(state.at("state.0.exp_avg_sq").item() == 1.0);
    CHECK(state.at("state.0.max_exp_avg_sq").item() == 2.0);
}

TEST_CASE("Adam and AdamW reject invalid options as PyTorch does") {
    Tensor w = ones({2}).requires_grad_();
    CHECK_THROWS_WITH_AS(Adam({w}, {.lr = -0.1}),
                         doctest::Contains("Adam: invalid learning rate: -0.1"), ValueError);
    CHECK_THROWS_WITH_AS(Adam({w}, {.eps = -1e-8}),
                         doctest::Contains("Adam: invalid epsilon value: -1e-08"), ValueError);
    CHECK_THROWS_WITH_AS(Adam({w}, {.betas = {1.0, 0.999}}),
                         doctest::Contains("Adam: invalid beta parameter at index 0: 1"),
                         ValueError);
    CHECK_THROWS_WITH_AS(Adam({w}, {.betas = {0.9, -0.5}}),
                         doctest::Contains("invalid beta parameter at index 1: -0.5"), ValueError);
    CHECK_THROWS_WITH_AS(Adam({w}, {.weight_decay = -1}),
                         doctest::Contains("Adam: invalid weight_decay value: -1"), ValueError);
    CHECK_THROWS_WITH_AS(AdamW({w}, {.betas = {0.9, 1.0}}),
                         doctest::Contains("AdamW: invalid beta parameter at index 1: 1"),
                         ValueError);
}
