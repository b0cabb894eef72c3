#include <doctest/doctest.h>

#include "mpi_test_util.h"

using namespace tg;
using dist::ReduceOp;

TEST_CASE("rank and world_size describe the job") {
    CHECK(dist::is_initialized());
    CHECK(dist::world_size() >= 1);
    CHECK(dist::rank() >= 0);
    CHECK(dist::rank() < dist::world_size());
    CHECK(dist::all_reduce(1.0) == dist::world_size());
}

TEST_CASE("broadcast copies the root's values in place") {
    int root = dist::world_size() - 1;
    Tensor t = full({2, 3}, 10.0 * dist::rank(), DType::f64);
    Tensor view = t.reshape({6});
    dist::broadcast(t, root);
    CHECK(t.to_vector<double>() == std::vector<double>(6, 10.0 * root));
    CHECK(view.to_vector<double>() == std::vector<double>(6, 10.0 * root));

    Tensor indices = arange(5.0, DType::i64);
    if (dist::rank() == root) indices.set({4}, 42);
    dist::broadcast(indices, root);
    CHECK(indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3, 42});
}

TEST_CASE("all_reduce sums, averages, and takes extremes over the ranks") {
    double n = dist::world_size(), r = dist::rank();
    double rank_sum = n * (n - 1) / 2;
    for (DType dtype : {DType::f32, DType::f64}) {
        Tensor t = Tensor::from({r, 1.0, -r}, dtype);
        Tensor sum = t.clone(), mean = t.clone(), low = t.clone(), high = t.clone();
        dist::all_reduce(sum);
        dist::all_reduce(mean, ReduceOp::mean);
        dist::all_reduce(low, ReduceOp::min);
        dist::all_reduce(high, ReduceOp::max);
        CHECK(sum.to_vector<double>() == std::vector<double>{rank_sum, n, -rank_sum});
        CHECK(mean.to_vector<double>() == std::vector<double>{rank_sum / n, 1.0, -rank_sum / n});
        CHECK(low.to_vector<double>() == std::vector<double>{0.0, 1.0, -(n - 1)});
        CHECK(high.to_vector<double>() == std::vector<double>{n - 1, 1.0, 0.0});
    }
    CHECK(dist::all_reduce(r, ReduceOp::max) == n - 1);
}

TEST_CASE("collectives refuse tensors that differ between ranks, on every rank") {
    if (dist::world_size() < 2) return;
    Tensor t = zeros({dist::rank() == 0 ? 3 : 4});
    CHECK_THROWS_WITH_AS(dist::all_reduce(t), doctest::Contains("the ranks pass different tensors"),
                         dist::DistributedError);
    Tensor u = dist::rank() == 0 ? zeros({3}) : zeros({3}, DType::f64);
    CHECK_THROWS_AS(dist::broadcast(u), dist::DistributedError);
}

TEST_CASE("bad arguments throw before any message is sent") {
    Tensor t = zeros({2});
    CHECK_THROWS_WITH_AS(dist::broadcast(t, dist::world_size()),
                         doctest::Contains("is not a rank of this job"), ValueError);
    CHECK_THROWS_WITH_AS(dist::broadcast(t, -1), doctest::Contains("root -1"), ValueError);
    Tensor indices = arange(3.0, DType::i64);
    CHECK_THROWS_WITH_AS(dist::all_reduce(indices, ReduceOp::mean),
                         doctest::Contains("the mean needs a floating tensor"), DTypeError);
    // Still in step: the same collective on every rank works afterwards.
    CHECK(dist::all_reduce(2.0) == 2.0 * dist::world_size());
}

TEST_CASE("broadcast_state hands the root's named tensors to every rank") {
    std::map<std::string, Tensor> mine;
    if (dist::rank() == 0) {
        mine.emplace("a.weight", Tensor::from({{1, 2}, {3, 4}}));
        mine.emplace("step", Tensor::scalar(7.0, DType::f64));
        mine.emplace("empty", zeros({0, 3}));
    } else {
        mine.emplace("other", ones({5}));
    }
    auto state = dist::broadcast_state(mine, 0);
    REQUIRE(state.size() == 3);
    CHECK(state.at("a.weight").shape() == Shape{2, 2});
    CHECK(state.at("a.weight").dtype() == DType::f32);
    CHECK(state.at("a.weight").to_vector<float>() == std::vector<float>{1, 2, 3, 4});
    CHECK(state.at("step").dtype() == DType::f64);
    CHECK(state.at("step").item() == 7.0);
    CHECK(state.at("empty").shape() == Shape{0, 3});
}
