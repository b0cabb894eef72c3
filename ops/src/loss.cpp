#include <tapegrad/ops/activation.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/loss.h>
#include <tapegrad/ops/reduce.h>
#include <tapegrad/ops/shape.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace tg {

namespace {

void check_floating(const Tensor& x, const char* op, const char* what) {
    if (!x.defined()) throw ValueError(fmt::format("{}: {} is an undefined tensor", op, what));
    if (!is_floating(x.dtype()))
        throw DTypeError(fmt::format("{}: {} must be floating, got {} of shape {}", op, what,
                                     x.dtype(), x.shape()));
}

void check_same_shape(const Tensor& input, const Tensor& target, const char* op) {
    if (input.shape() != target.shape())
        throw ShapeError(
            fmt::format("{}: input of shape {} and target of shape {} must have the same shape "
                        "(tapegrad does not broadcast them, unlike PyTorch)",
                        op, input.shape(), target.shape()));
}

Tensor reduce(const Tensor& losses, Reduction reduction) {
    switch (reduction) {
        case Reduction::none:
            return losses;
        case Reduction::sum:
            return sum(losses);
        case Reduction::mean:
            break;
    }
    return mean(losses);
}

// The mean of class-index losses divides by their total weight (0 / 0 = NaN
// when every target is ignored, as PyTorch).
Tensor reduce_by_weight(const Tensor& losses, Reduction reduction, double total_weight) {
    if (reduction != Reduction::mean) return reduce(losses, reduction);
    return sum(losses) / total_weight;
}

// The input seen as [outer, classes, inner] around its class dimension:
// [N, C, d1, ...] has outer N, inner d1 * ...; a [C] input has one sample.
struct ClassLayout {
    std::int64_t dim = 0, outer = 1, classes = 1, inner = 1;
};

ClassLayout class_layout(const Tensor& input, const char* op) {
    if (input.dim() < 1)
        throw ShapeError(fmt::format(
            "{}: input must have a class dimension ([C], [N, C] or [N, C, d1, ...]), got shape {}",
            op, input.shape()));
    ClassLayout l;
    l.dim = input.dim() == 1 ? 0 : 1;
    if (l.dim == 1) l.outer = input.size(0);
    l.classes = input.size(l.dim);
    for (std::int64_t d = l.dim + 1; d < input.dim(); ++d) l.inner *= input.size(d);
    return l;
}

// The shape of one loss per sample: input's without the class dimension.
Shape sample_shape(const Tensor& input, const ClassLayout& l) {
    std::vector<std::int64_t> dims = input.shape().dims();
    dims.erase(dims.begin() + l.dim);
    return Shape(std::move(dims));
}

// Class weights as a constant [C] in dtype (undefined stays undefined).
Tensor class_weight(const Tensor& weight, const ClassLayout& l, DType dtype, const char* op) {
    if (!weight.defined()) return {};
    if (!is_floating(weight.dtype()))
        throw DTypeError(fmt::format("{}: weight must be floating, got {} of shape {}", op,
                                     weight.dtype(), weight.shape()));
    if (weight.shape() != Shape{l.classes})
        throw ShapeError(fmt::format("{}: weight must have shape [C] = [{}], got shape {}", op,
                                     l.classes, weight.shape()));
    return weight.detach().to(dtype);
}

// Class weights shaped to broadcast along input's class dimension: [1, C, 1, ...].
Tensor along_classes(const Tensor& w, const Tensor& input, const ClassLayout& l) {
    std::vector<std::int64_t> dims(static_cast<std::size_t>(input.dim()), 1);
    dims[l.dim] = l.classes;
    return w.reshape(Shape(std::move(dims)));
}

void check_index_target(const Tensor& input, const Tensor& target, const ClassLayout& l,
                        std::int64_t ignore_index, const char* op) {
    if (!target.defined()) throw ValueError(fmt::format("{}: target is an undefined tensor", op));
    if (target.dtype() != DType::i64)
        throw DTypeError(fmt::format("{}: target must hold int64 class indices, got {} of shape {}",
                                     op, target.dtype(), target.shape()));
    Shape want = sample_shape(input, l);
    if (target.shape() != want)
        throw ShapeError(
            fmt::format("{}: class-index target of shape {} does not fit input of shape {}; it "
                        "must have shape {} (input's without the class dimension {})",
                        op, target.shape(), input.shape(), want, l.dim));
    const std::int64_t* pt = target.data<std::int64_t>();
    for (std::int64_t j = 0, n = target.numel(); j < n; ++j)
        if (pt[j] != ignore_index && (pt[j] < 0 || pt[j] >= l.classes))
            throw IndexError(fmt::format(
                "{}: target {} (at flat position {}) is out of range for C = {} classes; "
                "valid are 0..{} and ignore_index {}",
                op, pt[j], j, l.classes, l.classes - 1, ignore_index));
}

struct PickedLosses {
    Tensor losses;  // target's shape
    double total_weight = 0;
};

// The gradient of pick_nll: -w[t] * dy[o, i] at [o, t, i], 0 elsewhere.
Tensor nll_scatter(const Tensor& dy, const Tensor& target, const std::vector<double>& weights,
                   const ClassLayout& l, std::int64_t ignore_index, const Shape& shape) {
    Tensor dx = zeros(shape, dy.dtype());
    const std::int64_t* pt = target.data<std::int64_t>();
    dispatch_floating(dy.dtype(), [&]<class T>() {
        const T* pdy = dy.data<T>();
        T* pdx = dx.mutable_data<T>();
        for (std::int64_t o = 0; o < l.outer; ++o)
            for (std::int64_t i = 0; i < l.inner; ++i) {
                std::int64_t j = o * l.inner + i, t = pt[j];
                if (t != ignore_index)
                    pdx[(o * l.classes + t) * l.inner + i] = static_cast<T>(-weights[t] * pdy[j]);
            }
    });
    return dx;
}

// loss[o, i] = -w[t] * logp[o, t, i] with t = target[o, i], and 0 where t is
// ignore_index;  dlogp[o, t, i] = -w[t] * dloss[o, i], 0 elsewhere. The
// total weight is the sum of w[t] (1 without weights) over the kept targets.
PickedLosses pick_nll(const Tensor& logp, const Tensor& target, const Tensor& w,
                      const ClassLayout& l, std::int64_t ignore_index) {
    std::vector<double> weights(static_cast<std::size_t>(l.classes), 1.0);
    if (w.defined()) weights = w.to_vector<double>();
    PickedLosses out;
    Tensor y = zeros(target.shape(), logp.dtype());
    const std::int64_t* pt = target.data<std::int64_t>();
    dispatch_floating(logp.dtype(), [&]<class T>() {
        const T* px = logp.data<T>();
        T* py = y.mutable_data<T>();
        for (std::int64_t o = 0; o < l.outer; ++o)
            for (std::int64_t i = 0; i < l.inner; ++i) {
                std::int64_t j = o * l.inner + i, t = pt[j];
                if (t == ignore_index) continue;
                double wt = weights[t];
                py[j] = static_cast<T>(-wt * px[(o * l.classes + t) * l.inner + i]);
                out.total_weight += wt;
            }
    });
    out.losses = record(
        "nll_loss", {logp, target}, y,
        [target, weights, l, ignore_index, shape = logp.shape()](const Tensor& dy, Grads& dx) {
            dx[0] += nll_scatter(dy, target, weights, l, ignore_index, shape);
        });
    return out;
}

// True when from broadcasts to exactly `to` (size-1 or equal trailing dims).
bool broadcasts_to(const Shape& from, const Shape& to) {
    if (from.size() > to.size()) return false;
    const std::size_t lead = to.size() - from.size();
    for (std::size_t d = 0; d < from.size(); ++d)
        if (from[d] != 1 && from[d] != to[lead + d]) return false;
    return true;
}

// Elementwise f(x, t, p) in x's dtype for the logistic loss, p = 1 when
// pos_weight is undefined; x, t and p (if defined) have one shape and dtype.
template <class F>
Tensor logistic_map(const Tensor& x, const Tensor& t, const Tensor& p, F f) {
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    dispatch_floating(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        const T* pt = t.data<T>();
        const T* pp = p.defined() ? p.data<T>() : nullptr;
        T* py = y.mutable_data<T>();
        for (std::int64_t i = 0, n = x.numel(); i < n; ++i)
            py[i] = static_cast<T>(f(double(px[i]), double(pt[i]), pp ? double(pp[i]) : 1.0));
    });
    return y;
}

