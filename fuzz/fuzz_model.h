#pragma once

#include <tapegrad/tapegrad.h>

// The model the fuzz target loads files into; its own state_dict and
// checkpoint seed the corpus, so mutations start from files that fit it.
struct FuzzModel : tg::Module {
    tg::LSTM lstm{{.input_size = 2, .hidden_size = 3}};
    tg::Linear head{{.in_features = 3, .out_features = 2}};
    FuzzModel() {
        register_module("lstm", lstm);
        register_module("head", head);
    }
    tg::Tensor operator()(const tg::Tensor& x) const { return head(lstm(x).output); }
};

// One training step on fixed data: a loaded checkpoint must be usable.
inline double fuzz_train_step(FuzzModel& model, tg::Optimizer& optimizer) {
    tg::Tensor x = tg::linspace(-1.0, 1.0, 8).reshape({2, 2, 2});  // [T, B, input]
    tg::Tensor y = tg::linspace(1.0, -1.0, 8).reshape({2, 2, 2});
    tg::Tensor loss = tg::mse_loss(model(x), y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    return loss.item();
}
