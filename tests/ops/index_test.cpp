#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

using namespace tg;

namespace {

using I64 = std::vector<std::int64_t>;

Tensor ids(std::vector<double> v, Shape shape) {
    return Tensor::from(std::move(v), std::move(shape), DType::i64);
}

// weight[r, j] = 10 r + j, so every looked-up value names its row.
Tensor table(std::int64_t rows, std::int64_t cols, DType dtype = DType::f64) {
    std::vector<double> v;
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t j = 0; j < cols; ++j) v.push_back(10.0 * double(r) + double(j));
    return Tensor::from(v, Shape{rows, cols}, dtype);
}

}  // namespace

TEST_CASE("one_hot infers num_classes from the largest index") {
    Tensor y = one_hot(ids({0, 2, 1}, {3}));
    CHECK(y.dtype() == DType::i64);
    CHECK(y.shape() == Shape{3, 3});
    CHECK(y.to_vector<std::int64_t>() == I64{1, 0, 0, 0, 0, 1, 0, 1, 0});
    CHECK_FALSE(y.requires_grad());
}

TEST_CASE("one_hot adds a trailing dimension to indices of any shape") {
    Tensor y = one_hot(ids({0, 1, 3, 0}, {2, 2}), 5);
    CHECK(y.shape() == Shape{2, 2, 5});
    CHECK(y.to_vector<std::int64_t>() ==
          I64{1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0});
    Tensor s = one_hot(Tensor::scalar(2, DType::i64), 3);
    CHECK(s.shape() == Shape{3});
    CHECK(s.to_vector<std::int64_t>() == I64{0, 0, 1});
    Tensor e = one_hot(ids({}, {0}), 4);
    CHECK(e.shape() == Shape{0, 4});
}

TEST_CASE("one_hot rejects bad indices and arguments") {
    CHECK_THROWS_WITH_AS(one_hot(ids({0, -1}, {2})), doctest::Contains("-1"), IndexError);
    CHECK_THROWS_WITH_AS(one_hot(ids({0, 3}, {2}), 3), doctest::Contains("index 3"), IndexError);
    CHECK_THROWS_AS(one_hot(ids({0}, {1}), 0), IndexError);
    CHECK_THROWS_WITH_AS(one_hot(Tensor::from({0.0, 1.0})), doctest::Contains("int64"), DTypeError);
    CHECK_THROWS_WITH_AS(one_hot(ids({}, {0})), doctest::Contains("empty"), ValueError);
    CHECK_THROWS_AS(one_hot(ids({0}, {1}), -2), ValueError);
}

TEST_CASE("embedding looks up rows for indices of any shape") {
    Tensor w = table(4, 3);
    Tensor y = embedding(ids({1, 3, 1, 0}, {2, 2}), w);
    CHECK(y.shape() == Shape{2, 2, 3});
    CHECK(y.dtype() == DType::f64);
    CHECK(y.to_vector<double>() ==
          std::vector<double>{10, 11, 12, 30, 31, 32, 10, 11, 12, 0, 1, 2});
    Tensor s = embedding(Tensor::scalar(2, DType::i64), table(4, 3, DType::f32));
    CHECK(s.shape() == Shape{3});
    CHECK(s.dtype() == DType::f32);
    CHECK(s.to_vector<double>() == std::vector<double>{20, 21, 22});
    CHECK(embedding(ids({}, {0, 5}), w).shape() == Shape{0, 5, 3});
}

TEST_CASE("embedding backward scatter-adds rows; repeated indices accumulate") {
    Tensor w = table(4, 2).requires_grad_();
    Tensor y = embedding(ids({1, 3, 1}, {3}), w);
    y.backward(Tensor::from({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, DType::f64));
    CHECK(w.grad().to_vector<double>() == std::vector<double>{0, 0, 6, 8, 0, 0, 3, 4});
}

TEST_CASE("embedding gradient matches finite differences") {
    Tensor indices = ids({2, 0, 2, 1, 4, 2}, {2, 3});
    Tensor w = Tensor::from({0.5, -1.0, 2.0, 0.0, 1.5, -0.5, 3.0, 0.25, -2.0, 1.0}, Shape{5, 2},
                            DType::f64);
    // The int64 indices are passed through but not checked.
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return embedding(v[0], v[1]); },
                    {indices, w}));
    // A padding row is deliberately not differentiated; one nobody looks up changes nothing.
    CHECK(gradcheck([&](const Tensor& v) { return embedding(indices, v, 3); }, w));
}

TEST_CASE("embedding: the padding_idx row is looked up but gets no gradient") {
    Tensor w = table(3, 2).requires_grad_();
    Tensor y = embedding(ids({0, 2, 1, 2}, {4}), w, /*padding_idx=*/2);
    CHECK(y.to_vector<double>() == std::vector<double>{0, 1, 20, 21, 10, 11, 20, 21});
    y.backward(ones({4, 2}, DType::f64));
    CHECK(w.grad().to_vector<double>() == std::vector<double>{1, 1, 1, 1, 0, 0});
    Tensor v = table(3, 2).requires_grad_();
    embedding(ids({0, 2}, {2}), v, /*padding_idx=*/-1).backward(ones({2, 2}, DType::f64));
    CHECK(v.grad().to_vector<double>() == std::vector<double>{1, 1, 0, 0, 0, 0});
}

TEST_CASE("embedding rejects bad indices, weights and padding_idx before recording") {
    Tensor w = table(4, 3).requires_grad_();
    CHECK_THROWS_WITH_AS(embedding(ids({0, 4}, {2}), w), doctest::Contains("index 4"), IndexError);
    CHECK_THROWS_WITH_AS(embedding(ids({0, 4}, {2}), w), doctest::Contains("table of 4 rows"),
                         IndexError);
    CHECK_THROWS_WITH_AS(embedding(ids({-1}, {1}), w), doctest::Contains("index -1"), IndexError);
    CHECK_THROWS_WITH_AS(embedding(ids({0}, {1}), Tensor::from({1.0, 2.0})),
                         doctest::Contains("[2]"), ShapeError);
    CHECK_THROWS_AS(embedding(Tensor::from({0.0}), w), DTypeError);
    CHECK_THROWS_WITH_AS(embedding(ids({0}, {1}), w, 4), doctest::Contains("padding_idx 4"),
                         IndexError);
    CHECK_THROWS_AS(embedding(ids({0}, {1}), w, -5), IndexError);
    CHECK(tape_size() == 0);
}

TEST_CASE("embedding backward refuses indices changed in place after the lookup") {
    Tensor w = table(3, 2).requires_grad_();
    Tensor indices = ids({0, 1}, {2});
    Tensor y = embedding(indices, w);
    indices.set({0}, 2);
    CHECK_THROWS_WITH_AS(y.backward(ones({2, 2}, DType::f64)),
                         doctest::Contains("modified in place"), Error);
    clear_tape();
}
