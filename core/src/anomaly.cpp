#include <tapegrad/core/anomaly.h>
#include <tapegrad/core/error.h>

#include <cmath>
#include <string>

#include "tape_entries.h"

namespace tg {

std::atomic<bool> detail::anomaly_detection{false};

void set_detect_anomaly(bool on) { detail::anomaly_detection.store(on); }

DetectAnomaly::DetectAnomaly(bool on) : previous_(detect_anomaly()) { set_detect_anomaly(on); }
DetectAnomaly::~DetectAnomaly() { set_detect_anomaly(previous_); }

namespace {

// The non-finite elements of a tensor: how many of each kind, and the first.
struct Scan {
    std::int64_t nan = 0, inf = 0;
    std::int64_t first = -1;
    double value = 0;
    bool clean() const { return first < 0; }
};

Scan scan(const Tensor& t) {
    Scan s;
    if (!t.defined() || !is_floating(t.dtype())) return s;
    dispatch_floating(t.dtype(), [&]<class T>() {
        const T* p = t.data<T>();
        for (std::int64_t i = 0, n = t.numel(); i < n; ++i) {
            if (std::isfinite(p[i])) continue;
            (std::isnan(p[i]) ? s.nan : s.inf) += 1;
            if (s.first < 0) s = Scan{s.nan, s.inf, i, static_cast<double>(p[i])};
        }
    });
    return s;
}

// "[1, 0]": the position of flat element i in shape.
std::string position(const Shape& shape, std::int64_t i) {
    std::vector<std::int64_t> index(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) {
        index[d] = i % shape[d];
        i /= shape[d];
    }
    return fmt::format("[{}]", fmt::join(index, ", "));
}

std::string counts(const Scan& s) {
    if (s.nan && s.inf) return fmt::format("{} NaN and {} Inf", s.nan, s.inf);
    return s.nan ? fmt::format("{} NaN", s.nan) : fmt::format("{} Inf", s.inf);
}

// "1 NaN among 3 elements, the first at [1] (nan)"; a NaN's sign means nothing.
std::string found(const Scan& s, const Tensor& t) {
    return fmt::format("{} among {} element{}, the first at {} ({})", counts(s), t.numel(),
                       t.numel() == 1 ? "" : "s", position(t.shape(), s.first),
                       std::isnan(s.value) ? "nan" : fmt::format("{}", s.value));
}

std::string describe(const Shape& shape, DType dtype) { return fmt::format("{} {}", shape, dtype); }
std::string describe(const Tensor& t) {
    return t.defined() ? describe(t.shape(), t.dtype()) : "undefined";
}

std::string called_at(const char* op, CallSite site, const char* within) {
    within = detail::outer_call(op, within);
    std::string through = within ? fmt::format(" (through '{}')", within) : "";
    if (!site.known()) return fmt::format("an unknown place{}", through);
    return fmt::format("{}:{}, in {}{}", site.file, site.line, site.function, through);
}

// "sqrt: [3] float64 -> [3] float64"
std::string signature(const detail::Entry& e) {
    std::vector<std::string> in, out;
    for (const Tensor& x : e.inputs) in.push_back(describe(x));
    for (const detail::Output& o : e.outputs) out.push_back(describe(o.shape, o.dtype));
    return fmt::format("{}: {} -> {}", e.op, fmt::join(in, ", "), fmt::join(out, ", "));
}

std::string forward_op(const detail::Entry& e) {
    return fmt::format("\n  forward op: {}\n  called at:  {}", signature(e),
                       called_at(e.op, e.site, e.within));
}

}  // namespace

void detail::check_forward(const char* op, std::span<const Tensor> inputs,
                           std::span<const Tensor> ys, CallSite site, const char* within) {
    for (std::size_t k = 0; k < ys.size(); ++k) {
        Scan s = scan(ys[k]);
        if (s.clean()) continue;
        std::string output = ys.size() == 1 ? "output" : fmt::format("output {}", k);
        std::string message = fmt::format("anomaly: the {} of '{}' ({}) holds {}", output, op,
                                          describe(ys[k]), found(s, ys[k]));
        for (std::size_t j = 0; j < inputs.size(); ++j) {
            Scan in = scan(inputs[j]);
            message += fmt::format("\n  input {}:    {}", j, describe(inputs[j]));
            if (!in.clean())
                message += fmt::format(
                    ", already holding {}: it came from outside the checked ops (data, a "
                    "parameter, or an op run while anomaly mode was off)",
                    found(in, inputs[j]));
        }
        message += fmt::format("\n  called at:  {}", called_at(op, site, within));
        throw AnomalyError(message);
    }
}

void detail::check_incoming(const Entry& e, std::span<const Tensor> dys) {
    for (std::size_t k = 0; k < dys.size(); ++k) {
        Scan s = scan(dys[k]);
        if (s.clean()) continue;
        std::string output = dys.size() == 1 ? "output" : fmt::format("output {}", k);
        throw AnomalyError(fmt::format(
            "anomaly in backward: the gradient arriving at the {} of '{}' ({}) holds {}; it was "
            "given to backward() or is the sum of the gradients of several uses of that output, "
            "which overflowed{}",
            output, e.op, describe(dys[k]), found(s, dys[k]), forward_op(e)));
    }
}

void detail::check_gradient(const Entry& e, std::size_t j, const Tensor& g) {
    Scan s = scan(g);
    if (s.clean()) return;
    throw AnomalyError(fmt::format(
        "anomaly in backward: the gradient that '{}' computed for its input {} ({}) holds {}; "
        "the gradient arriving at its output was finite, so the derivative itself is not (a "
        "division "
        "by zero, an overflow){}",
        e.op, j, describe(e.inputs[j]), found(s, g), forward_op(e)));
}

}  // namespace tg
