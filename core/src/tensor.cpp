#include <tapegrad/core/generator.h>
#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace tg {

namespace {

constexpr std::size_t kAlignment = 64;  // a cache line: aligned loads for vectorised loops

std::shared_ptr<TensorImpl> make_impl(Shape shape, DType dtype) {
    if (std::any_of(shape.begin(), shape.end(), [](std::int64_t d) { return d < 0; }))
        throw ShapeError(fmt::format("empty: negative dimension in shape {}", shape));
    std::optional<std::int64_t> numel = checked_numel(shape);
    std::size_t nbytes = 0;
    if (!numel ||
        __builtin_mul_overflow(static_cast<std::size_t>(*numel), dtype_size(dtype), &nbytes))
        throw ShapeError(fmt::format("empty: shape {} has too many elements", shape));
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(nbytes);
    impl->shape = std::move(shape);
    impl->dtype = dtype;
    return impl;
}

// A tensor that shares x's data under another shape, starting `offset` elements in.
Tensor alias(const Tensor& x, Shape shape, std::int64_t offset) {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = x.impl()->storage;
    impl->offset = x.impl()->offset + offset;
    impl->shape = std::move(shape);
    impl->dtype = x.dtype();
    return Tensor(std::move(impl));
}

void convert(const std::byte* src, DType from, std::byte* dst, DType to, std::int64_t n) {
    dispatch(from, [&]<class S>() {
        dispatch(to, [&]<class D>() {
            auto s = reinterpret_cast<const S*>(src);
            auto d = reinterpret_cast<D*>(dst);
            for (std::int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
        });
    });
}

std::int64_t flat_index(const Shape& shape, std::initializer_list<std::int64_t> index,
                        const char* op) {
    if (index.size() != shape.size())
        throw IndexError(
            fmt::format("{}: {} indices given for a tensor of shape {}", op, index.size(), shape));
    std::int64_t flat = 0, d = 0;
    for (std::int64_t i : index) {
        std::int64_t n = shape[d];
        if (i < -n || i >= n)
            throw IndexError(
                fmt::format("{}: index {} is out of range for dimension {} of "
                            "shape {}",
                            op, i, d, shape));
        flat = flat * n + (i < 0 ? i + n : i);
        ++d;
    }
    return flat;
}

template <class Fill>
Tensor generate(Shape shape, DType dtype, Fill fill) {
    Tensor t = Tensor::empty(std::move(shape), dtype);
    dispatch(dtype, [&]<class T>() {
        T* p = t.mutable_data<T>();
        for (std::int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(fill(i));
    });
    return t;
}

template <class Draw>
Tensor draw(Shape shape, DType dtype, const char* op, Draw draw_one) {
    if (!is_floating(dtype))
        throw DTypeError(fmt::format("{}: needs a floating dtype, got {}", op, dtype));
    std::lock_guard lock(default_generator_mutex());
    Generator& g = default_generator();
    return generate(std::move(shape), dtype, [&](std::int64_t) { return draw_one(g); });
}

}  // namespace

Storage::Storage(std::size_t n) : nbytes(n) {
    std::size_t rounded = (n + kAlignment - 1) / kAlignment * kAlignment;
    data = static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded ? rounded : kAlignment));
    if (!data) throw std::bad_alloc();
}

Storage::~Storage() { std::free(data); }

Tensor Tensor::empty(Shape shape, DType dtype) {
    return Tensor(make_impl(std::move(shape), dtype));
}

Tensor Tensor::from(std::vector<double> values, DType dtype) {
    Shape shape{static_cast<std::int64_t>(values.size())};
    return from(std::move(values), std::move(shape), dtype);
}

Tensor Tensor::from(std::vector<double> values, Shape shape, DType dtype) {
    if (shape.numel() != static_cast<std::int64_t>(values.size()))
        throw ShapeError(fmt::format("from: {} values do not fill shape {} ({} elements)",
                                     values.size(), shape, shape.numel()));
    return generate(std::move(shape), dtype, [&](std::int64_t i) { return values[i]; });
}

