#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>

using namespace tg;

namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

Tensor f64(std::vector<double> v, Shape shape) {
    return Tensor::from(std::move(v), shape, DType::f64);
}
Tensor indices(std::vector<double> v, Shape shape) {
    return Tensor::from(std::move(v), shape, DType::i64);
}

const Reduction kReductions[] = {Reduction::none, Reduction::mean, Reduction::sum};

}  // namespace

// ---- mse_loss, l1_loss ----

TEST_CASE("mse_loss values for every reduction") {
    Tensor x = Tensor::from({1.0, 2.0, 3.0}, DType::f64);
    Tensor t = Tensor::from({1.0, 0.0, 5.0}, DType::f64);
    CHECK(values(mse_loss(x, t, Reduction::none)) == std::vector<double>{0, 4, 4});
    CHECK(mse_loss(x, t, Reduction::sum).item() == 8.0);
    CHECK(mse_loss(x, t).item() == doctest::Approx(8.0 / 3.0));
    CHECK(mse_loss(x, t).dim() == 0);
}

TEST_CASE("mse_loss gradient matches finite differences for input and target") {
    Tensor x = f64({-1.5, 0.0, 0.25, 2.0, 3.0, -0.5}, {2, 3});
    Tensor t = f64({0.5, 0.0, -1.0, 2.0, 1.0, 0.5}, {2, 3});
    for (Reduction r : kReductions)
        CHECK(gradcheck([r](const std::vector<Tensor>& v) { return mse_loss(v[0], v[1], r); },
                        {x, t}));
}

TEST_CASE("mse_loss of float32 input and int64 target promotes to float32") {
    Tensor y = mse_loss(Tensor::from({1.0, 2.0}), Tensor::from({1.0, 4.0}, DType::i64));
    CHECK(y.dtype() == DType::f32);
    CHECK(y.item() == 2.0);
}

TEST_CASE("mse_loss of empty tensors: mean is NaN, sum is 0, as PyTorch") {
    Tensor e = zeros({0, 3}, DType::f64);
    CHECK(std::isnan(mse_loss(e, e).item()));
    CHECK(mse_loss(e, e, Reduction::sum).item() == 0.0);
    CHECK(mse_loss(e, e, Reduction::none).shape() == Shape{0, 3});
}

TEST_CASE("l1_loss values and gradient 0 at ties") {
    Tensor x = Tensor::from({1.0, 2.0, 3.0}, DType::f64).requires_grad_();
    Tensor t = Tensor::from({1.0, 0.0, 5.0}, DType::f64);
    CHECK(values(l1_loss(x, t, Reduction::none)) == std::vector<double>{0, 2, 2});
    CHECK(l1_loss(x, t, Reduction::sum).item() == 4.0);
    Tensor y = l1_loss(x, t);
    CHECK(y.item() == doctest::Approx(4.0 / 3.0));
    y.backward();
    std::vector<double> g = values(x.grad());
    CHECK(g[0] == 0.0);  // x == t: sign(0) = 0, as PyTorch
    CHECK(g[1] == doctest::Approx(1.0 / 3.0));
    CHECK(g[2] == doctest::Approx(-1.0 / 3.0));
}

TEST_CASE("l1_loss gradient matches finite differences, ties and zeros included") {
    // Central differences of |d| at d = 0 are 0, the same as the analytic gradient.
    Tensor x = f64({-1.5, 0.0, 0.25, 2.0, 0.0, -0.5}, {3, 2});
    Tensor t = f64({0.5, 0.0, -1.0, 2.0, 1.0, -0.5}, {3, 2});
    for (Reduction r : kReductions)
        CHECK(gradcheck([r](const std::vector<Tensor>& v) { return l1_loss(v[0], v[1], r); },
                        {x, t}));
}

