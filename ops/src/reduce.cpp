#include <tapegrad/ops/broadcast.h>
#include <tapegrad/ops/reduce.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <type_traits>

namespace tg {

namespace {

void check_defined(const Tensor& x, const char* op) {
    if (!x.defined()) throw ValueError(fmt::format("{}: undefined tensor", op));
}

// How a reduction over some dimensions maps x to its result.
struct Plan {
    Shape keep;              // x's shape with the reduced dimensions set to 1
    Shape out;               // the result's shape: keep, or keep without the reduced dimensions
    std::int64_t count = 1;  // elements reduced into each result element
    // Adjacent reduced dimensions let x be read as [outer, count, inner]
    // with plain loops; any other set goes through broadcast_loop.
    bool blocked = true;
    std::int64_t outer = 1, inner = 1;
};

// An empty dims list reduces every dimension, as PyTorch's dim=[].
Plan plan_reduction(const Shape& shape, const std::vector<std::int64_t>& dims, bool keepdim,
                    const char* op) {
    const std::int64_t rank = shape.rank();
    // A 0-D tensor accepts dim 0 / -1, so it gets one (unused) slot too.
    std::vector<char> reduced(static_cast<std::size_t>(std::max<std::int64_t>(rank, 1)), 0);
    for (std::int64_t d : dims) {
        std::int64_t n = normalize_dim(d, rank, op);
        if (reduced[n])
            throw ValueError(fmt::format("{}: dimension {} appears more than once in dims [{}]", op,
                                         n, fmt::join(dims, ", ")));
        reduced[n] = 1;
    }
    if (dims.empty()) std::fill(reduced.begin(), reduced.end(), 1);

    Plan p;
    std::vector<std::int64_t> keep, out;
    std::int64_t first = rank, last = -1;
    for (std::int64_t d = 0; d < rank; ++d) {
        if (reduced[d]) {
            keep.push_back(1);
            if (keepdim) out.push_back(1);
            p.count *= shape[d];
            first = std::min(first, d);
            last = d;
        } else {
            keep.push_back(shape[d]);
            out.push_back(shape[d]);
        }
    }
    for (std::int64_t d = first; d <= last; ++d) p.blocked = p.blocked && reduced[d];
    for (std::int64_t d = 0; d < std::min(first, rank); ++d) p.outer *= shape[d];
    for (std::int64_t d = last + 1; d < rank; ++d) p.inner *= shape[d];
    if (last < 0) p.outer = shape.numel();  // nothing reduced (0-D): one element per block
    p.keep = Shape(std::move(keep));
    p.out = Shape(std::move(out));
    return p;
}

// y = sum of x over the plan's dimensions, in x's dtype.
Tensor reduce_sum(const Tensor& x, const Plan& p) {
    Tensor y = zeros(p.out, x.dtype());
    dispatch(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        T* py = y.mutable_data<T>();
        if (!p.blocked) {
            detail::broadcast_loop<1>(x.shape(), {&p.keep},
                                      [&](std::int64_t i, auto j) { py[j[0]] += px[i]; });
            return;
        }
        // Row by row, so the inner loop runs over contiguous memory.
        for (std::int64_t o = 0; o < p.outer; ++o) {
            T* row = py + o * p.inner;
            for (std::int64_t r = 0; r < p.count; ++r) {
                const T* src = px + (o * p.count + r) * p.inner;
                for (std::int64_t i = 0; i < p.inner; ++i) row[i] += src[i];
            }
        }
    });
    return y;
}

// dx = scale * dy repeated over the reduced dimensions, in x's shape.
Tensor expand_back(const Tensor& dy, const Plan& p, const Shape& shape, double scale) {
    Tensor dx = Tensor::empty(shape, dy.dtype());
    dispatch_floating(dy.dtype(), [&]<class T>() {
        const T* pd = dy.data<T>();
        T* px = dx.mutable_data<T>();
        const T s = static_cast<T>(scale);
        detail::broadcast_loop<1>(shape, {&p.keep},
                                  [&](std::int64_t i, auto j) { px[i] = pd[j[0]] * s; });
    });
    return dx;
}

// True when v replaces best: strictly larger (Max) or smaller, so the first
// of tied values stays; NaN beats any number and the first NaN stays, as in PyTorch.
template <bool Max, class T>
bool beats(T v, T best) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(best)) return false;
        if (std::isnan(v)) return true;
    }
    return Max ? v > best : v < best;
}

