#include "workloads.h"

#include <tapegrad/tapegrad.h>

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <numbers>

namespace bench {

namespace {

struct Shape {
    std::int64_t batch, seq_len, hidden_size, num_layers = 1;
    bool bidirectional = false;
};

// The input projection and the recurrence of every layer and direction:
// [B*T, in] x [in, gates*H] and T times [B, H] x [H, gates*H].
double recurrent_flops(const Shape& s, std::int64_t input_size, std::int64_t gates) {
    double directions = s.bidirectional ? 2 : 1, flops = 0;
    for (std::int64_t layer = 0; layer < s.num_layers; ++layer) {
        double in = layer == 0 ? input_size : directions * s.hidden_size;
        flops +=
            directions * 2.0 * s.batch * s.seq_len * (in + s.hidden_size) * gates * s.hidden_size;
    }
    return flops;
}

template <class Layer>
std::function<void()> cell_step(const Shape& s, const std::string& mode, auto options) {
    tg::manual_seed(0);
    auto model = std::make_shared<Layer>(options);
    std::int64_t out = (s.bidirectional ? 2 : 1) * s.hidden_size;
    tg::Tensor x = tg::randn({s.batch, s.seq_len, s.hidden_size});
    tg::Tensor target = tg::randn({s.batch, s.seq_len, out});
    if (mode == "forward")
        return [model, x] {
            tg::NoGrad no_grad;
            (void)model->forward(x);
        };
    return [model, x, target] {
        model->zero_grad();
        tg::mse_loss(model->forward(x).output, target).backward();
    };
}

Workload cell(const std::string& kind, const Shape& s, const std::string& mode) {
    Workload w;
    w.name = fmt::format("{}_b{}_t{}_h{}{}_{}", kind, s.batch, s.seq_len, s.hidden_size,
                         s.num_layers > 1 || s.bidirectional
                             ? fmt::format("_l{}{}", s.num_layers, s.bidirectional ? "_bi" : "")
                             : "",
                         mode);
    w.kind = kind;
    w.mode = mode;
    w.batch = s.batch;
    w.seq_len = s.seq_len;
    w.input_size = w.hidden_size = s.hidden_size;
    w.num_layers = s.num_layers;
    w.bidirectional = s.bidirectional;
    std::int64_t gates = kind == "lstm" ? 4 : kind == "gru" ? 3 : 1;
    w.forward_gemm_flops = recurrent_flops(s, s.hidden_size, gates);
    w.make = [kind, s, mode] {
        std::int64_t h = s.hidden_size;
        if (kind == "rnn")
            return cell_step<tg::RNN>(s, mode,
                                      tg::RNNOptions{.input_size = h,
                                                     .hidden_size = h,
                                                     .num_layers = s.num_layers,
                                                     .batch_first = true,
                                                     .bidirectional = s.bidirectional});
        if (kind == "lstm")
            return cell_step<tg::LSTM>(s, mode,
                                       tg::LSTMOptions{.input_size = h,
                                                       .hidden_size = h,
                                                       .num_layers = s.num_layers,
                                                       .batch_first = true,
                                                       .bidirectional = s.bidirectional});
        return cell_step<tg::GRU>(s, mode,
                                  tg::GRUOptions{.input_size = h,
                                                 .hidden_size = h,
                                                 .num_layers = s.num_layers,
                                                 .batch_first = true,
                                                 .bidirectional = s.bidirectional});
    };
    return w;
}

// The sine-to-cosine demo: one chunk of 10 points per iteration, the hidden
// state carried over detached, Adam stepping every chunk.
struct SineToCosine : tg::Module {
    tg::RNN rnn{{.input_size = 1, .hidden_size = 32, .batch_first = true}};
    tg::Linear out{{.in_features = 32, .out_features = 1}};
    SineToCosine() {
        register_module("rnn", rnn);
        register_module("out", out);
    }
};

Workload sine_chunk() {
    Workload w;
    w.name = "sine_chunk";
    w.kind = "sine";
    w.mode = "train";
    w.batch = 1;
    w.seq_len = 10;
    w.input_size = 1;
    w.hidden_size = 32;
    w.forward_gemm_flops =
        recurrent_flops({.batch = 1, .seq_len = 10, .hidden_size = 32}, 1, 1) + 2.0 * 10 * 32;
    w.make = [] {
        tg::manual_seed(1);
        auto model = std::make_shared<SineToCosine>();
        auto opt = std::make_shared<tg::Adam>(model->parameters(), tg::AdamOptions{.lr = 0.02});
        auto h = std::make_shared<tg::Tensor>(tg::zeros({1, 1, 32}));
        auto step = std::make_shared<int>(0);
        return std::function<void()>([model, opt, h, step] {
            double pi = std::numbers::pi;
            tg::Tensor t = tg::linspace(*step * pi, (*step + 1) * pi, 10);
            ++*step;
            tg::Tensor x = tg::sin(t).reshape({1, 10, 1}), y = tg::cos(t).reshape({1, 10, 1});
            auto [seq, h_n] = model->rnn(x, *h);
            *h = h_n.detach();
            tg::Tensor loss = tg::mse_loss(model->out(seq), y);
            opt->zero_grad();
            loss.backward();
            opt->step();
        });
    };
    return w;
}

// One epoch of the Keras stacked model: 32 samples, batch 32, so one step.
Workload keras_epoch() {
    Workload w;
    w.name = "keras_epoch";
    w.kind = "keras";
    w.mode = "train";
    w.batch = 32;
    w.seq_len = 10;
    w.input_size = 8;
    w.hidden_size = 5;
    w.forward_gemm_flops = recurrent_flops({.batch = 32, .seq_len = 10, .hidden_size = 5}, 8, 1) +
                           recurrent_flops({.batch = 32, .seq_len = 10, .hidden_size = 3}, 5, 1) +
                           2.0 * 32 * 3 * 10;
    w.make = [] {
        tg::manual_seed(0);
        namespace keras = tg::keras;
        auto model = std::make_shared<keras::Sequential>(
            std::initializer_list<keras::LayerArg>{
                keras::SimpleRNN({.units = 5, .return_sequences = true}),
                keras::SimpleRNN({.units = 3}),
                keras::Dense({.units = 10}),
            },
            tg::Shape{10, 8});
        auto opt = std::make_shared<tg::Adam>(model->parameters());
        tg::Tensor x = tg::randn({32, 10, 8}), y = tg::randn({32, 10});
        return std::function<void()>([model, opt, x, y] {
            tg::Tensor loss = tg::mse_loss((*model)(x), y);
            opt->zero_grad();
            loss.backward();
            opt->step();
        });
    };
    return w;
}

}  // namespace

std::vector<Workload> workloads() {
    const Shape shapes[] = {
        {.batch = 64, .seq_len = 100, .hidden_size = 256},
        {.batch = 32, .seq_len = 50, .hidden_size = 128},
        {.batch = 16, .seq_len = 200, .hidden_size = 512},
        {.batch = 1, .seq_len = 1000, .hidden_size = 64},
    };
    std::vector<Workload> all;
    for (const char* mode : {"train", "forward"}) {
        for (const Shape& s : shapes)
            for (const char* kind : {"rnn", "lstm", "gru"}) all.push_back(cell(kind, s, mode));
        all.push_back(cell("lstm",
                           {.batch = 32,
                            .seq_len = 50,
                            .hidden_size = 128,
                            .num_layers = 2,
                            .bidirectional = true},
                           mode));
    }
    all.push_back(sine_chunk());
    all.push_back(keras_epoch());
    return all;
}

}  // namespace bench
