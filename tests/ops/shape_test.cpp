#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

using namespace tg;

namespace {

using Values = std::vector<double>;

Values values(const Tensor& x) { return x.to_vector<double>(); }

// 0, 1, 2, ... laid out in shape: element values equal their flat index, so
// expected results below are just lists of source indices.
Tensor iota(Shape shape, DType dtype = DType::f64) {
    return arange(static_cast<double>(shape.numel()), dtype).reshape(std::move(shape));
}

// Distinct, non-integer values for gradient checks.
Tensor points(Shape shape) {
    Tensor x = iota(std::move(shape));
    NoGrad guard;
    return x * 0.37 - 1.1;
}

bool shares_data(const Tensor& a, const Tensor& b) { return a.raw_data() == b.raw_data(); }

}  // namespace

TEST_CASE("transpose swaps two dimensions") {
    Tensor x = iota({2, 3});
    Tensor y = transpose(x, 0, 1);
    CHECK(y.shape() == Shape{3, 2});
    CHECK(values(y) == Values{0, 3, 1, 4, 2, 5});
    CHECK(values(transpose(x, -1, -2)) == Values{0, 3, 1, 4, 2, 5});
    CHECK(values(transpose(x, 1, 1)) == values(x));

    Tensor z = iota({2, 3, 4});
    Tensor w = transpose(z, 0, -1);
    REQUIRE(w.shape() == Shape{4, 3, 2});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
            for (std::int64_t k = 0; k < 4; ++k) CHECK(w.at({k, j, i}) == i * 12 + j * 4 + k);

    CHECK(transpose(iota({0, 3}), 0, 1).shape() == Shape{3, 0});
    CHECK(transpose(Tensor::scalar(2.0), 0, -1).item() == 2.0);
    CHECK(transpose(iota({2, 3}, DType::i64), 0, 1).dtype() == DType::i64);
}

TEST_CASE("transpose that keeps the storage order shares data") {
    Tensor x = iota({1, 3});
    Tensor y = transpose(x, 0, 1);
    CHECK(y.shape() == Shape{3, 1});
    CHECK(shares_data(x, y));
    Tensor m = iota({2, 3});
    CHECK_FALSE(shares_data(m, transpose(m, 0, 1)));
}

TEST_CASE("transpose gradient matches finite differences") {
    auto op = [](std::int64_t a, std::int64_t b) {
        return [a, b](const Tensor& v) { return transpose(v, a, b); };
    };
    CHECK(gradcheck(op(0, 1), points({2, 3})));
    CHECK(gradcheck(op(0, -1), points({2, 3, 4})));
    CHECK(gradcheck(op(1, 1), points({2, 3})));
    CHECK(gradcheck(op(0, 1), points({1, 3})));
    CHECK(gradcheck(op(0, 1), points({0, 3})));
}

TEST_CASE("transpose rejects bad dimensions") {
    CHECK_THROWS_WITH_AS(transpose(iota({2, 3}), 0, 2), doctest::Contains("transpose"), IndexError);
    CHECK_THROWS_AS(transpose(iota({2, 3}), -3, 0), IndexError);
}

TEST_CASE("permute reorders dimensions") {
    Tensor x = iota({2, 3, 4});
    Tensor y = permute(x, {2, 0, 1});
    REQUIRE(y.shape() == Shape{4, 2, 3});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
            for (std::int64_t k = 0; k < 4; ++k) CHECK(y.at({k, i, j}) == i * 12 + j * 4 + k);

    Tensor z = iota({2, 3, 2, 2});
    Tensor w = permute(z, {-1, 1, 0, 2});
    REQUIRE(w.shape() == Shape{2, 3, 2, 2});
    for (std::int64_t a = 0; a < 2; ++a)
        for (std::int64_t b = 0; b < 3; ++b)
            for (std::int64_t c = 0; c < 2; ++c)
                for (std::int64_t d = 0; d < 2; ++d)
                    CHECK(w.at({d, b, a, c}) == a * 12 + b * 4 + c * 2 + d);

    Tensor s = Tensor::scalar(5.0);
    CHECK(permute(s, {}).item() == 5.0);
    Tensor e = iota({2, 1, 3});
    CHECK(shares_data(e, permute(e, {1, 0, 2})));
}