// The extreme of each [outer, count, inner] block's middle dimension and its
// index there. The plan must be blocked and reduce at least one element.
template <bool Max>
ValuesIndices extreme(const Tensor& x, const Plan& p) {
    Tensor values = Tensor::empty(p.out, x.dtype());
    Tensor indices = Tensor::empty(p.out, DType::i64);
    dispatch(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        T* pv = values.mutable_data<T>();
        std::int64_t* pi = indices.mutable_data<std::int64_t>();
        for (std::int64_t o = 0; o < p.outer; ++o) {
            const T* block = px + o * p.count * p.inner;
            T* best = pv + o * p.inner;
            std::int64_t* at = pi + o * p.inner;
            std::copy(block, block + p.inner, best);
            std::fill(at, at + p.inner, 0);
            for (std::int64_t r = 1; r < p.count; ++r) {
                const T* src = block + r * p.inner;
                for (std::int64_t i = 0; i < p.inner; ++i) {
                    if (beats<Max>(src[i], best[i])) {
                        best[i] = src[i];
                        at[i] = r;
                    }
                }
            }
        }
    });
    return {values, indices};
}

// dx is zero but for dy at each selected index of the reduced dimension.
Tensor scatter_back(const Tensor& dy, const Tensor& indices, const Plan& p, const Shape& shape) {
    Tensor dx = zeros(shape, dy.dtype());
    dispatch_floating(dy.dtype(), [&]<class T>() {
        const T* pd = dy.data<T>();
        const std::int64_t* pi = indices.data<std::int64_t>();
        T* px = dx.mutable_data<T>();
        for (std::int64_t o = 0; o < p.outer; ++o)
            for (std::int64_t i = 0; i < p.inner; ++i) {
                std::int64_t k = o * p.inner + i;
                px[(o * p.count + pi[k]) * p.inner + i] = pd[k];
            }
    });
    return dx;
}

// dx = dy / (number of ties) at every element equal to the extreme y, 0 elsewhere;
// a NaN extreme selects the NaNs (PyTorch 1.13's evenly_distribute_backward).
Tensor even_split_back(const Tensor& dy, const Tensor& x, const Tensor& y) {
    Tensor dx = zeros(x.shape(), x.dtype());
    dispatch_floating(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        const T value = *y.data<T>();
        auto selected = [&](T v) { return std::isnan(value) ? std::isnan(v) : v == value; };
        const std::int64_t n = x.numel();
        std::int64_t ties = 0;
        for (std::int64_t i = 0; i < n; ++i) ties += selected(px[i]);
        const T share = *dy.data<T>() / static_cast<T>(ties);
        T* pd = dx.mutable_data<T>();
        for (std::int64_t i = 0; i < n; ++i)
            if (selected(px[i])) pd[i] = share;
    });
    return dx;
}

bool recording(const Tensor& x) { return should_record(std::span<const Tensor>(&x, 1)); }

// Checks dim and that it has something to select from; returns it normalised.
std::int64_t selection_dim(const Tensor& x, std::int64_t dim, const char* op) {
    check_defined(x, op);
    std::int64_t d = normalize_dim(dim, x.dim(), op);
    if (x.dim() > 0 && x.size(d) == 0)
        throw IndexError(
            fmt::format("{}: dimension {} of the input {} has size 0, so there is no "
                        "element to select",
                        op, dim, x.shape()));
    return d;
}

void check_not_empty(const Tensor& x, const char* op) {
    check_defined(x, op);
    if (x.numel() == 0)
        throw ValueError(
            fmt::format("{}: the input {} has no elements; reduce along a non-empty "
                        "dim instead",
                        op, x.shape()));
}

