#pragma once

// The Keras flavour, for people coming from Keras: SimpleRNN, LSTM, GRU and
// Dense with Keras's options, parameter names, shapes, gate order and
// initialisers, and a Sequential that builds them from an input_shape and
// prints Keras's model.summary().
//
//     tg::keras::Sequential model({
//         tg::keras::SimpleRNN({.units = 5, .return_sequences = true}),
//         tg::keras::SimpleRNN({.units = 3}),
//         tg::keras::Dense({.units = 10}),
//     }, /*input_shape=*/{10, 8});
//     model.summary();  // 70, 27, 40 -> Total params: 137
//
// Inputs are batch-major as in Keras: [batch, time, features] for the
// recurrent layers, [batch, ..., features] for Dense. Parameters are
// `kernel` [in, units * gates], `recurrent_kernel` [units, units * gates] and
// `bias` [units * gates] (GRU: [2, 3 * units], reset_after=True as in
// Keras 2); gates in Keras's order (LSTM i, f, c, o; GRU z, r, h).

#include <memory>
#include <string>
#include <vector>

#include <tapegrad/core/call_site.h>
#include <tapegrad/layers/module.h>
#include <tapegrad/ops/fused_recurrent.h>

namespace tg::keras {

// A Keras layer: a Module whose parameters exist only once it is built for
// an input shape (Keras's build()).
class Layer : public Module {
public:
    virtual std::string type() const = 0;       // "SimpleRNN": the class in summary()
    virtual std::string base_name() const = 0;  // "simple_rnn": the name in summary()

    // Creates the parameters for inputs of input_shape, without the batch
    // dimension ([time, features] for the recurrent layers). Once only.
    void build(const Shape& input_shape);
    bool built() const { return built_; }
    // The output shape for input_shape, both without the batch dimension.
    virtual Shape output_shape(const Shape& input_shape) const = 0;

    // The layer's (main) output for x; the layer must be built.
    virtual Tensor forward(const Tensor& x) const = 0;
    // As Keras's layer(x): builds from x's shape on the first call, then
    // forward. The ops it records report site, the caller's line by default.
    Tensor operator()(const Tensor& x, CallSite site = CallSite::current());

    // A new, unbuilt layer with the same configuration.
    virtual std::unique_ptr<Layer> clone_config() const = 0;

protected:
    virtual void create(const Shape& input_shape) = 0;
    void check_built(const char* what) const;

private:
    bool built_ = false;
};

// Keras's activations by name: "tanh", "relu", "sigmoid", "linear" (identity).
Tensor activation(const Tensor& x, const std::string& name);

// keras.layers.SimpleRNN / LSTM / GRU options. LSTM and GRU use sigmoid for
// their gates (Keras's recurrent_activation default).
struct RecurrentOptions {
    std::int64_t units;
    std::string activation = "tanh";
    bool use_bias = true;
    bool return_sequences = false;  // [batch, time, units] rather than the last step
    bool return_state = false;      // call() also returns the final state(s)
    bool go_backwards = false;      // read time backwards (the sequence comes out reversed)
};

// What SimpleRNN, LSTM and GRU share: parameters, the checks, the outputs.
// The time loop is the fused whole-sequence op of the PyTorch layers, fed
// Keras's parameters in PyTorch's layout.
class Recurrent : public Layer {
public:
    // Keras's outputs: {output} or, with return_state, {output, h} ({output,
    // h, c} for LSTM). initial_state: empty for zeros, else {h} ({h, c}),
    // each [batch, units].
    std::vector<Tensor> call(const Tensor& x, const std::vector<Tensor>& initial_state = {}) const;
    // The output alone (call(x)[0]).
    Tensor forward(const Tensor& x) const override;
    Shape output_shape(const Shape& input_shape) const override;

    RecurrentOptions options;
    Tensor kernel;            // [features, units * gates]
    Tensor recurrent_kernel;  // [units, units * gates]
    Tensor bias;              // [units * gates] (GRU [2, 3 * units]); undefined without bias

protected:
    Recurrent(RecurrentOptions options, std::int64_t gates, std::size_t states);
    void create(const Shape& input_shape) override;
    // Keras's bias init: zeros [units * gates] (LSTM and GRU override).
    virtual Tensor initial_bias() const;
    // The whole sequence x [batch, time, features] in the fused op:
    // {output, h_n (, c_n)}, the output in x's time order. state is empty
    // for zeros.
    virtual std::vector<Tensor> sequence(const Tensor& x, const std::vector<Tensor>& state,
                                         SequenceOptions sequence_options) const = 0;

