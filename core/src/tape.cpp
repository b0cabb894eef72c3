#include <tapegrad/core/anomaly.h>
#include <tapegrad/core/tape.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "tape_entries.h"

namespace tg {

using detail::Entry;
using detail::Output;

namespace {

std::uint64_t new_tape_id() {
    // Unique across threads and resets, so a tensor from another thread's tape
    // or from a consumed graph is recognised as such.
    static std::atomic<std::uint64_t> counter{1};
    return counter.fetch_add(1);
}

struct Tape {
    std::uint64_t id = new_tape_id();
    std::vector<Entry> entries;
    std::size_t live = 0;

    void free_through(std::size_t last) {
        if (last + 1 >= entries.size()) {  // the usual case: backward consumed everything
            entries.clear();
            live = 0;
            id = new_tape_id();
            return;
        }
        for (std::size_t i = 0; i <= last && i < entries.size(); ++i) {
            Entry& e = entries[i];
            if (e.freed) continue;
            Entry freed;
            freed.op = e.op;
            freed.freed = true;
            e = std::move(freed);
            --live;
        }
        if (live == 0) {
            entries.clear();
            id = new_tape_id();
        }
    }
};

thread_local Tape tape;
thread_local bool grad_mode = true;
// Ops that backward functions call are arithmetic on gradients, not the
// user's forward: anomaly mode checks their results as gradients instead.
thread_local bool in_backward = false;

// The outermost CallSiteScope of this thread; within == nullptr: none.
struct Caller {
    CallSite site;
    const char* within = nullptr;
};
thread_local Caller scope;

Caller caller(CallSite site) { return scope.within ? scope : Caller{site, nullptr}; }

void check_forward(const char* op, std::span<const Tensor> inputs, std::span<const Tensor> ys,
                   CallSite site) {
    if (in_backward) return;
    Caller c = caller(site);
    detail::check_forward(op, inputs, ys, c.site, c.within);
}

// Gradients never share a buffer they may later be accumulated into, so
// accumulation always makes a new tensor.
Tensor add_same_shape(const Tensor& a, const Tensor& b) {
    Tensor out = Tensor::empty(a.shape(), a.dtype());
    dispatch(a.dtype(), [&]<class T>() {
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        T* po = out.mutable_data<T>();
        for (std::int64_t i = 0, n = a.numel(); i < n; ++i) po[i] = pa[i] + pb[i];
    });
    return out;
}

void accumulate(Tensor& into, const Tensor& g) {
    into = into.defined() ? add_same_shape(into, g) : g;
}

// A leaf's .grad() must not alias memory that someone else can still see.
Tensor owned(Tensor g) {
    if (g.impl().use_count() == 1 && g.impl()->storage.use_count() == 1 && g.impl()->offset == 0)
        return g;
    NoGrad guard;
    return g.clone();
}

[[noreturn]] void stale(const Tensor& t, const char* consumer) {
    throw Error(
        fmt::format("backward: a tensor of shape {} used by '{}' comes from a graph that "
                    "an earlier backward() already consumed (or from another thread); "
                    "detach() it, or pass retain_graph=true to the earlier backward()",
                    t.shape(), consumer));
}

bool on_this_tape(const Node& n) { return detail::on_this_tape(n); }

struct Roots {
    std::vector<Tensor> tensors;
    std::vector<Tensor> seeds;
};

Roots make_roots(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grads,
                 const char* op) {
    if (!grads.empty() && grads.size() != outputs.size())
        throw ValueError(fmt::format("{}: {} outputs but {} output gradients", op, outputs.size(),
                                     grads.size()));
    Roots roots;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        const Tensor& y = outputs[i];
        if (!y.defined()) throw ValueError(fmt::format("{}: output {} is undefined", op, i));
        if (!y.requires_grad())
            throw ValueError(
                fmt::format("{}: output of shape {} does not require grad (nothing "
                            "recorded it: were its inputs leaves with "
                            "requires_grad_(), and recording on?)",
                            op, y.shape()));
        if (!y.is_leaf() && !on_this_tape(y.impl()->node)) stale(y, op);
        Tensor seed = grads.empty() ? Tensor() : grads[i];
        if (!seed.defined()) {
            if (y.numel() != 1)
                throw ValueError(
                    fmt::format("{}: a gradient can be implied only for a scalar "
                                "output; got shape {}, pass the gradient explicitly",
                                op, y.shape()));
            seed = ones_like(y);
        } else if (seed.shape() != y.shape()) {
            throw ShapeError(fmt::format("{}: gradient of shape {} for an output of shape {}", op,
                                         seed.shape(), y.shape()));
        }
        roots.tensors.push_back(y);
        roots.seeds.push_back(seed.to(y.dtype()).detach());
    }
    return roots;
}

// Walks the tape from the newest root back to the start. `targets` empty:
// accumulate into leaves' .grad(). Otherwise return the gradient of each target.
std::vector<Tensor> run_backward(const Roots& roots, const std::vector<Tensor>& targets,
                                 bool retain_graph) {
    const bool to_targets = !targets.empty();
    std::vector<Tensor> results(targets.size());
    auto target_index = [&](const Tensor& t) -> std::ptrdiff_t {
        for (std::size_t k = 0; k < targets.size(); ++k) {
            const TensorImpl& a = *targets[k].impl();
            const TensorImpl& b = *t.impl();
            bool same = t.is_leaf()
                            ? &a == &b
                            : a.node.tape_id == b.node.tape_id && a.node.entry == b.node.entry &&
                                  a.node.slot == b.node.slot;
            if (same) return static_cast<std::ptrdiff_t>(k);
        }
        return -1;
    };
    auto deliver_leaf = [&](const Tensor& leaf, const Tensor& g) {
        if (to_targets) {
            if (auto k = target_index(leaf); k >= 0) accumulate(results[k], g);
        } else if (leaf.impl()->requires_grad) {
            Tensor old(leaf.impl()->grad);
            leaf.impl()->grad = (old.defined() ? add_same_shape(old, g) : owned(g)).impl();
        }
    };

    // Pass 1: find the entries that lead to a root, and refuse stale or
    // modified inputs before any gradient is written.
    std::ptrdiff_t last = -1;
    for (const Tensor& r : roots.tensors)
        if (!r.is_leaf()) last = std::max<std::ptrdiff_t>(last, r.impl()->node.entry);
    std::vector<char> reachable(static_cast<std::size_t>(last + 1), 0);
    for (const Tensor& r : roots.tensors)
        if (!r.is_leaf()) reachable[r.impl()->node.entry] = 1;
    for (std::ptrdiff_t i = last; i >= 0; --i) {
        if (!reachable[i]) continue;
        const Entry& e = tape.entries[i];
        for (std::size_t j = 0; j < e.inputs.size(); ++j) {
            const Tensor& x = e.inputs[j];
            if (x.impl()->storage->version != e.input_versions[j])
                throw Error(
                    fmt::format("backward: an input of '{}' (shape {}) was modified in "
                                "place after it was recorded (version {} -> {}); make a "
                                "new tensor instead",
                                e.op, x.shape(), e.input_versions[j], x.impl()->storage->version));
            if (x.is_leaf()) continue;
            if (!on_this_tape(x.impl()->node)) stale(x, e.op);
            reachable[x.impl()->node.entry] = 1;
        }
        for (const Output& o : e.outputs) {
            auto s = o.storage.lock();
            if (s && s->version != o.version)
                throw Error(
                    fmt::format("backward: the output of '{}' (shape {}) was modified in "
                                "place after it was recorded; make a new tensor instead",
                                e.op, o.shape));
        }
    }

    // Pass 2: propagate.
    std::vector<std::vector<Tensor>> pending(reachable.size());
    for (std::size_t r = 0; r < roots.tensors.size(); ++r) {
        const Tensor& y = roots.tensors[r];
        if (y.is_leaf()) {
            deliver_leaf(y, roots.seeds[r]);
            continue;
        }
        const Node& n = y.impl()->node;
        auto& slots = pending[n.entry];
        slots.resize(tape.entries[n.entry].outputs.size());
        accumulate(slots[n.slot], roots.seeds[r]);
    }
    NoGrad no_recording_in_backward;
    struct BackwardFlag {
        bool previous = std::exchange(in_backward, true);
        ~BackwardFlag() { in_backward = previous; }
    } backward_flag;
    const bool checking = detect_anomaly();
    for (std::ptrdiff_t i = last; i >= 0; --i) {
        if (!reachable[i] || pending[i].empty()) continue;
        Entry& e = tape.entries[i];
        std::vector<Tensor>& dys = pending[i];
        for (std::size_t s = 0; s < e.outputs.size(); ++s) {
            if (!dys[s].defined()) dys[s] = zeros(e.outputs[s].shape, e.outputs[s].dtype);
            if (!to_targets) continue;
            for (std::size_t k = 0; k < targets.size(); ++k) {
                const Node& n = targets[k].impl()->node;
                if (!targets[k].is_leaf() && n.tape_id == tape.id && n.entry == std::size_t(i) &&
                    n.slot == s)
                    accumulate(results[k], dys[s]);
            }
        }
        std::vector<GradSlot> slots;
        slots.reserve(e.inputs.size());
        for (const Tensor& x : e.inputs)
            slots.emplace_back(x.requires_grad(), x.shape(), x.dtype());
        Grads dx(std::move(slots));
        if (checking) detail::check_incoming(e, dys);
        if (e.single)
            e.single(dys[0], dx);
        else
            e.multi(std::span<const Tensor>(dys), dx);
        for (std::size_t j = 0; j < e.inputs.size(); ++j) {
            const Tensor& g = dx[j].value();
            if (!g.defined()) continue;
            if (checking) detail::check_gradient(e, j, g);
            const Tensor& x = e.inputs[j];
            if (x.is_leaf()) {
                deliver_leaf(x, g);
            } else {
                const Node& n = x.impl()->node;
                auto& in = pending[n.entry];
                in.resize(tape.entries[n.entry].outputs.size());
                accumulate(in[n.slot], g);
            }
        }
        dys.clear();
    }
    if (!retain_graph && last >= 0) tape.free_through(static_cast<std::size_t>(last));
    return results;
}

Tensor mark_output(Tensor y, std::uint32_t entry, std::uint32_t slot) {
    // A result that is already someone else's (an input returned as is, or a
    // leaf) gets a fresh handle on the same data, so each node has one entry.
    if (y.impl()->node.tape_id != 0 || y.impl()->requires_grad) {
        auto impl = std::make_shared<TensorImpl>();
        impl->storage = y.impl()->storage;
        impl->offset = y.impl()->offset;
        impl->shape = y.shape();
        impl->dtype = y.dtype();
        y = Tensor(std::move(impl));
    }
    y.impl()->node = Node{tape.id, entry, slot};
    return y;
}

Entry& push_entry(const char* op, CallSite site, std::vector<Tensor> inputs,
                  const std::vector<Tensor>& ys) {
    Caller c = caller(site);
    Entry e;
    e.op = op;
    e.site = c.site;
    e.within = c.within;
    e.inputs = std::move(inputs);
    e.input_versions.reserve(e.inputs.size());
    for (const Tensor& x : e.inputs) e.input_versions.push_back(x.impl()->storage->version);
    for (const Tensor& y : ys)
        e.outputs.push_back({y.shape(), y.dtype(), y.impl()->storage, y.impl()->storage->version});
    tape.entries.push_back(std::move(e));
    ++tape.live;
    return tape.entries.back();
}

}  // namespace

