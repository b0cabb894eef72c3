#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/map.h>
#include <tapegrad/ops/shape.h>

#include <algorithm>
#include <numeric>
#include <span>

namespace tg {

namespace {

// Every op here moves elements through strided views: element
// (i_0, ..., i_r-1) of a view is element offset + sum_k i_k * strides[k] of
// the viewed tensor's flat data. Most ops read their result through one view
// of the input; cat writes each input through a view of the result. A stride
// of 0 repeats an element (expand).
struct View {
    Shape shape;
    std::vector<std::int64_t> strides;
    std::int64_t offset = 0;
};

// Calls f(i, j) for every element of the view: i is its flat index in the
// view, j its flat index in the viewed tensor.
template <class F>
void for_each_element(const View& v, F f) {
    const std::int64_t total = v.shape.numel();
    if (total == 0) return;
    const std::size_t rank = v.shape.size();
    if (rank == 0) {
        f(std::int64_t{0}, v.offset);
        return;
    }
    const std::int64_t inner = v.shape[rank - 1], step = v.strides[rank - 1];
    std::vector<std::int64_t> index(rank, 0);
    std::int64_t row = v.offset;  // source index of the current row's first element
    for (std::int64_t i = 0; i < total; i += inner) {
        for (std::int64_t c = 0, j = row; c < inner; ++c, j += step) f(i + c, j);
        for (std::size_t d = rank - 1; d-- > 0;) {  // odometer over the outer dims
            row += v.strides[d];
            if (++index[d] < v.shape[d]) break;
            row -= v.strides[d] * v.shape[d];
            index[d] = 0;
        }
    }
}

// y = the view's elements, contiguous: y[i] = x[j].
Tensor gather(const Tensor& x, const View& v) {
    Tensor y = Tensor::empty(v.shape, x.dtype());
    dispatch(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        T* py = y.mutable_data<T>();
        for_each_element(v, [&](std::int64_t i, std::int64_t j) { py[i] = px[j]; });
    });
    return y;
}

// The other direction: write(into[j], y[i]) for every element of the view
// of `into`. Adding is the adjoint of gather, so backward is this with +=.
template <class Write>
void scatter(const Tensor& y, const View& v, Tensor& into, Write write) {
    dispatch(y.dtype(), [&]<class T>() {
        const T* py = y.data<T>();
        T* pinto = into.mutable_data<T>();
        for_each_element(v, [&](std::int64_t i, std::int64_t j) { write(pinto[j], py[i]); });
    });
}

constexpr auto add_to = [](auto& into, auto value) { into += value; };
constexpr auto copy_to = [](auto& into, auto value) { into = value; };

// dx for a gather: dy added back where each element came from, zeros elsewhere.
Tensor scatter_grad(const Tensor& dy, const View& v, const Shape& source) {
    Tensor dx = zeros(source, dy.dtype());
    scatter(dy, v, dx, add_to);
    return dx;
}

// The whole of a contiguous tensor of this shape.
View whole(const Shape& shape) { return {shape, shape.strides(), 0}; }

// Elements start .. start + length - 1 of dim d.
View narrow_view(const Shape& shape, std::size_t d, std::int64_t start, std::int64_t length) {
    View v = whole(shape);
    v.offset = start * v.strides[d];
    v.shape[d] = length;
    return v;
}

// True when v reads all of a tensor of shape `source` in storage order, so
// the result can share the data (size-1 dims can have any stride).
bool reads_in_order(const View& v, const Shape& source) {
    if (v.offset != 0 || v.shape.numel() != source.numel()) return false;
    std::int64_t expected = 1;
    for (std::size_t d = v.shape.size(); d-- > 0;) {
        if (v.shape[d] == 1) continue;
        if (v.strides[d] != expected) return false;
        expected *= v.shape[d];
    }
    return true;
}

// x under a new shape, sharing data; recorded as a reshape that op made at site.
Tensor reshaped(const Tensor& x, Shape shape, const char* op, CallSite site) {
    CallSiteScope scope(op, site);
    return x.reshape(std::move(shape));
}

// y = the view of x;  dx = dy scattered back through the same view.
Tensor view_op(const char* op, const Tensor& x, View v, CallSite site) {
    if (reads_in_order(v, x.shape())) return reshaped(x, v.shape, op, site);
    Tensor y = gather(x, v);
    return record(
        op, {x}, y,
        [v, source = x.shape()](const Tensor& dy, Grads& dx) {
            dx[0] += scatter_grad(dy, v, source);
        },
        site);
}

// Ops that need x to have a dimension at all (PyTorch refuses 0-D here).
void check_not_scalar(const Tensor& x, const char* op) {
    if (x.dim() == 0)
        throw IndexError(fmt::format("{}: cannot be applied to a 0-D tensor (shape [])", op));
}

// A position for a new dim: [-(rank + 1), rank] mapped to [0, rank].
std::size_t insertion_dim(std::int64_t dim, std::int64_t rank, const char* op) {
    if (dim < -(rank + 1) || dim > rank)
        throw IndexError(
            fmt::format("{}: dimension {} is out of range [{}, {}] for a new "
                        "dimension of a tensor of rank {}",
                        op, dim, -(rank + 1), rank, rank));
    return static_cast<std::size_t>(dim < 0 ? dim + rank + 1 : dim);
}

std::size_t dim_index(std::int64_t dim, const Tensor& x, const char* op) {
    return static_cast<std::size_t>(normalize_dim(dim, x.dim(), op));
}

// One tape entry for all pieces: piece k is a narrow of x, and backward adds
// every piece's dy into a single dx (pieces nobody used arrive as zeros).
std::vector<Tensor> split_pieces(const Tensor& x, const std::vector<std::int64_t>& sizes,
                                 std::size_t d, const char* op, CallSite site) {
    std::vector<View> views;
    std::vector<Tensor> ys;
    std::int64_t start = 0;
    for (std::int64_t size : sizes) {
        views.push_back(narrow_view(x.shape(), d, start, size));
        ys.push_back(gather(x, views.back()));
        start += size;
    }
    return record(
        op, {x}, std::move(ys),
        [views, source = x.shape()](std::span<const Tensor> dys, Grads& dx) {
            Tensor g = zeros(source, dys[0].dtype());
            for (std::size_t k = 0; k < views.size(); ++k) scatter(dys[k], views[k], g, add_to);
            dx[0] += g;
        },
        site);
}

}  // namespace

