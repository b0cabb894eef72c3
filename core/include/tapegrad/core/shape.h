#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace tg {

// The sizes of a tensor's dimensions, outermost first. Empty for a 0-D scalar.
class Shape {
public:
    Shape() = default;
    Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) {}
    explicit Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) {}

    std::int64_t rank() const { return static_cast<std::int64_t>(dims_.size()); }
    std::size_t size() const { return dims_.size(); }
    std::int64_t numel() const;
    std::int64_t operator[](std::size_t i) const { return dims_[i]; }
    std::int64_t& operator[](std::size_t i) { return dims_[i]; }
    std::int64_t back() const { return dims_.back(); }
    const std::vector<std::int64_t>& dims() const { return dims_; }
    auto begin() const { return dims_.begin(); }
    auto end() const { return dims_.end(); }
    bool operator==(const Shape&) const = default;

    // Row-major strides in elements.
    std::vector<std::int64_t> strides() const;
    std::string str() const;  // "[2, 3]"

private:
    std::vector<std::int64_t> dims_;
};

// The number of elements, or nullopt when the product of the non-zero
// dimensions overflows int64 (a shape no memory could hold).
std::optional<std::int64_t> checked_numel(const Shape& shape);

// Maps a possibly negative dimension into [0, rank); throws IndexError
// naming op otherwise.
std::int64_t normalize_dim(std::int64_t dim, std::int64_t rank, const char* op);

// NumPy broadcasting of two shapes; throws ShapeError naming op.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace tg

template <>
struct fmt::formatter<tg::Shape> : fmt::formatter<std::string> {
    auto format(const tg::Shape& s, format_context& ctx) const {
        return fmt::formatter<std::string>::format(s.str(), ctx);
    }
};
