#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>

#include "mpi_test_util.h"

using namespace tg;

namespace {

struct Net : Module {
    LSTM lstm{{.input_size = 2, .hidden_size = 3}};
    Linear head{{.in_features = 3, .out_features = 1}};
    Net() {
        register_module("lstm", lstm);
        register_module("head", head);
    }
};

// One data-parallel step on this rank's rows.
void step(Net& net, Optimizer& optimizer) {
    manual_seed(50 + static_cast<std::uint64_t>(dist::rank()));
    Tensor x = randn({4, 2, 2}), y = randn({4, 2, 1});
    Tensor loss = mse_loss(net.head(net.lstm(x).output), y);
    optimizer.zero_grad();
    loss.backward();
    dist::all_reduce_gradients(net);
    optimizer.step();
}

// A file name every rank agrees on: rank 0's process id, broadcast.
std::string shared_path(const std::string& name) {
    Tensor pid = Tensor::from({static_cast<double>(getpid())}, DType::i64);
    dist::broadcast(pid);
    return (std::filesystem::temp_directory_path() /
            fmt::format("tapegrad_dist_{}_{}.safetensors", name, pid.to_vector<std::int64_t>()[0]))
        .string();
}

}  // namespace

TEST_CASE("every rank resumes from the checkpoint rank 0 wrote, bit for bit") {
    std::string path = shared_path("resume");
    manual_seed(1);
    Net net;
    dist::broadcast_parameters(net);
    Adam adam(net.parameters(), {.lr = 0.05});
    for (int i = 0; i < 3; ++i) step(net, adam);
    dist::save_checkpoint(path, net, adam);
    // Nobody returns before the file is complete, so every rank can open it now.
    CHECK(std::filesystem::exists(path));
    for (int i = 0; i < 3; ++i) step(net, adam);

    manual_seed(static_cast<std::uint64_t>(99 + dist::rank()));  // other weights, other stream
    Net resumed;
    Adam resumed_adam(resumed.parameters(), {.lr = 0.9});
    dist::load_checkpoint(path, resumed, resumed_adam);
    CHECK(resumed_adam.lr() == 0.05);
    for (int i = 0; i < 3; ++i) step(resumed, resumed_adam);

    auto a = net.parameters(), b = resumed.parameters();
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].to_vector<float>() == b[i].to_vector<float>());
        CHECK(same_on_all_ranks(b[i]));
    }
    dist::barrier();
    if (dist::rank() == 0) std::filesystem::remove(path);
}

TEST_CASE("a checkpoint rank 0 cannot write fails on every rank") {
    std::string path = shared_path("unwritable") + ".d/no/such/dir/checkpoint.safetensors";
    manual_seed(1);
    Net net;
    Adam adam(net.parameters());
    if (dist::rank() == 0)
        CHECK_THROWS_AS(dist::save_checkpoint(path, net, adam), Error);
    else
        CHECK_THROWS_WITH_AS(dist::save_checkpoint(path, net, adam),
                             doctest::Contains("rank 0 could not write"), dist::DistributedError);
}

TEST_CASE("a checkpoint some rank cannot read fails on every rank") {
    std::string path = shared_path("partial");
    manual_seed(1);
    Net net;
    Adam adam(net.parameters());
    dist::save_checkpoint(path, net, adam);
    // The last rank sees no file; the others read theirs and still fail.
    std::string mine = dist::rank() == dist::world_size() - 1 ? path + ".missing" : path;
    std::string names_the_rank = fmt::format("on rank {}", dist::world_size() - 1);
    if (dist::world_size() > 1 && dist::rank() != dist::world_size() - 1)
        CHECK_THROWS_WITH_AS(dist::load_checkpoint(mine, net, adam),
                             doctest::Contains(names_the_rank.c_str()), dist::DistributedError);
    else
        CHECK_THROWS_AS(dist::load_checkpoint(mine, net, adam), Error);
    dist::barrier();
    if (dist::rank() == 0) std::filesystem::remove(path);
}