// y[.., i, .., j, ..] = x[.., j, .., i, ..];  dx = dy transposed back.
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1, CallSite site) {
    std::size_t a = dim_index(dim0, x, "transpose"), b = dim_index(dim1, x, "transpose");
    std::vector<std::int64_t> dims(x.shape().size());
    std::iota(dims.begin(), dims.end(), 0);
    if (!dims.empty()) std::swap(dims[a], dims[b]);
    return permute(x, dims, site);
}

// y[i_0, .., i_r-1] = x[i at the places dims say];  dx = dy permuted back.
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims, CallSite site) {
    const Shape& shape = x.shape();
    if (dims.size() != shape.size())
        throw ValueError(
            fmt::format("permute: {} dims [{}] given for a tensor of shape {}; "
                        "dims must be a permutation of its {} dimensions",
                        dims.size(), fmt::join(dims, ", "), shape, shape.size()));
    std::vector<char> seen(shape.size(), 0);
    View v{shape, shape.strides(), 0};
    auto source_strides = shape.strides();
    for (std::size_t i = 0; i < dims.size(); ++i) {
        std::size_t d = dim_index(dims[i], x, "permute");
        if (seen[d]++)
            throw ValueError(
                fmt::format("permute: dims [{}] are not a permutation of the "
                            "dimensions of shape {} (dimension {} repeats)",
                            fmt::join(dims, ", "), shape, d));
        v.shape[i] = shape[d];
        v.strides[i] = source_strides[d];
    }
    return view_op("permute", x, std::move(v), site);
}

// y = x^T for a matrix, x itself for fewer dims;  dx = dy^T.
Tensor t(const Tensor& x, CallSite site) {
    if (x.dim() > 2)
        throw ShapeError(
            fmt::format("t: expects a tensor with at most 2 dimensions, got shape "
                        "{}; use transpose or permute",
                        x.shape()));
    // A new handle on the same data, as torch.
    if (x.dim() < 2) return reshaped(x, x.shape(), "t", site);
    return transpose(x, 0, 1, site);
}

