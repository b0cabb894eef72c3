#pragma once

#include <cstddef>
#include <vector>

#include <tapegrad/layers/module.h>
#include <tapegrad/optim/optimizer.h>

namespace tg::dist {

// Data-parallel training: every rank holds the whole model, runs forward and
// backward on its own share of the batch, and the ranks average their
// gradients before each optimizer step, so all of them take the same step
// from the same weights and stay equal.
//
//     tg::dist::broadcast_parameters(model);          // once, after building
//     for (...) {
//         loss = tg::mse_loss(model(x_shard), y_shard);
//         optimizer.zero_grad();
//         loss.backward();
//         tg::dist::all_reduce_gradients(model);      // the new line in the loop
//         optimizer.step();
//     }
//
// With a mean loss and equal shards, the average of the ranks' gradients is
// the gradient of the mean over the whole global batch, so N ranks with B rows
// each train exactly like one process with N * B rows (up to rounding).
// Whatever reads the gradients (clip_grad_norm_) comes after the all-reduce,
// so every rank sees the same ones. Every rank must call these functions in
// the same order on the same model.

// The default bucket: a few MB per MPI call is past the point where latency
// matters and keeps the staging buffer small.
inline constexpr std::size_t kDefaultBucketBytes = std::size_t{4} << 20;

struct GradientSyncOptions {
    // Gradients travel as one stream per dtype, cut into buckets of at most
    // this many bytes (at least one element); one MPI_Allreduce per bucket.
    std::size_t bucket_bytes = kDefaultBucketBytes;
};

// What one all_reduce_gradients moved, per rank.
struct GradientSyncStats {
    int buckets = 0;        // MPI_Allreduce calls on gradient data
    std::size_t bytes = 0;  // gradient bytes handed to them
};

// Root's parameter values on every rank (in place: the tensors stay those
// the model and its optimizer hold). Shapes and dtypes must agree on all
// ranks, DistributedError otherwise.
void broadcast_parameters(const Module& module, int root = 0);
void broadcast_parameters(const std::vector<Tensor>& parameters, int root = 0);

// Root's optimizer state (moments, step counts, lr and the other
// hyper-parameters) on every rank, through Optimizer::load_state_dict.
void broadcast_optimizer_state(Optimizer& optimizer, int root = 0);

// Replaces every parameter's gradient by the mean of that gradient over the
// ranks, with new tensors (set_grad). A parameter without a gradient on some
// rank counts as zeros there; one without a gradient on every rank keeps
// none, so the optimizer skips it everywhere, as it would in one process.
GradientSyncStats all_reduce_gradients(const Module& module, GradientSyncOptions options = {});
GradientSyncStats all_reduce_gradients(const std::vector<Tensor>& parameters,
                                       GradientSyncOptions options = {});

struct DataParallelOptions {
    int root = 0;  // whose initial weights every rank starts from
    std::size_t bucket_bytes = kDefaultBucketBytes;
};

// In the spirit of torch's DistributedDataParallel, without hooks: building
// it broadcasts the weights, and synchronize() after backward averages the
// gradients. The module must outlive it.
class DataParallel {
public:
    explicit DataParallel(const Module& module, DataParallelOptions options = {});
    GradientSyncStats synchronize() const;
    const Module& module() const { return module_; }

private:
    const Module& module_;
    DataParallelOptions options_;
};

}  // namespace tg::dist
