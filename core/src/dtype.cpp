#include <tapegrad/core/dtype.h>

namespace tg {

std::string_view dtype_name(DType d) {
    switch (d) {
        case DType::f32:
            return "float32";
        case DType::f64:
            return "float64";
        case DType::i64:
            return "int64";
    }
    return "unknown";
}

std::size_t dtype_size(DType d) { return d == DType::f32 ? 4 : 8; }

bool is_floating(DType d) { return d != DType::i64; }

DType promote(DType a, DType b) {
    if (a == DType::f64 || b == DType::f64) return DType::f64;
    if (a == DType::f32 || b == DType::f32) return DType::f32;
    return DType::i64;
}

}  // namespace tg
