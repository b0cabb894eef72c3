#include <doctest/doctest.h>

#include "mpi_test_util.h"

using namespace tg;

namespace {

// Parameters of both dtypes and odd sizes, so tiny buckets cut through
// tensors and each dtype travels in its own stream; `sometimes` has a
// gradient on rank 0 only and `unused` on no rank.
struct Mixed : Module {
    Tensor a, b, c, d, sometimes, unused;
    Mixed() {
        a = register_parameter("a", randn({3, 5}));
        b = register_parameter("b", randn({7}, DType::f64));
        c = register_parameter("c", randn({2, 2, 3}));
        d = register_parameter("d", randn({11}, DType::f64));
        sometimes = register_parameter("sometimes", randn({4}));
        unused = register_parameter("unused", randn({4}));
    }
};

// The gradient rank r computes for p: a pure function of (r, p's position),
// so every rank can work out what every other rank contributes.
Tensor gradient_of(int r, std::size_t position, const Tensor& p) {
    manual_seed(1000 + 100 * static_cast<std::uint64_t>(r) + position);
    return randn(p.shape(), p.dtype());
}

void set_gradients(Mixed& m) {
    auto params = m.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (params[i].is_same(m.unused)) continue;
        if (params[i].is_same(m.sometimes) && dist::rank() != 0) continue;
        params[i].set_grad(gradient_of(dist::rank(), i, params[i]));
    }
}

// The mean of every rank's gradient (zeros where a rank has none), in float64.
std::vector<double> expected_mean(const Mixed& m, std::size_t position) {
    Tensor p = m.parameters()[position];
    std::vector<double> sum(static_cast<std::size_t>(p.numel()), 0.0);
    int ranks = p.is_same(m.sometimes) ? 1 : dist::world_size();
    for (int r = 0; r < ranks; ++r) {
        auto g = gradient_of(r, position, p).to_vector<double>();
        for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += g[i];
    }
    for (double& v : sum) v /= dist::world_size();
    return sum;
}

}  // namespace

TEST_CASE("all_reduce_gradients leaves every rank with the mean gradient") {
    manual_seed(3);
    Mixed m;
    set_gradients(m);
    dist::GradientSyncStats stats = dist::all_reduce_gradients(m);
    CHECK(stats.buckets == 2);  // one stream per dtype, each under the default bucket
    CHECK(stats.bytes == (15 + 12 + 4) * sizeof(float) + (7 + 11) * sizeof(double));

    auto params = m.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
        CAPTURE(i);
        if (params[i].is_same(m.unused)) {
            CHECK_FALSE(params[i].grad().defined());
            continue;
        }
        REQUIRE(params[i].grad().defined());
        CHECK(params[i].grad().dtype() == params[i].dtype());
        CHECK(same_on_all_ranks(params[i].grad()));
        double tolerance = params[i].dtype() == DType::f32 ? 1e-6 : 1e-14;
        Tensor expected = Tensor::from(expected_mean(m, i), params[i].shape(), DType::f64);
        CHECK(max_abs_diff(params[i].grad(), expected) <= tolerance);
    }
}

TEST_CASE("tiny buckets give the same gradients as one bucket per dtype") {
    manual_seed(3);
    Mixed one, many;
    set_gradients(one);
    set_gradients(many);
    dist::all_reduce_gradients(one);
    // 8 bytes: two float32 or one float64 element per MPI call.
    dist::GradientSyncStats stats = dist::all_reduce_gradients(many, {.bucket_bytes = 8});
    CHECK(stats.buckets == (15 + 12 + 4) / 2 + 1 + (7 + 11));
    auto a = one.parameters(), b = many.parameters();
    for (std::size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        REQUIRE(a[i].grad().defined() == b[i].grad().defined());
        if (!a[i].grad().defined()) continue;
        // Two ranks add each element once, in any algorithm; more may regroup the sums.
        double tolerance = dist::world_size() <= 2 ? 0.0 : 1e-6;
        CHECK(max_abs_diff(a[i].grad(), b[i].grad()) <= tolerance);
    }
    CHECK_THROWS_WITH_AS(dist::all_reduce_gradients(one, {.bucket_bytes = 0}),
                         doctest::Contains("bucket_bytes must be positive"), ValueError);
}

TEST_CASE("all_reduce_gradients refuses models that differ between ranks, on every rank") {
    if (dist::world_size() < 2) return;
    Linear m({.in_features = 3, .out_features = dist::rank() == 0 ? 2 : 4});
    mse_loss(m(ones({1, 3})), zeros({1, m.options.out_features})).backward();
    CHECK_THROWS_WITH_AS(dist::all_reduce_gradients(m),
                         doctest::Contains("Every rank must build the same model"),
                         dist::DistributedError);
}

TEST_CASE("broadcast_parameters makes ranks that started from different seeds equal") {
    int root = dist::world_size() - 1;
    manual_seed(static_cast<std::uint64_t>(dist::rank()));
    LSTM lstm({.input_size = 3, .hidden_size = 4, .num_layers = 2});
    auto before = lstm.parameters();
    if (dist::world_size() > 1) CHECK_FALSE(same_on_all_ranks(before[0]));

    dist::broadcast_parameters(lstm, root);

    manual_seed(static_cast<std::uint64_t>(root));
    LSTM roots({.input_size = 3, .hidden_size = 4, .num_layers = 2});
    auto after = lstm.parameters(), expected = roots.parameters();
    for (std::size_t i = 0; i < after.size(); ++i) {
        CHECK(after[i].is_same(before[i]));  // updated in place: the optimizer's tensors
        CHECK(after[i].to_vector<float>() == expected[i].to_vector<float>());
    }
}

TEST_CASE("DataParallel broadcasts at construction and averages on synchronize") {
    manual_seed(static_cast<std::uint64_t>(10 + dist::rank()));
    Linear m({.in_features = 2, .out_features = 1});
    dist::DataParallel parallel(m);
    CHECK(same_on_all_ranks(m.weight));
    CHECK(same_on_all_ranks(m.bias));
    Tensor x = full({1, 2}, dist::rank() + 1.0);
    mse_loss(m(x), zeros({1, 1}), Reduction::sum).backward();
    parallel.synchronize();
    CHECK(same_on_all_ranks(m.weight.grad()));
}

TEST_CASE("broadcast_optimizer_state copies the root's moments and step counts") {
    manual_seed(5);
    Linear m({.in_features = 3, .out_features = 2});
    Adam adam(m.parameters(), {.lr = 0.1});
    if (dist::rank() == 0) {
        for (int step = 0; step < 2; ++step) {
            adam.zero_grad();
            mse_loss(m(ones({4, 3})), zeros({4, 2})).backward();
            adam.step();
        }
        adam.set_lr(0.05);
    }
    dist::broadcast_optimizer_state(adam);
    StateDict state = adam.state_dict();
    CHECK(state.size() ==
          2 * 3 + 6);  // lr, betas, eps, ... + step, exp_avg, exp_avg_sq per parameter
    CHECK(adam.lr() == 0.05);
    for (const auto& [key, t] : state) {
        CAPTURE(key);
        CHECK(same_on_all_ranks(t));
    }
}
