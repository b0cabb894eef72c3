#pragma once

#include <string_view>
#include <vector>

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// One layer and one direction of a recurrent network over a whole sequence,
// as one op with one tape entry: the fast path of RNN, LSTM and GRU. The
// numbers are those of the reference cells (ops/recurrent.h) stepped over
// time, and so PyTorch's.
//
// x is [seq_len, batch, input_size], [batch, seq_len, input_size] with
// batch_first, or unbatched [seq_len, input_size]; the output has x's layout
// with the state's features last. States (h0, c0, h_n, c_n) are [batch,
// features] ([features] unbatched); an undefined h0 or c0 means zeros.
// Shapes and dtypes are checked before anything is computed: a mismatch is a
// ShapeError or DTypeError naming the op and the shapes.

// The candidate (and LSTM cell) nonlinearity; the gates always use sigmoid.
// PyTorch uses tanh (RNN also relu); Keras allows all four.
enum class Activation { tanh, relu, sigmoid, identity };

// "tanh", "relu", "sigmoid", "linear" or "identity"; anything else is a ValueError naming op.
Activation activation_from_name(std::string_view name, const char* op);

struct SequenceOptions {
    bool reverse = false;      // read time backwards; the state after x[t] still lands at t
    bool batch_first = false;  // x [batch, seq_len, ...] (ignored for unbatched x)
    Activation activation = Activation::tanh;
};

// PyTorch's parameters of one layer and direction; biases and w_hr may be
// undefined.
struct SequenceWeights {
    Tensor w_ih;  // [gates * hidden, input_size]
    Tensor w_hh;  // [gates * hidden, state features]
    Tensor b_ih;  // [gates * hidden]
    Tensor b_hh;  // [gates * hidden]
    Tensor w_hr;  // LSTM only: [proj_size, hidden]; the state is then W_hr (o * act(c))
};

// h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). Returns {output, h_n}.
std::vector<Tensor> rnn_sequence(const Tensor& x, const Tensor& h0, const SequenceWeights& w,
                                 SequenceOptions options = {});

// Gates i, f, g, o; c_t = f c_{t-1} + i g, h_t = o act(c_t), projected by
// w_hr when given. Returns {output, h_n, c_n}.
std::vector<Tensor> lstm_sequence(const Tensor& x, const Tensor& h0, const Tensor& c0,
                                  const SequenceWeights& w, SequenceOptions options = {});

// Gates r, z, n with n = act(W_in x + b_in + r (W_hn h + b_hn)) and
// h_t = (1 - z) n + z h_{t-1}. Returns {output, h_n}.
std::vector<Tensor> gru_sequence(const Tensor& x, const Tensor& h0, const SequenceWeights& w,
                                 SequenceOptions options = {});

}  // namespace tg
