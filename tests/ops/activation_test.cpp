#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>
#include <limits>

using namespace tg;

namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Each lane of y along dim 1 of a [outer, n, inner] tensor sums to one.
void check_lanes_sum_to_one(const Tensor& y) {
    for (std::int64_t o = 0; o < y.size(0); ++o)
        for (std::int64_t i = 0; i < y.size(2); ++i) {
            double total = 0;
            for (std::int64_t k = 0; k < y.size(1); ++k) total += y.at({o, k, i});
            CHECK(total == doctest::Approx(1.0));
        }
}

const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("tanh values and gradient") {
    Tensor x = Tensor::from({-2.0, -0.5, 0.0, 0.5, 2.0}, DType::f64);
    std::vector<double> y = values(tanh(x));
    for (std::size_t i = 0; i < y.size(); ++i)
        CHECK(y[i] == doctest::Approx(std::tanh(x.at({std::int64_t(i)}))));
    CHECK(values(tanh(Tensor::from({-50.0, 50.0}, DType::f64))) == std::vector<double>{-1, 1});
    CHECK(gradcheck([](const Tensor& v) { return tanh(v); }, x));
}

TEST_CASE("tanh backward is dy * (1 - y^2)") {
    Tensor x = Tensor::from({0.0}, DType::f64).requires_grad_();
    tanh(x).backward(Tensor::from({3.0}, DType::f64));
    CHECK(x.grad().item() == 3.0);  // 1 - tanh(0)^2 = 1
}

TEST_CASE("sigmoid values, including large |x| without overflow") {
    Tensor x = Tensor::from({-1000.0, -1.0, 0.0, 1.0, 1000.0}, DType::f64);
    std::vector<double> y = values(sigmoid(x));
    CHECK(y[0] == 0.0);
    CHECK(y[1] == doctest::Approx(1.0 / (1.0 + std::exp(1.0))));
    CHECK(y[2] == 0.5);
    CHECK(y[3] == doctest::Approx(1.0 / (1.0 + std::exp(-1.0))));
    CHECK(y[4] == 1.0);
    std::vector<double> y32 = values(sigmoid(Tensor::from({-1000.0, 1000.0})));
    CHECK(y32 == std::vector<double>{0.0, 1.0});
}

TEST_CASE("sigmoid gradient is finite at large |x| and matches finite differences") {
    Tensor x = Tensor::from({-1000.0, 1000.0}).requires_grad_();
    sigmoid(x).backward(ones({2}));
    CHECK(values(x.grad()) == std::vector<double>{0.0, 0.0});
    Tensor v = Tensor::from({-30.0, -2.0, -0.3, 0.0, 0.3, 2.0, 30.0}, DType::f64);
    CHECK(gradcheck([](const Tensor& t) { return sigmoid(t); }, v));
}

TEST_CASE("relu values, NaN propagation and int64") {
    Tensor x = Tensor::from({-2.0, -0.0, 0.0, 1.5, std::nan("")}, DType::f64);
    std::vector<double> y = values(relu(x));
    CHECK(y[0] == 0.0);
    CHECK(y[1] == 0.0);
    CHECK(y[2] == 0.0);
    CHECK(y[3] == 1.5);
    CHECK(std::isnan(y[4]));
    Tensor i = relu(Tensor::from({-3.0, 4.0}, DType::i64));
    CHECK(i.dtype() == DType::i64);
    CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 4});
}

TEST_CASE("relu gradient is 0 at x = 0, as PyTorch") {
    Tensor x = Tensor::from({-1.0, 0.0, 2.0}, DType::f64).requires_grad_();
    relu(x).backward(Tensor::from({5.0, 5.0, 5.0}, DType::f64));
    CHECK(values(x.grad()) == std::vector<double>{0.0, 0.0, 5.0});
    // Finite differences are not defined at the kink, so check away from it.
    Tensor v = Tensor::from({-1.5, -0.1, 0.1, 2.0}, DType::f64);
    CHECK(gradcheck([](const Tensor& t) { return relu(t); }, v));
}

TEST_CASE("float-only activations take int64 as float32") {
    Tensor i = Tensor::from({0.0, 1.0}, DType::i64);
    CHECK(tanh(i).dtype() == DType::f32);
    CHECK(sigmoid(i).dtype() == DType::f32);
    CHECK(softmax(i, 0).dtype() == DType::f32);
    CHECK(log_softmax(i, 0).dtype() == DType::f32);
    CHECK(values(sigmoid(i))[0] == 0.5);
}

