// Tensor::str(), a port of PyTorch's torch/_tensor_str.py with its default
// print options, so that a tensor prints as PyTorch prints the same values.
#include <tapegrad/core/tensor.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace tg {

namespace {

constexpr int kPrecision = 4;              // digits after the point
constexpr std::int64_t kThreshold = 1000;  // more elements than this are summarised
constexpr std::int64_t kEdgeItems = 3;     // items kept at each end of a summarised dimension
constexpr std::int64_t kLineWidth = 80;
constexpr std::int64_t kSkipped = -1;  // stands for "..." in a list of shown indices

// Python's "{:.Nf}" / "{:.Ne}": glibc rounds exactly as Python does; Python
// prints nan without a sign.
std::string format_double(double v, char style, int precision) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[400];  // "%.4f" of the largest double needs 314
    if (style == 'e')
        std::snprintf(buf, sizeof buf, "%.*e", precision, v);
    else
        std::snprintf(buf, sizeof buf, "%.*f", precision, v);
    return buf;
}

std::string pad_left(std::string s, std::size_t width) {
    if (s.size() < width) s.insert(0, width - s.size(), ' ');
    return s;
}

// The indices of one dimension of size n that are printed, kSkipped marking
// the gap of a summarised dimension.
std::vector<std::int64_t> shown_indices(std::int64_t n, bool summarize) {
    std::vector<std::int64_t> out;
    if (summarize && n > 2 * kEdgeItems) {
        for (std::int64_t i = 0; i < kEdgeItems; ++i) out.push_back(i);
        out.push_back(kSkipped);
        for (std::int64_t i = n - kEdgeItems; i < n; ++i) out.push_back(i);
    } else {
        for (std::int64_t i = 0; i < n; ++i) out.push_back(i);
    }
    return out;
}

// PyTorch's _Formatter: one element width and one style (fixed, integer-valued
// or scientific) for all the elements that are shown.
class Formatter {
public:
    explicit Formatter(const std::vector<std::int64_t>& values) {
        for (std::int64_t v : values) width_ = std::max(width_, std::to_string(v).size());
    }

    explicit Formatter(const std::vector<double>& values) {
        std::vector<double> nonzero_finite;
        for (double v : values)
            if (std::isfinite(v) && v != 0) nonzero_finite.push_back(v);
        if (nonzero_finite.empty()) return;
        double max = 0, min = INFINITY;
        for (double v : nonzero_finite) {
            max = std::max(max, std::abs(v));
            min = std::min(min, std::abs(v));
            if (v != std::ceil(v)) int_mode_ = false;
        }
        // PyTorch's rule for scientific notation; integer-valued data never
        // switches for being small.
        sci_mode_ = max / min > 1000.0 || max > 1e8 || (!int_mode_ && min < 1e-4);
        for (double v : nonzero_finite) {
            std::size_t w = sci_mode_   ? format_double(v, 'e', kPrecision).size()
                            : int_mode_ ? format_double(v, 'f', 0).size() + 1  // "1."
                                        : format_double(v, 'f', kPrecision).size();
            width_ = std::max(width_, w);
        }
    }

    std::size_t width() const { return width_; }

    std::string operator()(std::int64_t v) const { return pad_left(std::to_string(v), width_); }

    std::string operator()(double v) const {
        std::string s;
        if (sci_mode_) {
            s = format_double(v, 'e', kPrecision);
        } else if (int_mode_) {
            s = format_double(v, 'f', 0);
            if (std::isfinite(v)) s += '.';  // marks the tensor as floating
        } else {
            s = format_double(v, 'f', kPrecision);
        }
        return pad_left(std::move(s), width_);
    }

private:
    bool int_mode_ = true;
    bool sci_mode_ = false;
    std::size_t width_ = 1;
};

// How Python sees an element after .tolist(): floats as double, ints as int64.
template <class T>
using PyValue = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;

template <class T>
class Printer {
public:
    Printer(const T* data, const Shape& shape, bool summarize)
        : data_(data),
          shape_(shape),
          strides_(shape.strides()),
          summarize_(summarize),
          format_(shown_values()) {}

    std::string str(std::int64_t indent) const { return block(0, 0, indent); }

private:
    const T* data_;
    const Shape& shape_;
    std::vector<std::int64_t> strides_;
    bool summarize_;
    Formatter format_;

    // The elements that will be printed (PyTorch's get_summarized_data):
    // the formatter sizes itself on these only.
    std::vector<PyValue<T>> shown_values() const {
        std::vector<PyValue<T>> out;
        collect(0, 0, out);
        return out;
    }

