#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include <tapegrad/core/call_site.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// Accumulator for the gradient of one input of a tape entry. Backward
// functions only add into it; it ignores gradients nobody asked for.
class GradSlot {
public:
    GradSlot(bool needed, Shape shape, DType dtype)
        : needed_(needed), shape_(std::move(shape)), dtype_(dtype) {}
    bool needed() const { return needed_; }
    GradSlot& operator+=(const Tensor& g);
    Tensor& value() { return value_; }

private:
    bool needed_;
    Shape shape_;
    DType dtype_;
    Tensor value_;
};

// The gradients of an entry's inputs, in the order they were recorded.
class Grads {
public:
    explicit Grads(std::vector<GradSlot> slots) : slots_(std::move(slots)) {}
    bool needs(std::size_t i) const { return slots_[i].needed(); }
    GradSlot& operator[](std::size_t i) { return slots_[i]; }
    std::size_t size() const { return slots_.size(); }

private:
    std::vector<GradSlot> slots_;
};

using BackwardFn = std::function<void(const Tensor& dy, Grads& dx)>;
// Multi-output ops get one gradient per output; outputs nobody used get zeros.
using MultiBackwardFn = std::function<void(std::span<const Tensor> dys, Grads& dx)>;

// True while ops record: grad mode on (no NoGrad guard active).
bool grad_enabled();
// True if recording is on and some input takes part in autograd.
bool should_record(std::span<const Tensor> inputs);

// Appends an entry to this thread's tape when should_record(inputs);
// returns y marked as that entry's output (or y untouched otherwise).
// Every op passes its results through here, recording or not, so this is
// where anomaly mode checks forward values. `site` is the user's call of the
// op (an op passes on its own CallSite parameter); an active CallSiteScope
// overrides it.
Tensor record(const char* op, std::vector<Tensor> inputs, Tensor y, BackwardFn backward,
              CallSite site = CallSite::current());
std::vector<Tensor> record(const char* op, std::vector<Tensor> inputs, std::vector<Tensor> ys,
                           MultiBackwardFn backward, CallSite site = CallSite::current());

// RAII: switches recording off on this thread for its lifetime.
class NoGrad {
public:
    NoGrad();
    ~NoGrad();
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;

private:
    bool previous_;
};

struct GradOptions {
    bool retain_graph = false;
    bool allow_unused =
        false;  // an input the outputs do not depend on gets undefined, not an error
};

// d(sum of outputs[i] * grad_outputs[i]) / d(inputs[j]), without touching
// any .grad(). grad_outputs may be empty for scalar outputs.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, GradOptions options = {});

// Entries on this thread's tape that backward has not consumed yet.
std::size_t tape_size();
// Drops everything this thread recorded (e.g. after an exception mid-step).
void clear_tape();

}  // namespace tg
