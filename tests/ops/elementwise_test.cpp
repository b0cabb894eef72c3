#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>
#include <numbers>

using namespace tg;

namespace {

using Values = std::vector<double>;

Values values(const Tensor& t) { return t.to_vector<double>(); }

Tensor f64(Values v) { return Tensor::from(std::move(v), DType::f64); }
Tensor f64(Values v, Shape shape) {
    return Tensor::from(std::move(v), std::move(shape), DType::f64);
}
Tensor i64(Values v) { return Tensor::from(std::move(v), DType::i64); }

// Reproducible float64 values with |v| in [0.5, 2) and alternating signs:
// away from 0, so division and finite differences behave.
Tensor mixed(Shape shape, std::uint64_t seed) {
    Generator g(seed);
    Values v(static_cast<std::size_t>(shape.numel()));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = (0.5 + 1.5 * g.uniform()) * (i % 2 ? -1 : 1);
    return f64(std::move(v), std::move(shape));
}

// Reproducible float64 values in [0.5, 2): positive, for log, sqrt and pow.
Tensor positive(Shape shape, std::uint64_t seed) {
    Generator g(seed);
    Values v(static_cast<std::size_t>(shape.numel()));
    for (double& x : v) x = 0.5 + 1.5 * g.uniform();
    return f64(std::move(v), std::move(shape));
}

// The gradient that reaches leaf x when y is seeded with ones.
Values grad_of(const Tensor& x, const Tensor& y) {
    y.backward(ones(y.shape(), y.dtype()));
    return values(x.grad());
}

using Binary = Tensor (*)(const Tensor&, const Tensor&);

struct NamedBinary {
    const char* name;
    Binary op;
};

const NamedBinary kArithmetic[] = {{"add", add}, {"sub", sub}, {"mul", mul}, {"div", div}};

}  // namespace

// ---- add, sub, mul, div ----------------------------------------------------

TEST_CASE("arithmetic on equal shapes") {
    Tensor a = f64({1, -2, 3.5, 0});
    Tensor b = f64({4, 0.5, -1, 2});
    CHECK(values(add(a, b)) == Values{5, -1.5, 2.5, 2});
    CHECK(values(sub(a, b)) == Values{-3, -2.5, 4.5, -2});
    CHECK(values(mul(a, b)) == Values{4, -1, -3.5, 0});
    CHECK(values(div(a, b)) == Values{0.25, -4, -3.5, 0});
    CHECK(values(a + b) == values(add(a, b)));
    CHECK(values(a - b) == values(sub(a, b)));
    CHECK(values(a * b) == values(mul(a, b)));
    CHECK(values(a / b) == values(div(a, b)));
}