    void collect(std::size_t d, std::int64_t offset, std::vector<PyValue<T>>& out) const {
        if (d == shape_.size()) {
            out.push_back(static_cast<PyValue<T>>(data_[offset]));
            return;
        }
        for (std::int64_t i : shown_indices(shape_[d], summarize_))
            if (i != kSkipped) collect(d + 1, offset + i * strides_[d], out);
    }

    // The sub-tensor at offset whose first dimension is d.
    std::string block(std::size_t d, std::int64_t offset, std::int64_t indent) const {
        std::size_t rank = shape_.size() - d;
        if (rank == 0) return format_(static_cast<PyValue<T>>(data_[offset]));
        if (rank == 1) return vector(d, offset, indent);
        std::vector<std::string> slices;
        for (std::int64_t i : shown_indices(shape_[d], summarize_))
            slices.push_back(i == kSkipped ? "..."
                                           : block(d + 1, offset + i * strides_[d], indent + 1));
        // Matrices in a 3-D tensor are set apart by a blank line, and so on.
        std::string separator = "," + std::string(rank - 1, '\n') + std::string(indent + 1, ' ');
        return "[" + join(slices, separator) + "]";
    }

    // The last dimension, wrapped to the line width.
    std::string vector(std::size_t d, std::int64_t offset, std::int64_t indent) const {
        auto element_length = static_cast<std::int64_t>(format_.width()) + 2;  // with ", "
        std::int64_t per_line = std::max<std::int64_t>(1, (kLineWidth - indent) / element_length);
        std::vector<std::string> items;
        for (std::int64_t i : shown_indices(shape_[d], summarize_))
            items.push_back(i == kSkipped ? " ..."
                                          : format_(static_cast<PyValue<T>>(data_[offset + i])));
        std::vector<std::string> lines;
        for (std::size_t i = 0; i < items.size(); i += per_line) {
            std::size_t stop = std::min(items.size(), i + per_line);
            lines.push_back(join({items.begin() + i, items.begin() + stop}, ", "));
        }
        return "[" + join(lines, ",\n" + std::string(indent + 1, ' ')) + "]";
    }

    static std::string join(const std::vector<std::string>& parts, const std::string& separator) {
        std::string out;
        for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
        return out;
    }
};

// Python's str(tuple(shape)): "(2, 0)", "(3,)".
std::string python_tuple(const Shape& shape) {
    if (shape.size() == 1) return fmt::format("({},)", shape[0]);
    return fmt::format("({})", fmt::join(shape.dims(), ", "));
}

// PyTorch's _add_suffixes: ", suffix" on the last line while it fits in the
// line width, else on a new line under the contents.
std::string add_suffixes(std::string text, const std::vector<std::string>& suffixes,
                         std::int64_t indent) {
    std::size_t newline = text.rfind('\n');
    // PyTorch's own arithmetic, off by two when there is no newline.
    auto last_line = static_cast<std::int64_t>(text.size()) -
                     (newline == std::string::npos ? -1 : static_cast<std::int64_t>(newline)) + 1;
    for (const std::string& suffix : suffixes) {
        auto length = static_cast<std::int64_t>(suffix.size());
        if (last_line + length + 2 > kLineWidth) {
            text += ",\n" + std::string(indent, ' ') + suffix;
            last_line = indent + length;
        } else {
            text += ", " + suffix;
            last_line += length + 2;
        }
    }
    return text + ")";
}

}  // namespace

// PyTorch prints grad_fn=<...> for recorded results; tapegrad leaves it out.
std::string Tensor::str() const {
    if (!defined()) return "tensor(undefined)";
    const std::string prefix = "tensor(";
    const auto indent = static_cast<std::int64_t>(prefix.size());
    std::vector<std::string> suffixes;
    std::string contents;
    std::string dtype_suffix = fmt::format("dtype=torch.{}", dtype_name(dtype()));
    if (numel() == 0) {
        // Nothing shows the shape or the dtype, so they are spelled out
        // (except the common [0] shape and the default float32).
        if (dim() != 1) suffixes.push_back("size=" + python_tuple(shape()));
        if (dtype() != DType::f32) suffixes.push_back(dtype_suffix);
        contents = "[]";
    } else {
        if (dtype() == DType::f64) suffixes.push_back(dtype_suffix);  // f32 and i64 are implied
        bool summarize = numel() > kThreshold;
        contents = dispatch(dtype(), [&]<class T>() {
            return Printer<T>(data<T>(), shape(), summarize).str(indent);
        });
    }
    if (is_leaf() && requires_grad()) suffixes.push_back("requires_grad=True");
    return add_suffixes(prefix + contents, suffixes, indent);
}

}  // namespace tg