Tensor Tensor::from(std::initializer_list<std::initializer_list<double>> rows, DType dtype) {
    std::vector<double> values;
    std::size_t cols = rows.size() ? rows.begin()->size() : 0;
    for (const auto& row : rows) {
        if (row.size() != cols)
            throw ShapeError(
                fmt::format("from: rows have different lengths ({} and {})", cols, row.size()));
        values.insert(values.end(), row.begin(), row.end());
    }
    return from(std::move(values),
                {static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(cols)}, dtype);
}

Tensor Tensor::scalar(double value, DType dtype) { return from({value}, Shape{}, dtype); }

const TensorImpl& Tensor::checked() const {
    if (!impl_) throw ValueError("tensor: use of an undefined tensor");
    return *impl_;
}

const Shape& Tensor::shape() const { return checked().shape; }
DType Tensor::dtype() const { return checked().dtype; }

std::int64_t Tensor::size(std::int64_t d) const {
    if (dim() == 0) throw IndexError(fmt::format("size: a 0-D tensor has no dimension {}", d));
    return shape()[static_cast<std::size_t>(normalize_dim(d, dim(), "size"))];
}

template <class T>
const T* Tensor::data() const {
    const TensorImpl& t = checked();
    if (t.dtype != dtype_of<T>())
        throw DTypeError(fmt::format("data: tensor is {}, asked for {}", t.dtype, dtype_of<T>()));
    return reinterpret_cast<const T*>(t.storage->data) + t.offset;
}

template <class T>
T* Tensor::mutable_data() {
    const T* p = data<T>();
    ++impl_->storage->version;
    return const_cast<T*>(p);
}

template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const std::int64_t* Tensor::data<std::int64_t>() const;
template float* Tensor::mutable_data<float>();
template double* Tensor::mutable_data<double>();
template std::int64_t* Tensor::mutable_data<std::int64_t>();

const std::byte* Tensor::raw_data() const {
    const TensorImpl& t = checked();
    return t.storage->data + t.offset * static_cast<std::int64_t>(dtype_size(t.dtype));
}

std::byte* Tensor::raw_mutable_data() {
    ++checked().storage->version;
    return const_cast<std::byte*>(raw_data());
}

double Tensor::item() const {
    if (numel() != 1)
        throw ValueError(
            fmt::format("item: needs exactly one element, tensor has shape {}", shape()));
    return dispatch(dtype(), [&]<class T>() { return static_cast<double>(*data<T>()); });
}

