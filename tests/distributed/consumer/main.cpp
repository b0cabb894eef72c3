// Every rank starts from other weights and trains on other rows; after the
// broadcast and the gradient all-reduce, all ranks must hold the same weights.
// Exits non-zero otherwise, so the install test fails if the installed
// distributed package links but does not work.
#include <algorithm>
#include <cstdint>

#include <fmt/format.h>
#include <tapegrad/distributed.h>
#include <tapegrad/tapegrad.h>

int main(int argc, char** argv) {
    tg::dist::Session session(argc, argv);
    tg::manual_seed(static_cast<std::uint64_t>(session.rank()));
    tg::Linear model({.in_features = 3, .out_features = 1});
    tg::dist::broadcast_parameters(model);
    tg::Adam adam(model.parameters(), {.lr = 0.05});

    tg::Tensor x = tg::randn({8, 3});
    tg::Tensor y = tg::sum(x, {1}, /*keepdim=*/true);
    for (int step = 0; step < 5; ++step) {
        tg::Tensor loss = tg::mse_loss(model(x), y);
        adam.zero_grad();
        loss.backward();
        tg::dist::all_reduce_gradients(model);
        adam.step();
    }

    double spread = 0;  // the largest difference of one weight between ranks
    for (const tg::Tensor& p : model.parameters())
        for (double v : p.to_vector<double>())
            spread = std::max(spread, tg::dist::all_reduce(v, tg::dist::ReduceOp::max) -
                                          tg::dist::all_reduce(v, tg::dist::ReduceOp::min));
    if (session.rank() == 0)
        fmt::print("{} ranks, largest weight difference {}\n", session.world_size(), spread);
    return spread == 0 ? 0 : 1;
}
