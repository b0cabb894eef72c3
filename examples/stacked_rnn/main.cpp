// stacked_rnn: the Keras model Sequential{SimpleRNN(5, return_sequences),
// SimpleRNN(3), Dense(10)} on input (10, 8), summarised, compiled with MSE
// and Adam (Keras's defaults), fitted to random data with Keras's log, then
// saved and reloaded into a fresh model to show the weights round-trip.
//
//     stacked_rnn --epochs 100 --batch-size 8 --validation-split 0.25

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <tapegrad/core/config.h>

#include "stacked_rnn.h"

int main(int argc, char** argv) try {
    tg::keras::FitOptions fit{.epochs = 100, .batch_size = 32};
    std::uint64_t seed = 0;
    std::int64_t samples = 32;
    std::string save = "stacked_rnn.safetensors";

    CLI::App app{"The Keras stacked SimpleRNN model, fitted to random data."};
    app.add_option("--epochs", fit.epochs)->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--batch-size", fit.batch_size)
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--validation-split", fit.validation_split,
                   "fraction of the samples (the last ones) held out for val_loss")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--samples", samples, "random samples to fit")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--seed", seed, "seed of the weights, the data and the shuffles")
        ->capture_default_str();
    app.add_option("--verbose", fit.verbose, "0 silent, 1 progress bar, 2 one line per epoch")
        ->capture_default_str()
        ->check(CLI::Range(0, 2));
    app.add_option("--save", save, "where the trained weights go (safetensors)")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    fmt::print("{}\n", tg::config().to_string());
    tg::manual_seed(seed);

    tg::keras::Sequential model = stacked_rnn::make_model();
    model.summary();

    auto [x, y] = stacked_rnn::random_data(samples);
    tg::keras::Adam optimizer(model.parameters());  // lr 1e-3, beta 0.9 / 0.999, epsilon 1e-7
    tg::keras::History history = tg::keras::fit(model, x, y, fit, optimizer);

    if (!history.loss.empty()) {
        fmt::print("loss {:.4f} after {} epochs (first epoch {:.4f})", history.loss.back(),
                   history.loss.size(), history.loss.front());
        if (!history.val_loss.empty())
            fmt::print(", val_loss {:.4f} (first {:.4f})", history.val_loss.back(),
                       history.val_loss.front());
        fmt::print("\n");
    }

    double difference = stacked_rnn::reload_difference(model, save, x);
    fmt::print(
        "saved the weights to {}; a fresh model that loads them predicts the same: "
        "max |difference| = {}\n",
        save, difference);
    return difference == 0.0 ? 0 : 1;
} catch (const std::exception& e) {
    fmt::print(stderr, "stacked_rnn: {}\n", e.what());
    return 1;
}