// y, i = extreme of x along dim;  dx = dy at the selected index, 0 elsewhere.
template <bool Max>
ValuesIndices extreme_along(const Tensor& x, std::int64_t dim, bool keepdim, const char* op,
                            CallSite site) {
    std::int64_t d = selection_dim(x, dim, op);
    Plan p = plan_reduction(x.shape(), {d}, keepdim, op);
    auto [values, indices] = extreme<Max>(x, p);
    // Nothing to record, but record() still checks the values in anomaly mode.
    if (!recording(x)) return {record(op, {x}, values, nullptr, site), indices};
    // The caller may overwrite the indices it gets back, so backward keeps its own.
    values = record(
        op, {x}, values,
        [p, saved = indices.clone(), shape = x.shape()](const Tensor& dy, Grads& dx) {
            dx[0] += scatter_back(dy, saved, p, shape);
        },
        site);
    return {values, indices};
}

// y = extreme of all of x;  dx = dy shared evenly among the elements equal to y.
template <bool Max>
Tensor extreme_all(const Tensor& x, const char* op, CallSite site) {
    check_not_empty(x, op);
    Tensor y = extreme<Max>(x, plan_reduction(x.shape(), {}, false, op)).values;
    return record(
        op, {x}, y, [x, y](const Tensor& dy, Grads& dx) { dx[0] += even_split_back(dy, x, y); },
        site);
}

template <bool Max>
Tensor arg_extreme(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim, const char* op) {
    if (!dim) {
        check_not_empty(x, op);
        return extreme<Max>(x, plan_reduction(x.shape(), {}, keepdim, op)).indices;
    }
    std::int64_t d = selection_dim(x, *dim, op);
    return extreme<Max>(x, plan_reduction(x.shape(), {d}, keepdim, op)).indices;
}

}  // namespace

// y = sum of x over dims;  dx = dy repeated over the reduced dimensions.
Tensor sum(const Tensor& x, std::vector<std::int64_t> dims, bool keepdim, CallSite site) {
    check_defined(x, "sum");
    Plan p = plan_reduction(x.shape(), dims, keepdim, "sum");
    Tensor y = reduce_sum(x, p);
    return record(
        "sum", {x}, y,
        [p, shape = x.shape()](const Tensor& dy, Grads& dx) {
            dx[0] += expand_back(dy, p, shape, 1.0);
        },
        site);
}

// y = (sum of x over dims) / n;  dx = dy / n repeated over the reduced dimensions.
Tensor mean(const Tensor& x, std::vector<std::int64_t> dims, bool keepdim, CallSite site) {
    check_defined(x, "mean");
    if (!is_floating(x.dtype()))
        throw DTypeError(
            fmt::format("mean: needs a floating input, got {} of shape {}; convert "
                        "it with .to(DType::f32) first, as PyTorch requires",
                        x.dtype(), x.shape()));
    Plan p = plan_reduction(x.shape(), dims, keepdim, "mean");
    Tensor y = reduce_sum(x, p);
    dispatch_floating(y.dtype(), [&]<class T>() {
        T* py = y.mutable_data<T>();
        // 0 / 0: the mean of no elements is NaN, as PyTorch gives.
        const T n = static_cast<T>(p.count);
        for (std::int64_t i = 0, size = y.numel(); i < size; ++i)
            py[i] = p.count ? py[i] / n : std::numeric_limits<T>::quiet_NaN();
    });
    return record(
        "mean", {x}, y,
        [p, shape = x.shape()](const Tensor& dy, Grads& dx) {
            // With no elements reduced, x is empty and the scale is never used.
            dx[0] += expand_back(dy, p, shape, p.count ? 1.0 / double(p.count) : 0.0);
        },
        site);
}

ValuesIndices max(const Tensor& x, std::int64_t dim, bool keepdim, CallSite site) {
    return extreme_along<true>(x, dim, keepdim, "max", site);
}

ValuesIndices min(const Tensor& x, std::int64_t dim, bool keepdim, CallSite site) {
    return extreme_along<false>(x, dim, keepdim, "min", site);
}

Tensor max(const Tensor& x, CallSite site) { return extreme_all<true>(x, "max", site); }

Tensor min(const Tensor& x, CallSite site) { return extreme_all<false>(x, "min", site); }

Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
    return arg_extreme<true>(x, dim, keepdim, "argmax");
}

Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
    return arg_extreme<false>(x, dim, keepdim, "argmin");
}

}  // namespace tg