// log(1 + e^-x) without overflow: max(-x, 0) + log(1 + e^-|x|).
double softplus_neg(double x) { return std::max(-x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

// 1 / (1 + e^-x), exponentiating only non-positive numbers.
double sigmoid_of(double x) {
    if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
    double e = std::exp(x);
    return e / (1.0 + e);
}

}  // namespace

// y = (x - t)^2;  dx = 2 (x - t) dy, dt = -dx (composed, then reduced).
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction, CallSite site) {
    CallSiteScope scope("mse_loss", site);
    check_floating(input, "mse_loss", "input");
    if (!target.defined()) throw ValueError("mse_loss: target is an undefined tensor");
    check_same_shape(input, target, "mse_loss");
    Tensor d = input - target;
    return reduce(d * d, reduction);
}

// y = |x - t|;  dx = sign(x - t) dy with sign(0) = 0, dt = -dx (composed, then reduced).
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, CallSite site) {
    CallSiteScope scope("l1_loss", site);
    check_floating(input, "l1_loss", "input");
    if (!target.defined()) throw ValueError("l1_loss: target is an undefined tensor");
    check_same_shape(input, target, "l1_loss");
    return reduce(abs(input - target), reduction);
}

// y = -w[t] x[.., t, ..] (0 where t = ignore_index), reduced;  dx is its scatter.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NllLossOptions& options,
                CallSite site) {
    CallSiteScope scope("nll_loss", site);
    check_floating(input, "nll_loss", "input");
    ClassLayout l = class_layout(input, "nll_loss");
    check_index_target(input, target, l, options.ignore_index, "nll_loss");
    Tensor w = class_weight(options.weight, l, input.dtype(), "nll_loss");
    PickedLosses nll = pick_nll(input, target, w, l, options.ignore_index);
    return reduce_by_weight(nll.losses, options.reduction, nll.total_weight);
}