TEST_CASE("mse_loss and l1_loss refuse mismatched shapes instead of broadcasting") {
    Tensor x = zeros({3}), t = zeros({3, 1});
    CHECK_THROWS_WITH_AS(
        mse_loss(x, t),
        doctest::Contains("mse_loss: input of shape [3] and target of shape [3, 1]"), ShapeError);
    CHECK_THROWS_WITH_AS(l1_loss(x, t), doctest::Contains("l1_loss"), ShapeError);
    CHECK_THROWS_WITH_AS(mse_loss(zeros({2}, DType::i64), zeros({2})),
                         doctest::Contains("mse_loss: input must be floating, got int64"),
                         DTypeError);
    CHECK_THROWS_AS(l1_loss(zeros({2}), Tensor()), ValueError);
}

TEST_CASE("a failed loss records nothing") {
    Tensor x = zeros({3}, DType::f64).requires_grad_();
    std::size_t before = tape_size();
    CHECK_THROWS_AS(mse_loss(x, zeros({2}, DType::f64)), ShapeError);
    CHECK_THROWS_AS(cross_entropy(zeros({2, 3}).requires_grad_(), indices({0, 3}, {2})),
                    IndexError);
    CHECK_THROWS_AS(binary_cross_entropy_with_logits(x, zeros({3}, DType::f64), Reduction::mean,
                                                     zeros({2}, DType::f64)),
                    ShapeError);
    CHECK(tape_size() == before);
}

// ---- nll_loss ----

TEST_CASE("nll_loss values: plain, weighted, ignored") {
    Tensor x = f64({-1, -2, -3, -0.5, -1.5, -2.5}, {2, 3});
    Tensor t = indices({2, 0}, {2});
    CHECK(values(nll_loss(x, t, {.reduction = Reduction::none})) == std::vector<double>{3, 0.5});
    CHECK(nll_loss(x, t, {.reduction = Reduction::sum}).item() == 3.5);
    CHECK(nll_loss(x, t).item() == 1.75);
    // Weighted mean divides by the weights of the targets: (4*3 + 1*0.5) / (4 + 1).
    Tensor w = Tensor::from({1.0, 2.0, 4.0}, DType::f64);
    CHECK(values(nll_loss(x, t, {.reduction = Reduction::none, .weight = w})) ==
          std::vector<double>{12, 0.5});
    CHECK(nll_loss(x, t, {.weight = w}).item() == 2.5);
    // An ignored target gives 0 and does not count in the mean.
    Tensor ti = indices({2, -100}, {2});
    CHECK(values(nll_loss(x, ti, {.reduction = Reduction::none})) == std::vector<double>{3, 0});
    CHECK(nll_loss(x, ti).item() == 3.0);
    CHECK(nll_loss(x, indices({2, 1}, {2}), {.ignore_index = 1}).item() == 3.0);
}

TEST_CASE("nll_loss with every target ignored: NaN mean, zero gradient, as PyTorch") {
    Tensor x = f64({-1, -2, -3, -0.5, -1.5, -2.5}, {2, 3}).requires_grad_();
    Tensor y = nll_loss(x, indices({-100, -100}, {2}));
    CHECK(std::isnan(y.item()));
    y.backward();
    CHECK(values(x.grad()) == std::vector<double>(6, 0.0));
}

TEST_CASE("nll_loss gradient matches finite differences") {
    Tensor x = f64({-1, -2, -3, -0.5, -1.5, -2.5, -0.1, -4, -2}, {3, 3});
    Tensor t = indices({2, 0, 0}, {3});
    Tensor ti = indices({2, -100, 1}, {3});
    Tensor w = Tensor::from({0.5, 2.0, 4.0}, DType::f64);
    for (Reduction r : kReductions) {
        CAPTURE(static_cast<int>(r));
        CHECK(gradcheck([&](const Tensor& v) { return nll_loss(v, t, {.reduction = r}); }, x));
        CHECK(gradcheck(
            [&](const Tensor& v) { return nll_loss(v, ti, {.reduction = r, .weight = w}); }, x));
    }
}

