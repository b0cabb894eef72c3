// A data-parallel training loop in which the last rank fails at step 3 in the
// way argv[1] names, while the other ranks wait for it inside
// all_reduce_gradients. The job must end with a nonzero code and a message
// that says what happened, well within the test's time limit:
//   throw     an exception leaves main          -> "rank N: injected failure at step 3"
//   unwind    it unwinds through the Session into main's handler, which
//             prints it and returns 1          -> "error: injected ...", then "rank N: exiting ..."
//   abort     std::abort()                      -> mpiexec reports signal 6
//   kill      SIGKILL, as an out-of-memory kill  -> mpiexec reports signal 9
//   mismatch  the last rank builds a larger model -> every rank: "the ranks pass different tensors"
#include <tapegrad/distributed.h>
#include <tapegrad/tapegrad.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

void train(const std::string& mode) {
    bool failing = tg::dist::rank() == tg::dist::world_size() - 1;
    std::int64_t hidden = mode == "mismatch" && failing ? 5 : 4;
    tg::manual_seed(1);
    tg::LSTM lstm({.input_size = 2, .hidden_size = hidden});
    tg::dist::broadcast_parameters(lstm);
    tg::Adam adam(lstm.parameters());
    for (int step = 0; step < 10; ++step) {
        if (failing && step == 3) {
            if (mode == "throw" || mode == "unwind")
                throw tg::ValueError("injected failure at step 3");
            if (mode == "abort") std::abort();
            if (mode == "kill") std::raise(SIGKILL);
        }
        tg::Tensor loss = tg::mse_loss(lstm(tg::ones({3, 2, 2})).output, tg::zeros({3, 2, hidden}));
        adam.zero_grad();
        loss.backward();
        tg::dist::all_reduce_gradients(lstm);
        adam.step();
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "unwind") {
        try {
            tg::dist::Session session(argc, argv);
            train(mode);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 1;
        }
        return 0;
    }
    tg::dist::Session session(argc, argv);
    train(mode);
    std::puts("the job finished although a rank failed");
    return 0;
}
