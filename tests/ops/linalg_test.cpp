#include <doctest/doctest.h>
#include <tapegrad/core/generator.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/gradcheck.h>
#include <tapegrad/ops/linalg.h>

#include <vector>

using namespace tg;

namespace {

using Values = std::vector<double>;

Values values(const Tensor& t) { return t.to_vector<double>(); }

Tensor f64(std::vector<double> v, Shape shape) {
    return Tensor::from(std::move(v), std::move(shape), DType::f64);
}

// [[[1, 2], [3, 4]], [[0, 1], [1, 0]]]
Tensor two_matrices() { return f64({1, 2, 3, 4, 0, 1, 1, 0}, {2, 2, 2}); }

GradcheckResult matmul_ok(const Tensor& a, const Tensor& b) {
    return gradcheck([](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }, {a, b});
}

GradcheckResult linear_ok(const Tensor& x, const Tensor& w, const Tensor& b) {
    if (!b.defined())
        return gradcheck([](const std::vector<Tensor>& v) { return linear(v[0], v[1]); }, {x, w});
    return gradcheck([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); },
                     {x, w, b});
}

}  // namespace

TEST_CASE("matmul of matrices and vectors: hand-computed values and shapes") {
    Tensor m = matmul(Tensor::from({{1, 2}, {3, 4}}), Tensor::from({{5, 6}, {7, 8}}));
    CHECK(m.shape() == Shape{2, 2});
    CHECK(values(m) == Values{19, 22, 43, 50});

    Tensor dot = matmul(Tensor::from({1, 2, 3}), Tensor::from({4, 5, 6}));
    CHECK(dot.shape() == Shape{});
    CHECK(dot.item() == 32);

    Tensor rows = Tensor::from({{1, 2, 3}, {4, 5, 6}});
    Tensor vm = matmul(Tensor::from({1, 2}), rows);  // [2] . [2, 3]
    CHECK(vm.shape() == Shape{3});
    CHECK(values(vm) == Values{9, 12, 15});
    Tensor mv = matmul(rows, Tensor::from({1, 0, -1}));  // [2, 3] . [3]
    CHECK(mv.shape() == Shape{2});
    CHECK(values(mv) == Values{-2, -2});
}

TEST_CASE("batched matmul broadcasts batch dimensions") {
    Tensor b = f64({5, 6, 7, 8}, {2, 2});
    Tensor y = matmul(two_matrices(), b);
    CHECK(y.shape() == Shape{2, 2, 2});
    CHECK(values(y) == Values{19, 22, 43, 50, 7, 8, 5, 6});

    // [1, 2, 2] against the identity and the swap, [2, 2, 2].
    Tensor swaps = f64({1, 0, 0, 1, 0, 1, 1, 0}, {2, 2, 2});
    Tensor z = matmul(f64({1, 2, 3, 4}, {1, 2, 2}), swaps);
    CHECK(z.shape() == Shape{2, 2, 2});
    CHECK(values(z) == Values{1, 2, 3, 4, 2, 1, 4, 3});

    Tensor vb = matmul(f64({1, 2}, {2}), swaps);  // [2] . [2, 2, 2]
    CHECK(vb.shape() == Shape{2, 2});
    CHECK(values(vb) == Values{1, 2, 2, 1});
    Tensor bv = matmul(two_matrices(), f64({1, -1}, {2}));  // [2, 2, 2] . [2]
    CHECK(bv.shape() == Shape{2, 2});
    CHECK(values(bv) == Values{-1, -1, -1, 1});
}

TEST_CASE("broadcast batched matmul agrees with a plain triple loop") {
    manual_seed(3);
    Tensor a = randn({2, 1, 2, 3}, DType::f64), b = randn({3, 3, 4}, DType::f64);
    Tensor y = matmul(a, b);
    REQUIRE(y.shape() == Shape{2, 3, 2, 4});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
            for (std::int64_t r = 0; r < 2; ++r)
                for (std::int64_t c = 0; c < 4; ++c) {
                    double expected = 0;
                    for (std::int64_t k = 0; k < 3; ++k)
                        expected += a.at({i, 0, r, k}) * b.at({j, k, c});
                    CHECK(y.at({i, j, r, c}) == doctest::Approx(expected).epsilon(1e-12));
                }
}

