#pragma once

#include <cstdint>
#include <string>

#include <tapegrad/optim/optimizer.h>

namespace tg {

// Sets an optimizer's learning rate once per epoch, as torch.optim.lr_scheduler
// does: construction counts as epoch 0 (the lr stays), each step() moves to the
// next epoch and writes the new lr into the optimizer. Call it after
// optimizer.step(). The optimizer must outlive the scheduler.
class LRScheduler {
public:
    virtual ~LRScheduler() = default;
    LRScheduler(const LRScheduler&) = delete;
    LRScheduler& operator=(const LRScheduler&) = delete;

    void step();
    double last_lr() const { return last_lr_; }  // PyTorch's get_last_lr()[0]
    std::int64_t last_epoch() const { return last_epoch_; }
    double base_lr() const { return base_lr_; }  // the optimizer's lr at construction

    // "last_epoch", "base_lr", "last_lr" and the options, as 0-D float64 tensors.
    StateDict state_dict() const;
    // Throws ValueError / ShapeError naming the offending entry, changing nothing.
    void load_state_dict(const StateDict& state);

protected:
    LRScheduler(Optimizer& optimizer, const char* name);

    // The lr of epoch last_epoch() >= 1, from the current one: PyTorch's
    // chainable get_lr(), so values carry its rounding step by step.
    virtual double next_lr() const = 0;
    virtual StateDict options_state() const = 0;
    virtual void load_options(const StateDict& entries) = 0;
    const Optimizer& optimizer() const { return optimizer_; }
    const char* name() const { return name_; }

private:
    Optimizer& optimizer_;
    const char* name_;
    double base_lr_;
    std::int64_t last_epoch_ = 0;
    double last_lr_;
};

struct StepLROptions {
    std::int64_t step_size;  // epochs between decays, >= 1
    double gamma = 0.1;
};

// lr *= gamma every step_size epochs.
class StepLR : public LRScheduler {
public:
    StepLR(Optimizer& optimizer, StepLROptions options);

protected:
    double next_lr() const override;
    StateDict options_state() const override;
    void load_options(const StateDict& entries) override;

private:
    StepLROptions options_;
};

struct ExponentialLROptions {
    double gamma;
};

// lr *= gamma every epoch.
class ExponentialLR : public LRScheduler {
public:
    ExponentialLR(Optimizer& optimizer, ExponentialLROptions options);

protected:
    double next_lr() const override;
    StateDict options_state() const override;
    void load_options(const StateDict& entries) override;

private:
    ExponentialLROptions options_;
};

struct CosineAnnealingLROptions {
    std::int64_t T_max;  // half period in epochs, >= 1
    double eta_min = 0.0;
};

// lr follows eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2,
// computed by PyTorch's recursive form (so it also rises again after T_max).
class CosineAnnealingLR : public LRScheduler {
public:
    CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options);

protected:
    double next_lr() const override;
    StateDict options_state() const override;
    void load_options(const StateDict& entries) override;

private:
    CosineAnnealingLROptions options_;
};

struct ReduceLROnPlateauOptions {
    std::string mode = "min";    // "min": lower metric is better; "max": higher
    double factor = 0.1;         // new_lr = lr * factor, factor < 1
    std::int64_t patience = 10;  // epochs without improvement before reducing
    double threshold = 1e-4;
    std::string threshold_mode = "rel";  // "rel": best * (1 -+ threshold); "abs": best -+ threshold
    std::int64_t cooldown = 0;           // epochs to wait after a reduction
    double min_lr = 0.0;
    double eps = 1e-8;  // changes smaller than eps are skipped
};

// torch.optim.lr_scheduler.ReduceLROnPlateau: multiplies the lr by factor when
// the metric passed to step(metric) stopped improving for `patience` epochs.
class ReduceLROnPlateau {
public:
    explicit ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
    ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
    ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

    void step(double metric);
    double last_lr() const { return optimizer_.lr(); }
    std::int64_t last_epoch() const { return last_epoch_; }
    double best() const { return best_; }
    std::int64_t num_bad_epochs() const { return num_bad_epochs_; }

    // The counters ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")
    // and numeric options, as 0-D float64 tensors; mode and threshold_mode as
    // flags "mode_max" and "threshold_mode_abs".
    StateDict state_dict() const;
    void load_state_dict(const StateDict& state);

private:
    bool is_better(double metric) const;

    Optimizer& optimizer_;
    ReduceLROnPlateauOptions options_;
    double best_;
    std::int64_t num_bad_epochs_ = 0;
    std::int64_t cooldown_counter_ = 0;
    std::int64_t last_epoch_ = 0;
};

}  // namespace tg