TEST_CASE("arithmetic broadcasts trailing, size-1 and rank-0 operands") {
    Tensor m = f64({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor row = f64({10, 20, 30});
    Tensor col = f64({100, 200}, {2, 1});
    Tensor z = add(m, row);
    CHECK(z.shape() == Shape{2, 3});
    CHECK(values(z) == Values{11, 22, 33, 14, 25, 36});
    CHECK(values(sub(row, m)) == Values{9, 18, 27, 6, 15, 24});
    CHECK(values(mul(m, col)) == Values{100, 200, 300, 800, 1000, 1200});
    Tensor outer = mul(col, f64({1, 2, 3}, {1, 3}));
    CHECK(outer.shape() == Shape{2, 3});
    CHECK(values(outer) == Values{100, 200, 300, 200, 400, 600});
    Tensor s = Tensor::scalar(2.0, DType::f64);
    CHECK(div(m, s).shape() == Shape{2, 3});
    CHECK(values(div(m, s)) == Values{0.5, 1, 1.5, 2, 2.5, 3});
    CHECK(values(div(s, f64({4, -8}))) == Values{0.5, -0.25});
    CHECK(add(s, s).shape() == Shape{});
    Tensor deep = add(f64({1, 2}, {2, 1, 1}), f64({10, 20, 30}, {3, 1}));
    CHECK(deep.shape() == Shape{2, 3, 1});
    CHECK(values(deep) == Values{11, 21, 31, 12, 22, 32});
}

TEST_CASE("arithmetic with scalar operands") {
    Tensor x = f64({1, -2, 4});
    CHECK(values(x + 1.5) == Values{2.5, -0.5, 5.5});
    CHECK(values(1.5 + x) == Values{2.5, -0.5, 5.5});
    CHECK(values(x - 1) == Values{0, -3, 3});
    CHECK(values(2.0 - x) == Values{1, 4, -2});
    CHECK(values(x * 3) == Values{3, -6, 12});
    CHECK(values(-0.5 * x) == Values{-0.5, 1, -2});
    CHECK(values(x / 4) == Values{0.25, -0.5, 1});
    CHECK(values(8.0 / x) == Values{8, -4, 2});
    CHECK(values(-x) == Values{-1, 2, -4});
    // A scalar takes the tensor's dtype, so float32 stays float32.
    CHECK((Tensor::from({1.0}) * 0.1).dtype() == DType::f32);
}

TEST_CASE("arithmetic promotes dtypes as PyTorch") {
    Tensor a32 = Tensor::from({1.5, 2.0});
    Tensor a64 = f64({0.25, 4.0});
    Tensor n = i64({7, -3});
    Tensor d = i64({2, 2});
    CHECK((a32 + a64).dtype() == DType::f64);
    CHECK(values(a32 + a64) == Values{1.75, 6});
    CHECK((a64 * a32).dtype() == DType::f64);
    CHECK((n + a32).dtype() == DType::f32);
    CHECK((n - a64).dtype() == DType::f64);
    CHECK((n + d).dtype() == DType::i64);
    CHECK((n * d).to_vector<std::int64_t>() == std::vector<std::int64_t>{14, -6});
    // True division: integers give float32.
    Tensor q = n / d;
    CHECK(q.dtype() == DType::f32);
    CHECK(values(q) == Values{3.5, -1.5});
    CHECK(values(i64({1}) / i64({0})) == Values{INFINITY});
    CHECK((n / 2).dtype() == DType::f32);
    // An integral scalar keeps int64; a fractional one gives float32.
    CHECK((n + 2).dtype() == DType::i64);
    CHECK((n * 2).to_vector<std::int64_t>() == std::vector<std::int64_t>{14, -6});
    CHECK((n + 0.5).dtype() == DType::f32);
    CHECK(values(n + 0.5) == Values{7.5, -2.5});
    // Integral but beyond int64: float32, not an overflowing conversion.
    CHECK(values(i64({1}) + INFINITY) == Values{INFINITY});
    CHECK(values(i64({1}) * 1e300) == Values{INFINITY});
    CHECK(values(i64({1}) - 1e19).front() == doctest::Approx(-1e19));
}

TEST_CASE("arithmetic gradients match finite differences under broadcasting") {
    struct Case {
        Shape a, b;
    };
    const Case cases[] = {
        {{2, 3}, {2, 3}}, {{2, 3}, {3}}, {{3}, {2, 3}},       {{2, 1}, {1, 3}},
        {{}, {2, 2}},     {{2, 2}, {}},  {{3, 1, 2}, {4, 1}}, {{1}, {2, 1}},
    };
    for (const NamedBinary& f : kArithmetic)
        for (const Case& c : cases) {
            CAPTURE(f.name);
            CAPTURE(c.a);
            CAPTURE(c.b);
            Tensor a = mixed(c.a, 1), b = mixed(c.b, 2);
            CHECK(gradcheck([op = f.op](const std::vector<Tensor>& v) { return op(v[0], v[1]); },
                            {a, b}));
        }
}

TEST_CASE("the same tensor on both sides gets both gradients") {
    Tensor x = f64({3, -2}).requires_grad_();
    CHECK(grad_of(x, x * x) == Values{6, -4});
    Tensor y = f64({3, -2}).requires_grad_();
    CHECK(grad_of(y, y - y) == Values{0, 0});
}

TEST_CASE("gradients come back in the input's dtype") {
    Tensor a = Tensor::from({1.0, 2.0}).requires_grad_();
    Tensor b = f64({3.0, 4.0}).requires_grad_();
    Tensor y = a * b;
    CHECK(y.dtype() == DType::f64);
    y.backward(ones({2}, DType::f64));
    CHECK(a.grad().dtype() == DType::f32);
    CHECK(values(a.grad()) == Values{3, 4});
    CHECK(b.grad().dtype() == DType::f64);
    CHECK(values(b.grad()) == Values{1, 2});
}

TEST_CASE("broadcast gradients are summed over stretched dimensions") {
    Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
    Tensor b = f64({1, 2}, {2, 1}).requires_grad_();
    Tensor s = Tensor::scalar(2.0, DType::f64).requires_grad_();
    Tensor y = (a + b) * s;
    y.backward(ones({2, 3}, DType::f64));
    CHECK(values(a.grad()) == Values{2, 2, 2, 2, 2, 2});
    CHECK(b.grad().shape() == Shape{2, 1});
    CHECK(values(b.grad()) == Values{6, 6});
    CHECK(s.grad().shape() == Shape{});
    CHECK(s.grad().item() == 1 + 2 + 3 + 4 + 5 + 6 + 3 * 1 + 3 * 2);
}

TEST_CASE("incompatible shapes are a ShapeError naming both shapes") {
    Tensor a = ones({2, 3}, DType::f64).requires_grad_();
    Tensor b = ones({4}, DType::f64);
    for (const NamedBinary& f : kArithmetic) {
        CAPTURE(f.name);
        CHECK_THROWS_WITH_AS(f.op(a, b), doctest::Contains("[2, 3]"), ShapeError);
        CHECK_THROWS_WITH_AS(f.op(a, b), doctest::Contains("[4]"), ShapeError);
        CHECK_THROWS_WITH_AS(f.op(b, a), doctest::Contains(f.name), ShapeError);
    }
    CHECK_THROWS_WITH_AS(pow(a, b), doctest::Contains("[2, 3] and [4]"), ShapeError);
    CHECK_THROWS_WITH_AS(where(ones({2, 3}), a, b), doctest::Contains("[4]"), ShapeError);
    CHECK_THROWS_WITH_AS(where(ones({5}), a, a), doctest::Contains("[5]"), ShapeError);
    CHECK_THROWS_WITH_AS(lt(a, b), doctest::Contains("[2, 3] and [4]"), ShapeError);
    CHECK_THROWS_AS(ones({2, 1}) + ones({3, 3}), ShapeError);
    CHECK(tape_size() == 0);
}

TEST_CASE("a failed op leaves the tape unchanged, also when dtypes differ") {
    Tensor a = ones({2, 3}).requires_grad_();  // float32: promotion to float64 first
    Tensor b = ones({4}, DType::f64);
    CHECK_THROWS_AS(add(a, b), ShapeError);
    CHECK_THROWS_AS(div(i64({1, 2}), a), ShapeError);
    CHECK_THROWS_AS(pow(a, b), ShapeError);
    CHECK_THROWS_AS(where(ones({2, 3}), a, b), ShapeError);
    CHECK_THROWS_AS(where(ones({5}), a, b.reshape({4})), ShapeError);
    CHECK(tape_size() == 0);
}

TEST_CASE("operations on undefined tensors are a ValueError") {
    Tensor u;
    CHECK_THROWS_AS(add(u, ones({1})), ValueError);
    CHECK_THROWS_AS(mul(ones({1}), u), ValueError);
    CHECK_THROWS_AS(exp(u), ValueError);
    CHECK_THROWS_AS(clamp(u, 0.0, 1.0), ValueError);
}

TEST_CASE("empty tensors broadcast and differentiate") {
    Tensor a = zeros({0, 3}, DType::f64).requires_grad_();
    Tensor b = f64({1, 2, 3}).requires_grad_();
    Tensor y = a * b;
    CHECK(y.shape() == Shape{0, 3});
    y.backward(zeros({0, 3}, DType::f64));
    CHECK(a.grad().shape() == Shape{0, 3});
    CHECK(values(b.grad()) == Values{0, 0, 0});
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return v[0] + v[1]; },
                    {zeros({2, 0}, DType::f64), f64({5}, {1})}));
}