TEST_CASE("permute gradient matches finite differences") {
    auto op = [](std::vector<std::int64_t> dims) {
        return [dims](const Tensor& v) { return permute(v, dims); };
    };
    CHECK(gradcheck(op({2, 0, 1}), points({2, 3, 4})));
    CHECK(gradcheck(op({1, 3, 0, 2}), points({2, 3, 2, 2})));
    CHECK(gradcheck(op({-1, 0, 1}), points({2, 1, 3})));
    CHECK(gradcheck(op({1, 0, 2}), points({2, 1, 3})));  // shares data
    CHECK(gradcheck(op({1, 0}), points({0, 2})));
}

TEST_CASE("permute needs a permutation of the dimensions") {
    Tensor x = iota({2, 3, 4});
    CHECK_THROWS_WITH_AS(permute(x, {0, 1}), doctest::Contains("permutation"), ValueError);
    CHECK_THROWS_WITH_AS(permute(x, {0, 1, 1}), doctest::Contains("dimension 1 repeats"),
                         ValueError);
    CHECK_THROWS_WITH_AS(permute(x, {0, -1, 2}), doctest::Contains("[2, 3, 4]"), ValueError);
    CHECK_THROWS_AS(permute(x, {0, 1, 3}), IndexError);
}

TEST_CASE("t transposes matrices and leaves vectors alone") {
    CHECK(values(t(iota({2, 3}))) == Values{0, 3, 1, 4, 2, 5});
    CHECK(t(iota({2, 3})).shape() == Shape{3, 2});
    CHECK(t(iota({3})).shape() == Shape{3});
    CHECK(t(Tensor::scalar(4.0)).item() == 4.0);
    CHECK(gradcheck([](const Tensor& v) { return t(v); }, points({3, 2})));
    CHECK(gradcheck([](const Tensor& v) { return t(v); }, points({3})));
    CHECK_THROWS_WITH_AS(t(iota({2, 2, 2})), doctest::Contains("[2, 2, 2]"), ShapeError);
}

TEST_CASE("narrow keeps a range of one dimension") {
    CHECK(values(narrow(iota({10}), 0, 2, 3)) == Values{2, 3, 4});
    Tensor x = iota({3, 4});
    Tensor y = narrow(x, 1, -3, 2);
    CHECK(y.shape() == Shape{3, 2});
    CHECK(values(y) == Values{1, 2, 5, 6, 9, 10});
    CHECK(values(narrow(x, -2, 1, 2)) == Values{4, 5, 6, 7, 8, 9, 10, 11});
    CHECK(narrow(x, 1, 4, 0).shape() == Shape{3, 0});
    CHECK(shares_data(x, narrow(x, 0, 0, 3)));
}

TEST_CASE("narrow gradient matches finite differences") {
    CHECK(gradcheck([](const Tensor& v) { return narrow(v, 1, 1, 2); }, points({3, 4})));
    CHECK(gradcheck([](const Tensor& v) { return narrow(v, -1, -2, 2); }, points({2, 3, 4})));
    CHECK(gradcheck([](const Tensor& v) { return narrow(v, 0, 1, 1); }, points({3, 1})));
    CHECK(gradcheck([](const Tensor& v) { return narrow(v, 1, 2, 0); }, points({3, 4})));
    CHECK(gradcheck([](const Tensor& v) { return narrow(v, 0, 0, 3); }, points({3, 2})));
}

TEST_CASE("narrow rejects out-of-range arguments") {
    Tensor x = iota({3, 4});
    CHECK_THROWS_WITH_AS(narrow(x, 1, 5, 0), doctest::Contains("start 5"), IndexError);
    CHECK_THROWS_AS(narrow(x, 1, -5, 1), IndexError);
    CHECK_THROWS_WITH_AS(narrow(x, 1, 3, 2), doctest::Contains("exceeds size 4"), IndexError);
    CHECK_THROWS_AS(narrow(x, 1, 0, -1), ValueError);
    CHECK_THROWS_AS(narrow(x, 2, 0, 1), IndexError);
    CHECK_THROWS_WITH_AS(narrow(Tensor::scalar(1.0), 0, 0, 1), doctest::Contains("0-D"),
                         IndexError);
}