// y = x[.., start:start+length, ..];  dx = dy placed there, zeros elsewhere.
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length,
              CallSite site) {
    check_not_scalar(x, "narrow");
    std::size_t d = dim_index(dim, x, "narrow");
    std::int64_t n = x.shape()[d];
    if (start < -n || start > n)
        throw IndexError(
            fmt::format("narrow: start {} is out of range [{}, {}] for dimension "
                        "{} of shape {}",
                        start, -n, n, d, x.shape()));
    if (start < 0) start += n;
    if (length < 0) throw ValueError(fmt::format("narrow: length must be >= 0, got {}", length));
    if (length > n - start)  // not start + length: no overflow
        throw IndexError(
            fmt::format("narrow: start {} + length {} exceeds size {} of dimension "
                        "{} in shape {}",
                        start, length, n, d, x.shape()));
    return view_op("narrow", x, narrow_view(x.shape(), d, start, length), site);
}

// y = x[.., start:end:step, ..];  dx = dy placed at every step-th index, zeros elsewhere.
Tensor slice(const Tensor& x, std::int64_t dim, std::optional<std::int64_t> start,
             std::optional<std::int64_t> end, std::int64_t step, CallSite site) {
    check_not_scalar(x, "slice");
    std::size_t d = dim_index(dim, x, "slice");
    if (step <= 0) throw ValueError(fmt::format("slice: step must be positive, got {}", step));
    std::int64_t n = x.shape()[d];
    // Python's rules: negative bounds count from the end, then both clamp to [0, n].
    auto bound = [n](std::optional<std::int64_t> b, std::int64_t none) {
        std::int64_t v = b.value_or(none);
        if (v < 0) v += n;
        return std::clamp<std::int64_t>(v, 0, n);
    };
    std::int64_t first = bound(start, 0), last = std::max(bound(end, n), first);
    View v = narrow_view(x.shape(), d, first, last == first ? 0 : (last - first - 1) / step + 1);
    v.strides[d] *= step;
    return view_op("slice", x, std::move(v), site);
}

// y = x[.., index, ..] without dim;  dx = dy placed at index, zeros elsewhere.
Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index, CallSite site) {
    check_not_scalar(x, "select");
    std::size_t d = dim_index(dim, x, "select");
    if (d == 0) {  // shares x's data
        CallSiteScope scope("select", site);
        return x[index];
    }
    std::int64_t n = x.shape()[d];
    if (index < -n || index >= n)
        throw IndexError(
            fmt::format("select: index {} is out of range for dimension {} of "
                        "shape {}",
                        index, d, x.shape()));
    View v = narrow_view(x.shape(), d, index < 0 ? index + n : index, 1);
    auto drop = [d](auto& dims) { dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(d)); };
    std::vector<std::int64_t> dims = v.shape.dims();
    drop(dims);
    drop(v.strides);
    v.shape = Shape(std::move(dims));
    return view_op("select", x, std::move(v), site);
}

