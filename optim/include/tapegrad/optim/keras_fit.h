#pragma once

// Keras's training loop for a tg::keras::Sequential: model.fit() with its
// batching, per-epoch shuffling, validation split and progress log, and
// model.evaluate(). What Keras's compile() chooses is passed in: the
// optimizer, and a loss (mean squared error unless told otherwise).
//
//     tg::keras::Adam optimizer(model.parameters());  // Keras's defaults
//     auto history = tg::keras::fit(model, x, y, {.epochs = 100}, optimizer);
//     history.loss.back();

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <vector>

#include <tapegrad/layers/keras.h>
#include <tapegrad/optim/optimizer.h>

namespace tg::keras {

// The loss of predictions against targets of one shape, reduced to a scalar
// (Keras's losses average over the batch).
using LossFn = std::function<Tensor(const Tensor& prediction, const Tensor& target)>;

// keras.losses.MeanSquaredError: mean over the last axis, then over the
// batch; with equal-sized rows, the mean of all squared differences.
Tensor mean_squared_error(const Tensor& prediction, const Tensor& target);

struct FitOptions {
    int epochs = 1;
    int batch_size = 32;
    // The LAST fraction of the samples, taken before any shuffling, is held
    // out and evaluated after every epoch (Keras's validation_split).
    double validation_split = 0.0;
    // Visit the training samples in a new order every epoch, drawn from the
    // default generator (tg::manual_seed fixes it).
    bool shuffle = true;
    // 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    int verbose = 1;
    std::ostream* out = nullptr;  // where the log goes; nullptr is std::cout
    LossFn loss = mean_squared_error;
};

// Per-epoch losses as Keras's History.history: the batch losses of the
// epoch averaged with the batch sizes as weights (each computed before its
// update), and the validation loss after the epoch (empty without split).
struct History {
    std::vector<double> loss;
    std::vector<double> val_loss;
};

History fit(const Sequential& model, const Tensor& x, const Tensor& y, const FitOptions& options,
            Optimizer& optimizer);

// The loss over (x, y) in batches, weighted by batch size, without recording.
double evaluate(const Sequential& model, const Tensor& x, const Tensor& y, int batch_size = 32,
                const LossFn& loss = mean_squared_error);

// The samples of dimension 0 split as validation_split does: the first
// floor(n (1 - fraction)) for training, the rest for validation. ValueError
// unless 0 < fraction < 1 leaves both parts non-empty.
struct Split {
    Tensor x_train, y_train, x_val, y_val;
};
Split split_validation(const Tensor& x, const Tensor& y, double fraction);

// The order in which an epoch visits n samples: 0..n-1, or a uniformly
// random permutation from the default generator.
std::vector<std::int64_t> epoch_order(std::int64_t n, bool shuffle);

}  // namespace tg::keras
