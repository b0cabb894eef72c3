#pragma once

// --distributed: data-parallel training over MPI (tapegrad's distributed/).
// Every rank reads the same text and builds the same model; each trains on
// its share of the parallel streams (columns of every window), and the ranks
// average their gradients after backward, before clipping and the step. A
// rank's loss is the summed loss of its columns over the window's target
// count divided by the number of ranks, so the mean of the ranks' gradients
// is the gradient one process takes with the whole batch: N ranks with
// --batch B train like one process with --batch B (B a multiple of N), to the
// last printed digit without dropout. With dropout every rank draws its own
// masks, so such runs agree in distribution only.
//
// CHAR_RNN_WITH_MPI is defined by the build when tapegrad_distributed exists
// (examples/CMakeLists.txt); without it the flag is refused.

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <tapegrad/tapegrad.h>
#ifdef CHAR_RNN_WITH_MPI
#include <tapegrad/distributed.h>
#endif

#include "corpus.h"

namespace char_rnn {

// Rank r > 0 of a job would otherwise draw the very dropout masks rank 0
// draws, column for column. For the length of one step it draws from a
// stream of its own, seeded by the shared generator and r; then every rank
// moves the shared generator on by the same one draw. The generator a
// checkpoint stores is thus every rank's, and a job resumed on as many ranks
// continues bit for bit.
class RankStream {
public:
    RankStream(std::int64_t rank, bool active) : active_(active) {
        if (!active_) return;
        std::lock_guard lock(tg::default_generator_mutex());
        tg::Generator& generator = tg::default_generator();
        const std::uint64_t seed = generator.next_u64();
        shared_ = generator.state();
        generator.manual_seed(seed + static_cast<std::uint64_t>(rank));
    }
    ~RankStream() {
        if (!active_) return;
        std::lock_guard lock(tg::default_generator_mutex());
        tg::default_generator().set_state(shared_);
    }
    RankStream(const RankStream&) = delete;
    RankStream& operator=(const RankStream&) = delete;

private:
    bool active_;
    tg::Generator::State shared_{};
};

// One process, or one rank of an MPI job.
class Parallel {
public:
    // One process: what train_step uses unless told otherwise.
    Parallel() = default;

    // Starts MPI when distributed; a tapegrad built without MPI refuses. A
    // job started by mpiexec without the flag is refused too: its processes
    // would each train alone and overwrite each other's checkpoints.
    Parallel(bool distributed, int& argc, char**& argv) {
        if (!distributed) {
            if (const std::int64_t n = launched_processes(); n > 1)
                throw tg::ValueError(fmt::format(
                    "char_rnn: started as {} processes (mpiexec -n {}) without --distributed; "
                    "pass --distributed to train one model on all of them",
                    n, n));
            return;
        }
#ifdef CHAR_RNN_WITH_MPI
        session_.emplace(argc, argv);
        rank_ = tg::dist::rank();
        ranks_ = tg::dist::world_size();
#else
        (void)argc, (void)argv;
        throw tg::ValueError(
            "char_rnn: --distributed needs tapegrad built with MPI, and this build has no "
            "distributed/ library (apt-get install libopenmpi-dev openmpi-bin, then configure "
            "again with TAPEGRAD_WITH_MPI AUTO or ON)");
#endif
    }

    std::int64_t rank() const { return rank_; }
    std::int64_t ranks() const { return ranks_; }
    bool is_root() const { return rank_ == 0; }

    // The streams (columns of a window) this rank trains on.
    std::int64_t columns(std::int64_t batch) const { return batch / ranks_; }
    std::int64_t first_column(std::int64_t batch) const { return rank_ * columns(batch); }
    void check_batch(std::int64_t batch) const {
        if (batch % ranks_ != 0)
            throw tg::ValueError(fmt::format(
                "char_rnn: --batch {} does not split evenly over {} ranks", batch, ranks_));
    }

    // This rank's columns of a window; targets stays the whole window's count.
    Window shard(const Window& w, std::int64_t batch) const {
        if (ranks_ == 1) return w;
        const std::int64_t steps = w.input.size(0), n = columns(batch), first = first_column(batch);
        return {tg::narrow(w.input, 1, first, n),
                tg::narrow(w.target.reshape({steps, batch}), 1, first, n).reshape({steps * n}),
                w.targets};
    }

    // Holds this rank's dropout stream for one training step.
    RankStream own_random_stream() const { return RankStream(rank_, ranks_ > 1); }

    // Every rank starts from rank 0's weights.
    void broadcast_parameters(const tg::Module& model) const {
#ifdef CHAR_RNN_WITH_MPI
        if (ranks_ > 1) tg::dist::broadcast_parameters(model);
#else
        (void)model;
#endif
    }

    // After backward, before clipping and the optimizer step.
    void average_gradients(const tg::Module& model) const {
#ifdef CHAR_RNN_WITH_MPI
        if (ranks_ > 1) tg::dist::all_reduce_gradients(model);
#else
        (void)model;
#endif
    }

    // The sum of value over the ranks, on every rank.
    double sum(double value) const {
#ifdef CHAR_RNN_WITH_MPI
        if (ranks_ > 1) return tg::dist::all_reduce(value);
#endif
        return value;
    }

    // The whole batch's state [layers, batch, hidden] from every rank's
    // columns, on every rank, so that a checkpoint resumes on any number of
    // ranks; and this rank's columns of such a state.
    tg::Tensor gather_columns(const tg::Tensor& mine, std::int64_t batch) const {
        if (ranks_ == 1 || !mine.defined()) return mine;
        tg::NoGrad no_grad;
        const std::int64_t layers = mine.size(0), hidden = mine.size(2);
        const std::int64_t before = first_column(batch), after = batch - before - columns(batch);
        std::vector<tg::Tensor> parts;
        if (before > 0) parts.push_back(tg::zeros({layers, before, hidden}, mine.dtype()));
        parts.push_back(mine);
        if (after > 0) parts.push_back(tg::zeros({layers, after, hidden}, mine.dtype()));
        tg::Tensor whole = tg::cat(parts, 1);
#ifdef CHAR_RNN_WITH_MPI
        tg::dist::all_reduce(whole);  // the other ranks add zeros to these columns
#endif
        return whole;
    }
    tg::Tensor my_columns(const tg::Tensor& whole, std::int64_t batch) const {
        if (ranks_ == 1 || !whole.defined()) return whole;
        return tg::narrow(whole, 1, first_column(batch), columns(batch));
    }

    // Rank 0 writes; no rank goes on before the file is complete. If rank 0
    // fails, its exception ends the whole job (tg::dist::Session).
    template <class Write>
    void on_root_then_wait(Write write) const {
        if (is_root()) write();
#ifdef CHAR_RNN_WITH_MPI
        if (ranks_ > 1) tg::dist::barrier();
#endif
    }

private:
    // The size of the job mpiexec started this process in (Open MPI, then
    // MPICH and others), or 1.
    static std::int64_t launched_processes() {
        for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
            if (const char* value = std::getenv(name)) return std::atoll(value);
        return 1;
    }

#ifdef CHAR_RNN_WITH_MPI
    std::optional<tg::dist::Session> session_;
#endif
    std::int64_t rank_ = 0, ranks_ = 1;
};

}  // namespace char_rnn
