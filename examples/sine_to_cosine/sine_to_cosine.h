#pragma once

// The classic PyTorch RNN tutorial in C++: read sin(t), predict cos(t).
//
// An RNN(input_size=1, hidden_size=32, batch_first=true) followed by a
// Linear(32, 1) at every time step walks along the curve one chunk at a
// time: chunk k covers [k pi, (k + 1) pi] with time_step points. The hidden
// state starts at zeros and is carried from chunk to chunk, detached, so the
// model remembers where it is on the curve while each backward pass stays
// within one chunk (truncated backpropagation through time). MSE loss, Adam
// with lr 0.02, one optimizer step per chunk.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <numbers>
#include <utility>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace sine_to_cosine {

struct SineToCosine : tg::Module {
    tg::RNN rnn;
    tg::Linear out;

    explicit SineToCosine(std::int64_t hidden_size = 32)
        : rnn({.input_size = 1, .hidden_size = hidden_size, .batch_first = true}),
          out({.in_features = hidden_size, .out_features = 1}) {
        register_module("rnn", rnn);  // parameters rnn.weight_ih_l0, ..., as in PyTorch
        register_module("out", out);  // out.weight, out.bias
    }

    // x [1, T, 1] and the state h [1, 1, hidden] -> prediction [1, T, 1], h_n.
    std::pair<tg::Tensor, tg::Tensor> forward(const tg::Tensor& x, const tg::Tensor& h) const {
        auto [y, h_n] = rnn(x, h);  // y: [1, T, hidden]
        return {out(y), h_n};       // Linear applies to the last dimension
    }
};

// Chunk k of the curve: t = linspace(k pi, (k + 1) pi, time_step), both
// ends included; x = sin t and y = cos t, shaped [batch 1, time, feature 1].
struct Chunk {
    tg::Tensor t, x, y;
};

inline Chunk chunk(int k, int time_step) {
    const double pi = std::numbers::pi;
    tg::Tensor t = tg::linspace(k * pi, (k + 1) * pi, time_step);
    return {t, tg::sin(t).reshape({1, time_step, 1}), tg::cos(t).reshape({1, time_step, 1})};
}

struct TrainOptions {
    int steps = 60;
    int time_step = 10;
    double lr = 0.02;
};

// One training step as it happened: the loss, and the chunk with the
// prediction the model made for it (before that step's update).
struct Step {
    int step;
    double loss;
    std::vector<double> t, target, prediction;
};

inline std::vector<Step> train(SineToCosine& model, const TrainOptions& options,
                               const std::function<void(const Step&)>& on_step = {}) {
    tg::Adam optimizer(model.parameters(), {.lr = options.lr});
    tg::Tensor h = tg::zeros({1, 1, model.rnn.options.hidden_size});
    std::vector<Step> steps;
    for (int step = 0; step < options.steps; ++step) {
        Chunk c = chunk(step, options.time_step);
        auto [prediction, h_n] = model.forward(c.x, h);
        h = h_n.detach();  // carry the state, not its history
        tg::Tensor loss = tg::mse_loss(prediction, c.y);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();

        steps.push_back({step, loss.item(), c.t.to_vector<double>(), c.y.to_vector<double>(),
                         prediction.detach().to_vector<double>()});
        if (on_step) on_step(steps.back());
    }
    return steps;
}

inline std::vector<double> losses(const std::vector<Step>& steps) {
    std::vector<double> out;
    for (const Step& s : steps) out.push_back(s.loss);
    return out;
}

// The mean loss of the last n steps (of all, if there are fewer).
inline double mean_of_last(const std::vector<double>& losses, std::size_t n) {
    n = std::min(n, losses.size());
    double sum = 0;
    for (std::size_t i = losses.size() - n; i < losses.size(); ++i) sum += losses[i];
    return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

}  // namespace sine_to_cosine
