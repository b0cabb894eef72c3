#pragma once

// Training by truncated backpropagation through time, evaluation in bits per
// character, and checkpoints that resume a run bit for bit.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <tapegrad/tapegrad.h>

#include "corpus.h"
#include "distributed.h"
#include "model.h"

namespace char_rnn {

struct TrainOptions {
    std::int64_t bptt = 64;  // characters per window
    double clip = 1.0;       // max gradient norm; 0: no clipping
};

// Everything that moves as training runs, besides the parameters and Adam's
// state. Which window comes next follows from step alone (windows are taken
// in order, epoch after epoch), so step is the position in the data.
struct Progress {
    std::int64_t step = 0;  // optimizer steps taken
    State state;            // what the last window left, detached (this rank's columns)
    // Loss since the last report, for its running mean. Under --distributed,
    // nats is this rank's columns' part and targets counts whole windows.
    double nats = 0;
    std::int64_t targets = 0;

    double mean_bits() const { return nats / std::numbers::ln2 / static_cast<double>(targets); }
    void restart_mean() {
        nats = 0;
        targets = 0;
    }
};

inline double bits(double nats) { return nats / std::numbers::ln2; }

// One optimizer step on the next window: start from the state the previous
// window left (a fresh zero state at the start of each pass over the text),
// and backpropagate through this window only; under --distributed, through
// this rank's columns of it. Returns the window's mean loss in nats (this
// rank's share of it: the ranks' returns add up to the window's mean).
inline double train_step(CharRNN& model, tg::Optimizer& optimizer, const Batches& data,
                         const TrainOptions& o, Progress& progress, const Parallel& parallel = {}) {
    const std::int64_t index = progress.step % data.windows(o.bptt);
    if (index == 0) progress.state = model.initial_state(parallel.columns(data.batch));
    Window w = parallel.shard(data.window(index, o.bptt), data.batch);
    const RankStream dropout_stream = parallel.own_random_stream();

    auto [logits, state] = model.forward(w.input, progress.state);
    // A sum over the targets divided by their count is the mean PyTorch takes,
    // and stays finite for a window that crosses only sample boundaries. Each
    // of N ranks divides by the whole window's count over N, so the mean of
    // the ranks' gradients is the one-process gradient (N = 1: the same bits).
    const double ranks = static_cast<double>(parallel.ranks());
    tg::Tensor loss =
        tg::cross_entropy(logits, w.target,
                          {.reduction = tg::Reduction::sum, .ignore_index = kIgnore}) /
        (static_cast<double>(std::max<std::int64_t>(w.targets, 1)) / ranks);
    optimizer.zero_grad();
    loss.backward();
    parallel.average_gradients(model);
    if (o.clip > 0) tg::clip_grad_norm_(model.parameters(), o.clip);
    optimizer.step();

    progress.state = state.detach();
    ++progress.step;
    const double value = loss.item() / ranks;
    progress.nats += value * static_cast<double>(w.targets);
    progress.targets += w.targets;
    return value;
}

// Bits per character of the model on data, each column read from a zero
// state, without dropout and without recording.
inline double evaluate(CharRNN& model, const Batches& data, std::int64_t bptt) {
    tg::NoGrad no_grad;
    EvalMode eval(model);
    State state = model.initial_state(data.batch);
    double nats = 0;
    std::int64_t targets = 0;
    for (std::int64_t i = 0; i < data.windows(bptt); ++i) {
        Window w = data.window(i, bptt);
        auto [logits, next] = model.forward(w.input, state);
        state = next;
        nats += tg::cross_entropy(logits, w.target,
                                  {.reduction = tg::Reduction::sum, .ignore_index = kIgnore})
                    .item();
        targets += w.targets;
    }
    return bits(nats / static_cast<double>(targets));
}

// A checkpoint is tg::save_checkpoint's one file (model, optimizer, generator)
// with this program's own state as its extras: the step, the carried state,
// the running loss, and what the data looked like (vocabulary, batch, rows,
// bptt), so resuming on other data or flags is refused instead of silently
// diverging. One file means one rename: a crash can never pair a model with
// another step's state.
inline void save_checkpoint(const std::string& path, const CharRNN& model,
                            const tg::Optimizer& optimizer, const Progress& progress,
                            const Vocabulary& vocabulary, const Batches& data,
                            const TrainOptions& o) {
    std::vector<double> characters(vocabulary.characters().begin(), vocabulary.characters().end());
    tg::StateDict extra = {
        {"step", tg::Tensor::scalar(static_cast<double>(progress.step), tg::DType::i64)},
        {"h", progress.state.h},
        {"nats", tg::Tensor::scalar(progress.nats, tg::DType::f64)},
        {"targets", tg::Tensor::scalar(static_cast<double>(progress.targets), tg::DType::i64)},
        {"vocabulary", tg::Tensor::from(characters, tg::DType::i64)},
        {"layout",
         tg::Tensor::from({double(data.batch), double(data.rows), double(o.bptt)}, tg::DType::i64)},
    };
    if (progress.state.c.defined()) extra.emplace("c", progress.state.c);
    tg::save_checkpoint(path, model, optimizer, extra);
}

// Restores what save_checkpoint wrote into a freshly built model and
// optimizer (made with the same flags) and returns the progress to continue
// from. The extras are checked against this run's data and flags before
// anything changes; a refused checkpoint changes nothing.
inline Progress load_checkpoint(const std::string& path, CharRNN& model, tg::Optimizer& optimizer,
                                const Vocabulary& vocabulary, const Batches& data,
                                const TrainOptions& o) {
    auto fail = [&](const std::string& why) {
        return tg::ValueError(fmt::format("char_rnn: resume from {}: {}", path, why));
    };
    Progress progress;
    bool extras_accepted = false;
    auto check = [&](const tg::StateDict& extra) {
        auto take = [&](const std::string& key) {
            auto it = extra.find(key);
            if (it == extra.end()) throw fail(fmt::format("no 'extra.{}' in the file", key));
            return it->second;
        };
        std::vector<double> characters(vocabulary.characters().begin(),
                                       vocabulary.characters().end());
        if (take("vocabulary").to_vector<double>() != characters)
            throw fail("the checkpoint was trained on text with another vocabulary");
        const std::vector<double> layout = {double(data.batch), double(data.rows), double(o.bptt)};
        const std::vector<double> saved = take("layout").to_vector<double>();
        if (saved != layout)
            throw fail(fmt::format(
                "written with --batch {} over {} rows and --bptt {}; this run has {}, {} and {}",
                saved.at(0), saved.at(1), saved.at(2), layout[0], layout[1], layout[2]));
        const State fresh = model.initial_state(data.batch);
        State state{take("h"), fresh.c.defined() ? take("c") : tg::Tensor{}};
        if (state.h.shape() != fresh.h.shape() || state.h.dtype() != fresh.h.dtype())
            throw fail(
                fmt::format("the carried state is {} {}, the model needs {} {} (--cell, "
                            "--hidden or --layers differ from the checkpoint's)",
                            state.h.dtype(), state.h.shape(), fresh.h.dtype(), fresh.h.shape()));
        progress = {.step = static_cast<std::int64_t>(take("step").item()),
                    .state = state,
                    .nats = take("nats").item(),
                    .targets = static_cast<std::int64_t>(take("targets").item())};
        extras_accepted = true;
    };
    try {
        tg::load_checkpoint(path, model, optimizer, check);
    } catch (const tg::Error& e) {
        // The model, the optimizer or the generator refused their part.
        if (!extras_accepted) throw;
        throw fail(
            fmt::format("{} (resume with the flags the checkpoint was written with)", e.what()));
    }
    return progress;
}

}  // namespace char_rnn