// ---- unary -------------------------------------------------------------------

TEST_CASE("neg") {
    CHECK(values(neg(f64({1, -2, 0}))) == Values{-1, 2, 0});
    CHECK(neg(i64({3})).dtype() == DType::i64);
    CHECK(gradcheck([](const Tensor& v) { return neg(v); }, mixed({2, 3}, 3)));
}

TEST_CASE("pow with a scalar exponent") {
    Tensor x = f64({2, -3, 0, 0.5});
    CHECK(values(pow(x, 3)) == Values{8, -27, 0, 0.125});
    CHECK(values(pow(x, 2)) == Values{4, 9, 0, 0.25});
    CHECK(values(pow(f64({4, 9}), 0.5)) == Values{2, 3});
    CHECK(values(pow(f64({2, 4}), -1)) == Values{0.5, 0.25});
    CHECK(values(pow(x, 0)) == Values{1, 1, 1, 1});
    CHECK(pow(i64({2}), 2).dtype() == DType::f32);
    Tensor with_zero = f64({-1.5, -0.5, 0, 0.5, 2});
    CHECK(gradcheck([](const Tensor& v) { return pow(v, 3); }, with_zero));
    CHECK(gradcheck([](const Tensor& v) { return pow(v, 2); }, with_zero));
    CHECK(gradcheck([](const Tensor& v) { return pow(v, 1); }, with_zero));
    CHECK(gradcheck([](const Tensor& v) { return pow(v, 0.5); }, positive({5}, 4)));
    CHECK(gradcheck([](const Tensor& v) { return pow(v, -1.5); }, positive({5}, 5)));
}

