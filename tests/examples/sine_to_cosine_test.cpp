#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "../../examples/common/loss_csv.h"
#include "../../examples/sine_to_cosine/figure.h"
#include "../../examples/sine_to_cosine/sine_to_cosine.h"

// Golden data from tools/make_sine_to_cosine.py (PyTorch, torch.manual_seed(1)).
namespace {
std::string data_path(const std::string& name) {
    return std::string(std::getenv("TAPEGRAD_SOURCE_DIR")) + "/tests/data/sine_to_cosine/" + name;
}

std::vector<double> torch_losses() {
    return examples::read_loss_csv(data_path("torch_losses.csv"));
}

// Distance in units in the last place between two finite floats of one sign.
std::int64_t ulps(float a, float b) {
    return std::abs(static_cast<std::int64_t>(std::bit_cast<std::int32_t>(a)) -
                    std::bit_cast<std::int32_t>(b));
}
}  // namespace

// PyTorch's float32 linspace rounds start + i * step once (its CPU kernel is
// compiled to a fused multiply-add) where tapegrad rounds the product and the
// sum; its sin and cos are SLEEF's vector functions (1 ulp accurate) where
// tapegrad calls the C library's sinf and cosf. So a few values differ by one
// ulp: measured, 1 of the 600 t and, from PyTorch's own t, 30 sines and 42
// cosines.
TEST_CASE("every chunk's t, sin t and cos t are within 1 ulp of PyTorch's float32 values") {
    auto file = tg::load_safetensors(data_path("chunks.safetensors")).tensors;
    const tg::Tensor &t = file.at("t"), &x = file.at("x"), &y = file.at("y");  // [60, 10]
    REQUIRE(t.shape() == tg::Shape{60, 10});
    std::int64_t worst = 0, differ = 0;
    for (int k = 0; k < 60; ++k) {
        sine_to_cosine::Chunk c = sine_to_cosine::chunk(k, 10);
        auto ours = c.t.to_vector<float>(), theirs = t[k].to_vector<float>();
        for (int j = 0; j < 10; ++j) {
            worst = std::max(worst, ulps(ours[j], theirs[j]));
            differ += ours[j] != theirs[j];
        }
    }
    CHECK(worst <= 1);
    CHECK(differ <= 6);  // 1%: the two ways of rounding agree almost always
    auto check_map = [](const tg::Tensor& ours, const tg::Tensor& theirs) {
        auto a = ours.to_vector<float>(), b = theirs.to_vector<float>();
        REQUIRE(a.size() == b.size());
        std::int64_t most = 0;
        for (std::size_t i = 0; i < a.size(); ++i) most = std::max(most, ulps(a[i], b[i]));
        CHECK(most <= 1);
    };
    check_map(tg::sin(t), x);
    check_map(tg::cos(t), y);
}

// Those 1-ulp differences in the inputs, and float32 sums taken in another
// order (GEMM blocking), start the losses apart by ~2e-7 relative, and
// training amplifies any difference: Adam at lr 0.02 and loss spikes near
// step 35 let it grow to ~1e-4. PyTorch does the same against itself: fed
// correctly rounded sin and cos (float64, then rounded) instead of its own,
// its losses move by up to 8e-6 in the first 30 steps and 3e-5 overall.
// Measured for tapegrad against PyTorch: 2.1e-7 at step 0, 3.4e-6 in the
// first 30 steps, 6.8e-5 overall. The bounds leave a factor of 4-6 for other
// BLAS kernels; a real difference (a bias, the detach, an Adam detail) moves
// the losses by 1e-3 or more within a few steps.
TEST_CASE("from PyTorch's initial weights the losses follow PyTorch's at every step") {
    sine_to_cosine::SineToCosine model;
    model.load(data_path("initial_state.safetensors"));
    auto steps = sine_to_cosine::train(model, {.steps = 60, .time_step = 10, .lr = 0.02});
    auto ours = sine_to_cosine::losses(steps), theirs = torch_losses();
    REQUIRE(ours.size() == theirs.size());
    double worst = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) {
        double rel = std::abs(ours[i] - theirs[i]) / std::abs(theirs[i]);
        double bound = i == 0 ? 1e-6 : i < 30 ? 2e-5 : 3e-4;
        worst = std::max(worst, rel);
        CHECK_MESSAGE(rel < bound, "step ", i, ": tapegrad ", ours[i], ", PyTorch ", theirs[i]);
    }
    MESSAGE("largest relative deviation from PyTorch's losses: ", worst);
}

// The demo's promise: the mean loss of the last 10 steps is at most a fifth
// of the first step's.
TEST_CASE("training brings the loss down to a fifth, from PyTorch's weights and the default seed") {
    auto torch = torch_losses();
    CHECK(sine_to_cosine::mean_of_last(torch, 10) <= torch.front() / 5);

    sine_to_cosine::SineToCosine from_torch;
    from_torch.load(data_path("initial_state.safetensors"));
    auto a = sine_to_cosine::losses(sine_to_cosine::train(from_torch, {}));
    CHECK(sine_to_cosine::mean_of_last(a, 10) <= a.front() / 5);

    tg::manual_seed(2);  // sine_to_cosine's default --seed
    sine_to_cosine::SineToCosine seeded;
    auto b = sine_to_cosine::losses(sine_to_cosine::train(seeded, {}));
    CHECK(sine_to_cosine::mean_of_last(b, 10) <= b.front() / 5);
}

TEST_CASE("a small run reports every step and draws its figure") {
    tg::manual_seed(3);
    sine_to_cosine::SineToCosine model(8);
    CHECK(model.num_parameters() == 8 + 64 + 8 + 8 + 8 + 1);
    int seen = 0;
    auto steps =
        sine_to_cosine::train(model, {.steps = 4, .time_step = 5, .lr = 0.02},
                              [&](const sine_to_cosine::Step& s) { CHECK(s.step == seen++); });
    REQUIRE(seen == 4);
    CHECK(steps.back().t.size() == 5);
    CHECK(steps.back().prediction.size() == 5);
    CHECK(steps.back().t.front() == doctest::Approx(3 * std::numbers::pi));

    std::string svg = svg_plot::render(sine_to_cosine::figure(
        steps, "small run", {.label = "reference", .losses = {0.5, 0.4, 0.3, 0.2}}, 2));
    CHECK(svg.starts_with("<svg"));
    CHECK(svg.ends_with("</svg>\n"));
    for (const char* text : {"small run", "Last 2 chunks (steps 2-3)", "target cos(t)",
                             "prediction", "tapegrad", "reference", "Loss per step", "3π"})
        CHECK_MESSAGE(svg.find(text) != std::string::npos, std::string(text));
}

TEST_CASE("loss CSV files round-trip float32 losses exactly and name bad rows") {
    auto dir = std::filesystem::temp_directory_path();
    std::string path = (dir / "tapegrad_sine_losses_test.csv").string();
    std::vector<double> losses = {0.578258752822876, 1.0f / 3.0f, 1e-7f, 12345.678f};
    examples::write_loss_csv(path, losses);
    auto back = examples::read_loss_csv(path);
    REQUIRE(back.size() == losses.size());
    for (std::size_t i = 0; i < losses.size(); ++i)
        CHECK(static_cast<float>(back[i]) == static_cast<float>(losses[i]));

    std::ofstream(path) << "step,loss\n0,0.5\n1,oops\n";
    CHECK_THROWS_WITH(examples::read_loss_csv(path),
                      doctest::Contains("line 3: no number in the \"loss\" column"));
    std::filesystem::remove(path);
}
