#include <tapegrad/optim/keras_fit.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <mutex>
#include <span>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/core/generator.h>
#include <tapegrad/core/tape.h>
#include <tapegrad/ops/loss.h>
#include <tapegrad/ops/shape.h>

namespace tg::keras {

namespace {

using Clock = std::chrono::steady_clock;
using Metrics = std::vector<std::pair<std::string, double>>;

// Keras's Progbar (verbose 1: a 30-wide bar, rewritten in place on a
// terminal; verbose 2: one line when the epoch ends), in Keras's format:
//   4/4 [==============================] - 0s 3ms/step - loss: 0.3012 - val_loss: 0.2871
class Progbar {
public:
    Progbar(std::ostream& out, std::int64_t target, int verbose, bool dynamic)
        : out_(out), target_(target), verbose_(verbose), dynamic_(dynamic), start_(Clock::now()) {}

    void update(std::int64_t current, const Metrics& metrics, bool finalize) {
        if (verbose_ == 0 || (!finalize && (verbose_ != 1 || !dynamic_))) return;
        Clock::time_point now = Clock::now();
        // As Keras, redraw at most every 50 ms until the epoch's last batch.
        if (!finalize && current < target_ && now - last_update_ < std::chrono::milliseconds(50))
            return;
        last_update_ = now;
        double elapsed = std::chrono::duration<double>(now - start_).count();
        double per_step = current > 0 ? elapsed / static_cast<double>(current) : 0.0;
        std::string count = fmt::format("{:>{}}/{}", current, digits(target_), target_);
        std::string values;
        for (const auto& [name, value] : metrics) {
            values += fmt::format(" - {}: ", name);
            values += std::abs(value) > 1e-3 ? fmt::format("{:.4f}", value)
                                             : fmt::format("{:.4e}", value);
        }
        if (verbose_ == 2) {
            out_ << fmt::format("{} - {:.0f}s{} -{} -{}\n", count, elapsed, values,
                                duration(elapsed, "epoch"), duration(per_step, "step"));
            return;
        }
        std::string line = count + " [" + bar(current) + "]";
        if (finalize)
            line += fmt::format(" - {:.0f}s{}", elapsed, duration(per_step, "step"));
        else
            line += " - ETA: " + eta(per_step * static_cast<double>(target_ - current));
        line += values;
        if (dynamic_) {
            std::size_t shown = line.size();
            if (shown < shown_) line += std::string(shown_ - shown, ' ');
            line = "\r" + line;
            shown_ = shown;
        }
        out_ << line << (finalize ? "\n" : "") << std::flush;
    }

private:
    static int digits(std::int64_t n) { return static_cast<int>(fmt::formatted_size("{}", n)); }

    std::string bar(std::int64_t current) const {
        constexpr std::int64_t width = 30;
        std::int64_t done = width * current / target_;
        std::string out;
        if (done > 0) out = std::string(done - 1, '=') + (current < target_ ? '>' : '=');
        return out + std::string(width - done, '.');
    }

    // " 3ms/step": whole seconds, milliseconds or microseconds, as Keras.
    static std::string duration(double seconds, const char* unit) {
        if (seconds >= 1 || seconds == 0) return fmt::format(" {:.0f}s/{}", seconds, unit);
        if (seconds >= 1e-3) return fmt::format(" {:.0f}ms/{}", seconds * 1e3, unit);
        return fmt::format(" {:.0f}us/{}", seconds * 1e6, unit);
    }

    static std::string eta(double seconds) {
        auto s = static_cast<std::int64_t>(seconds);
        if (s > 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60);
        if (s > 60) return fmt::format("{}:{:02}", s / 60, s % 60);
        return fmt::format("{}s", s);
    }

