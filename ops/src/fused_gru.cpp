#include "fused_recurrent_kernel.h"

namespace tg {

namespace {

using fused::Rows;
using fused::Sizes;
using fused::Steps;

// What backward reads, written once by forward; all [rows, ...] laid out like x.
struct GruSaved {
    Tensor gates;      // [rows, 3 hidden]: r, z, n after their activations
    Tensor hn;         // [rows, hidden]: W_hn h_{t-1} + b_hn, the part r multiplies
    Tensor hidden_in;  // [rows, hidden]: the h_{t-1} each step read
};

// The biases as the kernels use them: b_ir + b_hr and b_iz + b_hz summed,
// b_in and b_hn apart since r sits between them.
struct GruBias {
    Tensor rz, in, hn;
};

template <class T>
GruBias gru_bias(const SequenceWeights& w, std::int64_t n) {
    return {fused::bias_sum<T>(w.b_ih, w.b_hh, 0, 2 * n),
            fused::bias_sum<T>(w.b_ih, Tensor(), 2 * n, n),
            fused::bias_sum<T>(w.b_hh, Tensor(), 2 * n, n)};
}

// One row of one step. g holds the input's gate sums without bias and leaves
// with r, z, n; gh holds W_hh h_{t-1}.
template <class T, Activation A>
void cell_forward(std::int64_t n, T* __restrict g, const T* __restrict gh, const T* __restrict b_rz,
                  const T* __restrict b_in, const T* __restrict b_hn, const T* __restrict h_prev,
                  T* __restrict hn, T* __restrict h) {
    for (std::int64_t j = 0; j < n; ++j) {
        T r = fused::sigmoid(g[j] + gh[j] + b_rz[j]);
        T z = fused::sigmoid(g[n + j] + gh[n + j] + b_rz[n + j]);
        T hnj = gh[2 * n + j] + b_hn[j];
        T cand = fused::activate<A>(g[2 * n + j] + b_in[j] + r * hnj);
        g[j] = r;
        g[n + j] = z;
        g[2 * n + j] = cand;
        hn[j] = hnj;
        h[j] = cand + z * (h_prev[j] - cand);
    }
}

// dh arrives as the gradient from step t + 1 and leaves as the part of
// h_{t-1}'s that skips W_hh (z h_{t-1}); dgx and dgh get the gradients of the
// input's and the hidden state's gate sums, which differ in n by the factor r.
template <class T, Activation A>
void cell_backward(std::int64_t n, const T* __restrict g, const T* __restrict hn,
                   const T* __restrict h_prev, const T* __restrict from_output, T* __restrict dh,
                   T* __restrict dgx, T* __restrict dgh) {
    for (std::int64_t j = 0; j < n; ++j) {
        T r = g[j], z = g[n + j], cand = g[2 * n + j];
        T d = from_output[j] + dh[j];
        T dcand = d * (T(1) - z) * fused::slope<A>(cand);
        T dr = dcand * hn[j] * r * (T(1) - r);
        T dz = d * (h_prev[j] - cand) * z * (T(1) - z);
        dgx[j] = dr;
        dgh[j] = dr;
        dgx[n + j] = dz;
        dgh[n + j] = dz;
        dgx[2 * n + j] = dcand;
        dgh[2 * n + j] = dcand * r;
        dh[j] = d * z;
    }
}

template <class T, Activation A>
void forward(const Sizes& z, const Tensor& x, const Tensor& h0, const SequenceWeights& w,
             GruSaved& saved, Tensor& y, Tensor& h_n) {
    const Steps& st = z.steps;
    const std::int64_t n = z.hidden, gw = 3 * n, batch = st.batch;
    Rows<T> gates{saved.gates.mutable_data<T>(), gw};
    Rows<T> hn{saved.hn.mutable_data<T>(), n};
    Rows<T> hin{saved.hidden_in.mutable_data<T>(), n};
    Rows<T> out{y.mutable_data<T>(), n};
    GruBias bias = gru_bias<T>(w, n);
    const T* b_rz = bias.rz.data<T>();
    const T* b_in = bias.in.data<T>();
    const T* b_hn = bias.hn.data<T>();
    Tensor gh_t = Tensor::empty({batch, gw}, z.dtype);
    T* gh = gh_t.mutable_data<T>();
    const T* w_hh = w.w_hh.data<T>();

    fused::gemm(false, true, st.rows(), gw, z.input, x.data<T>(), z.input, w.w_ih.data<T>(),
                z.input, T(0), gates.data, gw);
    fused::put_step(st, hin, st.time(0), fused::data_or_null<T>(h0));
    for (std::int64_t s = 0; s < st.steps; ++s) {
        const std::int64_t t = st.time(s);
        fused::gemm(false, true, batch, gw, n, hin.step(st, t), hin.ld(st), w_hh, n, T(0), gh, gw);
        fused::widest([&] {
            for (std::int64_t b = 0; b < batch; ++b)
                cell_forward<T, A>(n, gates.at(st, t, b), gh + b * gw, b_rz, b_in, b_hn,
                                   hin.at(st, t, b), hn.at(st, t, b), out.at(st, t, b));
        });
        if (s + 1 < st.steps) fused::copy_step(st, out, t, hin, st.time(s + 1));
    }
    fused::take_step(st, out, st.time(st.steps - 1), h_n.mutable_data<T>());
}

template <class T, Activation A>
void backward(const Sizes& z, const Tensor& x, const SequenceWeights& w, const GruSaved& saved,
              std::span<const Tensor> dys, Grads& dx) {
    const Steps& st = z.steps;
    const std::int64_t n = z.hidden, gw = 3 * n, batch = st.batch, rows = st.rows();
    Rows<const T> gates{saved.gates.data<T>(), gw};
    Rows<const T> hn{saved.hn.data<T>(), n};
    Rows<const T> hin{saved.hidden_in.data<T>(), n};
    Rows<const T> dout{dys[0].data<T>(), n};
    Tensor dgx_t = Tensor::empty({rows, gw}, z.dtype), dgh_t = Tensor::empty({rows, gw}, z.dtype);
    Rows<T> dgx{dgx_t.mutable_data<T>(), gw}, dgh{dgh_t.mutable_data<T>(), gw};
    Tensor dh_t = dys[1].clone();  // the gradient reaching h_t from step t + 1
    T* dh = dh_t.mutable_data<T>();
    const T* w_hh = w.w_hh.data<T>();

    for (std::int64_t s = st.steps - 1; s >= 0; --s) {
        const std::int64_t t = st.time(s);
        fused::widest([&] {
            for (std::int64_t b = 0; b < batch; ++b)
                cell_backward<T, A>(n, gates.at(st, t, b), hn.at(st, t, b), hin.at(st, t, b),
                                    dout.at(st, t, b), dh + b * n, dgx.at(st, t, b),
                                    dgh.at(st, t, b));
        });
        fused::gemm(false, false, batch, n, gw, dgh.step(st, t), dgh.ld(st), w_hh, n, T(1), dh, n);
    }

    if (z.wants(dx, fused::h0_in)) z.give(dx, fused::h0_in, dh_t);
    if (z.wants(dx, fused::x_in)) {
        Tensor g = Tensor::empty(x.shape(), z.dtype);
        fused::gemm(false, false, rows, z.input, gw, dgx.data, gw, w.w_ih.data<T>(), z.input, T(0),
                    g.mutable_data<T>(), z.input);
        z.give(dx, fused::x_in, g);
    }
    if (z.wants(dx, fused::w_ih_in)) {
        Tensor g = Tensor::empty(w.w_ih.shape(), z.dtype);
        fused::gemm(true, false, gw, z.input, rows, dgx.data, gw, x.data<T>(), z.input, T(0),
                    g.mutable_data<T>(), z.input);
        z.give(dx, fused::w_ih_in, g);
    }
    if (z.wants(dx, fused::w_hh_in)) {
        Tensor g = Tensor::empty(w.w_hh.shape(), z.dtype);
        fused::gemm(true, false, gw, n, rows, dgh.data, gw, hin.data, n, T(0), g.mutable_data<T>(),
                    n);
        z.give(dx, fused::w_hh_in, g);
    }
    if (z.wants(dx, fused::b_ih_in))
        z.give(dx, fused::b_ih_in, fused::column_sums(dgx.data, rows, gw));
    if (z.wants(dx, fused::b_hh_in))
        z.give(dx, fused::b_hh_in, fused::column_sums(dgh.data, rows, gw));
}

}  // namespace

// h_t = n + z (h_{t-1} - n), PyTorch's arrangement of (1 - z) n + z h_{t-1};
// r multiplies W_hn h + b_hn, bias included, so that part is saved per step.
std::vector<Tensor> gru_sequence(const Tensor& x, const Tensor& h0, const SequenceWeights& w,
                                 SequenceOptions options) {
    fused::Checked checked = fused::check_sequence("gru_sequence", 3, x, h0, nullptr, w, options);
    const Sizes& z = checked.sizes;
    const std::int64_t rows = z.steps.rows(), n = z.hidden;
    GruSaved saved{Tensor::empty({rows, 3 * n}, z.dtype), Tensor::empty({rows, n}, z.dtype),
                   Tensor::empty({rows, n}, z.dtype)};
    Tensor y = Tensor::empty(z.output_shape, z.dtype), h_n = Tensor::empty(z.state_shape, z.dtype);
    fused::dispatch_kernel(z.dtype, options.activation, [&]<class T, Activation A>() {
        forward<T, A>(z, x, h0, w, saved, y, h_n);
    });
    const Activation a = options.activation;
    return record("gru_sequence", std::move(checked.inputs), {y, h_n},
                  [z, x, w, saved, a](std::span<const Tensor> dys, Grads& dx) {
                      fused::dispatch_kernel(z.dtype, a, [&]<class T, Activation A>() {
                          backward<T, A>(z, x, w, saved, dys, dx);
                      });
                  });
}

}  // namespace tg