TEST_CASE("softmax values") {
    // e^0 : e^ln2 : e^ln3 = 1 : 2 : 3.
    Tensor x = Tensor::from({0.0, std::log(2.0), std::log(3.0)}, DType::f64);
    std::vector<double> y = values(softmax(x, 0));
    CHECK(y[0] == doctest::Approx(1.0 / 6));
    CHECK(y[1] == doctest::Approx(2.0 / 6));
    CHECK(y[2] == doctest::Approx(3.0 / 6));
    std::vector<double> ly = values(log_softmax(x, -1));
    CHECK(ly[0] == doctest::Approx(std::log(1.0 / 6)));
    CHECK(ly[1] == doctest::Approx(std::log(2.0 / 6)));
    CHECK(ly[2] == doctest::Approx(std::log(3.0 / 6)));
}

TEST_CASE("softmax and log_softmax are stable for large inputs") {
    for (DType d : {DType::f32, DType::f64}) {
        Tensor x = Tensor::from({1000.0, 1000.0, -1000.0}, d);
        CHECK(values(softmax(x, 0)) == std::vector<double>{0.5, 0.5, 0.0});
        std::vector<double> ly = values(log_softmax(Tensor::from({1000.0, 0.0}, d), 0));
        CHECK(ly[0] == 0.0);
        CHECK(ly[1] == -1000.0);
    }
    std::vector<double> y = values(softmax(Tensor::from({-kInf, 0.0}, DType::f64), 0));
    CHECK(y == std::vector<double>{0.0, 1.0});
    // An all -inf lane is 0/0, NaN as in PyTorch.
    CHECK(std::isnan(values(softmax(Tensor::from({-kInf, -kInf}, DType::f64), 0))[0]));
}

TEST_CASE("softmax normalises along the chosen dimension only") {
    Tensor x = Tensor::from({0.1, -1.2, 0.7, 2.0, 0.0, 0.3, -0.4, 1.1, 0.9, -2.0, 0.5, 0.25},
                            Shape{2, 3, 2}, DType::f64);
    check_lanes_sum_to_one(softmax(x, 1));
    check_lanes_sum_to_one(softmax(x, -2));
    check_lanes_sum_to_one(softmax(x, 2).reshape({6, 2, 1}));
    check_lanes_sum_to_one(softmax(x, 0).reshape({1, 2, 6}));
    // log_softmax is the log of softmax, lane by lane.
    for (std::int64_t dim : {0, 1, 2}) {
        std::vector<double> s = values(softmax(x, dim)), ls = values(log_softmax(x, dim));
        for (std::size_t i = 0; i < s.size(); ++i) CHECK(ls[i] == doctest::Approx(std::log(s[i])));
    }
}

TEST_CASE("softmax and log_softmax gradients match finite differences") {
    Tensor x = Tensor::from({0.1, -1.2, 0.7, 2.0,  0.0, 0.3, -0.4, 1.1, 0.9, -2.0, 0.5, 0.25,
                             0.0, 0.0,  3.0, -3.0, 1.0, 1.0, -0.5, 0.6, 0.2, -0.2, 0.8, 0.8},
                            Shape{2, 3, 4}, DType::f64);
    for (std::int64_t dim : {0, 1, 2, -1}) {
        CAPTURE(dim);
        CHECK(gradcheck([dim](const Tensor& v) { return softmax(v, dim); }, x));
        CHECK(gradcheck([dim](const Tensor& v) { return log_softmax(v, dim); }, x));
    }
}

TEST_CASE("softmax backward by hand: y * (dy - sum(dy * y))") {
    Tensor x = Tensor::from({0.0, 0.0}, DType::f64).requires_grad_();
    softmax(x, 0).backward(Tensor::from({1.0, 0.0}, DType::f64));
    // y = [0.5, 0.5], sum(dy * y) = 0.5: dx = [0.25, -0.25].
    CHECK(values(x.grad()) == std::vector<double>{0.25, -0.25});
    Tensor z = Tensor::from({0.0, 0.0}, DType::f64).requires_grad_();
    log_softmax(z, 0).backward(Tensor::from({1.0, 0.0}, DType::f64));
    // dx = dy - e^y * sum(dy) = [1 - 0.5, 0 - 0.5].
    CHECK(values(z.grad()) == std::vector<double>{0.5, -0.5});
}

