#include <doctest/doctest.h>
#include <tapegrad/core/generator.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/gradcheck.h>
#include <tapegrad/ops/reduce.h>

#include <cmath>
#include <vector>

using namespace tg;

namespace {

using Values = std::vector<double>;

Values values(const Tensor& t) { return t.to_vector<double>(); }

// [[1, 2, 3], [4, 5, 6]] in float64.
Tensor small() { return Tensor::from({{1, 2, 3}, {4, 5, 6}}, DType::f64); }

// x[i, j, k] = 12 i + 4 j + k, shape [2, 3, 4].
Tensor counting() { return arange(24, DType::f64).reshape({2, 3, 4}); }

bool all_nan(const Tensor& t) {
    for (double v : values(t))
        if (!std::isnan(v)) return false;
    return true;
}

}  // namespace

TEST_CASE("sum of all elements is 0-D and keeps the dtype") {
    Tensor y = sum(small());
    CHECK(y.shape() == Shape{});
    CHECK(y.dtype() == DType::f64);
    CHECK(y.item() == 21);
    CHECK(sum(Tensor::from({1.5, 2.5})).dtype() == DType::f32);
    Tensor i = sum(arange(5, DType::i64));
    CHECK(i.dtype() == DType::i64);
    CHECK(i.item() == 10);
}

TEST_CASE("sum over dims, negative dims and keepdim") {
    Tensor x = small();
    CHECK(values(sum(x, {0})) == Values{5, 7, 9});
    CHECK(values(sum(x, {1})) == Values{6, 15});
    CHECK(values(sum(x, {-1})) == Values{6, 15});
    CHECK(sum(x, {1}).shape() == Shape{2});
    CHECK(sum(x, {1}, true).shape() == Shape{2, 1});
    CHECK(sum(x, {0}, true).shape() == Shape{1, 3});
    CHECK(sum(x, {0, 1}).item() == 21);
    CHECK(sum(x, {1, 0}, true).shape() == Shape{1, 1});
    CHECK(sum(x, {}).shape() == Shape{});  // dim=[] reduces everything, as PyTorch
}

TEST_CASE("sum over non-adjacent dims matches hand sums") {
    // sum over i, k of 12 i + 4 j + k = 32 j + 48 + 12.
    Tensor y = sum(counting(), {0, 2});
    CHECK(y.shape() == Shape{3});
    CHECK(values(y) == Values{60, 92, 124});
    CHECK(sum(counting(), {-3, -1}, true).shape() == Shape{1, 3, 1});
    // Adjacent block in the middle: sum over j, k of 12 i + 4 j + k = 144 i + 48 + 18.
    CHECK(values(sum(counting(), {1, 2})) == Values{66, 210});
}

TEST_CASE("sum and mean of empty tensors") {
    Tensor e = zeros({0, 3}, DType::f64);
    CHECK(sum(e).item() == 0);
    CHECK(values(sum(e, {0})) == Values{0, 0, 0});
    CHECK(sum(e, {1}).shape() == Shape{0});
    CHECK(std::isnan(mean(e).item()));
    Tensor m = mean(e, {0});
    CHECK(m.shape() == Shape{3});
    CHECK(all_nan(m));
    CHECK(mean(e, {1}).shape() == Shape{0});
}

TEST_CASE("0-D inputs accept dim 0 and -1") {
    Tensor s = Tensor::scalar(4.0, DType::f64);
    CHECK(sum(s, {0}).item() == 4);
    CHECK(sum(s, {-1}, true).shape() == Shape{});
    CHECK(mean(s).item() == 4);
    auto [v, i] = max(s, 0);
    CHECK(v.item() == 4);
    CHECK(i.item() == 0);
    CHECK(argmin(s).item() == 0);
}

TEST_CASE("mean values") {
    CHECK(mean(small()).item() == 3.5);
    CHECK(values(mean(small(), {0})) == Values{2.5, 3.5, 4.5});
    CHECK(values(mean(small(), {-1}, true)) == Values{2, 5});
    CHECK(mean(small(), {-1}, true).shape() == Shape{2, 1});
    CHECK(values(mean(counting(), {0, 2})) == Values{7.5, 11.5, 15.5});
}

TEST_CASE("reduction argument errors leave the tape unchanged") {
    Tensor x = small().requires_grad_();
    CHECK_THROWS_WITH_AS(sum(x, {1, -1}), doctest::Contains("more than once"), ValueError);
    CHECK_THROWS_WITH_AS(mean(x, {0, 0}), doctest::Contains("mean"), ValueError);
    CHECK_THROWS_AS(sum(x, {2}), IndexError);
    CHECK_THROWS_AS(sum(Tensor::scalar(1.0), {0, -1}), ValueError);
    CHECK_THROWS_WITH_AS(mean(arange(3, DType::i64)), doctest::Contains("int64"), DTypeError);
    CHECK_THROWS_AS(mean(arange(3, DType::i64), {0}), DTypeError);
    CHECK_THROWS_AS(max(x, 2), IndexError);
    CHECK_THROWS_AS(sum(Tensor()), ValueError);
    CHECK(tape_size() == 0);
}

