#include <doctest/doctest.h>

#include "mpi_test_util.h"

using namespace tg;

namespace {

struct Net : Module {
    LSTM lstm{{.input_size = 3, .hidden_size = 6, .batch_first = true}};
    Linear head{{.in_features = 6, .out_features = 2}};
    Net() {
        register_module("lstm", lstm);
        register_module("head", head);
    }
    Tensor operator()(const Tensor& x) const { return head(lstm(x).output); }
};

constexpr std::int64_t kRowsPerRank = 4, kSeqLen = 5;
constexpr int kSteps = 10;

void train(Net& net, const Tensor& x, const Tensor& y, bool distributed) {
    Adam adam(net.parameters(), {.lr = 0.01});
    for (int step = 0; step < kSteps; ++step) {
        Tensor loss = mse_loss(net(x), y);
        adam.zero_grad();
        loss.backward();
        if (distributed) dist::all_reduce_gradients(net);
        adam.step();
    }
}

// The largest difference between the parameters of N ranks that train on B
// rows each and those of one process that trains on all N * B rows.
double distributed_vs_one_process(DType dtype) {
    std::int64_t ranks = dist::world_size(), r = dist::rank();
    manual_seed(100);
    Tensor x = randn({ranks * kRowsPerRank, kSeqLen, 3}, dtype);
    Tensor y = randn({ranks * kRowsPerRank, kSeqLen, 2}, dtype);

    manual_seed(7);
    Net whole;
    whole.to(dtype);
    train(whole, x, y, /*distributed=*/false);

    // Different initial weights on every rank, made equal by the broadcast.
    manual_seed(7 + static_cast<std::uint64_t>(r));
    Net shard;
    shard.to(dtype);
    dist::broadcast_parameters(shard);
    train(shard, narrow(x, 0, r * kRowsPerRank, kRowsPerRank),
          narrow(y, 0, r * kRowsPerRank, kRowsPerRank), /*distributed=*/true);

    // Adam barely notices a gradient off by a constant factor, so the last
    // step's gradients are compared as well as the parameters.
    double worst = 0;
    auto a = whole.parameters(), b = shard.parameters();
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(same_on_all_ranks(b[i]));
        worst = std::max(worst, max_abs_diff(a[i], b[i]));
        worst = std::max(worst, max_abs_diff(a[i].grad(), b[i].grad()));
    }
    // The parameters moved, so agreeing with the one-process run means something.
    manual_seed(7);
    Net initial;
    CHECK(max_abs_diff(initial.head.weight, whole.head.weight) > 0.05);
    return dist::all_reduce(worst, dist::ReduceOp::max);
}

}  // namespace

// With a mean loss and equal shards, the mean of the ranks' gradients is the
// gradient of the mean over the global batch: N ranks train as one process
// on N times the rows, to rounding (the batch sums split differently).
TEST_CASE("N ranks with B rows each train like one process with N * B rows, float64") {
    double worst = distributed_vs_one_process(DType::f64);
    if (dist::rank() == 0)
        MESSAGE("float64: largest difference in parameters and gradients after ", kSteps,
                " Adam steps: ", worst);
    CHECK(worst <= 1e-10);
}

TEST_CASE("N ranks with B rows each train like one process with N * B rows, float32") {
    double worst = distributed_vs_one_process(DType::f32);
    if (dist::rank() == 0)
        MESSAGE("float32: largest difference in parameters and gradients after ", kSteps,
                " Adam steps: ", worst);
    CHECK(worst <= 1e-5);
}