TEST_CASE("pow with exponent 0 has gradient 0, also at x = 0 (as PyTorch)") {
    Tensor x = f64({0, 2}).requires_grad_();
    CHECK(grad_of(x, pow(x, 0)) == Values{0, 0});
    Tensor y = f64({0, 2}).requires_grad_();
    CHECK(grad_of(y, pow(y, f64({0, 0}))) == Values{0, 0});
}

TEST_CASE("pow with a tensor exponent") {
    CHECK(values(pow(f64({2, 3, 4}), f64({3, 2, 0.5}))) == Values{8, 9, 2});
    Tensor b = pow(f64({1, 2, 3}, {3, 1}), f64({0, 1, 2}));
    CHECK(b.shape() == Shape{3, 3});
    CHECK(values(b) == Values{1, 1, 1, 1, 2, 4, 1, 3, 9});
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], v[1]); },
                    {positive({2, 3}, 6), mixed({2, 3}, 7)}));
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], v[1]); },
                    {positive({2, 3}, 8), mixed({3}, 9)}));
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], v[1]); },
                    {positive({3, 1}, 10), Tensor::scalar(1.7, DType::f64)}));
}

TEST_CASE("pow with a tensor exponent at x = 0") {
    // d/dx 0^e = e 0^(e-1): 0 for e > 1, 1 for e = 1; d/de 0^e = 0 for e > 0.
    Tensor x = f64({0, 0, 0, 0}).requires_grad_();
    Tensor e = f64({1, 2, 3, 2.5}).requires_grad_();
    Tensor y = pow(x, e);
    CHECK(values(y) == Values{0, 0, 0, 0});
    y.backward(ones({4}, DType::f64));
    CHECK(values(x.grad()) == Values{1, 0, 0, 0});
    CHECK(values(e.grad()) == Values{0, 0, 0, 0});
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], v[1]); },
                    {f64({0, 0, 0, 1.5}), f64({1, 2, 3, 3})}));
    // Negative x needs an integral exponent, held fixed: (-x)^(e + eps) is NaN.
    CHECK(gradcheck(
        [](const Tensor& v) {
            return pow(v, f64({1, 2, 3, 2}));
        },
        f64({0, -1.5, 0, -0.5})));
}

TEST_CASE("exp, log and sqrt") {
    CHECK(values(exp(f64({0}))) == Values{1});
    CHECK(exp(f64({1})).item() == doctest::Approx(std::numbers::e));
    CHECK(values(log(f64({1}))) == Values{0});
    CHECK(log(f64({std::numbers::e})).item() == doctest::Approx(1.0));
    CHECK(values(log(f64({0}))) == Values{-INFINITY});
    CHECK(values(sqrt(f64({4, 0, 2.25}))) == Values{2, 0, 1.5});
    CHECK(std::isnan(sqrt(f64({-1})).item()));
    using Unary = Tensor (*)(const Tensor&);
    for (Unary f : {Unary(exp), Unary(log), Unary(sqrt)}) CHECK(f(i64({1})).dtype() == DType::f32);
    CHECK(gradcheck([](const Tensor& v) { return exp(v); }, mixed({2, 3}, 11)));
    CHECK(gradcheck([](const Tensor& v) { return log(v); }, positive({2, 3}, 12)));
    CHECK(gradcheck([](const Tensor& v) { return sqrt(v); }, positive({2, 3}, 13)));
}

