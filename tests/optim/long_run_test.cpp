// A long training run holds its memory flat: 10^4 steps of a small LSTM with
// MSE and Adam, the tape empty after every step, and the resident set (and
// its peak) after the last step no bigger than after step 1000.
#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>

#include "sanitizer.h"

using namespace tg;

namespace {

// AddressSanitizer keeps freed memory in quarantine (256 MB by default), so
// there the resident set grows by design and LeakSanitizer checks for leaks
// instead; fewer steps keep the run short.
constexpr int kSteps = kAddressSanitizer ? 2'000 : 10'000;
constexpr int kWarmup = kSteps / 10;
// A leak of 100 bytes a step over the 9000 steps after warm-up shows as 900 KB.
constexpr std::int64_t kAllowedGrowth = 256 * 1024;

std::int64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0, resident = 0;
    statm >> size >> resident;
    REQUIRE(statm);
    return resident * ::sysconf(_SC_PAGESIZE);
}

// VmHWM: the most the resident set ever was.
std::int64_t peak_resident_bytes() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6)) * 1024;
    FAIL("no VmHWM in /proc/self/status");
    return 0;
}

struct Net : Module {
    LSTM lstm{{.input_size = 4, .hidden_size = 8}};
    Linear head{{.in_features = 8, .out_features = 1}};
    Net() {
        register_module("lstm", lstm);
        register_module("head", head);
    }
    Tensor operator()(const Tensor& x) const { return head(lstm(x).output); }
};

}  // namespace

TEST_CASE("long run: memory stays flat and the tape empty over 10^4 LSTM training steps") {
    manual_seed(11);
    Net net;
    Adam adam(net.parameters(), {.lr = 1e-3});
    Tensor x = randn({8, 4, 4});  // [T, B, I]
    Tensor y = randn({8, 4, 1});

    std::int64_t rss_warm = 0, peak_warm = 0;
    double first_loss = 0, loss_value = 0;
    bool tape_was_used = false, tape_always_empty = true, finite = true;
    for (int step = 1; step <= kSteps; ++step) {
        Tensor loss = mse_loss(net(x), y);
        tape_was_used = tape_was_used || tape_size() > 0;
        adam.zero_grad();
        loss.backward();
        adam.step();
        tape_always_empty = tape_always_empty && tape_size() == 0;
        loss_value = loss.item();
        finite = finite && std::isfinite(loss_value);
        if (step == 1) first_loss = loss_value;
        if (step == kWarmup) {
            rss_warm = resident_bytes();
            peak_warm = peak_resident_bytes();
        }
    }
    std::int64_t rss_end = resident_bytes(), peak_end = peak_resident_bytes();
    MESSAGE(kSteps, " steps",
            std::string(kAddressSanitizer ? " (scaled down under AddressSanitizer)" : ""),
            ": resident ", rss_warm / 1024, " KB after step ", kWarmup, ", ", rss_end / 1024,
            " KB after step ", kSteps, "; peak ", peak_warm / 1024, " KB then ", peak_end / 1024,
            " KB; loss ", first_loss, " -> ", loss_value);

    CHECK(tape_was_used);
    CHECK(tape_always_empty);
    CHECK(finite);
    CHECK(loss_value < first_loss);
    if (!kAddressSanitizer) {
        CHECK(rss_end - rss_warm < kAllowedGrowth);
        CHECK(peak_end - peak_warm < kAllowedGrowth);
    }
}
