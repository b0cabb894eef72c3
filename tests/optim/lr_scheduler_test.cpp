#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include "optim/parity_case.h"

using namespace tg;

namespace {

// An optimizer over one dummy parameter, for its learning rate.
SGD make_sgd(double lr) { return SGD({zeros({1}).requires_grad_()}, {.lr = lr}); }

// The lr after construction and after each step, as the cases store it.
template <class Scheduler>
std::vector<double> lr_sequence(Optimizer& optimizer, Scheduler& scheduler, int steps) {
    std::vector<double> lrs = {optimizer.lr()};
    for (int k = 0; k < steps; ++k) {
        scheduler.step();
        CHECK(scheduler.last_lr() == optimizer.lr());
        lrs.push_back(optimizer.lr());
    }
    return lrs;
}

void check_lrs(const test::ParityCase& c, const std::vector<double>& lrs) {
    std::vector<double> expected = c.tensor("expected.lrs").to_vector<double>();
    REQUIRE(lrs.size() == expected.size());
    for (std::size_t k = 0; k < lrs.size(); ++k) {
        INFO(c.name, " epoch ", k);
        CHECK(lrs[k] == expected[k]);  // the same double operations as PyTorch's
    }
}

}  // namespace

TEST_CASE("StepLR, ExponentialLR and CosineAnnealingLR repeat PyTorch's lr sequences exactly") {
    int checked = 0;
    for (const auto& c : test::parity_cases("step_lr")) {
        SGD sgd = make_sgd(c.number("lr"));
        StepLR scheduler(sgd, {.step_size = static_cast<std::int64_t>(c.number("step_size")),
                               .gamma = c.number("gamma")});
        check_lrs(c, lr_sequence(sgd, scheduler, static_cast<int>(c.number("steps"))));
        ++checked;
    }
    for (const auto& c : test::parity_cases("exponential_lr")) {
        SGD sgd = make_sgd(c.number("lr"));
        ExponentialLR scheduler(sgd, {.gamma = c.number("gamma")});
        check_lrs(c, lr_sequence(sgd, scheduler, static_cast<int>(c.number("steps"))));
        ++checked;
    }
    for (const auto& c : test::parity_cases("cosine_annealing_lr")) {
        SGD sgd = make_sgd(c.number("lr"));
        double eta_min = c.file.metadata.contains("eta_min") ? c.number("eta_min") : 0.0;
        CosineAnnealingLR scheduler(
            sgd, {.T_max = static_cast<std::int64_t>(c.number("T_max")), .eta_min = eta_min});
        check_lrs(c, lr_sequence(sgd, scheduler, static_cast<int>(c.number("steps"))));
        ++checked;
    }
    CHECK(checked == 4);
}

TEST_CASE("ReduceLROnPlateau repeats PyTorch's lr sequences exactly") {
    auto cases = test::parity_cases("reduce_lr_on_plateau");
    REQUIRE(cases.size() == 2);
    for (const auto& c : cases) {
        SGD sgd = make_sgd(c.number("lr"));
        ReduceLROnPlateau scheduler(sgd,
                                    {.mode = c.text("mode"),
                                     .factor = c.number("factor"),
                                     .patience = static_cast<std::int64_t>(c.number("patience")),
                                     .threshold = c.number("threshold"),
                                     .threshold_mode = c.text("threshold_mode"),
                                     .cooldown = static_cast<std::int64_t>(c.number("cooldown")),
                                     .min_lr = c.number("min_lr"),
                                     .eps = c.number("eps")});
        std::vector<double> lrs = {sgd.lr()};
        for (double metric : c.tensor("metrics").to_vector<double>()) {
            scheduler.step(metric);
            lrs.push_back(scheduler.last_lr());
        }
        check_lrs(c, lrs);
    }
}

TEST_CASE("StepLR multiplies by gamma every step_size epochs") {
    SGD sgd = make_sgd(1.0);
    StepLR scheduler(sgd, {.step_size = 2, .gamma = 0.5});
    CHECK(lr_sequence(sgd, scheduler, 5) == std::vector<double>{1, 1, 0.5, 0.5, 0.25, 0.25});
    CHECK(scheduler.last_epoch() == 5);
}

TEST_CASE("CosineAnnealingLR reaches eta_min at T_max and base_lr at 2 T_max") {
    SGD sgd = make_sgd(1.0);
    CosineAnnealingLR scheduler(sgd, {.T_max = 2, .eta_min = 0.5});
    std::vector<double> lrs = lr_sequence(sgd, scheduler, 4);
    CHECK(lrs[1] == doctest::Approx(0.75));  // halfway: cos(pi / 2) = 0
    CHECK(lrs[2] == doctest::Approx(0.5));
    CHECK(lrs[3] == doctest::Approx(0.75));
    CHECK(lrs[4] == doctest::Approx(1.0));
}

