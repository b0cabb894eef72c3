#include <tapegrad/core/generator.h>
#include <tapegrad/core/tape.h>
#include <tapegrad/ops/gradcheck.h>

#include <cmath>
#include <ostream>

namespace tg {

namespace {

double dot(const Tensor& a, const Tensor& b) {
    const double* pa = a.data<double>();
    const double* pb = b.data<double>();
    double s = 0;
    for (std::int64_t i = 0, n = a.numel(); i < n; ++i) s += pa[i] * pb[i];
    return s;
}

Tensor output_of(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
    Tensor y = fn(inputs);
    if (!y.defined() || y.dtype() != DType::f64)
        throw DTypeError("gradcheck: the function must return a defined float64 tensor");
    return y;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const GradcheckResult& r) { return os << r.report; }

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          GradcheckOptions options, const std::vector<Tensor>& parameters) {
    std::vector<Tensor> leaves;
    std::vector<std::size_t> checked;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        Tensor x = inputs[k].detach().clone();
        if (x.dtype() == DType::f64) {
            x.requires_grad_();
            checked.push_back(k);
        } else if (is_floating(x.dtype())) {
            throw DTypeError(
                fmt::format("gradcheck: input {} is {}; gradients are checked in "
                            "float64 only",
                            k, x.dtype()));
        }
        leaves.push_back(x);
    }
    if (checked.empty() && parameters.empty())
        throw ValueError("gradcheck: no float64 input or parameter to check");

    Tensor y = output_of(fn, leaves);
    // Fixed weights: a failed check reproduces exactly.
    Generator g(12345);
    Tensor weights = Tensor::empty(y.shape(), DType::f64);
    double* pw = weights.mutable_data<double>();
    for (std::int64_t i = 0; i < y.numel(); ++i) pw[i] = y.numel() == 1 ? 1.0 : g.uniform() + 0.5;

    // Inputs are our own clones and parameters are perturbed in place and
    // restored, so both are probed the same way.
    std::vector<Tensor> wrt;
    for (std::size_t k : checked) wrt.push_back(leaves[k]);
    for (std::size_t j = 0; j < parameters.size(); ++j) {
        const Tensor& p = parameters[j];
        if (!p.defined() || p.dtype() != DType::f64 || !p.is_leaf() || !p.requires_grad())
            throw DTypeError(
                fmt::format("gradcheck: parameter {} must be a float64 leaf that "
                            "requires grad",
                            j));
        wrt.push_back(p);
    }
    std::vector<Tensor> analytic(wrt.size());
    if (y.requires_grad())
        analytic = grad({y}, wrt, {weights}, {.retain_graph = false, .allow_unused = true});

    GradcheckResult result;
    result.error = -INFINITY;
    NoGrad no_recording;
    for (std::size_t c = 0; c < wrt.size(); ++c) {
        double* px = wrt[c].mutable_data<double>();
        for (std::int64_t i = 0; i < wrt[c].numel(); ++i) {
            double saved = px[i];
            px[i] = saved + options.eps;
            double plus = dot(output_of(fn, leaves), weights);
            px[i] = saved - options.eps;
            double minus = dot(output_of(fn, leaves), weights);
            px[i] = saved;
            double numeric = (plus - minus) / (2 * options.eps);
            double a = analytic[c].defined() ? analytic[c].data<double>()[i] : 0.0;
            double error =
                std::abs(a - numeric) - (options.atol + options.rtol * std::abs(numeric));
            if (std::isnan(a) || std::isnan(numeric)) error = INFINITY;
            if (error > result.error) {
                result.error = error;
                result.input = c < checked.size() ? checked[c] : inputs.size() + c - checked.size();
                result.index = i;
                result.analytic = a;
                result.numeric = numeric;
            }
        }
    }
    result.ok = result.error <= 0;
    std::string where = result.input < inputs.size()
                            ? fmt::format("input {}", result.input)
                            : fmt::format("parameter {}", result.input - inputs.size());
    result.report = fmt::format(
        "gradcheck {}: worst at {} element {}: analytic {:.12g}, "
        "numeric {:.12g}",
        result.ok ? "passed" : "FAILED", where, result.index, result.analytic, result.numeric);
    return result;
}

GradcheckResult gradcheck(const std::function<Tensor(const Tensor&)>& fn, const Tensor& input,
                          GradcheckOptions options) {
    return gradcheck([&](const std::vector<Tensor>& v) { return fn(v[0]); }, {input}, options);
}

}  // namespace tg