// Class indices: y = (1 - s) nll(logp) + (s / C) (-sum_c w_c logp_c), logp = log_softmax(x),
// reduced by the total weight of the kept targets (PyTorch's label smoothing).
// Class probabilities: y = -sum_c w_c t'_c logp_c with t' = (1 - s) t + s / C,
// reduced by the number of samples. Gradients come from the composed ops.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options,
                     CallSite site) {
    const char* op = "cross_entropy";
    CallSiteScope scope(op, site);
    check_floating(input, op, "input");
    ClassLayout l = class_layout(input, op);
    const double s = options.label_smoothing;
    if (!(s >= 0.0 && s <= 1.0))
        throw ValueError(fmt::format("{}: label_smoothing must be in [0, 1], got {}", op, s));
    if (!target.defined()) throw ValueError(fmt::format("{}: target is an undefined tensor", op));
    const bool probabilities = is_floating(target.dtype());
    if (probabilities && target.shape() != input.shape())
        throw ShapeError(fmt::format(
            "{}: a class-probability target must have input's shape {}, got shape {} (class "
            "indices would be int64 of shape {})",
            op, input.shape(), target.shape(), sample_shape(input, l)));
    if (!probabilities) check_index_target(input, target, l, options.ignore_index, op);
    Tensor w = class_weight(options.weight, l, input.dtype(), op);
    const double classes = static_cast<double>(l.classes);

    Tensor logp = log_softmax(input, l.dim);
    Tensor wlogp = w.defined() ? logp * along_classes(w, input, l) : logp;
    if (probabilities) {
        Tensor t = s > 0 ? target * (1.0 - s) + s / classes : target;
        Tensor losses = neg(sum(wlogp * t, {l.dim}));
        if (options.reduction != Reduction::mean) return reduce(losses, options.reduction);
        return sum(losses) / static_cast<double>(l.outer * l.inner);
    }
    PickedLosses nll = pick_nll(logp, target, w, l, options.ignore_index);
    Tensor losses = nll.losses;
    if (s > 0) {
        // The smoothing term counts only where the target is kept.
        Tensor kept = ne(target, full({}, double(options.ignore_index), DType::i64));
        Tensor smooth = neg(sum(wlogp, {l.dim})) * kept.to(logp.dtype());
        losses = (1.0 - s) * losses + (s / classes) * smooth;
    }
    return reduce_by_weight(losses, options.reduction, nll.total_weight);
}

// y = (1 - t) x + L softplus(-x), L = 1 + (p - 1) t;
// dx = (L sigmoid(x) - p t) dy, dt = (-x + (p - 1) softplus(-x)) dy; p is a constant.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction, const Tensor& pos_weight,
                                        CallSite site) {
    const char* op = "binary_cross_entropy_with_logits";
    CallSiteScope scope(op, site);
    check_floating(input, op, "input");
    check_floating(target, op, "target");
    check_same_shape(input, target, op);
    if (pos_weight.defined()) {
        check_floating(pos_weight, op, "pos_weight");
        if (!broadcasts_to(pos_weight.shape(), input.shape()))
            throw ShapeError(
                fmt::format("{}: pos_weight of shape {} does not broadcast to "
                            "input's shape {}",
                            op, pos_weight.shape(), input.shape()));
    }
    DType dtype = promote(input.dtype(), target.dtype());
    Tensor x = input.to(dtype), t = target.to(dtype);
    Tensor p = pos_weight.defined() ? expand(pos_weight.detach().to(dtype), x.shape()) : Tensor();
    Tensor y = logistic_map(x, t, p, [](double x, double t, double p) {
        return (1 - t) * x + (1 + (p - 1) * t) * softplus_neg(x);
    });
    y = record(op, {x, t}, y, [x, t, p](const Tensor& dy, Grads& dx) {
        if (dx.needs(0))
            dx[0] += dy * logistic_map(x, t, p, [](double x, double t, double p) {
                         return (1 + (p - 1) * t) * sigmoid_of(x) - p * t;
                     });
        if (dx.needs(1))
            dx[1] += dy * logistic_map(x, t, p, [](double x, double, double p) {
                         return -x + (p - 1) * softplus_neg(x);
                     });
    });
    return reduce(y, reduction);
}

}  // namespace tg
