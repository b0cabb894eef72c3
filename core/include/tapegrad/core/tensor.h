#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/core/dtype.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/shape.h>

namespace tg {

// Contiguous bytes shared by a tensor and its views. The version counts
// in-place writes, so backward can refuse data the tape saved and someone
// changed afterwards.
struct Storage {
    explicit Storage(std::size_t nbytes);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    std::byte* data = nullptr;
    std::size_t nbytes = 0;
    std::uint64_t version = 0;
};

// Where a recorded tensor came from: entry `entry` of the tape whose id is
// `tape_id`, output number `slot`. tape_id 0 means "not recorded".
struct Node {
    std::uint64_t tape_id = 0;
    std::uint32_t entry = 0;
    std::uint32_t slot = 0;
};

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    std::int64_t offset = 0;  // in elements
    Shape shape;
    DType dtype = DType::f32;
    bool requires_grad = false;  // set on leaves only; recorded tensors have a node
    Node node;
    std::shared_ptr<TensorImpl> grad;
};

// A cheap handle to contiguous row-major data with a shape and a dtype.
// Copies share data; clone() copies it.
class Tensor {
public:
    Tensor() = default;
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // Uninitialised contiguous tensor (contents are whatever memory held).
    static Tensor empty(Shape shape, DType dtype = DType::f32);
    // 1-D tensor of values, or values laid out in shape (sizes must match).
    static Tensor from(std::vector<double> values, DType dtype = DType::f32);
    static Tensor from(std::vector<double> values, Shape shape, DType dtype = DType::f32);
    static Tensor from(std::initializer_list<std::initializer_list<double>> rows,
                       DType dtype = DType::f32);
    static Tensor scalar(double value, DType dtype = DType::f32);

    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const;
    std::int64_t dim() const { return shape().rank(); }
    std::int64_t size(std::int64_t d) const;  // negative d counts from the end
    std::int64_t numel() const { return shape().numel(); }
    DType dtype() const;
    std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype()); }

    // Typed access; the dtype must match T. mutable_data counts as an
    // in-place write (the version goes up).
    template <class T>
    const T* data() const;
    template <class T>
    T* mutable_data();
    const std::byte* raw_data() const;
    std::byte* raw_mutable_data();

    double item() const;  // exactly one element
    double at(std::initializer_list<std::int64_t> index) const;
    template <class T>
    std::vector<T> to_vector() const;  // converts from the stored dtype

    // Differentiable conversions and views.
    Tensor to(DType dtype) const;
    Tensor clone() const;
    Tensor reshape(Shape shape) const;  // one size may be -1; shares data
    Tensor view(Shape shape) const { return reshape(std::move(shape)); }
    Tensor flatten() const { return reshape({-1}); }
    // Selects index i of dimension 0, sharing data (negative i counts from the end).
    Tensor operator[](std::int64_t i) const;
    Tensor detach() const;  // same data, no history, no grad

    // Autograd.
    bool requires_grad() const;  // a leaf that asked for it, or a recorded result
    bool is_leaf() const;
    Tensor& requires_grad_(bool on = true);
    Tensor grad() const;  // undefined until backward reaches this leaf
    void set_grad(const Tensor& g);
    void zero_grad();  // drops the gradient, as PyTorch's set_to_none
    void backward(const Tensor& grad = {}, bool retain_graph = false) const;

    // In-place updates, outside recording (optimizers, initialisers).
    // They refuse a tensor that requires grad while recording is on.
    Tensor& fill_(double value);
    Tensor& zero_() { return fill_(0.0); }
    Tensor& copy_(const Tensor& src);  // same shape; converts dtype
    Tensor& set(std::initializer_list<std::int64_t> index, double value);
    // Makes this tensor (and every handle on it) hold value's data and dtype,
    // like PyTorch's `t.data = value`; the shape must stay. The gradient is dropped.
    Tensor& set_data(const Tensor& value);
    std::uint64_t version() const;

    bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
    const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
    std::string str() const;  // PyTorch's printing layout

private:
    std::shared_ptr<TensorImpl> impl_;
    const TensorImpl& checked() const;
};

// Creation. Random tensors draw from the default generator (manual_seed).
Tensor zeros(Shape shape, DType dtype = DType::f32);
Tensor ones(Shape shape, DType dtype = DType::f32);
Tensor full(Shape shape, double value, DType dtype = DType::f32);
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
Tensor full_like(const Tensor& x, double value);
Tensor arange(double end, DType dtype = DType::f32);
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32);
Tensor linspace(double start, double end, std::int64_t steps, DType dtype = DType::f32);
Tensor rand(Shape shape, DType dtype = DType::f32);                   // U[0, 1)
Tensor randn(Shape shape, DType dtype = DType::f32);                  // N(0, 1)
Tensor uniform(Shape shape, double bound, DType dtype = DType::f32);  // U(-bound, bound)
Tensor uniform(Shape shape, double low, double high, DType dtype = DType::f32);

}  // namespace tg

template <>
struct fmt::formatter<tg::Tensor> : fmt::formatter<std::string> {
    auto format(const tg::Tensor& t, format_context& ctx) const {
        return fmt::formatter<std::string>::format(t.str(), ctx);
    }
};
