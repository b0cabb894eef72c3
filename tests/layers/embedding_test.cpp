#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>

using namespace tg;

namespace {

Tensor ids(std::vector<double> values, Shape shape) {
    return Tensor::from(values, shape, DType::i64);
}

std::vector<double> row(const Tensor& t, std::int64_t r) { return t[r].to_vector<double>(); }

}  // namespace

TEST_CASE(
    "Embedding: one parameter 'weight' [num, dim], drawn from N(0, 1) by the default generator") {
    manual_seed(4);
    Embedding embedding({.num_embeddings = 400, .embedding_dim = 50});
    REQUIRE(embedding.named_parameters().size() == 1);
    CHECK(embedding.named_parameters()[0].first == "weight");
    CHECK(embedding.weight.shape() == Shape{400, 50});
    CHECK(embedding.weight.dtype() == DType::f32);
    CHECK(embedding.weight.requires_grad());
    CHECK(embedding.state_dict().count("weight") == 1);

    manual_seed(4);
    CHECK(embedding.weight.to_vector<float>() == randn({400, 50}).to_vector<float>());
    const std::vector<double> v = embedding.weight.to_vector<double>();
    double sum = 0, squares = 0;
    for (double x : v) {
        sum += x;
        squares += x * x;
    }
    const double n = static_cast<double>(v.size()), mean = sum / n;
    CHECK(std::abs(mean) < 0.05);
    CHECK(std::sqrt(squares / n - mean * mean) == doctest::Approx(1.0).epsilon(0.05));
}

TEST_CASE("Embedding: the padding row starts at zeros; the other rows are drawn as without it") {
    manual_seed(6);
    Embedding plain({.num_embeddings = 5, .embedding_dim = 3});
    manual_seed(6);
    Embedding padded({.num_embeddings = 5, .embedding_dim = 3, .padding_idx = 2});
    manual_seed(6);
    Embedding from_end({.num_embeddings = 5, .embedding_dim = 3, .padding_idx = -1});
    for (std::int64_t r = 0; r < 5; ++r) {
        CAPTURE(r);
        CHECK(row(padded.weight, r) ==
              (r == 2 ? std::vector<double>(3, 0.0) : row(plain.weight, r)));
        CHECK(row(from_end.weight, r) ==
              (r == 4 ? std::vector<double>(3, 0.0) : row(plain.weight, r)));
    }
    CHECK(from_end.options.padding_idx == -1);
}

TEST_CASE("Embedding looks up rows for indices of any shape") {
    manual_seed(7);
    Embedding embedding({.num_embeddings = 6, .embedding_dim = 4});
    Tensor indices = ids({5, 0, 2, 2, 1, 5}, {2, 3, 1});
    Tensor y = embedding(indices);
    CHECK(y.shape() == Shape{2, 3, 1, 4});
    CHECK(y.to_vector<float>() == tg::embedding(indices, embedding.weight).to_vector<float>());
    CHECK(row(y.reshape({6, 4}), 3) == row(embedding.weight, 2));
    CHECK(embedding(Tensor::scalar(3, DType::i64)).shape() == Shape{4});
}

TEST_CASE("Embedding in float64: the weight's gradient matches finite differences") {
    manual_seed(8);
    Embedding embedding({.num_embeddings = 5, .embedding_dim = 3});
    embedding.to(DType::f64);
    // Repeated indices, so the check covers gradients that accumulate; row 3
    // is never looked up and must get zeros.
    Tensor indices = ids({4, 0, 4, 1, 2, 4, 0, 2}, {2, 4});
    auto f = [&](const std::vector<Tensor>& v) { return tanh(embedding(v[0])); };
    CHECK(gradcheck(f, {indices}, {}, embedding.parameters()));

    SUBCASE("with a padding row that is not looked up") {
        Embedding padded({.num_embeddings = 5, .embedding_dim = 3, .padding_idx = 3});
        padded.to(DType::f64);
        auto g = [&](const std::vector<Tensor>& v) { return tanh(padded(v[0])); };
        CHECK(gradcheck(g, {indices}, {}, padded.parameters()));
    }
}

TEST_CASE("Embedding: the padding row is looked up but gets no gradient") {
    manual_seed(9);
    Embedding embedding({.num_embeddings = 4, .embedding_dim = 2, .padding_idx = 1});
    {
        NoGrad no_grad;
        embedding.weight.set({1, 0}, 0.5);  // a padding row that has moved still reads back
    }
    Tensor y = embedding(ids({1, 3, 1, 0}, {4}));
    CHECK(row(y, 0) == std::vector<double>{0.5, 0.0});
    sum(y * y).backward();
    const Tensor& grad = embedding.weight.grad();
    CHECK(row(grad, 1) == std::vector<double>{0.0, 0.0});
    CHECK(row(grad, 2) == std::vector<double>{0.0, 0.0});
    CHECK(row(grad, 3) ==
          std::vector<double>{2 * y.to_vector<double>()[2], 2 * y.to_vector<double>()[3]});
}

TEST_CASE("Embedding: bad options and indices are errors naming the op and the values") {
    CHECK_THROWS_WITH_AS(Embedding({.num_embeddings = 0, .embedding_dim = 3}),
                         doctest::Contains("Embedding: num_embeddings (0)"), ValueError);
    CHECK_THROWS_WITH_AS(Embedding({.num_embeddings = 4, .embedding_dim = 3, .padding_idx = 4}),
                         doctest::Contains("Embedding: padding_idx 4 is out of range for 4"),
                         IndexError);
    CHECK_THROWS_AS(Embedding({.num_embeddings = 4, .embedding_dim = 3, .padding_idx = -5}),
                    IndexError);

    Embedding embedding({.num_embeddings = 4, .embedding_dim = 3});
    clear_tape();
    CHECK_THROWS_WITH_AS(embedding(ids({0, 9, 1}, {3})),
                         "embedding: index 9 is out of range for a table of 4 rows (weight shape "
                         "[4, 3])",
                         IndexError);
    CHECK_THROWS_WITH_AS(embedding(ids({-1}, {1})), doctest::Contains("embedding: index -1"),
                         IndexError);
    CHECK_THROWS_WITH_AS(embedding(Tensor::from({0.0, 1.0})),
                         "embedding: indices must be int64, got float32 of shape [2]", DTypeError);
    CHECK(tape_size() == 0);
}
