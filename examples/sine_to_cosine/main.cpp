// sine_to_cosine: an RNN reads sin(t) and learns to output cos(t), the
// classic PyTorch tutorial step for step (see sine_to_cosine.h).
//
//     sine_to_cosine --plot sine_to_cosine.svg
//
// With --init tests/data/sine_to_cosine/initial_state.safetensors the run
// starts from PyTorch's initial weights (written by tools/make_sine_to_cosine.py)
// and follows PyTorch's losses step for step; --compare-csv
// tests/data/sine_to_cosine/torch_losses.csv draws those beside its own.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <tapegrad/core/config.h>

#include "../common/loss_csv.h"
#include "../common/progress.h"
#include "figure.h"
#include "sine_to_cosine.h"

int main(int argc, char** argv) try {
    sine_to_cosine::TrainOptions options;
    std::int64_t hidden = 32;
    std::uint64_t seed = 2;
    std::string init, save, log_csv, plot, compare_csv, compare_label = "PyTorch";

    CLI::App app{"An RNN learns to turn sin(t) into cos(t), one chunk of the curve per step."};
    app.add_option("--steps", options.steps,
                   "chunks of [k pi, (k+1) pi], one Adam step each (0: --save the initial weights)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--time-step", options.time_step, "points per chunk")
        ->capture_default_str()
        ->check(CLI::Range(2, 100000));
    app.add_option("--hidden", hidden, "RNN hidden size")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--lr", options.lr, "Adam learning rate")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--seed", seed, "seed of the initial weights")->capture_default_str();
    app.add_option("--init", init, "start from this state_dict (safetensors) instead")
        ->check(CLI::ExistingFile);
    app.add_option("--save", save, "save the trained state_dict (safetensors) here");
    app.add_option("--log-csv", log_csv, "write step,loss for every step here");
    app.add_option("--plot", plot, "draw the last chunks and the loss curve into this SVG");
    app.add_option("--compare-csv", compare_csv, "a step,loss CSV to draw beside the loss curve")
        ->check(CLI::ExistingFile);
    app.add_option("--compare-label", compare_label, "its name in the legend")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    fmt::print("{}\n", tg::config().to_string());

    tg::manual_seed(seed);
    sine_to_cosine::SineToCosine model(hidden);
    if (!init.empty()) model.load(init);
    fmt::print("RNN(1, {0}) + Linear({0}, 1): {1} parameters, {2}\n", hidden,
               model.num_parameters(),
               init.empty() ? fmt::format("seed {}", seed) : fmt::format("weights from {}", init));

    examples::ProgressLine progress;
    auto steps = sine_to_cosine::train(model, options, [&](const sine_to_cosine::Step& s) {
        progress.update(fmt::format("step {:>{}}/{}  loss {:.6f}", s.step + 1,
                                    fmt::formatted_size("{}", options.steps), options.steps,
                                    s.loss));
    });
    progress.finish();

    auto losses = sine_to_cosine::losses(steps);
    if (!losses.empty()) {
        double last10 = sine_to_cosine::mean_of_last(losses, 10);
        fmt::print("final loss {:.6f}; first {:.6f}, mean of the last 10 steps {:.6f} ({:.1f}%)\n",
                   losses.back(), losses.front(), last10, 100 * last10 / losses.front());
    }

    if (!save.empty()) {
        model.save(save);
        fmt::print("saved the weights to {}\n", save);
    }
    if (!log_csv.empty()) {
        examples::write_loss_csv(log_csv, losses);
        fmt::print("wrote the losses to {}\n", log_csv);
    }
    if (!plot.empty() && !steps.empty()) {
        sine_to_cosine::Reference reference;
        if (!compare_csv.empty()) reference = {compare_label, examples::read_loss_csv(compare_csv)};
        std::string title =
            fmt::format("sin → cos: RNN(1, {0}) + Linear({0}, 1), Adam lr {1}", hidden, options.lr);
        svg_plot::save(sine_to_cosine::figure(steps, title, reference), plot);
        fmt::print("drew {}\n", plot);
    }
    return 0;
} catch (const std::exception& e) {
    fmt::print(stderr, "sine_to_cosine: {}\n", e.what());
    return 1;
}
