// The seed recurrence h_t = tanh(x_t W_xh + b + h_{t-1} W_hh), written from
// ops only, checked against torch.nn.RNN on the same weights, then trained
// for a few steps of plain gradient descent with the relu variant.
//
// Usage: raw_rnn [GOLDEN.safetensors]   (default: tests/data/raw_rnn.safetensors,
// made by tools/make_raw_rnn.py with PyTorch)

#include <fmt/format.h>

#include "raw_rnn.h"

int main(int argc, char** argv) try {
    fmt::print("{}\n", tg::config().to_string());
    std::string path = argc > 1 ? argv[1] : TAPEGRAD_SOURCE_DIR "/tests/data/raw_rnn.safetensors";
    tg::SafetensorsFile golden = tg::load_safetensors(path);
    const auto& file = golden.tensors;
    raw_rnn::Weights w = raw_rnn::weights_from(file);
    const tg::Tensor& x = file.at("input");  // [batch 10, time 15, features 5]

    tg::Tensor h = raw_rnn::forward(x, w);  // [10, 15, 3]
    fmt::print("input {}, state size {}: output {}\n", x.shape(), w.w_hh.size(0), h.shape());
    fmt::print("max |tapegrad - torch.nn.RNN| over the output: {:.3g}\n",
               raw_rnn::max_abs_diff(h, file.at("output")));
    tg::clear_tape();  // the comparison above needed no gradients

    double lr = std::stod(golden.metadata.at("lr"));
    int steps = std::stoi(golden.metadata.at("steps"));
    auto losses = raw_rnn::train_relu(x, file.at("target"), w, lr, steps);
    auto torch_losses = file.at("relu_losses").to_vector<double>();
    fmt::print("relu variant, gradient descent with lr {}:\n", lr);
    for (int step = 0; step < steps; ++step)
        fmt::print("  step {}  loss {:.8f}  (PyTorch {:.8f})\n", step, losses[step],
                   torch_losses[step]);
    return 0;
} catch (const std::exception& e) {
    fmt::print(stderr, "raw_rnn: {}\n", e.what());
    return 1;
}
