#pragma once

#include <string_view>

#include <tapegrad/core/call_site.h>
#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// One time step of PyTorch's recurrent cells, composed of ops (the reference
// path). x is [batch, input_size] or unbatched [input_size]; the state has
// the same rank, with features last. w_ih is [gates * hidden, input_size],
// w_hh [gates * hidden, state features], b_ih and b_hh [gates * hidden] or
// undefined tensors (no bias). Shapes are checked before anything is
// computed; a mismatch is a ShapeError naming the cell and the shapes.
// The ops a cell records report site, the caller's line by default, as
// part of "rnn_cell" ("lstm_cell", "gru_cell").

// h' = act(W_ih x + b_ih + W_hh h + b_hh), act = "tanh" or "relu" (any other
// name is a ValueError).
Tensor rnn_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih = {}, const Tensor& b_hh = {},
                std::string_view nonlinearity = "tanh", CallSite site = CallSite::current());

// The state of an LSTM: hidden h and cell c.
struct LSTMState {
    Tensor h;
    Tensor c;
};

// Gates i, f, g, o (PyTorch's order) from W_ih x + b_ih + W_hh h + b_hh;
// c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c').
// h may have fewer features than c (an LSTM with proj_size reads its
// projected state): w_hh is then [4 * hidden, proj_size], and h' still has
// hidden features; the layer applies the projection.
LSTMState lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih,
                    const Tensor& w_hh, const Tensor& b_ih = {}, const Tensor& b_hh = {},
                    CallSite site = CallSite::current());

// Gates r, z, n: r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
// n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h.
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih = {}, const Tensor& b_hh = {},
                CallSite site = CallSite::current());

}  // namespace tg