TEST_CASE("sum gradients match finite differences") {
    Tensor x = Tensor::from({-1.5, 0.0, 2.0, 3.0, -0.5, 1.0}, Shape{2, 3}, DType::f64);
    CHECK(gradcheck([](const Tensor& v) { return sum(v); }, x));
    CHECK(gradcheck([](const Tensor& v) { return sum(v, {0}); }, x));
    CHECK(gradcheck([](const Tensor& v) { return sum(v, {-1}, true); }, x));
    CHECK(gradcheck([](const Tensor& v) { return sum(v * v, {1}); }, x));
    // The broadcast_loop path (non-adjacent dims) and a middle block.
    CHECK(gradcheck([](const Tensor& v) { return sum(v * v, {0, 2}); }, counting()));
    CHECK(gradcheck([](const Tensor& v) { return sum(v * v, {1, 2}, true); }, counting()));
    CHECK(gradcheck([](const Tensor& v) { return sum(v, {1}); }, zeros({2, 1, 3}, DType::f64)));
    CHECK(gradcheck([](const Tensor& v) { return sum(v, {0}); }, zeros({0, 3}, DType::f64)));
}

TEST_CASE("mean gradients match finite differences") {
    Tensor x = Tensor::from({-1.5, 0.0, 2.0, 3.0, -0.5, 1.0}, Shape{2, 3}, DType::f64);
    CHECK(gradcheck([](const Tensor& v) { return mean(v); }, x));
    CHECK(gradcheck([](const Tensor& v) { return mean(v * v, {0}); }, x));
    CHECK(gradcheck([](const Tensor& v) { return mean(v, {-1}, true); }, x));
    CHECK(gradcheck([](const Tensor& v) { return mean(v * v, {0, 2}); }, counting() / 10.0));
    CHECK(gradcheck([](const Tensor& v) { return mean(v, {0}); }, zeros({3, 0}, DType::f64)));
}

TEST_CASE("mean gradient is dy / n") {
    Tensor x = small().requires_grad_();
    mean(x, {1}).backward(Tensor::from({3.0, 6.0}, DType::f64));
    CHECK(values(x.grad()) == Values{1, 1, 1, 2, 2, 2});
}

TEST_CASE("max and min along a dim: values, indices, first of ties") {
    Tensor x = Tensor::from({{1, 5, 5}, {7, -2, 7}, {0, 0, -1}}, DType::f64);
    auto [v, i] = max(x, 1);
    CHECK(values(v) == Values{5, 7, 0});
    CHECK(i.dtype() == DType::i64);
    CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 0});
    auto [v0, i0] = min(x, 0, true);
    CHECK(v0.shape() == Shape{1, 3});
    CHECK(values(v0) == Values{0, -2, -1});
    CHECK(i0.to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 1, 2});
    auto [vn, in] = min(x, -1);
    CHECK(values(vn) == Values{1, -2, -1});
    CHECK(in.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2});
    // int64 inputs keep their dtype; a middle dim of a 3-D tensor.
    auto [vi, ii] = max(arange(24, DType::i64).reshape({2, 3, 4}), 1);
    CHECK(vi.dtype() == DType::i64);
    CHECK(vi.to_vector<std::int64_t>() == std::vector<std::int64_t>{8, 9, 10, 11, 20, 21, 22, 23});
    CHECK(ii.to_vector<std::int64_t>() == std::vector<std::int64_t>(8, 2));
}

TEST_CASE("max and min propagate NaN, selecting the first NaN") {
    Tensor x = Tensor::from({{1, NAN, 3, NAN}}, DType::f64);
    auto [v, i] = max(x, 1);
    CHECK(std::isnan(v.item()));
    CHECK(i.item() == 1);
    CHECK(min(x, 1).indices.item() == 1);
    CHECK(std::isnan(max(x).item()));
    CHECK(argmax(x).item() == 1);
    CHECK(argmin(x).item() == 1);
}

TEST_CASE("max along a dim sends the gradient to the selected element only") {
    Tensor x = Tensor::from({{2, 2, 1}, {0, 3, 3}}, DType::f64).requires_grad_();
    max(x, 1).values.backward(Tensor::from({10.0, 20.0}, DType::f64));
    CHECK(values(x.grad()) == Values{10, 0, 0, 0, 20, 0});
    Tensor z = Tensor::from({{2, 1}, {1, 1}}, DType::f64).requires_grad_();
    min(z, 0, true).values.backward(Tensor::from({{1.0, 2.0}}, DType::f64));
    CHECK(values(z.grad()) == Values{0, 2, 1, 0});
}

