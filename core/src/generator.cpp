#include <tapegrad/core/generator.h>

#include <bit>
#include <cmath>
#include <numbers>

namespace tg {

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

void Generator::manual_seed(std::uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
}

std::uint64_t Generator::next_u64() {
    std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double Generator::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Generator::normal() {
    // 1 - u lies in (0, 1], so the log is finite.
    double u1 = 1.0 - uniform();
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

Generator& default_generator() {
    static Generator generator(0);
    return generator;
}

std::mutex& default_generator_mutex() {
    static std::mutex mutex;
    return mutex;
}

void manual_seed(std::uint64_t seed) {
    std::lock_guard lock(default_generator_mutex());
    default_generator().manual_seed(seed);
}

Tensor generator_state() {
    Generator::State s;
    {
        std::lock_guard lock(default_generator_mutex());
        s = default_generator().state();
    }
    Tensor out = Tensor::empty({4}, DType::i64);
    auto* words = out.mutable_data<std::int64_t>();
    for (std::size_t i = 0; i < s.size(); ++i) words[i] = std::bit_cast<std::int64_t>(s[i]);
    return out;
}

void set_generator_state(const Tensor& state) {
    if (state.shape() != Shape{4})
        throw ShapeError(
            fmt::format("set_generator_state: the state must be [4], not {}", state.shape()));
    if (state.dtype() != DType::i64)
        throw DTypeError(
            fmt::format("set_generator_state: the state must be i64, not {}", state.dtype()));
    Generator::State s;
    const auto* words = state.data<std::int64_t>();
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = std::bit_cast<std::uint64_t>(words[i]);
    // xoshiro256** never leaves the all-zero state once there, so it is no valid state.
    if (s == Generator::State{})
        throw ValueError("set_generator_state: the state is all zeros (not a valid state)");
    std::lock_guard lock(default_generator_mutex());
    default_generator().set_state(s);
}

}  // namespace tg
