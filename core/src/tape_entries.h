#pragma once

// The tape's entries, shared by the files that read them: tape.cpp records
// and walks them, anomaly.cpp describes them in errors, tape_dot.cpp draws
// them. Not installed: users go through tape.h.

#include <tapegrad/core/call_site.h>
#include <tapegrad/core/tape.h>

#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace tg::detail {

struct Output {
    Shape shape;
    DType dtype;
    std::weak_ptr<Storage> storage;
    std::uint64_t version;
};

struct Entry {
    const char* op = "";
    CallSite site;                 // the user's call, when known
    const char* within = nullptr;  // the composite op or layer the call went through
    std::vector<Tensor> inputs;
    std::vector<std::uint64_t> input_versions;
    std::vector<Output> outputs;
    BackwardFn single;  // exactly one of single / multi is set while live
    MultiBackwardFn multi;
    bool freed = false;
};

// The composite op or layer to name beside op, or nullptr when there is
// none or it is op itself (a reshape that unsqueeze made is "reshape (unsqueeze)").
inline const char* outer_call(const char* op, const char* within) {
    return within && std::strcmp(op, within) != 0 ? within : nullptr;
}

// The entries this thread recorded and backward has not consumed.
const std::vector<Entry>& this_thread_entries();
// True if n names a live entry of this thread's tape.
bool on_this_tape(const Node& n);

// Anomaly checks (anomaly.cpp), called only while anomaly mode is on. Each
// throws AnomalyError when a tensor it looks at holds NaN or Inf.
void check_forward(const char* op, std::span<const Tensor> inputs, std::span<const Tensor> ys,
                   CallSite site, const char* within);
// The gradients arriving at e's outputs, before its backward runs.
void check_incoming(const Entry& e, std::span<const Tensor> dys);
// The gradient e's backward made for input j.
void check_gradient(const Entry& e, std::size_t j, const Tensor& g);

}  // namespace tg::detail