// y = x_0 ++ x_1 ++ ... along dim;  dx_k = the part of dy where x_k landed.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim, CallSite site) {
    if (tensors.empty()) throw ValueError("cat: expects a non-empty list of tensors");
    for (std::size_t k = 0; k < tensors.size(); ++k) {
        if (!tensors[k].defined())
            throw ValueError(fmt::format("cat: tensor {} is an undefined tensor", k));
        if (tensors[k].dim() == 0)
            throw ShapeError(
                fmt::format("cat: tensor {} is 0-D; zero-dimensional tensors "
                            "cannot be concatenated (use stack)",
                            k));
    }
    // PyTorch skips 1-D empty tensors whatever the other shapes (so `h = cat({h, x})`
    // can start from an empty h); the first tensor not skipped sets the shape.
    auto skipped = [](const Tensor& x) { return x.dim() == 1 && x.numel() == 0; };
    auto first = std::find_if_not(tensors.begin(), tensors.end(), skipped);
    auto ref = static_cast<std::size_t>(first == tensors.end() ? 0 : first - tensors.begin());
    const Shape& ref_shape = tensors[ref].shape();
    std::size_t d = dim_index(dim, tensors[ref], "cat");
    DType dtype = tensors[0].dtype();
    Shape shape = ref_shape;
    shape[d] = 0;
    for (std::size_t k = 0; k < tensors.size(); ++k) {
        dtype = promote(dtype, tensors[k].dtype());
        if (k != ref && skipped(tensors[k])) continue;
        const Shape& s = tensors[k].shape();
        bool match = s.size() == ref_shape.size();
        for (std::size_t i = 0; match && i < s.size(); ++i) match = i == d || s[i] == ref_shape[i];
        if (!match)
            throw ShapeError(
                fmt::format("cat: shapes must match except in dimension {}, but "
                            "tensor {} has shape {} and tensor {} has shape {}",
                            d, k, s, ref, ref_shape));
        shape[d] += s[d];
    }

    std::vector<Tensor> xs;
    std::vector<View> places;  // where each x lands in y
    std::int64_t start = 0;
    for (std::size_t k = 0; k < tensors.size(); ++k) {
        if (k != ref && skipped(tensors[k])) continue;
        xs.push_back(detail::converted(tensors[k], dtype, "cat", site));  // gradients convert back
        places.push_back(narrow_view(shape, d, start, tensors[k].shape()[d]));
        start += tensors[k].shape()[d];
    }
    Tensor y = Tensor::empty(shape, dtype);
    for (std::size_t k = 0; k < xs.size(); ++k) scatter(xs[k], places[k], y, copy_to);
    return record(
        "cat", xs, y,
        [places](const Tensor& dy, Grads& dx) {
            for (std::size_t k = 0; k < places.size(); ++k)
                if (dx.needs(k)) dx[k] += gather(dy, places[k]);
        },
        site);
}

// y = cat of every x with a new size-1 dim at dim;  dx_k = dy's slice k (via cat).
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim, CallSite site) {
    CallSiteScope scope("stack", site);
    if (tensors.empty()) throw ValueError("stack: expects a non-empty list of tensors");
    for (std::size_t k = 0; k < tensors.size(); ++k) {
        if (!tensors[k].defined())
            throw ValueError(fmt::format("stack: tensor {} is an undefined tensor", k));
        if (tensors[k].shape() != tensors[0].shape())
            throw ShapeError(
                fmt::format("stack: tensors must have equal shapes, but tensor {} "
                            "has shape {} and tensor 0 has shape {}",
                            k, tensors[k].shape(), tensors[0].shape()));
    }
    std::size_t d = insertion_dim(dim, tensors[0].dim(), "stack");
    std::vector<Tensor> xs;
    for (const Tensor& x : tensors) xs.push_back(unsqueeze(x, static_cast<std::int64_t>(d)));
    return cat(xs, static_cast<std::int64_t>(d));
}

// ys = consecutive narrows of split_size (the last may be smaller);  dx = the dys side by side.
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim,
                          CallSite site) {
    check_not_scalar(x, "split");
    std::size_t d = dim_index(dim, x, "split");
    std::int64_t n = x.shape()[d];
    if (split_size < 0 || (split_size == 0 && n != 0))
        throw ValueError(
            fmt::format("split: split_size must be positive (0 only for an empty "
                        "dimension), got {} for dimension {} of shape {}",
                        split_size, d, x.shape()));
    // As PyTorch: at least one piece, so an empty dim or split_size > n gives one.
    std::vector<std::int64_t> sizes;
    for (std::int64_t start = 0; start < n; start += split_size)
        sizes.push_back(std::min(split_size, n - start));
    if (sizes.empty()) sizes.push_back(n);
    return split_pieces(x, sizes, d, "split", site);
}

