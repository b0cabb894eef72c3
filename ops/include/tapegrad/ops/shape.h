#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// Rearranging, cutting and joining tensors, with PyTorch's semantics; all
// differentiable. Dimensions may be negative (counting from the end). Tensor
// already has reshape / view / flatten / operator[] (select along dim 0),
// detach, clone and to; these are the rest.
//
// Storage is contiguous, so a result that reads its input in order (squeeze,
// unsqueeze, a permutation that only moves size-1 dims, a narrow that keeps
// everything) shares the input's data like reshape; any other result is a
// copy. Bad dimensions throw IndexError, inconsistent shapes ShapeError,
// other bad arguments ValueError.

// Swaps two dimensions.
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1,
                 CallSite site = CallSite::current());
// Reorders the dimensions: result dim i is x's dim dims[i]. dims must be a
// permutation of x's dimensions (ValueError otherwise).
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims,
               CallSite site = CallSite::current());
// Transpose of a matrix; a 0-D or 1-D tensor comes back as is (torch.t).
Tensor t(const Tensor& x, CallSite site = CallSite::current());

// Elements start .. start + length - 1 of dim (start may be negative).
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length,
              CallSite site = CallSite::current());
// x[start:end:step] along dim, as Python slices: negative start / end count
// from the end, out-of-range bounds are clamped, no value means the edge.
// step must be positive.
Tensor slice(const Tensor& x, std::int64_t dim, std::optional<std::int64_t> start = {},
             std::optional<std::int64_t> end = {}, std::int64_t step = 1,
             CallSite site = CallSite::current());
// Index `index` of dim (negative counts from the end); the dim disappears.
Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index,
              CallSite site = CallSite::current());

// Joins tensors along an existing dim. Dtypes promote (float64 > float32 >
// int64); shapes must match except in dim. As in PyTorch, 1-D tensors of
// shape [0] are skipped whatever the other shapes.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0,
           CallSite site = CallSite::current());
// Joins equally shaped tensors along a new dim in [-(rank + 1), rank].
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0,
             CallSite site = CallSite::current());

// Pieces of split_size along dim, the last one smaller if need be.
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim = 0,
                          CallSite site = CallSite::current());
// Pieces of the given sizes along dim; they must add up to x's size there.
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes,
                          std::int64_t dim = 0, CallSite site = CallSite::current());
// torch.chunk: pieces of ceil(n / chunks) along dim, so there may be fewer
// than `chunks` of them (e.g. 6 elements in 4 chunks give 3 pieces of 2).
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0,
                          CallSite site = CallSite::current());

// Inserts a size-1 dim at dim in [-(rank + 1), rank].
Tensor unsqueeze(const Tensor& x, std::int64_t dim, CallSite site = CallSite::current());
// Removes every size-1 dim.
Tensor squeeze(const Tensor& x, CallSite site = CallSite::current());
// Removes dim if its size is 1; otherwise returns x's values unchanged.
Tensor squeeze(const Tensor& x, std::int64_t dim, CallSite site = CallSite::current());
// Repeats size-1 dims to the sizes in shape (-1 keeps a size) and may add
// leading dims. The result is a copy, not a strided view.
Tensor expand(const Tensor& x, const Shape& shape, CallSite site = CallSite::current());

}  // namespace tg