TEST_CASE("max/min along a dim: gradients match finite differences away from ties") {
    // Distinct absolute values, so v * v has no ties either.
    Tensor x = Tensor::from({-1.5, 0.25, 2.0, 3.0, -0.5, 1.0, 0.1, 4.0, -2.2, 0.7, 1.3, -3.4},
                            Shape{2, 3, 2}, DType::f64);
    for (std::int64_t d : {0, 1, 2, -1}) {
        CAPTURE(d);
        CHECK(gradcheck([d](const Tensor& v) { return max(v, d).values; }, x));
        CHECK(gradcheck([d](const Tensor& v) { return min(v * v, d, true).values; }, x));
    }
    CHECK(gradcheck([](const Tensor& v) { return max(v, 1).values; }, zeros({0, 3}, DType::f64)));
}

TEST_CASE("overwriting returned indices does not change the gradient") {
    Tensor x = Tensor::from({1.0, 9.0, 3.0}, DType::f64).requires_grad_();
    auto [v, i] = max(x, 0);
    i.fill_(2);
    v.backward();
    CHECK(values(x.grad()) == Values{0, 1, 0});
}

TEST_CASE("full max and min: values and an even split among ties") {
    Tensor x = Tensor::from({{1, 3, -4}, {3, 2, -4}}, DType::f64).requires_grad_();
    Tensor y = max(x);
    CHECK(y.shape() == Shape{});
    CHECK(y.item() == 3);
    y.backward();
    CHECK(values(x.grad()) == Values{0, 0.5, 0, 0.5, 0, 0});
    Tensor z = Tensor::from({-4, 0, -4, -4}, DType::f64).requires_grad_();
    min(z).backward(Tensor::scalar(6.0, DType::f64));
    CHECK(values(z.grad()) == Values{2, 0, 2, 2});
    CHECK(min(arange(3, 7, 1, DType::i64)).item() == 3);
    CHECK(min(arange(3, 7, 1, DType::i64)).dtype() == DType::i64);
}

TEST_CASE("full max and min: gradients match finite differences, including a tie of two") {
    // At a tie of two, central differences see one side move: slope 1/2,
    // exactly the even split.
    Tensor x = Tensor::from({-1.0, 2.5, 0.0, 2.5, -3.0}, DType::f64);
    CHECK(gradcheck([](const Tensor& v) { return max(v); }, x));
    CHECK(gradcheck([](const Tensor& v) { return min(v * 2.0); }, -x));
    CHECK(gradcheck([](const Tensor& v) { return max(v); }, Tensor::scalar(1.0, DType::f64)));
    Tensor n = Tensor::from({NAN, 1.0, NAN}, DType::f64).requires_grad_();
    max(n).backward();
    CHECK(values(n.grad()) == Values{0.5, 0, 0.5});
}

TEST_CASE("argmax and argmin: flattened, along a dim, keepdim, first of ties") {
    Tensor x = Tensor::from({{1, 7, 7}, {7, -2, 0}}, DType::f64);
    Tensor a = argmax(x);
    CHECK(a.shape() == Shape{});
    CHECK(a.dtype() == DType::i64);
    CHECK(a.item() == 1);
    CHECK(argmin(x).item() == 4);
    CHECK(argmax(x, {}, true).shape() == Shape{1, 1});
    CHECK(argmax(x, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 0});
    CHECK(argmin(x, -1, true).shape() == Shape{2, 1});
    CHECK(argmin(x, -1, true).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1});
    CHECK_FALSE(argmax(small().requires_grad_()).requires_grad());
}

TEST_CASE("selecting from nothing is an error naming the op and shape") {
    Tensor e = zeros({2, 0});
    CHECK_THROWS_WITH_AS(max(e, 1), doctest::Contains("max: dimension 1 of the input [2, 0]"),
                         IndexError);
    CHECK_THROWS_AS(min(e, -1), IndexError);
    CHECK_THROWS_WITH_AS(argmax(e, 1), doctest::Contains("argmax"), IndexError);
    CHECK_THROWS_WITH_AS(max(e), doctest::Contains("max: the input [2, 0]"), ValueError);
    CHECK_THROWS_AS(min(e), ValueError);
    CHECK_THROWS_WITH_AS(argmin(e), doctest::Contains("argmin"), ValueError);
    // Reducing a non-empty dim of an empty tensor is fine.
    CHECK(max(e, 0).values.shape() == Shape{0});
    CHECK(argmax(e, 0, true).shape() == Shape{1, 0});
}
