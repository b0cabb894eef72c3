#pragma once

// A Keras model in C++: two stacked SimpleRNNs and a Dense layer, compiled
// with mean squared error and Adam, fitted to random data. In Keras:
//
//     model = keras.Sequential([
//         layers.SimpleRNN(5, return_sequences=True, input_shape=(10, 8)),
//         layers.SimpleRNN(3),
//         layers.Dense(10),
//     ])
//     model.summary()
//     model.compile(loss="mse", optimizer="adam")
//     model.fit(np.random.random((32, 10, 8)), np.random.random((32, 10)), epochs=100)

#include <cstdint>
#include <string>

#include <tapegrad/optim/keras_adam.h>
#include <tapegrad/optim/keras_fit.h>
#include <tapegrad/tapegrad.h>

namespace stacked_rnn {

// [batch, 10 steps, 8 features] -> [batch, 10]: the first SimpleRNN hands
// its whole sequence of states to the second, which returns only its last.
inline tg::keras::Sequential make_model() {
    return tg::keras::Sequential(
        {
            tg::keras::SimpleRNN({.units = 5, .return_sequences = true}),
            tg::keras::SimpleRNN({.units = 3}),
            tg::keras::Dense({.units = 10}),
        },
        /*input_shape=*/{10, 8});
}

// np.random.random: x [samples, 10, 8] and y [samples, 10], uniform in [0, 1).
struct Data {
    tg::Tensor x, y;
};

inline Data random_data(std::int64_t samples = 32) {
    return {tg::rand({samples, 10, 8}), tg::rand({samples, 10})};
}

// model.save_weights(path), then a fresh model (new random weights) loads
// them: the largest |difference| between the two models' predictions on x,
// 0 when every weight came back bit for bit.
inline double reload_difference(const tg::keras::Sequential& model, const std::string& path,
                                const tg::Tensor& x) {
    model.save(path);
    tg::keras::Sequential fresh = make_model();
    fresh.load(path);
    tg::NoGrad no_grad;
    return tg::max(tg::abs(model(x) - fresh(x))).item();
}

}  // namespace stacked_rnn
