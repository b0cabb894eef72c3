#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

using namespace tg;

TEST_CASE("backward accumulates into leaves and clears the tape") {
    Tensor a = Tensor::from({1.0, 2.0, 3.0}, DType::f64).requires_grad_();
    Tensor b = Tensor::from({4.0, 5.0, 6.0}, DType::f64).requires_grad_();
    Tensor y = a * b + a;  // dy/da = b + 1, dy/db = a
    CHECK(tape_size() == 2);
    y.backward(ones({3}, DType::f64));
    CHECK(tape_size() == 0);
    CHECK(a.grad().to_vector<double>() == std::vector<double>{5, 6, 7});
    CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 2, 3});
    Tensor z = a * 2.0;
    z.backward(ones({3}, DType::f64));
    CHECK(a.grad().to_vector<double>() == std::vector<double>{7, 8, 9});
}

TEST_CASE("backward twice without retain_graph throws, with it accumulates") {
    Tensor a = Tensor::scalar(3.0, DType::f64).requires_grad_();
    Tensor y = a * a;
    y.backward({}, /*retain_graph=*/true);
    y.backward();
    CHECK(a.grad().item() == doctest::Approx(12.0));
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("already consumed"), Error);
}

TEST_CASE("backward of a non-scalar needs an explicit gradient") {
    Tensor a = ones({2}).requires_grad_();
    Tensor y = a * 2.0;
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("shape [2]"), ValueError);
    CHECK_THROWS_AS(y.backward(ones({3})), ShapeError);
    clear_tape();
}

TEST_CASE("modifying a saved tensor in place is refused at backward") {
    Tensor a = Tensor::from({1.0, 2.0}).requires_grad_();
    Tensor b = Tensor::from({3.0, 4.0});
    Tensor y = a * b;
    b.fill_(0.0);
    CHECK_THROWS_WITH_AS(y.backward(ones({2})), doctest::Contains("modified in place"), Error);
    CHECK_FALSE(a.grad().defined());
    clear_tape();
}

TEST_CASE("in-place change of a tensor that requires grad needs NoGrad") {
    Tensor w = ones({2}).requires_grad_();
    CHECK_THROWS_AS(w.fill_(2.0), ValueError);
    {
        NoGrad guard;
        w.fill_(2.0);
    }
    CHECK(w.at({1}) == 2.0);
}

TEST_CASE("NoGrad records nothing and no input needing grad records nothing") {
    Tensor a = ones({2}).requires_grad_();
    {
        NoGrad guard;
        Tensor y = a * 3.0;
        CHECK_FALSE(y.requires_grad());
    }
    Tensor c = ones({2}) * 3.0;
    CHECK_FALSE(c.requires_grad());
    CHECK(tape_size() == 0);
}

TEST_CASE("grad returns gradients without touching .grad()") {
    Tensor x = Tensor::from({1.0, -2.0}, DType::f64).requires_grad_();
    Tensor h = x * x;
    Tensor y = h * 3.0;
    auto g = grad({y}, {x, h}, {ones({2}, DType::f64)});
    CHECK(g[0].to_vector<double>() == std::vector<double>{6, -12});
    CHECK(g[1].to_vector<double>() == std::vector<double>{3, 3});
    CHECK_FALSE(x.grad().defined());
}

TEST_CASE("grad of an unused input is an error unless allowed") {
    Tensor x = ones({2}, DType::f64).requires_grad_();
    Tensor u = ones({2}, DType::f64).requires_grad_();
    Tensor y = x * 2.0;
    CHECK_THROWS_AS(grad({y}, {x, u}, {ones({2}, DType::f64)}, {.retain_graph = true}), ValueError);
    auto g = grad({y}, {x, u}, {ones({2}, DType::f64)}, {.allow_unused = true});
    CHECK_FALSE(g[1].defined());
}

TEST_CASE("a detached tensor carries data, not history") {
    Tensor w = ones({2}).requires_grad_();
    Tensor h = (w * 2.0).detach();
    CHECK_FALSE(h.requires_grad());
    Tensor y = h * w;
    y.backward(ones({2}));
    CHECK(w.grad().to_vector<float>() == std::vector<float>{2, 2});
}

TEST_CASE("using a result of a consumed graph names the fix") {
    Tensor w = ones({2}).requires_grad_();
    Tensor h = w * 2.0;
    (h * 1.0).backward(ones({2}));
    Tensor y = h * w;  // h's history is gone
    CHECK_THROWS_WITH_AS(y.backward(ones({2})), doctest::Contains("detach()"), Error);
    clear_tape();
}

TEST_CASE("gradients of a shared input are summed, not aliased") {
    Tensor a = ones({2}).requires_grad_();
    Tensor b = ones({2}).requires_grad_();
    (a + b).backward(ones({2}));
    {
        NoGrad guard;
        a.grad().fill_(5.0);
    }
    CHECK(b.grad().at({0}) == 1.0);
}