// ys = consecutive narrows of the given sizes;  dx = the dys side by side.
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t dim,
                          CallSite site) {
    check_not_scalar(x, "split");
    std::size_t d = dim_index(dim, x, "split");
    if (sizes.empty()) throw ValueError("split: expects at least one size");
    std::int64_t total = 0;
    for (std::int64_t size : sizes) {
        if (size < 0)
            throw ValueError(fmt::format("split: sizes [{}] must be >= 0", fmt::join(sizes, ", ")));
        if (__builtin_add_overflow(total, size, &total))
            throw ValueError(fmt::format("split: sizes [{}] overflow", fmt::join(sizes, ", ")));
    }
    if (total != x.shape()[d])
        throw ShapeError(
            fmt::format("split: sizes [{}] add up to {}, but dimension {} of shape "
                        "{} has size {}",
                        fmt::join(sizes, ", "), total, d, x.shape(), x.shape()[d]));
    return split_pieces(x, sizes, d, "split", site);
}

// ys = split(x, ceil(n / chunks)), as torch.chunk;  dx = the dys side by side.
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim, CallSite site) {
    check_not_scalar(x, "chunk");
    std::size_t d = dim_index(dim, x, "chunk");
    if (chunks <= 0)
        throw ValueError(fmt::format("chunk: chunks must be positive, got {}", chunks));
    std::int64_t n = x.shape()[d];
    // An empty dim still gives `chunks` (empty) pieces, as PyTorch.
    if (n == 0)
        return split(x, std::vector<std::int64_t>(static_cast<std::size_t>(chunks), 0), dim, site);
    return split(x, (n - 1) / chunks + 1, dim, site);
}

// y = x with a size-1 dim inserted (shares data);  dx = dy reshaped back.
Tensor unsqueeze(const Tensor& x, std::int64_t dim, CallSite site) {
    std::size_t d = insertion_dim(dim, x.dim(), "unsqueeze");
    std::vector<std::int64_t> dims = x.shape().dims();
    dims.insert(dims.begin() + static_cast<std::ptrdiff_t>(d), 1);
    return reshaped(x, Shape(std::move(dims)), "unsqueeze", site);
}

// y = x without its size-1 dims (shares data);  dx = dy reshaped back.
Tensor squeeze(const Tensor& x, CallSite site) {
    std::vector<std::int64_t> dims;
    for (std::int64_t size : x.shape())
        if (size != 1) dims.push_back(size);
    return reshaped(x, Shape(std::move(dims)), "squeeze", site);
}

// y = x without dim if its size is 1, else x's values (shares data);  dx = dy reshaped back.
Tensor squeeze(const Tensor& x, std::int64_t dim, CallSite site) {
    std::size_t d = dim_index(dim, x, "squeeze");
    std::vector<std::int64_t> dims = x.shape().dims();
    if (!dims.empty() && dims[d] == 1) dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(d));
    return reshaped(x, Shape(std::move(dims)), "squeeze", site);
}

// y = x repeated along its size-1 (and new leading) dims;  dx = dy summed back (sum_to).
Tensor expand(const Tensor& x, const Shape& shape, CallSite site) {
    const Shape& source = x.shape();
    if (shape.size() < source.size())
        throw ShapeError(
            fmt::format("expand: target shape {} has fewer dimensions than the "
                        "tensor's shape {}",
                        shape, source));
    const std::size_t lead = shape.size() - source.size();
    const auto source_strides = source.strides();
    View v{shape, std::vector<std::int64_t>(shape.size(), 0), 0};  // stride 0 repeats
    for (std::size_t d = 0; d < shape.size(); ++d) {
        std::int64_t want = shape[d];
        if (d < lead) {
            if (want < 0)
                throw ShapeError(
                    fmt::format("expand: size {} is not allowed in new leading "
                                "dimension {} (target {}, tensor shape {})",
                                want, d, shape, source));
            continue;
        }
        std::int64_t have = source[d - lead];
        if (want == -1) want = have;
        if (want != have && (have != 1 || want < 0))
            throw ShapeError(
                fmt::format("expand: size {} of dimension {} in tensor shape {} "
                            "cannot become {} (target {}); only size-1 dimensions "
                            "can grow",
                            have, d - lead, source, want, shape));
        v.shape[d] = want;
        if (want == have) v.strides[d] = source_strides[d - lead];
    }
    if (v.shape == source) return reshaped(x, source, "expand", site);
    Tensor y = gather(x, v);
    return record(
        "expand", {x}, y, [source](const Tensor& dy, Grads& dx) { dx[0] += sum_to(dy, source); },
        site);
}

}  // namespace tg