TEST_CASE("slice follows Python's x[start:end:step]") {
    Tensor x = iota({10});
    CHECK(values(slice(x, 0, 1, 8, 3)) == Values{1, 4, 7});
    CHECK(values(slice(x, 0, 1, 7, 3)) == Values{1, 4});
    CHECK(values(slice(x, 0, -3)) == Values{7, 8, 9});
    CHECK(values(slice(x, 0, {}, -7)) == Values{0, 1, 2});
    CHECK(values(slice(x, 0, -100, 100)) == values(x));
    CHECK(values(slice(x, 0, {}, {}, 4)) == Values{0, 4, 8});
    CHECK(values(slice(x, 0, -2, {}, 5)) == Values{8});
    CHECK(slice(x, 0, 5, 2).shape() == Shape{0});
    CHECK(slice(x, 0, 12, 20).shape() == Shape{0});
    CHECK(slice(x, 0, -20, -15).shape() == Shape{0});

    Tensor m = iota({2, 5});
    Tensor y = slice(m, -1, 1, {}, 2);
    CHECK(y.shape() == Shape{2, 2});
    CHECK(values(y) == Values{1, 3, 6, 8});
    CHECK(values(slice(m, 0, 1)) == Values{5, 6, 7, 8, 9});
}

TEST_CASE("slice gradient matches finite differences") {
    CHECK(gradcheck([](const Tensor& v) { return slice(v, 0, 1, 8, 3); }, points({10})));
    CHECK(gradcheck([](const Tensor& v) { return slice(v, -1, -4, {}, 2); }, points({2, 3, 5})));
    CHECK(gradcheck([](const Tensor& v) { return slice(v, 1, {}, {}, 2); }, points({3, 1})));
    CHECK(gradcheck([](const Tensor& v) { return slice(v, 0, 4, 2); }, points({5, 2})));
    CHECK(gradcheck([](const Tensor& v) { return slice(v, 0); }, points({3, 2})));
}

TEST_CASE("slice rejects a non-positive step and a 0-D tensor") {
    CHECK_THROWS_WITH_AS(slice(iota({4}), 0, 0, 4, 0), doctest::Contains("step"), ValueError);
    CHECK_THROWS_AS(slice(iota({4}), 0, 4, 0, -1), ValueError);
    CHECK_THROWS_AS(slice(iota({4}), 1, 0, 4), IndexError);
    CHECK_THROWS_AS(slice(Tensor::scalar(1.0), 0), IndexError);
}

TEST_CASE("select removes a dimension at an index") {
    Tensor x = iota({2, 3});
    CHECK(select(x, 1, -1).shape() == Shape{2});
    CHECK(values(select(x, 1, -1)) == Values{2, 5});
    CHECK(values(select(x, -1, 0)) == Values{0, 3});
    CHECK(values(select(x, 0, 1)) == Values{3, 4, 5});
    CHECK(shares_data(select(x, 0, 1), x[1]));
    Tensor z = iota({2, 3, 4});
    CHECK(values(select(z, 1, 2)) == Values{8, 9, 10, 11, 20, 21, 22, 23});
    CHECK(select(iota({3}), 0, 2).item() == 2.0);
}

TEST_CASE("select gradient matches finite differences") {
    CHECK(gradcheck([](const Tensor& v) { return select(v, 1, 2); }, points({2, 3, 4})));
    CHECK(gradcheck([](const Tensor& v) { return select(v, -1, -1); }, points({2, 3})));
    CHECK(gradcheck([](const Tensor& v) { return select(v, 0, 1); }, points({2, 3})));
    CHECK(gradcheck([](const Tensor& v) { return select(v, 1, 0); }, points({2, 1})));
    CHECK(gradcheck([](const Tensor& v) { return select(v, 1, 0); }, points({0, 2})));
}

TEST_CASE("select rejects bad dimensions and indices") {
    Tensor x = iota({2, 3});
    CHECK_THROWS_WITH_AS(select(x, 1, 3), doctest::Contains("index 3"), IndexError);
    CHECK_THROWS_AS(select(x, 1, -4), IndexError);
    CHECK_THROWS_AS(select(x, 0, 2), IndexError);
    CHECK_THROWS_AS(select(x, 2, 0), IndexError);
    CHECK_THROWS_AS(select(Tensor::scalar(1.0), 0, 0), IndexError);
}