double Tensor::at(std::initializer_list<std::int64_t> index) const {
    std::int64_t i = flat_index(shape(), index, "at");
    return dispatch(dtype(), [&]<class T>() { return static_cast<double>(data<T>()[i]); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
    std::vector<T> out(static_cast<std::size_t>(numel()));
    convert(raw_data(), dtype(), reinterpret_cast<std::byte*>(out.data()), dtype_of<T>(), numel());
    return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

// y = x in another dtype; dx = dy converted back.
Tensor Tensor::to(DType target) const {
    DType source = dtype();
    if (source == target) return *this;
    Tensor y = empty(shape(), target);
    convert(raw_data(), source, y.raw_mutable_data(), target, numel());
    if (!is_floating(target)) return y;  // integers carry no gradient
    return record("to", {*this}, y,
                  [source](const Tensor& dy, Grads& dx) { dx[0] += dy.to(source); });
}

// y = x copied; dx = dy.
Tensor Tensor::clone() const {
    Tensor y = empty(shape(), dtype());
    std::memcpy(y.raw_mutable_data(), raw_data(), nbytes());
    return record("clone", {*this}, y, [](const Tensor& dy, Grads& dx) { dx[0] += dy; });
}

// y = x under a new shape, sharing data; dx = dy under x's shape.
Tensor Tensor::reshape(Shape target) const {
    std::int64_t known = 1, infer = -1;
    for (std::size_t i = 0; i < target.size(); ++i) {
        if (target[i] == -1 && infer < 0) {
            infer = static_cast<std::int64_t>(i);
        } else if (target[i] < 0) {
            throw ShapeError(
                fmt::format("reshape: invalid shape {} for input of shape {}", target, shape()));
        } else {
            if (__builtin_mul_overflow(known, target[i], &known))
                throw ShapeError(fmt::format("reshape: shape {} has too many elements", target));
        }
    }
    if (infer >= 0 && known != 0 && numel() % known == 0) target[infer] = numel() / known;
    if (checked_numel(target) != numel() || (infer >= 0 && target[infer] < 0))
        throw ShapeError(
            fmt::format("reshape: shape {} is invalid for input of shape {} ({} "
                        "elements)",
                        target, shape(), numel()));
    Shape source = shape();
    Tensor y = alias(*this, target, 0);
    return record("reshape", {*this}, y,
                  [source](const Tensor& dy, Grads& dx) { dx[0] += dy.reshape(source); });
}

// y = x[i] along dimension 0, sharing data; dx is dy placed at row i.
Tensor Tensor::operator[](std::int64_t i) const {
    if (dim() == 0) throw IndexError("select: cannot index a 0-D tensor");
    std::int64_t n = shape()[0];
    if (i < -n || i >= n)
        throw IndexError(
            fmt::format("select: index {} is out of range for dimension 0 of "
                        "shape {}",
                        i, shape()));
    if (i < 0) i += n;
    Shape row(std::vector<std::int64_t>(shape().begin() + 1, shape().end()));
    std::int64_t row_size = row.numel();
    Tensor y = alias(*this, row, i * row_size);
    Shape source = shape();
    return record("select", {*this}, y, [source, i, row_size](const Tensor& dy, Grads& dx) {
        Tensor g = zeros(source, dy.dtype());
        std::size_t bytes = static_cast<std::size_t>(row_size) * dtype_size(dy.dtype());
        std::memcpy(g.raw_mutable_data() + i * static_cast<std::int64_t>(bytes), dy.raw_data(),
                    bytes);
        dx[0] += g;
    });
}

Tensor Tensor::detach() const { return alias(*this, shape(), 0); }

bool Tensor::requires_grad() const {
    const TensorImpl& t = checked();
    return t.requires_grad || t.node.tape_id != 0;
}

bool Tensor::is_leaf() const { return checked().node.tape_id == 0; }

Tensor& Tensor::requires_grad_(bool on) {
    if (!is_leaf())
        throw ValueError(
            "requires_grad_: only leaf tensors can change requires_grad; "
            "detach() the result first");
    if (on && !is_floating(dtype()))
        throw DTypeError(
            fmt::format("requires_grad_: only floating tensors can require "
                        "gradients, got {}",
                        dtype()));
    impl_->requires_grad = on;
    return *this;
}

Tensor Tensor::grad() const { return Tensor(checked().grad); }

void Tensor::set_grad(const Tensor& g) {
    checked();
    if (g.defined() && (g.shape() != shape() || g.dtype() != dtype()))
        throw ShapeError(fmt::format("set_grad: gradient {} {} does not match tensor {} {}",
                                     g.shape(), g.dtype(), shape(), dtype()));
    impl_->grad = g.impl();
}

void Tensor::zero_grad() { checked(), impl_->grad.reset(); }

std::uint64_t Tensor::version() const { return checked().storage->version; }

namespace {
void check_inplace(const Tensor& t, const char* op) {
    if (grad_enabled() && t.requires_grad())
        throw ValueError(
            fmt::format("{}: in-place change of a tensor of shape {} that requires "
                        "grad while recording; use tg::NoGrad or detach() it",
                        op, t.shape()));
}
}  // namespace

Tensor& Tensor::fill_(double value) {
    check_inplace(*this, "fill_");
    dispatch(dtype(), [&]<class T>() {
        T* p = mutable_data<T>();
        std::fill(p, p + numel(), static_cast<T>(value));
    });
    return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
    check_inplace(*this, "copy_");
    if (src.shape() != shape())
        throw ShapeError(fmt::format("copy_: source shape {} differs from destination {}",
                                     src.shape(), shape()));
    convert(src.raw_data(), src.dtype(), raw_mutable_data(), dtype(), numel());
    return *this;
}

Tensor& Tensor::set(std::initializer_list<std::int64_t> index, double value) {
    check_inplace(*this, "set");
    std::int64_t i = flat_index(shape(), index, "set");
    dispatch(dtype(), [&]<class T>() { mutable_data<T>()[i] = static_cast<T>(value); });
    return *this;
}

Tensor& Tensor::set_data(const Tensor& value) {
    check_inplace(*this, "set_data");
    const TensorImpl& v = value.checked();
    // Optimizer state and gradients are sized by the parameter: keep its shape.
    if (v.shape != shape())
        throw ShapeError(
            fmt::format("set_data: new data has shape {}, the tensor has {}", v.shape, shape()));
    impl_->storage = v.storage;
    impl_->offset = v.offset;
    impl_->shape = v.shape;
    impl_->dtype = v.dtype;
    impl_->grad.reset();
    return *this;
}

Tensor zeros(Shape shape, DType dtype) { return full(std::move(shape), 0.0, dtype); }
Tensor ones(Shape shape, DType dtype) { return full(std::move(shape), 1.0, dtype); }
Tensor full(Shape shape, double value, DType dtype) {
    return generate(std::move(shape), dtype, [value](std::int64_t) { return value; });
}
Tensor zeros_like(const Tensor& x) { return zeros(x.shape(), x.dtype()); }
Tensor ones_like(const Tensor& x) { return ones(x.shape(), x.dtype()); }
Tensor full_like(const Tensor& x, double value) { return full(x.shape(), value, x.dtype()); }

Tensor arange(double end, DType dtype) { return arange(0.0, end, 1.0, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
    if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
        throw ValueError(
            fmt::format("arange: invalid range start={} end={} step={}", start, end, step));
    double count = std::ceil((end - start) / step);
    if (count >= 0x1p62)
        throw ValueError(fmt::format("arange: {} elements are too many (start={} end={} step={})",
                                     count, start, end, step));
    auto n = static_cast<std::int64_t>(std::max(count, 0.0));
    return generate({n}, dtype, [=](std::int64_t i) { return start + step * double(i); });
}

Tensor linspace(double start, double end, std::int64_t steps, DType dtype) {
    if (steps < 0) throw ValueError(fmt::format("linspace: steps must be >= 0, got {}", steps));
    // Like PyTorch: computed in the tensor's own type, the first half counting
    // up from start and the second half down from end, so both ends are exact.
    Tensor y = Tensor::empty({steps}, dtype);
    dispatch(dtype, [&]<class T>() {
        using Step = std::conditional_t<std::is_integral_v<T>, double, T>;
        Step first = static_cast<Step>(start), last = static_cast<Step>(end);
        Step step = steps > 1 ? (last - first) / static_cast<Step>(steps - 1) : Step(0);
        T* p = y.mutable_data<T>();
        // One rounding per element (fused multiply-add), as PyTorch's scalar kernel.
        for (std::int64_t i = 0; i < steps; ++i)
            p[i] = static_cast<T>(i < steps / 2
                                      ? std::fma(step, static_cast<Step>(i), first)
                                      : std::fma(-step, static_cast<Step>(steps - 1 - i), last));
    });
    return y;
}

Tensor rand(Shape shape, DType dtype) {
    return draw(std::move(shape), dtype, "rand", [](Generator& g) { return g.uniform(); });
}

Tensor randn(Shape shape, DType dtype) {
    return draw(std::move(shape), dtype, "randn", [](Generator& g) { return g.normal(); });
}

Tensor uniform(Shape shape, double bound, DType dtype) {
    return uniform(std::move(shape), -bound, bound, dtype);
}

Tensor uniform(Shape shape, double low, double high, DType dtype) {
    if (!(low <= high))
        throw ValueError(fmt::format("uniform: low {} must not exceed high {}", low, high));
    return draw(std::move(shape), dtype, "uniform",
                [=](Generator& g) { return low + (high - low) * g.uniform(); });
}

}  // namespace tg