TEST_CASE("abs, with gradient 0 at 0 as PyTorch") {
    CHECK(values(abs(f64({-2, 0, 3.5}))) == Values{2, 0, 3.5});
    Tensor n = abs(i64({-4, 5}));
    CHECK(n.dtype() == DType::i64);
    CHECK(n.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 5});
    Tensor x = f64({-2, 0, 3}).requires_grad_();
    CHECK(grad_of(x, abs(x)) == Values{-1, 0, 1});
    CHECK(gradcheck([](const Tensor& v) { return abs(v); }, mixed({2, 3}, 14)));
}

TEST_CASE("sin and cos") {
    CHECK(values(sin(f64({0}))) == Values{0});
    CHECK(values(cos(f64({0}))) == Values{1});
    CHECK(sin(f64({std::numbers::pi / 2})).item() == doctest::Approx(1.0));
    CHECK(cos(f64({std::numbers::pi})).item() == doctest::Approx(-1.0));
    CHECK(sin(i64({0})).dtype() == DType::f32);
    Tensor x = f64({-3, -1, 0, 0.5, 2, 4});
    CHECK(gradcheck([](const Tensor& v) { return sin(v); }, x));
    CHECK(gradcheck([](const Tensor& v) { return cos(v); }, x));
}

// ---- clamp, where ------------------------------------------------------------

TEST_CASE("clamp with min only, max only and both") {
    Tensor x = f64({-2, -1, 0, 1, 2});
    CHECK(values(clamp(x, -1.0, std::nullopt)) == Values{-1, -1, 0, 1, 2});
    CHECK(values(clamp(x, std::nullopt, 0.5)) == Values{-2, -1, 0, 0.5, 0.5});
    CHECK(values(clamp(x, -0.5, 1.0)) == Values{-0.5, -0.5, 0, 1, 1});
    CHECK(std::isnan(clamp(f64({NAN}), 0.0, 1.0).item()));
    // min > max sets everything to max, as PyTorch.
    CHECK(values(clamp(x, 1.0, -1.0)) == Values{-1, -1, -1, -1, -1});
}

TEST_CASE("clamp gradient passes inside and exactly at the bounds") {
    Tensor x = f64({-2, -1, 0, 1, 2}).requires_grad_();
    CHECK(grad_of(x, clamp(x, -1.0, 1.0)) == Values{0, 1, 1, 1, 0});
    Tensor lo = f64({-2, -1, 0}).requires_grad_();
    CHECK(grad_of(lo, clamp(lo, -1.0, std::nullopt)) == Values{0, 1, 1});
    Tensor hi = f64({0, 1, 2}).requires_grad_();
    CHECK(grad_of(hi, clamp(hi, std::nullopt, 1.0)) == Values{1, 1, 0});
    Tensor v = f64({-2.5, -1.2, -0.3, 0.4, 1.3, 2.2});
    CHECK(gradcheck([](const Tensor& t) { return clamp(t, -1.0, 1.0); }, v));
    CHECK(gradcheck([](const Tensor& t) { return clamp(t, 0.0, std::nullopt); }, v));
    CHECK(gradcheck([](const Tensor& t) { return clamp(t, std::nullopt, 0.0); }, v));
}

TEST_CASE("clamp needs at least one bound and no NaN bound") {
    Tensor x = ones({2}).requires_grad_();
    CHECK_THROWS_WITH_AS(clamp(x, std::nullopt, std::nullopt), doctest::Contains("clamp"),
                         ValueError);
    CHECK_THROWS_WITH_AS(clamp(x, NAN, 1.0), doctest::Contains("NaN"), ValueError);
    CHECK(tape_size() == 0);
}

TEST_CASE("where picks a or b and broadcasts all three") {
    Tensor c = Tensor::from({1, 0, 1}, Shape{3, 1});
    Tensor a = f64({1, 2, 3, 4}, {1, 4});
    Tensor b = Tensor::scalar(-1.0, DType::f64);
    Tensor y = where(c, a, b);
    CHECK(y.shape() == Shape{3, 4});
    CHECK(values(y) == Values{1, 2, 3, 4, -1, -1, -1, -1, 1, 2, 3, 4});
    CHECK(where(f64({1, 0}), i64({1, 2}), Tensor::from({0.5, 0.5})).dtype() == DType::f32);
    // Condition values other than 0 count as true.
    CHECK(values(where(f64({-2, 0, 0.5}), f64({1, 1, 1}), f64({0, 0, 0}))) == Values{1, 0, 1});
}

