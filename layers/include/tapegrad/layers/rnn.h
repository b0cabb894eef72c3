#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapegrad/core/call_site.h>
#include <tapegrad/layers/module.h>
#include <tapegrad/ops/fused_recurrent.h>
#include <tapegrad/ops/recurrent.h>

namespace tg {

// Multi-layer recurrent layers as torch.nn.RNN / LSTM / GRU, each layer and
// direction one fused whole-sequence op (ops/fused_recurrent.h). Input
// [T, B, input_size], batch_first [B, T, input_size], or unbatched
// [T, input_size]; the initial state is
// [num_directions * num_layers, B, H] ([num_directions * num_layers, H]
// unbatched) or undefined for zeros. The output holds the last layer's h at
// every step, forward direction then reverse on the feature dimension:
// [T, B, num_directions * H]; h_n (and c_n) the final state of every layer
// and direction, in the initial state's layout. forward's site (the caller's
// line by default) is what anomaly reports and tape graphs name for every op
// the layer records, "(through 'LSTM')".

struct RNNOptions {
    std::int64_t input_size;
    std::int64_t hidden_size;
    std::int64_t num_layers = 1;
    std::string nonlinearity = "tanh";  // or "relu"
    bool bias = true;
    bool batch_first = false;
    double dropout = 0.0;  // on each layer's output but the last, in training mode
    bool bidirectional = false;
};

struct LSTMOptions {
    std::int64_t input_size;
    std::int64_t hidden_size;
    std::int64_t num_layers = 1;
    bool bias = true;
    bool batch_first = false;
    double dropout = 0.0;
    bool bidirectional = false;
    std::int64_t proj_size = 0;  // > 0: h = W_hr (o * tanh(c)), with proj_size features
};

struct GRUOptions {
    std::int64_t input_size;
    std::int64_t hidden_size;
    std::int64_t num_layers = 1;
    bool bias = true;
    bool batch_first = false;
    double dropout = 0.0;
    bool bidirectional = false;
};

struct RNNOutput {
    Tensor output;
    Tensor h_n;
};

struct LSTMOutput {
    Tensor output;
    Tensor h_n;
    Tensor c_n;
};

// The parameters of one layer and direction (registered as weight_ih_l0,
// weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_hr_l0, with "_reverse" for
// the reverse direction). Absent ones are undefined.
struct RecurrentWeights {
    Tensor weight_ih;  // [gates * hidden_size, layer input]
    Tensor weight_hh;  // [gates * hidden_size, hidden_size or proj_size]
    Tensor bias_ih;    // [gates * hidden_size]
    Tensor bias_hh;    // [gates * hidden_size]
    Tensor weight_hr;  // [proj_size, hidden_size] (LSTM with proj_size)
};

// What RNN, LSTM and GRU share: parameters for every layer and direction,
// the input checks, and the loop over layers and directions.
class RecurrentBase : public Module {
public:
    // Index layer * num_directions() + direction.
    std::vector<RecurrentWeights> weights;
    std::int64_t num_directions() const { return config_.bidirectional ? 2 : 1; }

protected:
    struct Config {
        const char* name;  // "RNN", "LSTM", "GRU": named in error messages
        std::int64_t gates;
        std::int64_t input_size, hidden_size, num_layers;
        bool bias, batch_first;
        double dropout;
        bool bidirectional;
        std::int64_t proj_size;
    };
    explicit RecurrentBase(Config config);

    // One layer and direction over the whole sequence x (the layer's input
    // layout): {output, h_n (, c_n)} from the initial states ({h} or {h, c},
    // undefined for zeros).
    virtual std::vector<Tensor> sequence(const Tensor& x, const std::vector<Tensor>& state,
                                         const RecurrentWeights& w,
                                         SequenceOptions sequence_options) const = 0;

    // Runs the whole sequence. initial holds h0 (and c0), each possibly
    // undefined; returns {output, h_n (, c_n)}.
    std::vector<Tensor> run(const Tensor& x, const std::vector<Tensor>& initial) const;

private:
    std::vector<std::int64_t> state_sizes(std::size_t count) const;
    void check(const Tensor& x, const std::vector<Tensor>& initial) const;

    Config config_;
};

class RNN : public RecurrentBase {
public:
    explicit RNN(RNNOptions options);
    RNNOutput forward(const Tensor& x, const Tensor& h0 = {},
                      CallSite site = CallSite::current()) const;
    RNNOutput operator()(const Tensor& x, const Tensor& h0 = {},
                         CallSite site = CallSite::current()) const {
        return forward(x, h0, site);
    }

    RNNOptions options;

protected:
    std::vector<Tensor> sequence(const Tensor& x, const std::vector<Tensor>& state,
                                 const RecurrentWeights& w,
                                 SequenceOptions sequence_options) const override;
};

class LSTM : public RecurrentBase {
public:
    explicit LSTM(LSTMOptions options);
    // state.h and state.c are both given or both undefined (zeros).
    LSTMOutput forward(const Tensor& x, const LSTMState& state = {},
                       CallSite site = CallSite::current()) const;
    LSTMOutput operator()(const Tensor& x, const LSTMState& state = {},
                          CallSite site = CallSite::current()) const {
        return forward(x, state, site);
    }

    LSTMOptions options;

protected:
    std::vector<Tensor> sequence(const Tensor& x, const std::vector<Tensor>& state,
                                 const RecurrentWeights& w,
                                 SequenceOptions sequence_options) const override;
};

class GRU : public RecurrentBase {
public:
    explicit GRU(GRUOptions options);
    RNNOutput forward(const Tensor& x, const Tensor& h0 = {},
                      CallSite site = CallSite::current()) const;
    RNNOutput operator()(const Tensor& x, const Tensor& h0 = {},
                         CallSite site = CallSite::current()) const {
        return forward(x, h0, site);
    }

    GRUOptions options;

protected:
    std::vector<Tensor> sequence(const Tensor& x, const std::vector<Tensor>& state,
                                 const RecurrentWeights& w,
                                 SequenceOptions sequence_options) const override;
};

}  // namespace tg