    std::ostream& out_;
    std::int64_t target_;
    int verbose_;
    bool dynamic_;
    Clock::time_point start_, last_update_{};
    std::size_t shown_ = 0;
};

// The samples at indices (dimension 0), copied into one batch.
Tensor rows(const Tensor& t, std::span<const std::int64_t> indices) {
    std::vector<Tensor> picked;
    picked.reserve(indices.size());
    for (std::int64_t i : indices) picked.push_back(t[i]);
    return stack(picked, 0);
}

void check_data(const char* what, const Tensor& x, const Tensor& y, int batch_size) {
    if (!x.defined() || !y.defined() || x.dim() == 0 || y.dim() == 0)
        throw ValueError(
            fmt::format("keras::{}: x and y must be tensors with a batch dimension", what));
    if (x.size(0) != y.size(0))
        throw ShapeError(
            fmt::format("keras::{}: x and y hold different numbers of samples: x is {}, y is {}",
                        what, x.shape(), y.shape()));
    if (x.size(0) == 0)
        throw ValueError(fmt::format("keras::{}: no samples (x is {})", what, x.shape()));
    if (batch_size < 1)
        throw ValueError(
            fmt::format("keras::{}: batch_size must be >= 1, got {}", what, batch_size));
}

std::int64_t batch_count(std::int64_t n, int batch_size) {
    return (n + batch_size - 1) / batch_size;
}

}  // namespace

Tensor mean_squared_error(const Tensor& prediction, const Tensor& target) {
    return mse_loss(prediction, target);
}

Split split_validation(const Tensor& x, const Tensor& y, double fraction) {
    check_data("split_validation", x, y, 1);
    if (!(fraction > 0.0 && fraction < 1.0))
        throw ValueError(fmt::format(
            "keras::split_validation: validation_split must be in (0, 1), got {}", fraction));
    std::int64_t n = x.size(0);
    auto split_at =
        static_cast<std::int64_t>(std::floor(static_cast<double>(n) * (1.0 - fraction)));
    if (split_at == 0 || split_at == n)
        throw ValueError(
            fmt::format("keras::split_validation: {} samples are not enough to split into a "
                        "training and a validation set with validation_split = {}",
                        n, fraction));
    return {narrow(x, 0, 0, split_at), narrow(y, 0, 0, split_at),
            narrow(x, 0, split_at, n - split_at), narrow(y, 0, split_at, n - split_at)};
}

std::vector<std::int64_t> epoch_order(std::int64_t n, bool shuffle) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) order[i] = i;
    if (!shuffle) return order;
    // Fisher-Yates: every permutation equally likely.
    std::lock_guard lock(default_generator_mutex());
    Generator& generator = default_generator();
    for (std::int64_t i = n - 1; i > 0; --i) {
        auto j = static_cast<std::int64_t>(generator.uniform() * static_cast<double>(i + 1));
        std::swap(order[i], order[std::min(j, i)]);
    }
    return order;
}

double evaluate(const Sequential& model, const Tensor& x, const Tensor& y, int batch_size,
                const LossFn& loss) {
    check_data("evaluate", x, y, batch_size);
    NoGrad no_grad;
    std::int64_t n = x.size(0);
    double total = 0;
    for (std::int64_t begin = 0; begin < n; begin += batch_size) {
        std::int64_t count = std::min<std::int64_t>(batch_size, n - begin);
        total += loss(model(narrow(x, 0, begin, count)), narrow(y, 0, begin, count)).item() *
                 static_cast<double>(count);
    }
    return total / static_cast<double>(n);
}

History fit(const Sequential& model, const Tensor& x, const Tensor& y, const FitOptions& options,
            Optimizer& optimizer) {
    check_data("fit", x, y, options.batch_size);
    if (options.epochs < 0)
        throw ValueError(fmt::format("keras::fit: epochs must be >= 0, got {}", options.epochs));
    if (options.verbose < 0 || options.verbose > 2)
        throw ValueError(
            fmt::format("keras::fit: verbose must be 0, 1 or 2, got {}", options.verbose));
    bool validate = options.validation_split != 0.0;
    Split data{x, y, {}, {}};
    if (validate) data = split_validation(x, y, options.validation_split);

    std::ostream& out = options.out ? *options.out : std::cout;
    bool dynamic = &out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
    const std::int64_t n = data.x_train.size(0), batches = batch_count(n, options.batch_size);
    History history;
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
        if (options.verbose > 0 && options.epochs > 1)
            out << fmt::format("Epoch {}/{}\n", epoch + 1, options.epochs);
        Progbar progbar(out, batches, options.verbose, dynamic);
        std::vector<std::int64_t> order = epoch_order(n, options.shuffle);
        double total = 0;
        for (std::int64_t batch = 0; batch < batches; ++batch) {
            std::int64_t begin = batch * options.batch_size;
            std::int64_t count = std::min<std::int64_t>(options.batch_size, n - begin);
            std::span<const std::int64_t> indices(order.data() + begin, count);
            Tensor loss =
                options.loss(model(rows(data.x_train, indices)), rows(data.y_train, indices));
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            total += loss.item() * static_cast<double>(count);
            double seen = static_cast<double>(begin + count);
            progbar.update(batch + 1, {{"loss", total / seen}}, false);
        }
        history.loss.push_back(total / static_cast<double>(n));
        Metrics metrics = {{"loss", history.loss.back()}};
        if (validate) {
            history.val_loss.push_back(
                evaluate(model, data.x_val, data.y_val, options.batch_size, options.loss));
            metrics.emplace_back("val_loss", history.val_loss.back());
        }
        progbar.update(batches, metrics, true);
    }
    return history;
}

}  // namespace tg::keras