TEST_CASE("where gradients go to the chosen side") {
    Tensor c = i64({1, 0, 1}).reshape({3, 1});
    Tensor a = f64({1, 2, 3, 4}, {1, 4}).requires_grad_();
    Tensor b = Tensor::scalar(-1.0, DType::f64).requires_grad_();
    where(c, a, b).backward(ones({3, 4}, DType::f64));
    CHECK(values(a.grad()) == Values{2, 2, 2, 2});
    CHECK(b.grad().item() == 4);
    // The int64 condition is passed through, not checked.
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return where(v[0], v[1], v[2]); },
                    {c, mixed({1, 4}, 15), mixed({3, 4}, 16)}));
    CHECK(gradcheck([](const std::vector<Tensor>& v) { return where(v[0], v[1], v[2]); },
                    {i64({0, 1}), mixed({2, 2}, 17), Tensor::scalar(0.3, DType::f64)}));
}

// ---- comparisons, sum_to -----------------------------------------------------

TEST_CASE("comparisons give 0/1 masks without gradient") {
    Tensor a = f64({1, 2, 3}).requires_grad_();
    Tensor b = f64({2, 2, 2});
    CHECK(values(eq(a, b)) == Values{0, 1, 0});
    CHECK(values(ne(a, b)) == Values{1, 0, 1});
    CHECK(values(lt(a, b)) == Values{1, 0, 0});
    CHECK(values(le(a, b)) == Values{1, 1, 0});
    CHECK(values(gt(a, b)) == Values{0, 0, 1});
    CHECK(values(ge(a, b)) == Values{0, 1, 1});
    CHECK(values(a == 2) == Values{0, 1, 0});
    CHECK(values(a < 2) == Values{1, 0, 0});
    CHECK(values(a <= 2) == Values{1, 1, 0});
    CHECK(values(a > 2) == Values{0, 0, 1});
    CHECK(values(a >= 2) == Values{0, 1, 1});
    CHECK_FALSE(lt(a, b).requires_grad());
    CHECK_FALSE((a > 1.5).requires_grad());
    CHECK(tape_size() == 0);
    CHECK(eq(a, b).dtype() == DType::f64);
    CHECK(lt(i64({1}), i64({2})).dtype() == DType::i64);
    CHECK(lt(i64({1}), Tensor::from({1.5})).dtype() == DType::f32);
    CHECK(values(eq(f64({NAN}), f64({NAN}))) == Values{0});
    Tensor m = gt(f64({1, 2, 3}, {3, 1}), f64({2, 1}));
    CHECK(m.shape() == Shape{3, 2});
    CHECK(values(m) == Values{0, 0, 0, 1, 1, 1});
}

TEST_CASE("sum_to reduces broadcast dimensions") {
    Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(values(sum_to(x, {3})) == Values{5, 7, 9});
    CHECK(values(sum_to(x, {1, 3})) == Values{5, 7, 9});
    CHECK(values(sum_to(x, {2, 1})) == Values{6, 15});
    CHECK(sum_to(x, {2, 1}).shape() == Shape{2, 1});
    CHECK(sum_to(x, {}).item() == 21);
    CHECK(sum_to(x, {1, 1}).shape() == Shape{1, 1});
    CHECK(sum_to(x, {2, 3}).is_same(x));
    Tensor n = sum_to(Tensor::from({1, 2, 3, 4}, Shape{2, 2}, DType::i64), {2});
    CHECK(n.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 6});
    CHECK(values(sum_to(zeros({0, 3}, DType::f64), {3})) == Values{0, 0, 0});
    Tensor big = mixed({2, 3, 4}, 18);
    for (Shape s : {Shape{4}, Shape{3, 1}, Shape{2, 1, 4}, Shape{}, Shape{1, 3, 1}}) {
        CAPTURE(s);
        CHECK(gradcheck([s](const Tensor& v) { return sum_to(v, s); }, big));
    }
}

TEST_CASE("sum_to rejects shapes that do not broadcast to the input") {
    Tensor x = ones({2, 3}, DType::f64).requires_grad_();
    CHECK_THROWS_WITH_AS(sum_to(x, {2}), doctest::Contains("[2]"), ShapeError);
    CHECK_THROWS_WITH_AS(sum_to(x, {4, 2, 3}), doctest::Contains("[4, 2, 3]"), ShapeError);
    CHECK_THROWS_AS(sum_to(x, {3, 3}), ShapeError);
    CHECK(tape_size() == 0);
}
