#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

namespace tg {

// f32 is the default; f64 serves gradient checks; i64 holds indices.
enum class DType : std::uint8_t { f32, f64, i64 };

std::string_view dtype_name(DType d);  // "float32", "float64", "int64"
std::size_t dtype_size(DType d);
bool is_floating(DType d);
DType promote(DType a, DType b);  // PyTorch's promotion: f64 > f32 > i64

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
    return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
    return DType::f64;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
    return DType::i64;
}

// Calls f.template operator()<T>() with the C++ type of d.
template <class F>
decltype(auto) dispatch(DType d, F&& f) {
    switch (d) {
        case DType::f32:
            return f.template operator()<float>();
        case DType::f64:
            return f.template operator()<double>();
        case DType::i64:
            return f.template operator()<std::int64_t>();
    }
    return f.template operator()<float>();
}

// Like dispatch, for code that only makes sense on floating-point data.
template <class F>
decltype(auto) dispatch_floating(DType d, F&& f) {
    if (d == DType::f64) return f.template operator()<double>();
    return f.template operator()<float>();
}

}  // namespace tg

template <>
struct fmt::formatter<tg::DType> : fmt::formatter<std::string_view> {
    auto format(tg::DType d, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(tg::dtype_name(d), ctx);
    }
};
