#include <tapegrad/optim/lr_scheduler.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include <fmt/format.h>

namespace tg {

namespace {

std::int64_t read_integer(const StateDict& entries, const std::string& key, const char* owner) {
    double value = read_number(entries, key, owner);
    if (value != std::trunc(value) || std::abs(value) > 9.0e15)
        throw ValueError(fmt::format(
            "{}: load_state_dict: entry '{}' should hold an integer, got {}", owner, key, value));
    return static_cast<std::int64_t>(value);
}

// Throws for an entry that is not in `known`, so a state_dict of another kind
// of scheduler is not half-loaded.
void check_known_entries(const StateDict& entries, const StateDict& known, const char* owner) {
    for (const auto& [key, t] : entries)
        if (!known.contains(key))
            throw ValueError(fmt::format("{}: load_state_dict: unexpected entry '{}'", owner, key));
}

void check_non_negative(double value, const char* what, const char* owner) {
    if (!(value >= 0.0))
        throw ValueError(
            fmt::format("{}: {} must be >= 0 (a learning rate is never negative), "
                        "got {}",
                        owner, what, value));
}

void check_positive(std::int64_t value, const char* what, const char* owner) {
    if (value < 1) throw ValueError(fmt::format("{}: {} must be >= 1, got {}", owner, what, value));
}

}  // namespace

// PyTorch's constructor performs the first step: epoch 0, whose lr every
// scheduler here leaves as it is.
LRScheduler::LRScheduler(Optimizer& optimizer, const char* name)
    : optimizer_(optimizer), name_(name), base_lr_(optimizer.lr()), last_lr_(optimizer.lr()) {}

void LRScheduler::step() {
    ++last_epoch_;
    double lr = next_lr();
    optimizer_.set_lr(lr);
    last_lr_ = lr;
}

StateDict LRScheduler::state_dict() const {
    StateDict out = options_state();
    out["last_epoch"] = number_tensor(static_cast<double>(last_epoch_));
    out["base_lr"] = number_tensor(base_lr_);
    out["last_lr"] = number_tensor(last_lr_);
    return out;
}

void LRScheduler::load_state_dict(const StateDict& state) {
    StateDict known = state_dict();
    const char* owner = name_;
    check_known_entries(state, known, owner);
    std::int64_t last_epoch = read_integer(state, "last_epoch", owner);
    double base_lr = read_number(state, "base_lr", owner);
    double last_lr = read_number(state, "last_lr", owner);
    load_options(state);  // validates everything before changing anything
    last_epoch_ = last_epoch;
    base_lr_ = base_lr;
    last_lr_ = last_lr;
}

StepLR::StepLR(Optimizer& optimizer, StepLROptions options)
    : LRScheduler(optimizer, "StepLR"), options_(options) {
    check_positive(options_.step_size, "step_size", "StepLR");
    check_non_negative(options_.gamma, "gamma", "StepLR");
}

double StepLR::next_lr() const {
    if (last_epoch() % options_.step_size != 0) return optimizer().lr();
    return optimizer().lr() * options_.gamma;
}

StateDict StepLR::options_state() const {
    return {{"step_size", number_tensor(static_cast<double>(options_.step_size))},
            {"gamma", number_tensor(options_.gamma)}};
}

void StepLR::load_options(const StateDict& entries) {
    StepLROptions o{.step_size = read_integer(entries, "step_size", "StepLR"),
                    .gamma = read_number(entries, "gamma", "StepLR")};
    check_positive(o.step_size, "step_size", "StepLR");
    check_non_negative(o.gamma, "gamma", "StepLR");
    options_ = o;
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, ExponentialLROptions options)
    : LRScheduler(optimizer, "ExponentialLR"), options_(options) {
    check_non_negative(options_.gamma, "gamma", "ExponentialLR");
}

double ExponentialLR::next_lr() const { return optimizer().lr() * options_.gamma; }

StateDict ExponentialLR::options_state() const {
    return {{"gamma", number_tensor(options_.gamma)}};
}

void ExponentialLR::load_options(const StateDict& entries) {
    double gamma = read_number(entries, "gamma", "ExponentialLR");
    check_non_negative(gamma, "gamma", "ExponentialLR");
    options_.gamma = gamma;
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options)
    : LRScheduler(optimizer, "CosineAnnealingLR"), options_(options) {
    check_positive(options_.T_max, "T_max", "CosineAnnealingLR");
    check_non_negative(options_.eta_min, "eta_min", "CosineAnnealingLR");
}

// PyTorch 1.13's chainable get_lr(), expression for expression: the step after
// each minimum adds the increment (base_lr - eta_min) (1 - cos(pi / T_max)) / 2,
// every other step scales the distance to eta_min by a ratio of cosines.
double CosineAnnealingLR::next_lr() const {
    const double pi = std::numbers::pi;
    const auto epoch = static_cast<double>(last_epoch());
    const auto t_max = static_cast<double>(options_.T_max);
    const double eta_min = options_.eta_min, lr = optimizer().lr();
    std::int64_t period = 2 * options_.T_max;
    std::int64_t phase = ((last_epoch() - 1 - options_.T_max) % period + period) % period;
    if (phase == 0) return lr + (base_lr() - eta_min) * (1 - std::cos(pi / t_max)) / 2;
    return (1 + std::cos(pi * epoch / t_max)) / (1 + std::cos(pi * (epoch - 1) / t_max)) *
               (lr - eta_min) +
           eta_min;
}

StateDict CosineAnnealingLR::options_state() const {
    return {{"T_max", number_tensor(static_cast<double>(options_.T_max))},
            {"eta_min", number_tensor(options_.eta_min)}};
}

void CosineAnnealingLR::load_options(const StateDict& entries) {
    CosineAnnealingLROptions o{.T_max = read_integer(entries, "T_max", "CosineAnnealingLR"),
                               .eta_min = read_number(entries, "eta_min", "CosineAnnealingLR")};
    check_positive(o.T_max, "T_max", "CosineAnnealingLR");
    check_non_negative(o.eta_min, "eta_min", "CosineAnnealingLR");
    options_ = o;
}

namespace {

void check_plateau_options(const ReduceLROnPlateauOptions& o) {
    const char* owner = "ReduceLROnPlateau";
    if (!(o.factor < 1.0))
        throw ValueError(fmt::format("{}: factor should be < 1.0, got {}", owner, o.factor));
    check_non_negative(o.factor, "factor", owner);
    if (o.mode != "min" && o.mode != "max")
        throw ValueError(
            fmt::format("{}: mode '{}' is unknown (use \"min\" or \"max\")", owner, o.mode));
    if (o.threshold_mode != "rel" && o.threshold_mode != "abs")
        throw ValueError(fmt::format("{}: threshold mode '{}' is unknown (use \"rel\" or \"abs\")",
                                     owner, o.threshold_mode));
    if (o.patience < 0 || o.cooldown < 0)
        throw ValueError(fmt::format("{}: patience and cooldown must be >= 0, got {} and {}", owner,
                                     o.patience, o.cooldown));
    check_non_negative(o.min_lr, "min_lr", owner);
}

double worst(const ReduceLROnPlateauOptions& o) {
    double inf = std::numeric_limits<double>::infinity();
    return o.mode == "min" ? inf : -inf;
}

}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options)
    : optimizer_(optimizer), options_(std::move(options)) {
    check_plateau_options(options_);
    best_ = worst(options_);
}

