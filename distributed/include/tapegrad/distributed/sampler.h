#pragma once

#include <cstdint>
#include <vector>

namespace tg::dist {

struct DistributedSamplerOptions {
    std::int64_t num_replicas = 0;  // 0: world_size()
    std::int64_t rank = -1;         // -1: rank()
    bool shuffle = true;
    std::uint64_t seed = 0;  // the same on every rank
    // false: repeat the first indices until every rank has as many;
    // true: drop the tail that does not divide evenly.
    bool drop_last = false;
};

// This rank's share of the indices 0 .. dataset_size - 1 for one epoch, as
// torch.utils.data.DistributedSampler: every rank shuffles all indices with
// the same seed + epoch (a tg::Generator, so the permutation is tapegrad's,
// not torch's), pads (or trims) them to a multiple of num_replicas, and takes
// every num_replicas-th one starting at its rank. The shares are disjoint
// but for the padding and together cover the dataset; all have num_samples()
// indices, so every rank runs the same number of steps.
class DistributedSampler {
public:
    explicit DistributedSampler(std::int64_t dataset_size, DistributedSamplerOptions options = {});

    // Call at the start of every epoch, with the same epoch on every rank,
    // or every epoch sees the same order.
    void set_epoch(std::int64_t epoch) { epoch_ = epoch; }
    std::int64_t epoch() const { return epoch_; }

    std::vector<std::int64_t> indices() const;
    std::int64_t num_samples() const { return num_samples_; }
    std::int64_t total_size() const { return num_samples_ * num_replicas_; }
    std::int64_t num_replicas() const { return num_replicas_; }
    std::int64_t rank() const { return rank_; }

private:
    std::int64_t dataset_size_;
    std::int64_t num_replicas_;
    std::int64_t rank_;
    bool shuffle_;
    std::uint64_t seed_;
    std::int64_t num_samples_;
    std::int64_t epoch_ = 0;
};

}  // namespace tg::dist