TEST_CASE("matmul with empty batches or an empty inner dimension") {
    CHECK(matmul(zeros({0, 2, 3}), zeros({3, 4})).shape() == Shape{0, 2, 4});
    CHECK(matmul(zeros({2, 3}), zeros({0, 3, 4})).shape() == Shape{0, 2, 4});
    Tensor y = matmul(zeros({2, 0}), zeros({0, 3}));
    CHECK(y.shape() == Shape{2, 3});
    CHECK(values(y) == Values(6, 0.0));
    CHECK(matmul(zeros({0}), zeros({0})).item() == 0);
}

TEST_CASE("matmul gradients match finite differences in every case") {
    manual_seed(7);
    auto r = [](Shape s) { return randn(std::move(s), DType::f64); };
    CHECK(matmul_ok(r({3}), r({3})));
    CHECK(matmul_ok(r({2, 3}), r({3, 4})));
    CHECK(matmul_ok(r({3}), r({3, 4})));
    CHECK(matmul_ok(r({2, 3}), r({3})));
    CHECK(matmul_ok(r({2, 2, 3}), r({3, 4})));        // a's batch folds into rows
    CHECK(matmul_ok(r({2, 3}), r({2, 3, 4})));        // b batched, a reused per batch
    CHECK(matmul_ok(r({2, 2, 3}), r({2, 3, 4})));     // equal batches
    CHECK(matmul_ok(r({2, 1, 2, 3}), r({3, 3, 4})));  // batches broadcast both ways
    CHECK(matmul_ok(r({1, 2, 3}), r({2, 3, 2})));     // batch dim of size 1
    CHECK(matmul_ok(r({3}), r({2, 3, 4})));
    CHECK(matmul_ok(r({2, 2, 3}), r({3})));
    CHECK(matmul_ok(r({0, 2, 3}), r({3, 4})));
    CHECK(matmul_ok(r({2, 3}), r({0, 3, 4})));
    CHECK(matmul_ok(r({2, 0}), r({0, 3})));
    // An int64 operand is promoted and carries no gradient.
    CHECK(matmul_ok(r({2, 3}), arange(12, DType::i64).reshape({3, 4})));
}

TEST_CASE("matmul gradients reach both inputs through mixed dtypes") {
    Tensor a = Tensor::from({{1, 2}, {3, 4}}).requires_grad_();  // float32
    Tensor b = f64({1, 1, 1, 1}, {2, 2}).requires_grad_();
    Tensor y = matmul(a, b);
    CHECK(y.dtype() == DType::f64);
    y.backward(ones({2, 2}, DType::f64));
    // da = dy b^T = 2 everywhere; db = a^T dy: row k is the column sum of a's column k.
    CHECK(a.grad().dtype() == DType::f32);
    CHECK(values(a.grad()) == Values{2, 2, 2, 2});
    CHECK(values(b.grad()) == Values{4, 4, 6, 6});
    CHECK(matmul(arange(2, DType::i64), Tensor::from({3, 4})).dtype() == DType::f32);
}

