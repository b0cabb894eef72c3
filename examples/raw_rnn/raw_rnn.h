#pragma once

// The seed recurrence written from ops only:
//   h_t = f(x_t W_xh + b_xh + h_{t-1} W_hh + b_hh),  f = tanh or relu.
// It is torch.nn.RNN with W_xh = weight_ih^T and W_hh = weight_hh^T.

#include <map>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace raw_rnn {

struct Weights {
    tg::Tensor w_xh;  // [input, hidden]
    tg::Tensor w_hh;  // [hidden, hidden]
    tg::Tensor b;     // [hidden]: b_ih + b_hh
};

// x: [batch, time, input] -> every h_t stacked: [batch, time, hidden].
inline tg::Tensor forward(const tg::Tensor& x, const Weights& w,
                          tg::Tensor (*f)(const tg::Tensor&) = tg::tanh) {
    tg::Tensor h = tg::zeros({x.size(0), w.w_hh.size(0)}, x.dtype());
    std::vector<tg::Tensor> hs;
    for (std::int64_t t = 0; t < x.size(1); ++t) {
        tg::Tensor x_t = tg::select(x, 1, t);
        h = f(tg::matmul(x_t, w.w_xh) + tg::matmul(h, w.w_hh) + w.b);
        hs.push_back(h);
    }
    return tg::stack(hs, 1);
}

// The largest absolute difference between two tensors of one shape.
inline double max_abs_diff(const tg::Tensor& a, const tg::Tensor& b) {
    return tg::max(tg::abs(a - b)).item();
}

// Plain gradient descent on mean((forward(x) - target)^2) with the relu
// recurrence; returns the loss before each step.
inline std::vector<double> train_relu(const tg::Tensor& x, const tg::Tensor& target, Weights w,
                                      double lr, int steps) {
    std::vector<double> losses;
    for (int step = 0; step < steps; ++step) {
        tg::Tensor diff = forward(x, w, tg::relu) - target;
        tg::Tensor loss = tg::mean(diff * diff);
        losses.push_back(loss.item());
        auto g = tg::grad({loss}, {w.w_xh, w.w_hh, w.b});
        tg::NoGrad no_grad;
        w.w_xh = (w.w_xh - lr * g[0]).requires_grad_();
        w.w_hh = (w.w_hh - lr * g[1]).requires_grad_();
        w.b = (w.b - lr * g[2]).requires_grad_();
    }
    return losses;
}

// Weights of the torch.nn.RNN stored in a golden file, as leaves.
inline Weights weights_from(const std::map<std::string, tg::Tensor>& file) {
    tg::NoGrad no_grad;
    return {tg::t(file.at("weight_ih_l0")).requires_grad_(),
            tg::t(file.at("weight_hh_l0")).requires_grad_(),
            (file.at("bias_ih_l0") + file.at("bias_hh_l0")).requires_grad_()};
}

}  // namespace raw_rnn
