#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>
#include <cstdlib>

using namespace tg;

namespace {
std::map<std::string, Tensor> creation_golden() {
    return load_safetensors(std::string(std::getenv("TAPEGRAD_SOURCE_DIR")) +
                            "/tests/data/creation.safetensors")
        .tensors;
}
}  // namespace

// float32 matches bit for bit (the sine demo depends on it). For float64,
// PyTorch's AVX2 kernel computes some middle elements from a vector base
// (base + i * step), which can round one ulp away from its scalar formula.
TEST_CASE("linspace and arange give PyTorch's values") {
    auto golden = creation_golden();
    for (int k = 0; k < 60; ++k) {
        auto name = [k](const char* dtype) { return fmt::format("linspace_{}_{}", k, dtype); };
        Tensor t32 = linspace(k * M_PI, (k + 1) * M_PI, 10, DType::f32);
        CHECK(t32.to_vector<double>() == golden.at(name("f32")).to_vector<double>());
        auto t64 = linspace(k * M_PI, (k + 1) * M_PI, 10, DType::f64).to_vector<double>();
        auto g64 = golden.at(name("f64")).to_vector<double>();
        for (std::size_t i = 0; i < t64.size(); ++i)
            CHECK(t64[i] == doctest::Approx(g64[i]).epsilon(1e-15));
    }
    CHECK(linspace(-1.5, 2.25, 7, DType::f32).to_vector<double>() ==
          golden.at("linspace_odd_f32").to_vector<double>());
    for (DType dtype : {DType::f32, DType::f64}) {
        std::string name = dtype == DType::f32 ? "arange_f32" : "arange_f64";
        CHECK(arange(0.5, 3.2, 0.3, dtype).to_vector<double>() ==
              golden.at(name).to_vector<double>());
    }
}

TEST_CASE("creation functions give shapes, dtypes and values") {
    CHECK(zeros({2, 3}).shape() == Shape{2, 3});
    CHECK(ones({2}, DType::f64).to_vector<double>() == std::vector<double>{1, 1});
    CHECK(full({}, 4.5).item() == 4.5);
    CHECK(arange(4, DType::i64).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3});
    CHECK(Tensor::from({{1, 2}, {3, 4}}).at({1, 0}) == 3);
    CHECK_THROWS_AS(Tensor::from({1, 2, 3}, Shape{2, 2}), ShapeError);
    CHECK_THROWS_AS(Tensor::from({{1, 2}, {3}}), ShapeError);
    CHECK_THROWS_AS(zeros({2, -1}), ShapeError);
    CHECK_THROWS_AS(arange(0, 1, 0), ValueError);
    CHECK_THROWS_AS(ones({2}).item(), ValueError);
    CHECK_THROWS_AS(ones({2}).at({2}), IndexError);
    CHECK_THROWS_AS(ones({2}).data<double>(), DTypeError);
}

TEST_CASE("random tensors follow the seed and their distribution") {
    manual_seed(3);
    Tensor a = randn({1000}, DType::f64);
    manual_seed(3);
    Tensor b = randn({1000}, DType::f64);
    CHECK(a.to_vector<double>() == b.to_vector<double>());
    CHECK(std::abs(mean(a).item()) < 0.1);
    CHECK(std::abs(mean(a * a).item() - 1.0) < 0.1);
    Tensor u = uniform({1000}, 0.25, DType::f64);
    CHECK(max(u).item() < 0.25);
    CHECK(min(u).item() >= -0.25);
    Tensor r = rand({1000});
    CHECK(min(r).item() >= 0.0);
    CHECK(max(r).item() < 1.0);
    CHECK_THROWS_AS(rand({2}, DType::i64), DTypeError);
}

TEST_CASE("reshape, select and detach share data; clone and to copy") {
    Tensor x = arange(6.0).reshape({2, 3});
    CHECK(x.reshape({-1, 2}).shape() == Shape{3, 2});
    CHECK_THROWS_AS(x.reshape({4, -1}), ShapeError);
    CHECK_THROWS_AS(x.reshape({-1, -1}), ShapeError);
    Tensor row = x[1];
    CHECK(row.to_vector<float>() == std::vector<float>{3, 4, 5});
    CHECK(x[-1].at({0}) == 3);
    CHECK_THROWS_AS(x[2], IndexError);
    Tensor c = x.clone();
    x.set({1, 0}, 9.0);
    CHECK(row.at({0}) == 9.0);
    CHECK(x.detach().at({1, 0}) == 9.0);
    CHECK(c.at({1, 0}) == 3.0);
    CHECK(x.to(DType::f64).dtype() == DType::f64);
    CHECK(x.to(DType::f32).is_same(x));
}

TEST_CASE("reshape, select, clone and to have gradients matching finite differences") {
    Tensor x = Tensor::from({-1.0, 0.0, 2.0, 3.5, -0.5, 1.0}, Shape{2, 3}, DType::f64);
    CHECK(gradcheck([](const Tensor& v) { return v.reshape({3, 2}) * v.reshape({3, 2}); }, x));
    CHECK(gradcheck([](const Tensor& v) { return v[1] * v[0]; }, x));
    CHECK(gradcheck([](const Tensor& v) { return v.clone() * v; }, x));
    CHECK(gradcheck([](const Tensor& v) { return v.to(DType::f32).to(DType::f64) * 2.0; }, x,
                    {.eps = 1e-3, .atol = 1e-4, .rtol = 1e-4}));
}

TEST_CASE("requires_grad_ only on floating leaves") {
    Tensor w = ones({2}).requires_grad_();
    CHECK(w.requires_grad());
    CHECK(w.is_leaf());
    Tensor y = w * 2.0;
    CHECK_FALSE(y.is_leaf());
    CHECK_THROWS_AS(y.requires_grad_(), ValueError);
    CHECK_THROWS_AS(arange(3, DType::i64).requires_grad_(), DTypeError);
    clear_tape();
}

TEST_CASE("set_data swaps what every handle sees and drops the gradient") {
    Tensor w = ones({2}).requires_grad_();
    Tensor alias = w;
    (w * 3.0).backward(ones({2}));
    CHECK(w.grad().defined());
    {
        NoGrad guard;
        w.set_data(zeros({2}, DType::f64));
    }
    CHECK(alias.at({0}) == 0.0);
    CHECK(alias.dtype() == DType::f64);
    CHECK_FALSE(alias.grad().defined());
}

TEST_CASE("sizes that cannot exist are refused before anything is allocated") {
    CHECK_THROWS_AS(zeros({std::int64_t(1) << 40, std::int64_t(1) << 40}), ShapeError);
    CHECK_THROWS_AS(ones({6}).reshape({std::int64_t(1) << 40, std::int64_t(1) << 40, 0}),
                    ShapeError);
    CHECK_THROWS_AS(arange(0.0, 1e300), ValueError);
    CHECK_THROWS_AS(Tensor::scalar(1.0).size(0), IndexError);
    NoGrad guard;
    CHECK_THROWS_AS(ones({2}).set_data(ones({3})), ShapeError);
}