TEST_CASE("nll_loss on [C] and [N, C, d1, d2] inputs") {
    Tensor c = f64({-1, -2, -3}, {3});
    CHECK(nll_loss(c, indices({1}, {})).item() == 2.0);
    CHECK(gradcheck([&](const Tensor& v) { return nll_loss(v, indices({1}, {})); }, c));

    // [N=2, C=3, 2]: element (n, c, d) = -(n * 6 + c * 2 + d + 1).
    std::vector<double> v;
    for (int k = 0; k < 12; ++k) v.push_back(-(k + 1.0));
    Tensor x = f64(v, {2, 3, 2});
    Tensor t = indices({2, 0, 1, -100}, {2, 2});
    // picks x[0, 2, 0] = -5, x[0, 0, 1] = -2, x[1, 1, 0] = -9; the last is ignored.
    CHECK(values(nll_loss(x, t, {.reduction = Reduction::none})) ==
          std::vector<double>{5, 2, 9, 0});
    CHECK(nll_loss(x, t).item() == 16.0 / 3.0);
    Tensor w = Tensor::from({0.5, 2.0, 4.0}, DType::f64);
    for (Reduction r : kReductions)
        CHECK(gradcheck(
            [&](const Tensor& u) { return nll_loss(u, t, {.reduction = r, .weight = w}); }, x));
}

