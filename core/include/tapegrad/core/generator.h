#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include <tapegrad/core/tensor.h>

namespace tg {

// xoshiro256** seeded through splitmix64: small state (four words) that a
// checkpoint can store, and the same stream on every platform.
class Generator {
public:
    explicit Generator(std::uint64_t seed = 0) { manual_seed(seed); }
    void manual_seed(std::uint64_t seed);

    std::uint64_t next_u64();
    double uniform();  // [0, 1) with 53 random bits
    double normal();   // N(0, 1), Box-Muller

    using State = std::array<std::uint64_t, 4>;
    State state() const { return s_; }
    void set_state(const State& s) { s_ = s; }

private:
    State s_{};
};

// The generator behind rand, randn, uniform, dropout and initialisers, shared
// by all threads as in PyTorch; hold default_generator_mutex() while drawing.
Generator& default_generator();
std::mutex& default_generator_mutex();
void manual_seed(std::uint64_t seed);

// The default generator's state as an i64 tensor [4] (the four words, bit
// for bit), so a checkpoint can store it beside the parameters; setting it
// back continues the same stream of random numbers.
Tensor generator_state();
// Throws ShapeError unless state is [4], DTypeError unless it is i64.
void set_generator_state(const Tensor& state);

}  // namespace tg
