#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <limits>

#include "optim/parity_case.h"

using namespace tg;
using tg::test::Mismatch;

namespace {

// Two parameters whose gradients are a case's grad.0 and grad.1.
std::vector<Tensor> params_with_grads(const test::ParityCase& c) {
    std::vector<Tensor> params;
    for (int k = 0; k < 2; ++k) {
        Tensor g = c.tensor(fmt::format("grad.{}", k));
        Tensor p = zeros_like(g).requires_grad_();
        p.set_grad(g.clone());
        params.push_back(p);
    }
    return params;
}

Mismatch compare_grads(const test::ParityCase& c, const std::vector<Tensor>& params) {
    Mismatch worst;
    for (int k = 0; k < 2; ++k)
        test::merge(worst,
                    test::compare(params[k].grad(), c.tensor(fmt::format("expected.grad.{}", k))));
    return worst;
}

}  // namespace

TEST_CASE("clip_grad_norm_ matches PyTorch's norm and scaled gradients") {
    auto cases = test::parity_cases("clip_grad_norm");
    REQUIRE(cases.size() == 10);
    Mismatch worst[2];
    for (const auto& c : cases) {
        std::vector<Tensor> params = params_with_grads(c);
        double total = clip_grad_norm_(params, c.number("max_norm"), c.number("norm_type"));
        Mismatch m = compare_grads(c, params);
        test::merge(m, test::compare(Tensor::scalar(total, params[0].dtype()),
                                     c.tensor("expected.total_norm")));
        INFO(c.name, ": max abs error ", m.abs, ", max rel error ", m.rel);
        CHECK(m.rel <= test::optimizer_rtol(params[0].dtype()));
        test::merge(worst[c.text("dtype") == "float64"], m);
    }
    MESSAGE("clip_grad_norm_ worst rel error: float32 ", worst[0].rel, ", float64 ", worst[1].rel);
}

TEST_CASE("clip_grad_value_ matches PyTorch") {
    auto cases = test::parity_cases("clip_grad_value");
    REQUIRE(cases.size() == 2);
    for (const auto& c : cases) {
        std::vector<Tensor> params = params_with_grads(c);
        clip_grad_value_(params, c.number("clip_value"));
        CHECK(compare_grads(c, params).abs == 0.0);
    }
}

TEST_CASE("clip_grad_norm_ scales by max_norm / (norm + 1e-6) only when the norm is larger") {
    Tensor a = zeros({2}, DType::f64).requires_grad_();
    Tensor b = zeros({1}, DType::f64).requires_grad_();
    Tensor none = zeros({3}, DType::f64).requires_grad_();  // no gradient: skipped
    a.set_grad(Tensor::from({3.0, 0.0}, DType::f64));
    b.set_grad(Tensor::from({-4.0}, DType::f64));
    CHECK(clip_grad_norm_({a, b, none}, 10.0) == 5.0);
    CHECK(a.grad().to_vector<double>() == std::vector<double>{3.0, 0.0});  // coefficient 1
    CHECK(clip_grad_norm_({a, b, none}, 1.0) == 5.0);
    double coef = 1.0 / (5.0 + 1e-6);
    CHECK(a.grad().at({0}) == 3.0 * coef);
    CHECK(b.grad().at({0}) == -4.0 * coef);
    CHECK_FALSE(none.grad().defined());
}

TEST_CASE("clip_grad_norm_ with the infinity norm uses the largest magnitude") {
    Tensor a = zeros({3}).requires_grad_();
    a.set_grad(Tensor::from({1.0, -8.0, 2.0}));
    CHECK(clip_grad_norm_({a}, 4.0, std::numeric_limits<double>::infinity()) == 8.0);
    CHECK(a.grad().at({1}) == doctest::Approx(-4.0));
}

TEST_CASE("clip_grad_norm_ without gradients returns 0; bad arguments throw") {
    Tensor a = ones({2}).requires_grad_();
    CHECK(clip_grad_norm_({a}, 1.0) == 0.0);
    CHECK(clip_grad_norm_({}, 1.0) == 0.0);
    CHECK_THROWS_WITH_AS(clip_grad_norm_({a}, -1.0), doctest::Contains("max_norm must be >= 0"),
                         ValueError);
    CHECK_THROWS_WITH_AS(clip_grad_norm_({a}, 1.0, 0.0),
                         doctest::Contains("norm_type must be positive"), ValueError);
    CHECK_THROWS_WITH_AS(clip_grad_value_({a}, -0.5),
                         doctest::Contains("clip_value must be >= 0, got -0.5"), ValueError);
}

TEST_CASE("clip_grad_value_ clamps into [-clip_value, clip_value] and keeps NaN") {
    Tensor a = zeros({4}, DType::f64).requires_grad_();
    a.set_grad(Tensor::from({-3.0, 0.25, 2.0, std::nan("")}, DType::f64));
    clip_grad_value_({a}, 1.0);
    std::vector<double> g = a.grad().to_vector<double>();
    CHECK(g[0] == -1.0);
    CHECK(g[1] == 0.25);
    CHECK(g[2] == 1.0);
    CHECK(std::isnan(g[3]));
}
