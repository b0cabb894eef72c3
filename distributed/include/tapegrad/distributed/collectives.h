#pragma once

#include <map>
#include <string>

#include <tapegrad/core/tensor.h>

namespace tg::dist {

enum class ReduceOp { sum, mean, min, max };

// In place, across all ranks, like torch.distributed. Every rank passes a
// tensor of the same shape and dtype (DistributedError otherwise, on every
// rank). Views share the change, as with any in-place write.
void broadcast(Tensor& tensor, int root = 0);                  // root's values everywhere
void all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::sum);  // mean: floating only
// One number, e.g. a loss for logging; returns the reduced value on every rank.
double all_reduce(double value, ReduceOp op = ReduceOp::sum);

// Root's named tensors on every rank (names, shapes, dtypes and values);
// what the other ranks pass is ignored.
std::map<std::string, Tensor> broadcast_state(const std::map<std::string, Tensor>& state,
                                              int root = 0);

}  // namespace tg::dist
