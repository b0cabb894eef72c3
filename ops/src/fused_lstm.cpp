#include "fused_recurrent_kernel.h"

namespace tg {

namespace {

using fused::Rows;
using fused::Sizes;
using fused::Steps;

// What backward reads, written once by forward; all [rows, ...] laid out like x.
struct LstmSaved {
    Tensor gates;        // [rows, 4 hidden]: i, f, g, o after their activations
    Tensor cells;        // [rows, hidden]: c_t
    Tensor cell_act;     // [rows, hidden]: act(c_t)
    Tensor hidden_in;    // [rows, state]: the h_{t-1} each step read
    Tensor unprojected;  // [rows, hidden]: o act(c_t) before w_hr (projected LSTM only)
};

// One row of one step. g holds the gate sums without biases and leaves with
// the activations i, f, g, o that backward needs.
template <class T, Activation A>
void cell_forward(std::int64_t n, T* __restrict g, const T* __restrict bias,
                  const T* __restrict c_prev, T* __restrict c, T* __restrict c_act,
                  T* __restrict h) {
    for (std::int64_t j = 0; j < n; ++j) {
        T i = fused::sigmoid(g[j] + bias[j]);
        T f = fused::sigmoid(g[n + j] + bias[n + j]);
        T cand = fused::activate<A>(g[2 * n + j] + bias[2 * n + j]);
        T o = fused::sigmoid(g[3 * n + j] + bias[3 * n + j]);
        T cj = f * c_prev[j] + i * cand;
        T a = fused::activate<A>(cj);
        g[j] = i;
        g[n + j] = f;
        g[2 * n + j] = cand;
        g[3 * n + j] = o;
        c[j] = cj;
        c_act[j] = a;
        h[j] = o * a;
    }
}

// With dc the gradient reaching c_t from step t + 1 (it leaves as that of
// c_{t-1}) and dh that of o act(c_t): the gradients of the four gate sums.
template <class T, Activation A>
void cell_backward(std::int64_t n, const T* __restrict g, const T* __restrict c_prev,
                   const T* __restrict c_act, const T* __restrict dh, T* __restrict dc,
                   T* __restrict dg) {
    for (std::int64_t j = 0; j < n; ++j) {
        T i = g[j], f = g[n + j], cand = g[2 * n + j], o = g[3 * n + j], a = c_act[j];
        T dcj = dc[j] + dh[j] * o * fused::slope<A>(a);
        dg[j] = dcj * cand * i * (T(1) - i);
        dg[n + j] = dcj * c_prev[j] * f * (T(1) - f);
        dg[2 * n + j] = dcj * i * fused::slope<A>(cand);
        dg[3 * n + j] = dh[j] * a * o * (T(1) - o);
        dc[j] = dcj * f;
    }
}

// All input projections in one GEMM, then per step one GEMM for W_hh h_{t-1}
// (plus one for w_hr) and one pass over the gates.
template <class T, Activation A>
void forward(const Sizes& z, const Tensor& x, const Tensor& h0, const Tensor& c0,
             const SequenceWeights& w, LstmSaved& saved, Tensor& y, Tensor& h_n, Tensor& c_n) {
    const Steps& st = z.steps;
    const std::int64_t n = z.hidden, gw = 4 * n, batch = st.batch, last = st.time(st.steps - 1);
    const bool projected = w.w_hr.defined();
    Rows<T> gates{saved.gates.mutable_data<T>(), gw};
    Rows<T> cells{saved.cells.mutable_data<T>(), n};
    Rows<T> act{saved.cell_act.mutable_data<T>(), n};
    Rows<T> hin{saved.hidden_in.mutable_data<T>(), z.state};
    Rows<T> out{y.mutable_data<T>(), z.state};
    Rows<T> raw = projected ? Rows<T>{saved.unprojected.mutable_data<T>(), n} : out;
    Tensor bias_sum = fused::bias_sum<T>(w.b_ih, w.b_hh, 0, gw);
    const T* bias = bias_sum.data<T>();
    Tensor zero_cell = c0.defined() ? c0 : zeros(z.cell_shape, z.dtype);
    const T* c_first = zero_cell.data<T>();
    const T* w_hh = w.w_hh.data<T>();

    fused::gemm(false, true, st.rows(), gw, z.input, x.data<T>(), z.input, w.w_ih.data<T>(),
                z.input, T(0), gates.data, gw);
    fused::put_step(st, hin, st.time(0), fused::data_or_null<T>(h0));
    for (std::int64_t s = 0; s < st.steps; ++s) {
        const std::int64_t t = st.time(s);
        fused::gemm(false, true, batch, gw, z.state, hin.step(st, t), hin.ld(st), w_hh, z.state,
                    T(1), gates.step(st, t), gates.ld(st));
        fused::widest([&] {
            for (std::int64_t b = 0; b < batch; ++b) {
                const T* c_prev = s == 0 ? c_first + b * n : cells.at(st, st.time(s - 1), b);
                cell_forward<T, A>(n, gates.at(st, t, b), bias, c_prev, cells.at(st, t, b),
                                   act.at(st, t, b), raw.at(st, t, b));
            }
        });
        if (projected)
            fused::gemm(false, true, batch, z.state, n, raw.step(st, t), raw.ld(st),
                        w.w_hr.data<T>(), n, T(0), out.step(st, t), out.ld(st));
        if (s + 1 < st.steps) fused::copy_step(st, out, t, hin, st.time(s + 1));
    }
    fused::take_step(st, out, last, h_n.mutable_data<T>());
    fused::take_step(st, cells, last, c_n.mutable_data<T>());
}

// Per step, backwards: the gate gradients in one pass and dh_{t-1} in one
// GEMM; then every weight gradient in one GEMM over all steps.
template <class T, Activation A>
void backward(const Sizes& z, const Tensor& x, const Tensor& c0, const SequenceWeights& w,
              const LstmSaved& saved, std::span<const Tensor> dys, Grads& dx) {
    const Steps& st = z.steps;
    const std::int64_t n = z.hidden, gw = 4 * n, batch = st.batch, rows = st.rows();
    const bool projected = w.w_hr.defined();
    Rows<const T> gates{saved.gates.data<T>(), gw};
    Rows<const T> cells{saved.cells.data<T>(), n};
    Rows<const T> act{saved.cell_act.data<T>(), n};
    Rows<const T> dout{dys[0].data<T>(), z.state};
    Tensor dgates_t = Tensor::empty({rows, gw}, z.dtype);
    Rows<T> dgates{dgates_t.mutable_data<T>(), gw};
    // dh: the gradient reaching h_t from step t + 1 (at the start, h_n's);
    // dh_all: h_t's whole gradient per step, which w_hr's gradient needs.
    Tensor dh_t = dys[1].clone(), dc_t = dys[2].clone();
    T* dh = dh_t.mutable_data<T>();
    T* dc = dc_t.mutable_data<T>();
    Tensor dh_all_t = projected ? Tensor::empty({rows, z.state}, z.dtype) : Tensor();
    Tensor dm_t = projected ? Tensor::empty({batch, n}, z.dtype) : Tensor();
    Rows<T> dh_all{projected ? dh_all_t.mutable_data<T>() : nullptr, z.state};
    Tensor zero_cell = c0.defined() ? c0 : zeros(z.cell_shape, z.dtype);
    const T* c_first = zero_cell.data<T>();
    const T* w_hh = w.w_hh.data<T>();

    for (std::int64_t s = st.steps - 1; s >= 0; --s) {
        const std::int64_t t = st.time(s);
        for (std::int64_t b = 0; b < batch; ++b) {
            const T* __restrict from_output = dout.at(st, t, b);
            const T* from_next = dh + b * z.state;
            T* total = projected ? dh_all.at(st, t, b) : dh + b * z.state;
            for (std::int64_t j = 0; j < z.state; ++j) total[j] = from_output[j] + from_next[j];
        }
        // The gradient of o act(c_t), before the projection if there is one.
        const T* dm = dh;
        if (projected) {
            T* pm = dm_t.mutable_data<T>();
            fused::gemm(false, false, batch, n, z.state, dh_all.step(st, t), dh_all.ld(st),
                        w.w_hr.data<T>(), n, T(0), pm, n);
            dm = pm;
        }
        fused::widest([&] {
            for (std::int64_t b = 0; b < batch; ++b) {
                const T* c_prev = s == 0 ? c_first + b * n : cells.at(st, st.time(s - 1), b);
                cell_backward<T, A>(n, gates.at(st, t, b), c_prev, act.at(st, t, b), dm + b * n,
                                    dc + b * n, dgates.at(st, t, b));
            }
        });
        fused::gemm(false, false, batch, z.state, gw, dgates.step(st, t), dgates.ld(st), w_hh,
                    z.state, T(0), dh, z.state);
    }

    const T* dg = dgates.data;
    if (z.wants(dx, fused::h0_in)) z.give(dx, fused::h0_in, dh_t);
    if (z.wants(dx, fused::c0_in)) z.give(dx, fused::c0_in, dc_t);
    if (z.wants(dx, fused::x_in)) {
        Tensor g = Tensor::empty(x.shape(), z.dtype);
        fused::gemm(false, false, rows, z.input, gw, dg, gw, w.w_ih.data<T>(), z.input, T(0),
                    g.mutable_data<T>(), z.input);
        z.give(dx, fused::x_in, g);
    }
    if (z.wants(dx, fused::w_ih_in)) {
        Tensor g = Tensor::empty(w.w_ih.shape(), z.dtype);
        fused::gemm(true, false, gw, z.input, rows, dg, gw, x.data<T>(), z.input, T(0),
                    g.mutable_data<T>(), z.input);
        z.give(dx, fused::w_ih_in, g);
    }
    if (z.wants(dx, fused::w_hh_in)) {
        Tensor g = Tensor::empty(w.w_hh.shape(), z.dtype);
        fused::gemm(true, false, gw, z.state, rows, dg, gw, saved.hidden_in.data<T>(), z.state,
                    T(0), g.mutable_data<T>(), z.state);
        z.give(dx, fused::w_hh_in, g);
    }
    if (z.wants(dx, fused::w_hr_in)) {
        Tensor g = Tensor::empty(w.w_hr.shape(), z.dtype);
        fused::gemm(true, false, z.state, n, rows, dh_all.data, z.state,
                    saved.unprojected.data<T>(), n, T(0), g.mutable_data<T>(), n);
        z.give(dx, fused::w_hr_in, g);
    }
    if (z.wants(dx, fused::b_ih_in) || z.wants(dx, fused::b_hh_in)) {
        Tensor g = fused::column_sums(dg, rows, gw);
        if (z.wants(dx, fused::b_ih_in)) z.give(dx, fused::b_ih_in, g);
        if (z.wants(dx, fused::b_hh_in)) z.give(dx, fused::b_hh_in, g);
    }
}

}  // namespace

// c_t = f c_{t-1} + i g, h_t = o act(c_t) (projected by w_hr); backward
// runs the same recurrence in reverse for dh and dc.
std::vector<Tensor> lstm_sequence(const Tensor& x, const Tensor& h0, const Tensor& c0,
                                  const SequenceWeights& w, SequenceOptions options) {
    fused::Checked checked = fused::check_sequence("lstm_sequence", 4, x, h0, &c0, w, options);
    const Sizes& z = checked.sizes;
    const std::int64_t rows = z.steps.rows(), n = z.hidden;
    LstmSaved saved{Tensor::empty({rows, 4 * n}, z.dtype), Tensor::empty({rows, n}, z.dtype),
                    Tensor::empty({rows, n}, z.dtype), Tensor::empty({rows, z.state}, z.dtype),
                    w.w_hr.defined() ? Tensor::empty({rows, n}, z.dtype) : Tensor()};
    Tensor y = Tensor::empty(z.output_shape, z.dtype);
    Tensor h_n = Tensor::empty(z.state_shape, z.dtype), c_n = Tensor::empty(z.cell_shape, z.dtype);
    fused::dispatch_kernel(z.dtype, options.activation, [&]<class T, Activation A>() {
        forward<T, A>(z, x, h0, c0, w, saved, y, h_n, c_n);
    });
    const Activation a = options.activation;
    return record("lstm_sequence", std::move(checked.inputs), {y, h_n, c_n},
                  [z, x, c0, w, saved, a](std::span<const Tensor> dys, Grads& dx) {
                      fused::dispatch_kernel(z.dtype, a, [&]<class T, Activation A>() {
                          backward<T, A>(z, x, c0, w, saved, dys, dx);
                      });
                  });
}

}  // namespace tg
