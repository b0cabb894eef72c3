#include <tapegrad/ops/index.h>

#include <algorithm>
#include <cstring>

namespace tg {

namespace {

void check_indices(const Tensor& indices, const char* op) {
    if (!indices.defined())
        throw ValueError(fmt::format("{}: indices are an undefined tensor", op));
    if (indices.dtype() != DType::i64)
        throw DTypeError(fmt::format("{}: indices must be int64, got {} of shape {}", op,
                                     indices.dtype(), indices.shape()));
}

// indices' shape with one more trailing dimension of size n.
Shape with_trailing(const Shape& shape, std::int64_t n) {
    std::vector<std::int64_t> dims = shape.dims();
    dims.push_back(n);
    return Shape(std::move(dims));
}

}  // namespace

// y[..., c] = (indices[...] == c);  no gradient (integer result).
Tensor one_hot(const Tensor& indices, std::int64_t num_classes) {
    check_indices(indices, "one_hot");
    if (num_classes < -1)
        throw ValueError(
            fmt::format("one_hot: num_classes must be -1 (infer) or >= 0, got {}", num_classes));
    const std::int64_t* pi = indices.data<std::int64_t>();
    const std::int64_t count = indices.numel();
    if (num_classes == -1) {
        if (count == 0)
            throw ValueError(
                "one_hot: cannot infer num_classes from empty indices; pass num_classes");
        num_classes = *std::max_element(pi, pi + count) + 1;
    }
    for (std::int64_t k = 0; k < count; ++k)
        if (pi[k] < 0 || pi[k] >= num_classes)
            throw IndexError(fmt::format(
                "one_hot: class index {} is out of range for num_classes {} (indices of shape {})",
                pi[k], num_classes, indices.shape()));
    Tensor y = zeros(with_trailing(indices.shape(), num_classes), DType::i64);
    std::int64_t* py = y.mutable_data<std::int64_t>();
    for (std::int64_t k = 0; k < count; ++k) py[k * num_classes + pi[k]] = 1;
    return y;
}

// y[..., :] = weight[indices[...], :];
// dweight[r, :] = sum of dy[..., :] over the positions whose index is r (none for padding_idx).
Tensor embedding(const Tensor& indices, const Tensor& weight,
                 std::optional<std::int64_t> padding_idx, CallSite site) {
    check_indices(indices, "embedding");
    if (!weight.defined()) throw ValueError("embedding: weight is an undefined tensor");
    if (weight.dim() != 2)
        throw ShapeError(
            fmt::format("embedding: weight must be 2-D [num, dim], got shape {}", weight.shape()));
    const std::int64_t num = weight.shape()[0], dim = weight.shape()[1];
    if (padding_idx) {
        if (*padding_idx < -num || *padding_idx >= num)
            throw IndexError(
                fmt::format("embedding: padding_idx {} is out of range for a table of {} rows",
                            *padding_idx, num));
        if (*padding_idx < 0) *padding_idx += num;
    }
    const std::int64_t* pi = indices.data<std::int64_t>();
    const std::int64_t count = indices.numel();
    for (std::int64_t k = 0; k < count; ++k)
        if (pi[k] < 0 || pi[k] >= num)
            throw IndexError(fmt::format(
                "embedding: index {} is out of range for a table of {} rows (weight shape {})",
                pi[k], num, weight.shape()));

    Tensor y = Tensor::empty(with_trailing(indices.shape(), dim), weight.dtype());
    const std::size_t row_bytes = static_cast<std::size_t>(dim) * dtype_size(weight.dtype());
    std::byte* py = y.raw_mutable_data();
    const std::byte* pw = weight.raw_data();
    for (std::int64_t k = 0; k < count; ++k)
        std::memcpy(py + static_cast<std::size_t>(k) * row_bytes,
                    pw + static_cast<std::size_t>(pi[k]) * row_bytes, row_bytes);
    // indices are an input too, so backward refuses them if changed in place.
    return record(
        "embedding", {weight, indices}, y,
        [indices, num, dim, padding_idx](const Tensor& dy, Grads& dx) {
            if (!dx.needs(0)) return;
            Tensor dw = zeros({num, dim}, dy.dtype());
            dispatch_floating(dy.dtype(), [&]<class T>() {
                const std::int64_t* pi = indices.data<std::int64_t>();
                const T* pdy = dy.data<T>();
                T* pdw = dw.mutable_data<T>();
                for (std::int64_t k = 0, n = indices.numel(); k < n; ++k) {
                    if (pi[k] == padding_idx) continue;
                    for (std::int64_t j = 0; j < dim; ++j) pdw[pi[k] * dim + j] += pdy[k * dim + j];
                }
            });
            dx[0] += dw;
        },
        site);
}

}  // namespace tg