TEST_CASE("cat joins along an existing dimension") {
    Tensor a = iota({2, 2});
    Tensor b = iota({2, 1}) + 10.0;
    Tensor y = cat({a, b}, 1);
    CHECK(y.shape() == Shape{2, 3});
    CHECK(values(y) == Values{0, 1, 10, 2, 3, 11});
    CHECK(values(cat({a, b}, -1)) == Values{0, 1, 10, 2, 3, 11});
    Tensor r = cat({a, iota({1, 2}) + 10.0, a}, 0);
    CHECK(r.shape() == Shape{5, 2});
    CHECK(values(r) == Values{0, 1, 2, 3, 10, 11, 0, 1, 2, 3});
    CHECK(values(cat({a})) == values(a));
    CHECK(cat({iota({2, 0}), iota({2, 0})}, 1).shape() == Shape{2, 0});
}

TEST_CASE("cat promotes dtypes and skips 1-D empty tensors like PyTorch") {
    Tensor f = Tensor::from({1.0, 2.0});
    Tensor d = Tensor::from({3.0}, DType::f64);
    Tensor i = Tensor::from({4.0}, DType::i64);
    CHECK(cat({f, d}).dtype() == DType::f64);
    CHECK(cat({i, f}).dtype() == DType::f32);
    CHECK(values(cat({i, f, d})) == Values{4, 1, 2, 3});
    CHECK(cat({i, i}).dtype() == DType::i64);

    Tensor m = iota({2, 3});
    Tensor y = cat({zeros({0}, DType::f64), m, zeros({0}, DType::f64), m}, 1);
    CHECK(y.shape() == Shape{2, 6});
    CHECK(values(y) == Values{0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5});
    CHECK(cat({zeros({0}), zeros({0})}).shape() == Shape{0});
}

TEST_CASE("cat gradient matches finite differences") {
    auto cat_on = [](std::int64_t dim) {
        return [dim](const std::vector<Tensor>& v) { return cat(v, dim); };
    };
    CHECK(gradcheck(cat_on(1), {points({2, 3}), points({2, 1}), points({2, 0}), points({2, 2})}));
    CHECK(gradcheck(cat_on(-1), {points({2, 1, 3}), points({2, 1, 2})}));
    CHECK(gradcheck(cat_on(0), {points({1, 2}), points({3, 2})}));
    CHECK(gradcheck(cat_on(0), {points({0}), points({3, 2}), points({0})}));
    // The same tensor twice gets both gradients.
    CHECK(gradcheck(
        [](const std::vector<Tensor>& v) {
            return cat({v[0], v[0]}, 0);
        },
        {points({2, 2})}));
}

TEST_CASE("cat gradient converts back through promotion") {
    Tensor f = Tensor::from({1.0, 2.0}).requires_grad_();
    Tensor d = Tensor::from({3.0}, DType::f64).requires_grad_();
    Tensor y = cat({f, d});
    y.backward(Tensor::from({5.0, 6.0, 7.0}, DType::f64));
    CHECK(f.grad().dtype() == DType::f32);
    CHECK(values(f.grad()) == Values{5, 6});
    CHECK(values(d.grad()) == Values{7});
}