TEST_CASE("matmul errors name both shapes and leave the tape unchanged") {
    Tensor a = zeros({2, 3}).requires_grad_();
    CHECK_THROWS_WITH_AS(matmul(a, zeros({4, 5})),
                         "matmul: inner dimensions differ: a is [2, 3], b is [4, 5]", ShapeError);
    CHECK_THROWS_WITH_AS(matmul(a, zeros({2})), doctest::Contains("[2, 3]"), ShapeError);
    CHECK_THROWS_WITH_AS(matmul(Tensor::scalar(1.0), a), doctest::Contains("at least one"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(matmul(zeros({2, 2, 3}), zeros({3, 3, 4})),
                         doctest::Contains("batch dimensions of a [2, 2, 3] and b [3, 3, 4]"),
                         ShapeError);
    CHECK_THROWS_AS(matmul(arange(3, DType::i64), arange(3, DType::i64)), DTypeError);
    CHECK_THROWS_AS(matmul(a, Tensor()), ValueError);
    CHECK(tape_size() == 0);
}

TEST_CASE("linear computes x w^T + b over leading dimensions") {
    Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor w = f64({1, 0, 0, 0, 1, 0, 1, 1, 1, 1, -1, 0}, {4, 3});
    Tensor b = f64({10, 20, 30, 40}, {4});
    Tensor y = linear(x, w, b);
    CHECK(y.shape() == Shape{2, 4});
    CHECK(values(y) == Values{11, 22, 36, 39, 14, 25, 45, 39});
    CHECK(values(linear(x, w)) == Values{1, 2, 6, -1, 4, 5, 15, -1});

    Tensor v = linear(f64({1, 2, 3}, {3}), w, b);  // x [in] gives [out]
    CHECK(v.shape() == Shape{4});
    CHECK(values(v) == Values{11, 22, 36, 39});
    Tensor t = linear(x.reshape({2, 1, 3}), w, b);
    CHECK(t.shape() == Shape{2, 1, 4});
    CHECK(values(t) == values(y));
    CHECK(linear(zeros({0, 5, 3}), zeros({4, 3}), ones({4})).shape() == Shape{0, 5, 4});
    CHECK(values(linear(zeros({2, 0}), zeros({3, 0}), ones({3}))) == Values(6, 1.0));
}

TEST_CASE("linear gradients match finite differences") {
    manual_seed(11);
    auto r = [](Shape s) { return randn(std::move(s), DType::f64); };
    CHECK(linear_ok(r({2, 3}), r({4, 3}), r({4})));
    CHECK(linear_ok(r({2, 3}), r({4, 3}), Tensor()));
    CHECK(linear_ok(r({3}), r({4, 3}), r({4})));
    CHECK(linear_ok(r({3}), r({4, 3}), Tensor()));
    CHECK(linear_ok(r({2, 5, 3}), r({4, 3}), r({4})));
    CHECK(linear_ok(r({0, 3}), r({4, 3}), r({4})));
    CHECK(linear_ok(r({2, 0}), r({4, 0}), r({4})));
}

TEST_CASE("linear's bias gradient sums over every leading row") {
    Tensor x = zeros({2, 3, 2}, DType::f64);
    Tensor w = zeros({2, 2}, DType::f64).requires_grad_();
    Tensor b = zeros({2}, DType::f64).requires_grad_();
    linear(x, w, b).backward(ones({2, 3, 2}, DType::f64));
    CHECK(values(b.grad()) == Values{6, 6});
    CHECK(values(w.grad()) == Values{0, 0, 0, 0});
}

TEST_CASE("linear errors name the shapes and leave the tape unchanged") {
    Tensor x = zeros({2, 3}).requires_grad_();
    CHECK_THROWS_WITH_AS(linear(x, zeros({4, 5})),
                         "linear: input [2, 3] has 3 features, weight [4, 5] expects 5",
                         ShapeError);
    CHECK_THROWS_WITH_AS(linear(x, zeros({4, 3}), zeros({3})),
                         doctest::Contains("bias [3] does not match weight [4, 3]"), ShapeError);
    CHECK_THROWS_WITH_AS(linear(x, zeros({3})), doctest::Contains("2-D"), ShapeError);
    CHECK_THROWS_AS(linear(Tensor::scalar(1.0), zeros({1, 1})), ShapeError);
    CHECK_THROWS_AS(linear(arange(3, DType::i64), arange(3, DType::i64).reshape({1, 3})),
                    DTypeError);
    CHECK_THROWS_AS(linear(Tensor(), zeros({1, 1})), ValueError);
    CHECK(tape_size() == 0);
    CHECK(linear(arange(3, DType::i64), ones({2, 3})).dtype() == DType::f32);
}