bool ReduceLROnPlateau::is_better(double metric) const {
    const ReduceLROnPlateauOptions& o = options_;
    if (o.mode == "min" && o.threshold_mode == "rel") return metric < best_ * (1. - o.threshold);
    if (o.mode == "min") return metric < best_ - o.threshold;
    if (o.threshold_mode == "rel") return metric > best_ * (o.threshold + 1.);
    return metric > best_ + o.threshold;
}

void ReduceLROnPlateau::step(double metric) {
    ++last_epoch_;
    if (is_better(metric)) {
        best_ = metric;
        num_bad_epochs_ = 0;
    } else {
        ++num_bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
        --cooldown_counter_;
        num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
    }
    if (num_bad_epochs_ > options_.patience) {
        double old_lr = optimizer_.lr();
        double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
        if (old_lr - new_lr > options_.eps) optimizer_.set_lr(new_lr);
        cooldown_counter_ = options_.cooldown;
        num_bad_epochs_ = 0;
    }
}

StateDict ReduceLROnPlateau::state_dict() const {
    auto number = [](auto value) { return number_tensor(static_cast<double>(value)); };
    return {{"best", number(best_)},
            {"num_bad_epochs", number(num_bad_epochs_)},
            {"cooldown_counter", number(cooldown_counter_)},
            {"last_epoch", number(last_epoch_)},
            {"factor", number(options_.factor)},
            {"patience", number(options_.patience)},
            {"threshold", number(options_.threshold)},
            {"cooldown", number(options_.cooldown)},
            {"min_lr", number(options_.min_lr)},
            {"eps", number(options_.eps)},
            {"mode_max", number(options_.mode == "max")},
            {"threshold_mode_abs", number(options_.threshold_mode == "abs")}};
}

void ReduceLROnPlateau::load_state_dict(const StateDict& state) {
    const char* owner = "ReduceLROnPlateau";
    check_known_entries(state, state_dict(), owner);
    ReduceLROnPlateauOptions o{
        .mode = read_flag(state, "mode_max", owner) ? "max" : "min",
        .factor = read_number(state, "factor", owner),
        .patience = read_integer(state, "patience", owner),
        .threshold = read_number(state, "threshold", owner),
        .threshold_mode = read_flag(state, "threshold_mode_abs", owner) ? "abs" : "rel",
        .cooldown = read_integer(state, "cooldown", owner),
        .min_lr = read_number(state, "min_lr", owner),
        .eps = read_number(state, "eps", owner),
    };
    check_plateau_options(o);
    double best = read_number(state, "best", owner);
    std::int64_t num_bad_epochs = read_integer(state, "num_bad_epochs", owner);
    std::int64_t cooldown_counter = read_integer(state, "cooldown_counter", owner);
    std::int64_t last_epoch = read_integer(state, "last_epoch", owner);
    options_ = std::move(o);
    best_ = best;
    num_bad_epochs_ = num_bad_epochs;
    cooldown_counter_ = cooldown_counter;
    last_epoch_ = last_epoch;
}

}  // namespace tg
