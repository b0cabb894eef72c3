#include <doctest/doctest.h>

#include "mpi_test_util.h"

using namespace tg;
using dist::DistributedSampler;

namespace {

std::vector<std::vector<std::int64_t>> shards(std::int64_t n, std::int64_t replicas,
                                              dist::DistributedSamplerOptions options) {
    std::vector<std::vector<std::int64_t>> out;
    for (std::int64_t r = 0; r < replicas; ++r) {
        options.num_replicas = replicas;
        options.rank = r;
        out.push_back(DistributedSampler(n, options).indices());
    }
    return out;
}

// How often each index of the dataset occurs in this rank's share, summed
// over the ranks.
std::vector<std::int64_t> counts_over_ranks(const DistributedSampler& sampler, std::int64_t n) {
    Tensor counts = zeros({n}, DType::i64);
    auto* c = counts.mutable_data<std::int64_t>();
    for (std::int64_t i : sampler.indices()) ++c[i];
    dist::all_reduce(counts);
    return counts.to_vector<std::int64_t>();
}

}  // namespace

// Expected lists are torch.utils.data.DistributedSampler's own, e.g.
// [list(DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
TEST_CASE("unshuffled shares are torch's: strided, padded from the start, or trimmed") {
    using V = std::vector<std::vector<std::int64_t>>;
    CHECK(shards(10, 3, {.shuffle = false}) == V{{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}});
    CHECK(shards(10, 3, {.shuffle = false, .drop_last = true}) ==
          V{{0, 3, 6}, {1, 4, 7}, {2, 5, 8}});
    CHECK(shards(2, 5, {.shuffle = false}) == V{{0}, {1}, {0}, {1}, {0}});
    CHECK(shards(0, 2, {}) == V{{}, {}});
}

TEST_CASE("shuffled shares depend on seed and epoch only") {
    DistributedSampler a(100, {.num_replicas = 2, .rank = 1, .seed = 5});
    DistributedSampler b(100, {.num_replicas = 2, .rank = 1, .seed = 5});
    CHECK(a.indices() == b.indices());
    auto epoch0 = a.indices();
    a.set_epoch(1);
    CHECK(a.indices() != epoch0);
    DistributedSampler c(100, {.num_replicas = 2, .rank = 1, .seed = 6});
    CHECK(c.indices() != epoch0);
    auto sorted = epoch0;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted != epoch0);  // shuffled, not strided
}

TEST_CASE("bad options throw ValueError") {
    CHECK_THROWS_WITH_AS(DistributedSampler(-1, {.num_replicas = 1, .rank = 0}),
                         doctest::Contains("dataset_size must be >= 0"), ValueError);
    CHECK_THROWS_WITH_AS(DistributedSampler(10, {.num_replicas = 2, .rank = 2}),
                         doctest::Contains("rank 2 is not in [0, 2)"), ValueError);
    CHECK_THROWS_AS(DistributedSampler(10, {.num_replicas = -3}), ValueError);
}

TEST_CASE("the job's shares are disjoint and cover the dataset, every epoch") {
    std::int64_t ranks = dist::world_size(), n = 8 * ranks;
    DistributedSampler sampler(n, {.seed = 11});
    CHECK(sampler.num_replicas() == ranks);
    CHECK(sampler.rank() == dist::rank());
    for (std::int64_t epoch : {0, 1, 2}) {
        sampler.set_epoch(epoch);
        CHECK(static_cast<std::int64_t>(sampler.indices().size()) == 8);
        CHECK(counts_over_ranks(sampler, n) == std::vector<std::int64_t>(n, 1));
    }
}

TEST_CASE("with padding, every index is used and only the padding repeats") {
    std::int64_t ranks = dist::world_size(), n = 8 * ranks + 1;
    DistributedSampler sampler(n, {.seed = 11});
    CHECK(sampler.num_samples() == 9);
    auto counts = counts_over_ranks(sampler, n);
    std::int64_t total = 0, repeats = 0;
    for (std::int64_t c : counts) {
        CHECK(c >= 1);
        total += c;
        repeats += c - 1;
    }
    CHECK(total == sampler.total_size());
    CHECK(repeats == sampler.total_size() - n);
}