TEST_CASE("softmax of 0-D and empty tensors") {
    CHECK(softmax(Tensor::scalar(3.0, DType::f64), 0).item() == 1.0);
    CHECK(log_softmax(Tensor::scalar(3.0, DType::f64), -1).item() == 0.0);
    Tensor e = softmax(zeros({0, 3}), 1);
    CHECK(e.shape() == Shape{0, 3});
    CHECK(log_softmax(zeros({2, 0}), 1).shape() == Shape{2, 0});
}

TEST_CASE("softmax rejects a dimension out of range") {
    Tensor x = zeros({2, 3}).requires_grad_();
    CHECK_THROWS_WITH_AS(softmax(x, 2), doctest::Contains("softmax"), IndexError);
    CHECK_THROWS_WITH_AS(log_softmax(x, -3), doctest::Contains("log_softmax"), IndexError);
    CHECK(tape_size() == 0);
}

TEST_CASE("dropout off: training = false or p = 0 returns x itself") {
    Tensor x = Tensor::from({1.0, 2.0}).requires_grad_();
    CHECK(dropout(x, 0.5, /*training=*/false).is_same(x));
    CHECK(dropout(x, 0.0).is_same(x));
    CHECK(tape_size() == 0);
}

TEST_CASE("dropout rejects p outside [0, 1]") {
    Tensor x = ones({4});
    CHECK_THROWS_WITH_AS(dropout(x, -0.1), doctest::Contains("-0.1"), ValueError);
    CHECK_THROWS_WITH_AS(dropout(x, 1.5, false), doctest::Contains("1.5"), ValueError);
    CHECK_THROWS_AS(dropout(x, std::nan("")), ValueError);
}

TEST_CASE("dropout with p = 1 gives zeros and zero gradient") {
    Tensor x = Tensor::from({1.0, -2.0, 3.0}, DType::f64).requires_grad_();
    Tensor y = dropout(x, 1.0);
    CHECK(values(y) == std::vector<double>{0, 0, 0});
    y.backward(ones({3}, DType::f64));
    CHECK(values(x.grad()) == std::vector<double>{0, 0, 0});
}

TEST_CASE("dropout keeps elements scaled by 1 / (1 - p), reproducibly under a seed") {
    manual_seed(7);
    std::vector<double> a = values(dropout(ones({200}, DType::f64), 0.5));
    manual_seed(7);
    std::vector<double> b = values(dropout(ones({200}, DType::f64), 0.5));
    CHECK(a == b);
    std::vector<double> c = values(dropout(ones({200}, DType::f64), 0.5));
    CHECK(a != c);  // the generator moved on
    int kept = 0;
    for (double v : a) {
        CHECK((v == 0.0 || v == 2.0));
        kept += v != 0.0;
    }
    CHECK(kept > 50);
    CHECK(kept < 150);
}

TEST_CASE("dropout preserves the mean over a large tensor") {
    manual_seed(11);
    const double p = 0.3;
    std::vector<double> y = values(dropout(ones({100000}, DType::f64), p));
    double total = 0, kept = 0;
    for (double v : y) total += v, kept += v != 0.0;
    CHECK(total / double(y.size()) == doctest::Approx(1.0).epsilon(0.02));
    CHECK(kept / double(y.size()) == doctest::Approx(1.0 - p).epsilon(0.02));
}

TEST_CASE("dropout backward multiplies by the same mask") {
    manual_seed(5);
    Tensor x = ones({64}, DType::f64).requires_grad_();
    Tensor y = dropout(x, 0.25);
    y.backward(ones({64}, DType::f64));
    CHECK(values(x.grad()) == values(y));  // x = 1, so y is the mask itself
    Tensor v = Tensor::from({-1.0, 0.0, 0.5, 2.0, -3.0, 1.5, 0.25, 4.0}, DType::f64);
    CHECK(gradcheck(
        [](const Tensor& t) {
            manual_seed(3);  // every evaluation draws the same mask
            return dropout(t, 0.4);
        },
        v));
}

TEST_CASE("dropout of int64 works on float32") {
    Tensor y = dropout(Tensor::from({1.0, 2.0, 3.0}, DType::i64), 0.5);
    CHECK(y.dtype() == DType::f32);
}