GradSlot& GradSlot::operator+=(const Tensor& g) {
    if (!needed_) return *this;
    if (g.shape() != shape_)
        throw Error(fmt::format("backward: gradient of shape {} for an input of shape {}",
                                g.shape(), shape_));
    accumulate(value_, g.dtype() == dtype_ ? g : g.to(dtype_));
    return *this;
}

bool grad_enabled() { return grad_mode; }

bool should_record(std::span<const Tensor> inputs) {
    if (!grad_mode) return false;
    return std::any_of(inputs.begin(), inputs.end(),
                       [](const Tensor& x) { return x.defined() && x.requires_grad(); });
}

Tensor record(const char* op, std::vector<Tensor> inputs, Tensor y, BackwardFn backward,
              CallSite site) {
    if (detect_anomaly()) check_forward(op, inputs, std::span<const Tensor>(&y, 1), site);
    if (!should_record(inputs)) return y;
    auto entry = static_cast<std::uint32_t>(tape.entries.size());
    y = mark_output(std::move(y), entry, 0);
    push_entry(op, site, std::move(inputs), {y}).single = std::move(backward);
    return y;
}

std::vector<Tensor> record(const char* op, std::vector<Tensor> inputs, std::vector<Tensor> ys,
                           MultiBackwardFn backward, CallSite site) {
    if (detect_anomaly()) check_forward(op, inputs, ys, site);
    if (!should_record(inputs)) return ys;
    auto entry = static_cast<std::uint32_t>(tape.entries.size());
    for (std::size_t s = 0; s < ys.size(); ++s)
        ys[s] = mark_output(std::move(ys[s]), entry, static_cast<std::uint32_t>(s));
    push_entry(op, site, std::move(inputs), ys).multi = std::move(backward);
    return ys;
}