TEST_CASE("nll_loss errors name the op, the value and the shapes") {
    Tensor x = zeros({2, 4});
    CHECK_THROWS_WITH_AS(nll_loss(x, indices({0, 4}, {2})),
                         doctest::Contains("nll_loss: target 4 (at flat position 1) is out of "
                                           "range for C = 4 classes"),
                         IndexError);
    CHECK_THROWS_WITH_AS(nll_loss(x, indices({-1, 0}, {2})), doctest::Contains("target -1"),
                         IndexError);
    CHECK_THROWS_WITH_AS(nll_loss(x, zeros({2})),
                         doctest::Contains("nll_loss: target must hold int64 class indices"),
                         DTypeError);
    CHECK_THROWS_WITH_AS(nll_loss(x, indices({0, 1, 2}, {3})),
                         doctest::Contains("target of shape [3] does not fit input of shape "
                                           "[2, 4]; it must have shape [2]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(nll_loss(zeros({}), indices({0}, {})),
                         doctest::Contains("nll_loss: input must have a class dimension"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(nll_loss(x, indices({0, 1}, {2}), {.weight = ones({3})}),
                         doctest::Contains("weight must have shape [C] = [4], got shape [3]"),
                         ShapeError);
    CHECK_THROWS_AS(nll_loss(x, indices({0, 1}, {2}), {.weight = ones({4}, DType::i64)}),
                    DTypeError);
    CHECK_THROWS_AS(nll_loss(zeros({2, 4}, DType::i64), indices({0, 1}, {2})), DTypeError);
}

// ---- cross_entropy ----

TEST_CASE("cross_entropy values with class indices") {
    // softmax([0, ln 3]) = [1/4, 3/4].
    Tensor x = f64({0.0, std::log(3.0)}, {1, 2});
    CHECK(cross_entropy(x, indices({1}, {1})).item() == doctest::Approx(std::log(4.0 / 3.0)));
    CHECK(cross_entropy(x, indices({0}, {1})).item() == doctest::Approx(std::log(4.0)));
    CHECK(cross_entropy(zeros({4}, DType::f64), indices({2}, {})).item() ==
          doctest::Approx(std::log(4.0)));
    // Large logits do not overflow.
    Tensor big = f64({1000.0, 0.0}, {1, 2});
    CHECK(cross_entropy(big, indices({0}, {1})).item() == 0.0);
    CHECK(cross_entropy(big, indices({1}, {1})).item() == 1000.0);
    // float32 keeps its dtype.
    Tensor y32 = cross_entropy(Tensor::from({0.0, 0.0, 0.0, 0.0}, Shape{1, 4}), indices({3}, {1}));
    CHECK(y32.dtype() == DType::f32);
    CHECK(y32.item() == doctest::Approx(std::log(4.0)).epsilon(1e-6));
}

TEST_CASE("cross_entropy with weights and ignore_index, reduced by the kept weights") {
    // Row 0: target 1 (weight 2); row 1 ignored.
    Tensor x = f64({0.0, std::log(3.0), 0.0, 0.0}, {2, 2});
    Tensor w = Tensor::from({1.0, 2.0}, DType::f64);
    Tensor t = indices({1, -100}, {2});
    CHECK(cross_entropy(x, t, {.weight = w}).item() == doctest::Approx(std::log(4.0 / 3.0)));
    CHECK(cross_entropy(x, t, {.reduction = Reduction::sum, .weight = w}).item() ==
          doctest::Approx(2 * std::log(4.0 / 3.0)));
    CHECK(std::isnan(cross_entropy(x, indices({-100, -100}, {2})).item()));
}

TEST_CASE("cross_entropy label smoothing, as PyTorch") {
    Tensor x = f64({0.0, std::log(3.0)}, {1, 2});
    // (1 - s) * -log(3/4) + (s / C) * -(log(1/4) + log(3/4)), s = 0.5, C = 2.
    double expected = 0.5 * std::log(4.0 / 3.0) + 0.25 * std::log(16.0 / 3.0);
    CHECK(cross_entropy(x, indices({1}, {1}), {.label_smoothing = 0.5}).item() ==
          doctest::Approx(expected));
    // The same smoothing of a one-hot probability target gives the same loss.
    CHECK(cross_entropy(x, f64({0, 1}, {1, 2}), {.label_smoothing = 0.5}).item() ==
          doctest::Approx(expected));
    // With weights [1, 2] and a second, ignored row: the smoothing term is weighted
    // and both terms divide by the kept weight 2.
    Tensor x2 = f64({0.0, std::log(3.0), 0.0, 0.0}, {2, 2});
    Tensor w = Tensor::from({1.0, 2.0}, DType::f64);
    double weighted =
        (0.5 * 2 * std::log(4.0 / 3.0) + 0.25 * (std::log(4.0) + 2 * std::log(4.0 / 3.0))) / 2;
    CHECK(
        cross_entropy(x2, indices({1, -100}, {2}), {.label_smoothing = 0.5, .weight = w}).item() ==
        doctest::Approx(weighted));
}

TEST_CASE("cross_entropy values with class probabilities") {
    Tensor x = f64({0.0, std::log(3.0), 0.0, 0.0}, {2, 2});
    Tensor p = f64({0.5, 0.5, 1.0, 0.0}, {2, 2});
    // Row 0: -(log(1/4) + log(3/4)) / 2; row 1: log 2. The mean divides by N = 2.
    double row0 = 0.5 * std::log(16.0 / 3.0), row1 = std::log(2.0);
    std::vector<double> none = values(cross_entropy(x, p, {.reduction = Reduction::none}));
    CHECK(none[0] == doctest::Approx(row0));
    CHECK(none[1] == doctest::Approx(row1));
    CHECK(cross_entropy(x, p).item() == doctest::Approx((row0 + row1) / 2));
    // Weights multiply each class term; the mean still divides by N (PyTorch).
    Tensor w = Tensor::from({2.0, 0.0}, DType::f64);
    CHECK(cross_entropy(x, p, {.weight = w}).item() ==
          doctest::Approx((-std::log(0.25) + 2 * std::log(2.0)) / 2));
    // ignore_index plays no part.
    CHECK(cross_entropy(x, p, {.ignore_index = 0}).item() == doctest::Approx((row0 + row1) / 2));
    CHECK(std::isnan(cross_entropy(zeros({0, 3}, DType::f64), zeros({0, 3}, DType::f64)).item()));
}

TEST_CASE("cross_entropy gradient with class indices matches finite differences") {
    Tensor x = f64({0.3, -1.2, 2.0, 0.0, 0.0, 0.0, 5.0, -3.0, 0.5, 1.0, 1.0, -1.0}, {4, 3});
    Tensor t = indices({2, 0, 1, -100}, {4});
    Tensor w = Tensor::from({0.5, 2.0, 1.5}, DType::f64);
    for (Reduction r : kReductions) {
        CAPTURE(static_cast<int>(r));
        CHECK(gradcheck([&](const Tensor& v) { return cross_entropy(v, t, {.reduction = r}); }, x));
        CHECK(gradcheck(
            [&](const Tensor& v) { return cross_entropy(v, t, {.reduction = r, .weight = w}); },
            x));
        CHECK(gradcheck(
            [&](const Tensor& v) {
                return cross_entropy(v, t, {.reduction = r, .label_smoothing = 0.2, .weight = w});
            },
            x));
    }
}

TEST_CASE("cross_entropy gradient with class probabilities, into input and target") {
    Tensor x = f64({0.3, -1.2, 2.0, 0.0, 0.0, 0.0, 5.0, -3.0}, {2, 4});
    Tensor p = f64({0.1, 0.2, 0.3, 0.4, 0.0, 1.0, 0.0, 0.0}, {2, 4});
    Tensor w = Tensor::from({0.5, 2.0, 1.5, 1.0}, DType::f64);
    for (Reduction r : kReductions) {
        CAPTURE(static_cast<int>(r));
        CHECK(gradcheck(
            [&](const std::vector<Tensor>& v) {
                return cross_entropy(v[0], v[1], {.reduction = r, .weight = w});
            },
            {x, p}));
        CHECK(gradcheck(
            [&](const std::vector<Tensor>& v) {
                return cross_entropy(v[0], v[1], {.reduction = r, .label_smoothing = 0.3});
            },
            {x, p}));
    }
}

TEST_CASE("cross_entropy on [C] and [N, C, d1, d2] inputs") {
    Tensor c = f64({0.5, -1.0, 2.0}, {3});
    CHECK(gradcheck([](const Tensor& v) { return cross_entropy(v, indices({0}, {})); }, c));
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return cross_entropy(v[0], v[1]); },
                    {c, f64({0.2, 0.3, 0.5}, {3})}));

    std::vector<double> v;
    for (int k = 0; k < 24; ++k) v.push_back(std::sin(k * 1.7) * 2);
    Tensor x = f64(v, {2, 3, 2, 2});
    Tensor t = indices({0, 2, 1, -100, 2, 2, 0, 1}, {2, 2, 2});
    Tensor w = Tensor::from({0.5, 2.0, 1.5}, DType::f64);
    // The K-dim loss equals the 2-D loss of the same samples moved to rows.
    Tensor rows = permute(x, {0, 2, 3, 1}).reshape({8, 3});
    CHECK(cross_entropy(x, t, {.weight = w}).item() ==
          doctest::Approx(cross_entropy(rows, t.reshape({8}), {.weight = w}).item()));
    for (Reduction r : kReductions) {
        CAPTURE(static_cast<int>(r));
        CHECK(gradcheck(
            [&](const Tensor& u) {
                return cross_entropy(u, t, {.reduction = r, .label_smoothing = 0.1, .weight = w});
            },
            x));
    }
    std::vector<double> pv;
    for (int k = 0; k < 24; ++k) pv.push_back((k % 5) / 4.0);
    CHECK(gradcheck(
        [&](const std::vector<Tensor>& u) {
            return cross_entropy(u[0], u[1], {.reduction = Reduction::mean, .weight = w});
        },
        {x, f64(pv, {2, 3, 2, 2})}));
}