    std::int64_t gates_;
    std::size_t states_;  // 1 (h) or 2 (h, c)
};

// h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias).
class SimpleRNN : public Recurrent {
public:
    explicit SimpleRNN(RecurrentOptions options);
    std::string type() const override { return "SimpleRNN"; }
    std::string base_name() const override { return "simple_rnn"; }
    std::unique_ptr<Layer> clone_config() const override;

protected:
    std::vector<Tensor> sequence(const Tensor& x, const std::vector<Tensor>& state,
                                 SequenceOptions sequence_options) const override;
};

// z = x kernel + h recurrent_kernel + bias split into i, f, c, o;
// c' = sig(f) c + sig(i) act(c~), h' = sig(o) act(c'). The forget-gate bias
// starts at 1 (unit_forget_bias).
class LSTM : public Recurrent {
public:
    explicit LSTM(RecurrentOptions options);
    std::string type() const override { return "LSTM"; }
    std::string base_name() const override { return "lstm"; }
    std::unique_ptr<Layer> clone_config() const override;

protected:
    Tensor initial_bias() const override;
    std::vector<Tensor> sequence(const Tensor& x, const std::vector<Tensor>& state,
                                 SequenceOptions sequence_options) const override;
};

// reset_after=True (Keras 2's default): bias[0] is the input bias, bias[1]
// the recurrent one; z = sig(x_z + h_z), r = sig(x_r + h_r),
// hh = act(x_h + r * h_h) where h_* = (h recurrent_kernel + bias[1]) parts,
// h' = z h + (1 - z) hh.
class GRU : public Recurrent {
public:
    explicit GRU(RecurrentOptions options);
    std::string type() const override { return "GRU"; }
    std::string base_name() const override { return "gru"; }
    std::unique_ptr<Layer> clone_config() const override;

protected:
    Tensor initial_bias() const override;
    std::vector<Tensor> sequence(const Tensor& x, const std::vector<Tensor>& state,
                                 SequenceOptions sequence_options) const override;
};

struct DenseOptions {
    std::int64_t units;
    std::string activation = "linear";
    bool use_bias = true;
};

// y = activation(x kernel + bias) over the last dimension.
class Dense : public Layer {
public:
    explicit Dense(DenseOptions options);
    std::string type() const override { return "Dense"; }
    std::string base_name() const override { return "dense"; }
    Shape output_shape(const Shape& input_shape) const override;
    Tensor forward(const Tensor& x) const override;
    std::unique_ptr<Layer> clone_config() const override;

    DenseOptions options;
    Tensor kernel;  // [features, units]
    Tensor bias;    // [units]; undefined without bias

protected:
    void create(const Shape& input_shape) override;
};

// Keras's initialisers, drawn from tg::default_generator in float64.
// glorot_uniform: U(+-sqrt(6 / (fan_in + fan_out))) with fan_in = shape[0],
// fan_out = shape[1]. orthogonal: rows (or columns, whichever are fewer)
// orthonormal, from the QR decomposition of a normal matrix with R's
// diagonal made positive.
Tensor glorot_uniform(const Shape& shape, DType dtype = DType::f32);
Tensor orthogonal(const Shape& shape, DType dtype = DType::f32);

// An unbuilt layer handed to Sequential, which builds its own copy.
struct LayerArg {
    LayerArg(const Layer& l) : layer(&l) {}  // NOLINT: implicit on purpose
    const Layer* layer;
};

// keras.Sequential with an input_shape: builds each layer in turn, so the
// parameters exist at once. Layers are registered under their index
// ("0.kernel", "1.recurrent_kernel", "2.bias"); summary() names them as
// Keras does, counting per type within this model (simple_rnn,
// simple_rnn_1, dense).
class Sequential : public Module {
public:
    // input_shape without the batch dimension, e.g. {time, features}. A
    // recurrent layer with return_state is an error (as in Keras).
    Sequential(std::initializer_list<LayerArg> layers, Shape input_shape);

    // x [batch, input_shape...] -> the last layer's output. The ops it
    // records report site, the caller's line by default.
    Tensor forward(const Tensor& x, CallSite site = CallSite::current()) const;
    Tensor operator()(const Tensor& x, CallSite site = CallSite::current()) const {
        return forward(x, site);
    }

    // Prints Keras 2's model.summary() table (TF 2.11 layout); summary_text()
    // returns it.
    void summary() const;
    std::string summary_text() const;

    std::size_t size() const { return layers_.size(); }
    Layer& operator[](std::size_t i) const { return *layers_.at(i); }
    const Shape& input_shape() const { return input_shape_; }

    std::string name = "sequential";

private:
    std::vector<std::unique_ptr<Layer>> layers_;
    std::vector<std::string> names_;    // Keras-style layer names
    std::vector<Shape> output_shapes_;  // without the batch dimension
    Shape input_shape_;
};

}  // namespace tg::keras
