#include <tapegrad/core/error.h>
#include <tapegrad/core/generator.h>
#include <tapegrad/distributed/sampler.h>
#include <tapegrad/distributed/session.h>

#include <numeric>
#include <utility>

#include <fmt/format.h>

namespace tg::dist {

namespace {

// Uniform in [0, bound) without modulo bias: draws below 2^64 mod bound are
// rejected, so every remainder is equally likely.
std::uint64_t uniform_below(Generator& g, std::uint64_t bound) {
    std::uint64_t threshold = (0 - bound) % bound;
    for (;;)
        if (std::uint64_t r = g.next_u64(); r >= threshold) return r % bound;
}

}  // namespace

DistributedSampler::DistributedSampler(std::int64_t dataset_size, DistributedSamplerOptions options)
    : dataset_size_(dataset_size), shuffle_(options.shuffle), seed_(options.seed) {
    if (dataset_size < 0)
        throw ValueError(
            fmt::format("DistributedSampler: dataset_size must be >= 0, got {}", dataset_size));
    if (options.num_replicas < 0 || options.rank < -1)
        throw ValueError(fmt::format(
            "DistributedSampler: num_replicas {} and rank {} must be >= 0 (0 and -1: the job's)",
            options.num_replicas, options.rank));
    num_replicas_ = options.num_replicas > 0 ? options.num_replicas : world_size();
    rank_ = options.rank >= 0 ? options.rank : dist::rank();
    if (rank_ >= num_replicas_)
        throw ValueError(
            fmt::format("DistributedSampler: rank {} is not in [0, {})", rank_, num_replicas_));
    // As torch: drop_last trims to a multiple of num_replicas, otherwise pads up to one.
    num_samples_ = options.drop_last ? dataset_size / num_replicas_
                                     : (dataset_size + num_replicas_ - 1) / num_replicas_;
}

std::vector<std::int64_t> DistributedSampler::indices() const {
    std::vector<std::int64_t> order(static_cast<std::size_t>(dataset_size_));
    std::iota(order.begin(), order.end(), std::int64_t{0});
    if (shuffle_) {
        // Fisher-Yates with the shared seed: the same permutation on every rank.
        Generator g(seed_ + static_cast<std::uint64_t>(epoch_));
        for (std::size_t i = order.size(); i > 1; --i)
            std::swap(order[i - 1], order[uniform_below(g, i)]);
    }
    std::vector<std::int64_t> mine;
    mine.reserve(static_cast<std::size_t>(num_samples_));
    for (std::int64_t i = rank_; i < total_size(); i += num_replicas_)
        mine.push_back(order[static_cast<std::size_t>(i % dataset_size_)]);
    return mine;
}

}  // namespace tg::dist