TEST_CASE("ReduceLROnPlateau waits for patience bad epochs, then for the cooldown") {
    SGD sgd = make_sgd(1.0);
    ReduceLROnPlateau scheduler(sgd, {.factor = 0.5, .patience = 1, .cooldown = 1});
    scheduler.step(1.0);  // best
    scheduler.step(1.0);  // 1 bad epoch
    CHECK(sgd.lr() == 1.0);
    scheduler.step(1.0);  // 2 bad epochs > patience: reduce, cooldown 1
    CHECK(sgd.lr() == 0.5);
    scheduler.step(1.0);  // in cooldown: not counted
    scheduler.step(1.0);  // 1 bad epoch
    CHECK(sgd.lr() == 0.5);
    scheduler.step(0.5);  // better
    CHECK(scheduler.best() == 0.5);
    CHECK(scheduler.num_bad_epochs() == 0);
}

TEST_CASE("ReduceLROnPlateau stops at min_lr") {
    SGD sgd = make_sgd(1.0);
    ReduceLROnPlateau scheduler(sgd, {.mode = "max", .factor = 0.1, .patience = 0, .min_lr = 0.05});
    for (int k = 0; k < 5; ++k) scheduler.step(0.0);
    CHECK(sgd.lr() == 0.05);
}

TEST_CASE("scheduler state_dict resumes the schedule where it stopped") {
    SGD a = make_sgd(0.1);
    CosineAnnealingLR full(a, {.T_max = 4, .eta_min = 0.01});
    std::vector<double> expected = lr_sequence(a, full, 7);

    SGD b = make_sgd(0.1);
    CosineAnnealingLR first(b, {.T_max = 4, .eta_min = 0.01});
    lr_sequence(b, first, 3);
    StateDict saved = first.state_dict();
    CHECK(saved.at("last_epoch").item() == 3.0);
    CHECK(saved.at("T_max").item() == 4.0);

    SGD c = make_sgd(b.lr());  // the optimizer's own state_dict would carry lr
    CosineAnnealingLR resumed(c, {.T_max = 1});
    resumed.load_state_dict(saved);
    CHECK(resumed.base_lr() == 0.1);
    std::vector<double> rest = lr_sequence(c, resumed, 4);
    CHECK(std::vector<double>(rest.begin() + 1, rest.end()) ==
          std::vector<double>(expected.begin() + 4, expected.end()));
}

TEST_CASE("ReduceLROnPlateau state_dict round-trips its counters") {
    SGD sgd = make_sgd(1.0);
    ReduceLROnPlateau scheduler(sgd, {.mode = "max", .patience = 3, .threshold_mode = "abs"});
    scheduler.step(2.0);
    scheduler.step(1.0);
    StateDict saved = scheduler.state_dict();
    CHECK(saved.at("mode_max").item() == 1.0);
    ReduceLROnPlateau other(sgd);
    other.load_state_dict(saved);
    CHECK(other.best() == 2.0);
    CHECK(other.num_bad_epochs() == 1);
    CHECK(other.last_epoch() == 2);
    CHECK(other.state_dict().at("threshold_mode_abs").item() == 1.0);
}

TEST_CASE("schedulers reject invalid options and foreign state") {
    SGD sgd = make_sgd(0.1);
    CHECK_THROWS_WITH_AS(StepLR(sgd, {.step_size = 0}),
                         doctest::Contains("StepLR: step_size must be >= 1, got 0"), ValueError);
    CHECK_THROWS_WITH_AS(ExponentialLR(sgd, {.gamma = -0.5}),
                         doctest::Contains("ExponentialLR: gamma must be >= 0"), ValueError);
    CHECK_THROWS_WITH_AS(CosineAnnealingLR(sgd, {.T_max = 0}),
                         doctest::Contains("CosineAnnealingLR: T_max must be >= 1"), ValueError);
    CHECK_THROWS_WITH_AS(ReduceLROnPlateau(sgd, {.factor = 1.0}),
                         doctest::Contains("factor should be < 1.0"), ValueError);
    CHECK_THROWS_WITH_AS(ReduceLROnPlateau(sgd, {.mode = "lowest"}),
                         doctest::Contains("mode 'lowest' is unknown"), ValueError);
    CHECK_THROWS_WITH_AS(ReduceLROnPlateau(sgd, {.threshold_mode = "ratio"}),
                         doctest::Contains("threshold mode 'ratio' is unknown"), ValueError);

    StepLR step(sgd, {.step_size = 3});
    ExponentialLR exponential(sgd, {.gamma = 0.5});
    CHECK_THROWS_WITH_AS(step.load_state_dict(exponential.state_dict()),
                         doctest::Contains("StepLR: load_state_dict: missing entry 'step_size'"),
                         ValueError);
    StateDict bad = step.state_dict();
    bad["last_epoch"] = Tensor::from({1.0, 2.0}, DType::f64);
    CHECK_THROWS_WITH_AS(step.load_state_dict(bad),
                         doctest::Contains("entry 'last_epoch' should be 0-D, got shape [2]"),
                         ShapeError);
    bad = step.state_dict();
    bad["extra"] = Tensor::scalar(1.0, DType::f64);
    CHECK_THROWS_WITH_AS(step.load_state_dict(bad), doctest::Contains("unexpected entry 'extra'"),
                         ValueError);
    bad = step.state_dict();
    bad["step_size"] = Tensor::scalar(0.0, DType::f64);
    CHECK_THROWS_AS(step.load_state_dict(bad), ValueError);
    CHECK(step.state_dict().at("step_size").item() == 3.0);  // unchanged
}