TEST_CASE("cross_entropy errors") {
    Tensor x = zeros({2, 3});
    CHECK_THROWS_WITH_AS(cross_entropy(x, indices({0, 3}, {2})),
                         doctest::Contains("cross_entropy: target 3 (at flat position 1) is out "
                                           "of range for C = 3 classes"),
                         IndexError);
    CHECK_THROWS_WITH_AS(cross_entropy(x, zeros({2})),
                         doctest::Contains("a class-probability target must have input's "
                                           "shape [2, 3], got shape [2]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(cross_entropy(x, indices({0, 1, 2}, {3})),
                         doctest::Contains("cross_entropy: class-index target of shape [3]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(cross_entropy(x, indices({0, 1}, {2}), {.label_smoothing = 1.5}),
                         doctest::Contains("label_smoothing must be in [0, 1], got 1.5"),
                         ValueError);
    CHECK_THROWS_AS(cross_entropy(x, indices({0, 1}, {2}), {.label_smoothing = NAN}), ValueError);
    CHECK_THROWS_AS(cross_entropy(zeros({}), indices({0}, {})), ShapeError);
    CHECK_THROWS_AS(cross_entropy(x, Tensor()), ValueError);
    CHECK_THROWS_AS(cross_entropy(zeros({2, 3}, DType::i64), indices({0, 1}, {2})), DTypeError);
}

// ---- binary_cross_entropy_with_logits ----

TEST_CASE("binary_cross_entropy_with_logits values, stable at large |x|") {
    Tensor x = Tensor::from({0.0, 0.0, 2.0, 1000.0, -1000.0, 1000.0}, DType::f64);
    Tensor t = Tensor::from({1.0, 0.0, 1.0, 0.0, 1.0, 1.0}, DType::f64);
    std::vector<double> y = values(binary_cross_entropy_with_logits(x, t, Reduction::none));
    CHECK(y[0] == doctest::Approx(std::log(2.0)));
    CHECK(y[1] == doctest::Approx(std::log(2.0)));
    CHECK(y[2] == doctest::Approx(std::log1p(std::exp(-2.0))));
    CHECK(y[3] == 1000.0);
    CHECK(y[4] == 1000.0);
    CHECK(y[5] == 0.0);
    // pos_weight scales the positive term only: -3 log sigmoid(0) for t = 1.
    Tensor pw = Tensor::from({3.0}, DType::f64);
    std::vector<double> yp = values(binary_cross_entropy_with_logits(
        Tensor::from({0.0, 0.0}, DType::f64), Tensor::from({1.0, 0.0}, DType::f64), Reduction::none,
        pw));
    CHECK(yp[0] == doctest::Approx(3 * std::log(2.0)));
    CHECK(yp[1] == doctest::Approx(std::log(2.0)));
    CHECK(binary_cross_entropy_with_logits(zeros({4}, DType::f64), ones({4}, DType::f64)).item() ==
          doctest::Approx(std::log(2.0)));
}

TEST_CASE("binary_cross_entropy_with_logits gradient at large |x| is finite") {
    Tensor x = Tensor::from({1000.0, -1000.0}).requires_grad_();
    binary_cross_entropy_with_logits(x, Tensor::from({0.0, 0.0}), Reduction::sum).backward();
    CHECK(values(x.grad()) == std::vector<double>{1.0, 0.0});  // sigmoid(x) - t
}

TEST_CASE("binary_cross_entropy_with_logits gradient matches finite differences") {
    Tensor x = f64({-30.0, -2.0, -0.3, 0.0, 0.3, 2.0, 30.0, 0.7}, {2, 4});
    Tensor t = f64({0.0, 1.0, 0.5, 1.0, 0.0, 0.25, 1.0, 0.9}, {2, 4});
    Tensor pw = Tensor::from({0.5, 1.0, 2.0, 3.0}, DType::f64);
    for (Reduction r : kReductions) {
        CAPTURE(static_cast<int>(r));
        CHECK(gradcheck(
            [r](const std::vector<Tensor>& v) {
                return binary_cross_entropy_with_logits(v[0], v[1], r);
            },
            {x, t}));
        CHECK(gradcheck(
            [&](const std::vector<Tensor>& v) {
                return binary_cross_entropy_with_logits(v[0], v[1], r, pw);
            },
            {x, t}));
    }
}

TEST_CASE("binary_cross_entropy_with_logits errors") {
    Tensor x = zeros({2, 3});
    CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, zeros({3})),
                         doctest::Contains("binary_cross_entropy_with_logits: input of shape "
                                           "[2, 3] and target of shape [3]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(
        binary_cross_entropy_with_logits(x, zeros({2, 3}), Reduction::mean, ones({2})),
        doctest::Contains("pos_weight of shape [2]"), ShapeError);
    CHECK_THROWS_AS(
        binary_cross_entropy_with_logits(x, zeros({2, 3}), Reduction::mean, ones({2, 2, 3})),
        ShapeError);
    CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, zeros({2, 3}, DType::i64)),
                         doctest::Contains("target must be floating, got int64"), DTypeError);
}