TEST_CASE("cat rejects bad lists and names the mismatch") {
    Tensor a = iota({2, 3});
    CHECK_THROWS_WITH_AS(cat({}), doctest::Contains("non-empty"), ValueError);
    CHECK_THROWS_WITH_AS(cat({a, iota({4, 3}), iota({2, 4})}, 0),
                         doctest::Contains("tensor 2 has shape [2, 4] and tensor 0 has shape "
                                           "[2, 3]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(cat({a, iota({6})}, 0), doctest::Contains("tensor 1 has shape [6]"),
                         ShapeError);
    CHECK_THROWS_AS(cat({a, a}, 2), IndexError);
    CHECK_THROWS_WITH_AS(cat({a, Tensor::scalar(1.0)}), doctest::Contains("tensor 1 is 0-D"),
                         ShapeError);
    CHECK_THROWS_AS(cat({a, Tensor()}), ValueError);
}

TEST_CASE("stack joins along a new dimension") {
    Tensor a = iota({2, 3});
    Tensor b = iota({2, 3}) + 10.0;
    CHECK(stack({a, b}).shape() == Shape{2, 2, 3});
    CHECK(values(stack({a, b})) == Values{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15});
    Tensor y = stack({a, b}, -1);
    CHECK(y.shape() == Shape{2, 3, 2});
    CHECK(values(y) == Values{0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15});
    CHECK(values(stack({a, b}, 2)) == values(y));
    CHECK(stack({a, b}, 1).shape() == Shape{2, 2, 3});
    Tensor s = stack({Tensor::scalar(1.0), Tensor::scalar(2.0, DType::f64)});
    CHECK(s.shape() == Shape{2});
    CHECK(s.dtype() == DType::f64);
    CHECK(stack({iota({0}), iota({0})}, 1).shape() == Shape{0, 2});
}

TEST_CASE("stack gradient matches finite differences") {
    auto stack_on = [](std::int64_t dim) {
        return [dim](const std::vector<Tensor>& v) { return stack(v, dim); };
    };
    CHECK(gradcheck(stack_on(0), {points({2, 3}), points({2, 3}), points({2, 3})}));
    CHECK(gradcheck(stack_on(-1), {points({2, 3}), points({2, 3})}));
    CHECK(gradcheck(stack_on(1), {points({1}), points({1})}));
    CHECK(gradcheck(stack_on(0), {points({0, 2}), points({0, 2})}));
}

TEST_CASE("stack rejects bad lists and dimensions") {
    Tensor a = iota({2, 3});
    CHECK_THROWS_AS(stack({}), ValueError);
    CHECK_THROWS_WITH_AS(stack({a, a, iota({3, 2})}),
                         doctest::Contains("tensor 2 has shape [3, 2] and tensor 0 has shape "
                                           "[2, 3]"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(stack({a, a}, 3), doctest::Contains("[-3, 2]"), IndexError);
    CHECK_THROWS_AS(stack({a, a}, -4), IndexError);
}

TEST_CASE("split by size leaves a smaller last piece") {
    Tensor x = iota({5, 2});
    auto pieces = split(x, 2);
    REQUIRE(pieces.size() == 3);
    CHECK(values(pieces[0]) == Values{0, 1, 2, 3});
    CHECK(values(pieces[1]) == Values{4, 5, 6, 7});
    CHECK(values(pieces[2]) == Values{8, 9});
    CHECK(pieces[2].shape() == Shape{1, 2});

    auto columns = split(x, 1, -1);
    REQUIRE(columns.size() == 2);
    CHECK(values(columns[1]) == Values{1, 3, 5, 7, 9});
    CHECK(split(x, 7).size() == 1);
    auto empty = split(iota({0, 2}), 3);
    REQUIRE(empty.size() == 1);
    CHECK(empty[0].shape() == Shape{0, 2});
    CHECK(split(iota({0}), 0).size() == 1);
}

TEST_CASE("split by sizes") {
    Tensor x = iota({2, 5});
    auto pieces = split(x, std::vector<std::int64_t>{1, 0, 3, 1}, 1);
    REQUIRE(pieces.size() == 4);
    CHECK(values(pieces[0]) == Values{0, 5});
    CHECK(pieces[1].shape() == Shape{2, 0});
    CHECK(values(pieces[2]) == Values{1, 2, 3, 6, 7, 8});
    CHECK(values(pieces[3]) == Values{4, 9});
}

TEST_CASE("split is one tape entry and its gradient matches finite differences") {
    Tensor w = ones({4, 3}).requires_grad_();
    auto pieces = split(w, 2);
    CHECK(tape_size() == 1);
    clear_tape();

    // Pieces recombined in another order, each scaled differently, so a
    // gradient sent to the wrong piece shows.
    auto mix = [](const std::vector<Tensor>& p) {
        std::vector<Tensor> scaled;
        for (std::size_t k = p.size(); k-- > 0;) scaled.push_back(p[k] * double(k + 2));
        return cat(scaled, 0);
    };
    auto flat = [](const std::vector<Tensor>& p) {
        std::vector<Tensor> flat_pieces;
        for (std::size_t k = p.size(); k-- > 0;) flat_pieces.push_back(p[k].flatten());
        return cat(flat_pieces);
    };
    CHECK(gradcheck([&](const Tensor& v) { return mix(split(v, 2)); }, points({5, 3})));
    CHECK(gradcheck([&](const Tensor& v) { return flat(split(v, 2, -1)); }, points({3, 5})));
    CHECK(gradcheck(
        [&](const Tensor& v) {
            return flat(split(v, {2, 0, 1}, 1));
        },
        points({2, 3, 2})));
    // Only one piece used: the others' gradients arrive as zeros.
    CHECK(gradcheck([](const Tensor& v) { return split(v, 2)[1]; }, points({5, 2})));
    CHECK(gradcheck([&](const Tensor& v) { return flat(split(v, 2)); }, points({0, 2})));
}

TEST_CASE("split rejects bad sizes") {
    Tensor x = iota({4, 2});
    CHECK_THROWS_WITH_AS(split(x, {1, 2}), doctest::Contains("add up to 3"), ShapeError);
    CHECK_THROWS_WITH_AS(split(x, {1, 2}), doctest::Contains("[4, 2]"), ShapeError);
    CHECK_THROWS_AS(split(x, {5, -1}), ValueError);
    CHECK_THROWS_AS(split(x, std::vector<std::int64_t>{}), ValueError);
    CHECK_THROWS_AS(split(x, 0), ValueError);
    CHECK_THROWS_AS(split(x, -1), ValueError);
    CHECK_THROWS_AS(split(x, 1, 2), IndexError);
    CHECK_THROWS_AS(split(Tensor::scalar(1.0), 1), IndexError);
}

TEST_CASE("chunk uses pieces of ceil(n / chunks), maybe fewer of them") {
    auto sizes = [](const std::vector<Tensor>& pieces) {
        std::vector<std::int64_t> s;
        for (const Tensor& p : pieces) s.push_back(p.shape()[0]);
        return s;
    };
    CHECK(sizes(chunk(iota({6}), 4)) == std::vector<std::int64_t>{2, 2, 2});
    CHECK(sizes(chunk(iota({5}), 2)) == std::vector<std::int64_t>{3, 2});
    CHECK(sizes(chunk(iota({7}), 3)) == std::vector<std::int64_t>{3, 3, 1});
    CHECK(sizes(chunk(iota({2}), 5)) == std::vector<std::int64_t>{1, 1});
    CHECK(sizes(chunk(iota({0}), 3)) == std::vector<std::int64_t>{0, 0, 0});
    auto gates = chunk(iota({2, 8}), 4, -1);
    REQUIRE(gates.size() == 4);
    CHECK(values(gates[2]) == Values{4, 5, 12, 13});
    CHECK(gradcheck([](const Tensor& v) { return chunk(v, 4, 1)[2] * chunk(v, 4, 1)[0]; },
                    points({2, 8})));
    CHECK_THROWS_AS(chunk(iota({4}), 0), ValueError);
    CHECK_THROWS_AS(chunk(Tensor::scalar(1.0), 1), IndexError);
}

TEST_CASE("unsqueeze and squeeze add and drop size-1 dimensions, sharing data") {
    Tensor x = iota({2, 3});
    CHECK(unsqueeze(x, 0).shape() == Shape{1, 2, 3});
    CHECK(unsqueeze(x, 2).shape() == Shape{2, 3, 1});
    CHECK(unsqueeze(x, -1).shape() == Shape{2, 3, 1});
    CHECK(unsqueeze(x, -3).shape() == Shape{1, 2, 3});
    CHECK(unsqueeze(Tensor::scalar(1.0), 0).shape() == Shape{1});
    CHECK(shares_data(unsqueeze(x, 1), x));
    CHECK(values(unsqueeze(x, 1)) == values(x));

    Tensor y = iota({1, 2, 1, 3, 1});
    CHECK(squeeze(y).shape() == Shape{2, 3});
    CHECK(squeeze(y, 2).shape() == Shape{1, 2, 3, 1});
    CHECK(squeeze(y, -1).shape() == Shape{1, 2, 1, 3});
    CHECK(squeeze(y, 1).shape() == y.shape());  // size 2: unchanged, as torch
    CHECK(squeeze(iota({1, 1})).shape() == Shape{});
    CHECK(squeeze(Tensor::scalar(3.0), 0).item() == 3.0);
    CHECK(shares_data(squeeze(y), y));
    CHECK(values(squeeze(y)) == values(y));

    CHECK_THROWS_WITH_AS(unsqueeze(x, 3), doctest::Contains("[-3, 2]"), IndexError);
    CHECK_THROWS_AS(unsqueeze(x, -4), IndexError);
    CHECK_THROWS_AS(squeeze(x, 2), IndexError);
}

TEST_CASE("unsqueeze and squeeze gradients match finite differences") {
    CHECK(gradcheck([](const Tensor& v) { return unsqueeze(v, -1); }, points({2, 3})));
    CHECK(gradcheck([](const Tensor& v) { return squeeze(v); }, points({1, 3, 1})));
    CHECK(gradcheck([](const Tensor& v) { return squeeze(v, 0); }, points({1, 3, 1})));
    CHECK(gradcheck([](const Tensor& v) { return squeeze(v, 1); }, points({1, 3, 1})));
}

TEST_CASE("expand repeats size-1 dimensions into a copy") {
    Tensor x = Tensor::from({1.0, 2.0, 3.0}, Shape{3, 1}, DType::f64);
    Tensor y = expand(x, {3, 2});
    CHECK(y.shape() == Shape{3, 2});
    CHECK(values(y) == Values{1, 1, 2, 2, 3, 3});
    CHECK(values(expand(x, {2, -1, 2})) == Values{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
    CHECK(values(expand(iota({3}), {2, 3})) == Values{0, 1, 2, 0, 1, 2});
    CHECK(expand(x, {3, 0}).shape() == Shape{3, 0});
    CHECK(expand(x, {0, 3, 1}).shape() == Shape{0, 3, 1});
    CHECK(values(expand(Tensor::scalar(7.0), {2})) == Values{7, 7});
    CHECK(values(expand(x, {-1, 1})) == values(x));
    CHECK(expand(iota({2}, DType::i64), {2, 2}).dtype() == DType::i64);
}

TEST_CASE("expand gradient matches finite differences") {
    CHECK(gradcheck([](const Tensor& v) { return expand(v, {3, 4}); }, points({3, 1})));
    CHECK(gradcheck([](const Tensor& v) { return expand(v, {2, 2, -1, 4}); }, points({3, 1})));
    CHECK(gradcheck([](const Tensor& v) { return expand(v, {2, 3, 2}); }, points({1, 3, 1})));
    CHECK(gradcheck([](const Tensor& v) { return expand(v, {5}); }, points({})));
    CHECK(gradcheck([](const Tensor& v) { return expand(v, {2, 0}); }, points({2, 1})));
}

TEST_CASE("expand rejects growing a dimension that is not 1") {
    Tensor x = iota({2, 3});
    CHECK_THROWS_WITH_AS(expand(x, {2, 4}), doctest::Contains("only size-1 dimensions"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(expand(x, {2, 4}), doctest::Contains("[2, 3]"), ShapeError);
    CHECK_THROWS_AS(expand(x, {3}), ShapeError);
    CHECK_THROWS_AS(expand(x, {-1, 2, 3}), ShapeError);
    CHECK_THROWS_AS(expand(iota({1}), {-2}), ShapeError);
}

TEST_CASE("a failed shape op leaves the tape unchanged") {
    Tensor x = ones({2, 3}).requires_grad_();
    CHECK_THROWS(cat({x, ones({3, 3})}, 1));
    CHECK_THROWS(split(x, {1, 2}));
    CHECK_THROWS(expand(x, {4, 3}));
    CHECK_THROWS(permute(x, {0, 0}));
    CHECK_THROWS(slice(x, 1, 0, 2, 0));
    CHECK(tape_size() == 0);
}

TEST_CASE("split, slice and chunk refuse or clamp sizes that would overflow") {
    Tensor x = arange(2.0);
    const std::int64_t big = std::numeric_limits<std::int64_t>::max();
    CHECK_THROWS_AS(split(x, std::vector<std::int64_t>{big, big, 4}), ValueError);
    CHECK(slice(x, 0, {}, {}, big).to_vector<float>() == std::vector<float>{0});
    CHECK(chunk(x, big).size() == 2);
}
