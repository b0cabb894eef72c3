#include "fused_recurrent_kernel.h"

namespace tg {

namespace {

using fused::Rows;
using fused::Sizes;
using fused::Steps;

// One row of one step: the gate sum (without bias) in h becomes act(sum + bias).
template <class T, Activation A>
void cell_forward(std::int64_t n, T* __restrict h, const T* __restrict bias) {
    for (std::int64_t j = 0; j < n; ++j) h[j] = fused::activate<A>(h[j] + bias[j]);
}

// dh arrives as the gradient from step t + 1; dpre gets the gate sum's.
template <class T, Activation A>
void cell_backward(std::int64_t n, const T* __restrict h, const T* __restrict from_output,
                   const T* __restrict dh, T* __restrict dpre) {
    for (std::int64_t j = 0; j < n; ++j) dpre[j] = (from_output[j] + dh[j]) * fused::slope<A>(h[j]);
}

// The output doubles as the workspace: it receives the input projections of
// all steps in one GEMM, each step adds W_hh h_{t-1} and activates in place.
template <class T, Activation A>
void forward(const Sizes& z, const Tensor& x, const Tensor& h0, const SequenceWeights& w,
             Tensor& hidden_in, Tensor& y, Tensor& h_n) {
    const Steps& st = z.steps;
    const std::int64_t n = z.hidden, batch = st.batch;
    Rows<T> hin{hidden_in.mutable_data<T>(), n};
    Rows<T> out{y.mutable_data<T>(), n};
    Tensor bias_sum = fused::bias_sum<T>(w.b_ih, w.b_hh, 0, n);
    const T* bias = bias_sum.data<T>();
    const T* w_hh = w.w_hh.data<T>();

    fused::gemm(false, true, st.rows(), n, z.input, x.data<T>(), z.input, w.w_ih.data<T>(), z.input,
                T(0), out.data, n);
    fused::put_step(st, hin, st.time(0), fused::data_or_null<T>(h0));
    for (std::int64_t s = 0; s < st.steps; ++s) {
        const std::int64_t t = st.time(s);
        fused::gemm(false, true, batch, n, n, hin.step(st, t), hin.ld(st), w_hh, n, T(1),
                    out.step(st, t), out.ld(st));
        fused::widest([&] {
            for (std::int64_t b = 0; b < batch; ++b) cell_forward<T, A>(n, out.at(st, t, b), bias);
        });
        if (s + 1 < st.steps) fused::copy_step(st, out, t, hin, st.time(s + 1));
    }
    fused::take_step(st, out, st.time(st.steps - 1), h_n.mutable_data<T>());
}

template <class T, Activation A>
void backward(const Sizes& z, const Tensor& x, const SequenceWeights& w, const Tensor& hidden_in,
              const Tensor& y, std::span<const Tensor> dys, Grads& dx) {
    const Steps& st = z.steps;
    const std::int64_t n = z.hidden, batch = st.batch, rows = st.rows();
    Rows<const T> out{y.data<T>(), n};
    Rows<const T> dout{dys[0].data<T>(), n};
    Tensor dpre_t = Tensor::empty({rows, n}, z.dtype);
    Rows<T> dpre{dpre_t.mutable_data<T>(), n};
    Tensor dh_t = dys[1].clone();  // the gradient reaching h_t from step t + 1
    T* dh = dh_t.mutable_data<T>();
    const T* w_hh = w.w_hh.data<T>();

    for (std::int64_t s = st.steps - 1; s >= 0; --s) {
        const std::int64_t t = st.time(s);
        fused::widest([&] {
            for (std::int64_t b = 0; b < batch; ++b)
                cell_backward<T, A>(n, out.at(st, t, b), dout.at(st, t, b), dh + b * n,
                                    dpre.at(st, t, b));
        });
        fused::gemm(false, false, batch, n, n, dpre.step(st, t), dpre.ld(st), w_hh, n, T(0), dh, n);
    }

    const T* dp = dpre.data;
    if (z.wants(dx, fused::h0_in)) z.give(dx, fused::h0_in, dh_t);
    if (z.wants(dx, fused::x_in)) {
        Tensor g = Tensor::empty(x.shape(), z.dtype);
        fused::gemm(false, false, rows, z.input, n, dp, n, w.w_ih.data<T>(), z.input, T(0),
                    g.mutable_data<T>(), z.input);
        z.give(dx, fused::x_in, g);
    }
    if (z.wants(dx, fused::w_ih_in)) {
        Tensor g = Tensor::empty(w.w_ih.shape(), z.dtype);
        fused::gemm(true, false, n, z.input, rows, dp, n, x.data<T>(), z.input, T(0),
                    g.mutable_data<T>(), z.input);
        z.give(dx, fused::w_ih_in, g);
    }
    if (z.wants(dx, fused::w_hh_in)) {
        Tensor g = Tensor::empty(w.w_hh.shape(), z.dtype);
        fused::gemm(true, false, n, n, rows, dp, n, hidden_in.data<T>(), n, T(0),
                    g.mutable_data<T>(), n);
        z.give(dx, fused::w_hh_in, g);
    }
    if (z.wants(dx, fused::b_ih_in) || z.wants(dx, fused::b_hh_in)) {
        Tensor g = fused::column_sums(dp, rows, n);
        if (z.wants(dx, fused::b_ih_in)) z.give(dx, fused::b_ih_in, g);
        if (z.wants(dx, fused::b_hh_in)) z.give(dx, fused::b_hh_in, g);
    }
}

}  // namespace

// h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh); the activation's slope
// comes from the saved output.
std::vector<Tensor> rnn_sequence(const Tensor& x, const Tensor& h0, const SequenceWeights& w,
                                 SequenceOptions options) {
    fused::Checked checked = fused::check_sequence("rnn_sequence", 1, x, h0, nullptr, w, options);
    const Sizes& z = checked.sizes;
    Tensor hidden_in = Tensor::empty({z.steps.rows(), z.hidden}, z.dtype);
    Tensor y = Tensor::empty(z.output_shape, z.dtype), h_n = Tensor::empty(z.state_shape, z.dtype);
    fused::dispatch_kernel(z.dtype, options.activation, [&]<class T, Activation A>() {
        forward<T, A>(z, x, h0, w, hidden_in, y, h_n);
    });
    const Activation a = options.activation;
    return record("rnn_sequence", std::move(checked.inputs), {y, h_n},
                  [z, x, w, hidden_in, y, a](std::span<const Tensor> dys, Grads& dx) {
                      fused::dispatch_kernel(z.dtype, a, [&]<class T, Activation A>() {
                          backward<T, A>(z, x, w, hidden_in, y, dys, dx);
                      });
                  });
}

}  // namespace tg
