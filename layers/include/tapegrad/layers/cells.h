#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapegrad/core/call_site.h>
#include <tapegrad/layers/module.h>
#include <tapegrad/ops/recurrent.h>

namespace tg {

// One time step as torch.nn.RNNCell / LSTMCell / GRUCell: input [B, input_size]
// or unbatched [input_size]; the state has the input's rank with hidden_size
// features, and an undefined state means zeros. Parameters weight_ih
// [gates * hidden_size, input_size], weight_hh [gates * hidden_size,
// hidden_size], bias_ih and bias_hh [gates * hidden_size], all initialised
// from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). Every op a cell
// records reports forward's site (the caller's line by default).

struct RNNCellOptions {
    std::int64_t input_size;
    std::int64_t hidden_size;
    bool bias = true;
    std::string nonlinearity = "tanh";  // or "relu"
};

struct LSTMCellOptions {
    std::int64_t input_size;
    std::int64_t hidden_size;
    bool bias = true;
};

struct GRUCellOptions {
    std::int64_t input_size;
    std::int64_t hidden_size;
    bool bias = true;
};

// The parameters and input checks the three cells share.
class CellBase : public Module {
public:
    Tensor weight_ih;
    Tensor weight_hh;
    Tensor bias_ih;  // undefined without bias
    Tensor bias_hh;

protected:
    CellBase(const char* name, std::int64_t gates, std::int64_t input_size,
             std::int64_t hidden_size, bool bias);
    // Checks x and the states (undefined ones become zeros) and gives both a
    // batch dimension when x is unbatched.
    std::vector<Tensor> batched(const Tensor& x, const std::vector<Tensor>& states) const;
    // Drops the batch dimension batched() added for an unbatched x.
    Tensor unbatched(const Tensor& x, const Tensor& y) const;

private:
    const char* name_;
    std::int64_t input_size_, hidden_size_;
};

class RNNCell : public CellBase {
public:
    explicit RNNCell(RNNCellOptions options);
    Tensor forward(const Tensor& x, const Tensor& hx = {},
                   CallSite site = CallSite::current()) const;
    Tensor operator()(const Tensor& x, const Tensor& hx = {},
                      CallSite site = CallSite::current()) const {
        return forward(x, hx, site);
    }

    RNNCellOptions options;
};

class LSTMCell : public CellBase {
public:
    explicit LSTMCell(LSTMCellOptions options);
    // state.h and state.c are both given or both undefined (zeros).
    LSTMState forward(const Tensor& x, const LSTMState& state = {},
                      CallSite site = CallSite::current()) const;
    LSTMState operator()(const Tensor& x, const LSTMState& state = {},
                         CallSite site = CallSite::current()) const {
        return forward(x, state, site);
    }

    LSTMCellOptions options;
};

class GRUCell : public CellBase {
public:
    explicit GRUCell(GRUCellOptions options);
    Tensor forward(const Tensor& x, const Tensor& hx = {},
                   CallSite site = CallSite::current()) const;
    Tensor operator()(const Tensor& x, const Tensor& hx = {},
                      CallSite site = CallSite::current()) const {
        return forward(x, hx, site);
    }

    GRUCellOptions options;
};

}  // namespace tg