NoGrad::NoGrad() : previous_(grad_mode) { grad_mode = false; }
NoGrad::~NoGrad() { grad_mode = previous_; }

CallSiteScope::CallSiteScope(const char* within, CallSite site) noexcept
    : outermost_(scope.within == nullptr) {
    if (outermost_) scope = Caller{site, within};
}
CallSiteScope::~CallSiteScope() {
    if (outermost_) scope = Caller{};
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
    Roots roots = make_roots({*this}, {grad}, "backward");
    run_backward(roots, {}, retain_graph);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, GradOptions options) {
    if (inputs.empty()) throw ValueError("grad: no inputs to differentiate with respect to");
    for (std::size_t k = 0; k < inputs.size(); ++k)
        if (!inputs[k].defined() || !inputs[k].requires_grad())
            throw ValueError(fmt::format("grad: input {} does not require grad", k));
    Roots roots = make_roots(outputs, grad_outputs, "grad");
    std::vector<Tensor> results = run_backward(roots, inputs, options.retain_graph);
    for (std::size_t k = 0; k < results.size(); ++k)
        if (!results[k].defined() && !options.allow_unused)
            throw ValueError(
                fmt::format("grad: input {} (shape {}) is not used to compute the "
                            "outputs; pass allow_unused to get an undefined tensor",
                            k, inputs[k].shape()));
    return results;
}

std::size_t tape_size() { return tape.live; }

const std::vector<Entry>& detail::this_thread_entries() { return tape.entries; }

bool detail::on_this_tape(const Node& n) {
    return n.tape_id == tape.id && n.entry < tape.entries.size() && !tape.entries[n.entry].freed;
}

void clear_tape() {
    if (!tape.entries.empty()) tape.free_through(tape.entries.size() - 1);
}

}  // namespace tg
