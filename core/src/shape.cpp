#include <tapegrad/core/error.h>
#include <tapegrad/core/shape.h>

#include <algorithm>

namespace tg {

std::int64_t Shape::numel() const {
    std::int64_t n = 1;
    for (auto d : dims_) n *= d;
    return n;
}

std::optional<std::int64_t> checked_numel(const Shape& shape) {
    std::int64_t product = 1;
    bool empty = false;
    for (std::int64_t d : shape) {
        if (d == 0)
            empty = true;
        else if (__builtin_mul_overflow(product, d, &product))
            return std::nullopt;
    }
    return empty ? 0 : product;
}

std::vector<std::int64_t> Shape::strides() const {
    std::vector<std::int64_t> s(dims_.size(), 1);
    for (std::size_t i = dims_.size(); i-- > 1;) s[i - 1] = s[i] * dims_[i];
    return s;
}

std::string Shape::str() const { return fmt::format("[{}]", fmt::join(dims_, ", ")); }

std::int64_t normalize_dim(std::int64_t dim, std::int64_t rank, const char* op) {
    // A 0-D tensor accepts dim 0 and -1, as PyTorch does.
    std::int64_t r = std::max<std::int64_t>(rank, 1);
    if (dim < -r || dim >= r)
        throw IndexError(
            fmt::format("{}: dimension {} is out of range for a tensor of rank {}", op, dim, rank));
    return dim < 0 ? dim + r : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    std::size_t rank = std::max(a.size(), b.size());
    std::vector<std::int64_t> out(rank);
    for (std::size_t i = 0; i < rank; ++i) {
        std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        if (da != db && da != 1 && db != 1)
            throw ShapeError(
                fmt::format("{}: shapes {} and {} cannot be broadcast (dimension {}: "
                            "{} vs {})",
                            op, a, b, i, da, db));
        out[i] = da == 1 ? db : da;
    }
    return Shape(std::move(out));
}

}  // namespace tg
