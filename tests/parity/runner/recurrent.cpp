#include <tapegrad/layers/cells.h>
#include <tapegrad/layers/rnn.h>

#include <algorithm>

#include "parity_case.h"

namespace parity {

namespace {

// A data tensor this runner would not use fails the case rather than being
// skipped (parameters are checked by the strict load_state_dict).
void check_known(const Case& c, std::initializer_list<const char*> known) {
    tg::StateDict params = c.parameters();
    for (const auto& [name, t] : c.tensors()) {
        if (name.starts_with("expected.") || params.count(name)) continue;
        if (std::none_of(known.begin(), known.end(), [&](const char* k) { return name == k; }))
            throw tg::ValueError(fmt::format("{}: module '{}' does not use tensor '{}'", c.path(),
                                             c.module(), name));
    }
}

// The case's tensor as a leaf that requires grad, or undefined when absent.
tg::Tensor leaf(const Case& c, const std::string& name) {
    tg::Tensor t = c.optional(name);
    if (t.defined()) t = t.detach().requires_grad_();
    return t;
}

void load(tg::Module& model, const Case& c) {
    model.to(c.dtype());
    model.load_state_dict(c.parameters());
}

Results collect(const tg::Module& model, Results r,
                const std::vector<std::pair<std::string, tg::Tensor>>& leaves) {
    add_grads(r, leaves);
    add_grads(r, model.named_parameters());
    return r;
}

// RNN and GRU: same options but for the nonlinearity, same outputs.
template <class Layer, class Options>
Results run_layer(const Case& c, Options options) {
    check_known(c, {"input", "h0", "grad_output", "grad_h_n"});
    Layer model(std::move(options));
    load(model, c);
    tg::Tensor input = c.tensor("input").detach().requires_grad_();
    tg::Tensor h0 = leaf(c, "h0");
    auto [output, h_n] = model(input, h0);
    weighted_sum(c, {{output, "grad_output"}, {h_n, "grad_h_n"}}).backward();
    return collect(model, {{"output", output}, {"h_n", h_n}}, {{"input", input}, {"h0", h0}});
}

Results run_rnn(const Case& c) {
    return run_layer<tg::RNN>(c, tg::RNNOptions{.input_size = c.integer("input_size"),
                                                .hidden_size = c.integer("hidden_size"),
                                                .num_layers = c.integer("num_layers", 1),
                                                .nonlinearity = c.text("nonlinearity", "tanh"),
                                                .bias = c.flag("bias", true),
                                                .batch_first = c.flag("batch_first", false),
                                                .bidirectional = c.flag("bidirectional", false)});
}

Results run_gru(const Case& c) {
    return run_layer<tg::GRU>(c, tg::GRUOptions{.input_size = c.integer("input_size"),
                                                .hidden_size = c.integer("hidden_size"),
                                                .num_layers = c.integer("num_layers", 1),
                                                .bias = c.flag("bias", true),
                                                .batch_first = c.flag("batch_first", false),
                                                .bidirectional = c.flag("bidirectional", false)});
}

Results run_lstm(const Case& c) {
    check_known(c, {"input", "h0", "c0", "grad_output", "grad_h_n", "grad_c_n"});
    tg::LSTM model({.input_size = c.integer("input_size"),
                    .hidden_size = c.integer("hidden_size"),
                    .num_layers = c.integer("num_layers", 1),
                    .bias = c.flag("bias", true),
                    .batch_first = c.flag("batch_first", false),
                    .bidirectional = c.flag("bidirectional", false),
                    .proj_size = c.integer("proj_size", 0)});
    load(model, c);
    tg::Tensor input = c.tensor("input").detach().requires_grad_();
    tg::Tensor h0 = leaf(c, "h0"), c0 = leaf(c, "c0");
    auto [output, h_n, c_n] = model(input, {h0, c0});
    weighted_sum(c, {{output, "grad_output"}, {h_n, "grad_h_n"}, {c_n, "grad_c_n"}}).backward();
    return collect(model, {{"output", output}, {"h_n", h_n}, {"c_n", c_n}},
                   {{"input", input}, {"h0", h0}, {"c0", c0}});
}

// RNNCell and GRUCell: h' = cell(input, hx).
template <class Cell, class Options>
Results run_cell(const Case& c, Options options) {
    check_known(c, {"input", "hx", "grad_output"});
    Cell model(std::move(options));
    load(model, c);
    tg::Tensor input = c.tensor("input").detach().requires_grad_();
    tg::Tensor hx = leaf(c, "hx");
    tg::Tensor output = model(input, hx);
    weighted_sum(c, {{output, "grad_output"}}).backward();
    return collect(model, {{"output", output}}, {{"input", input}, {"hx", hx}});
}

Results run_rnn_cell(const Case& c) {
    return run_cell<tg::RNNCell>(
        c, tg::RNNCellOptions{.input_size = c.integer("input_size"),
                              .hidden_size = c.integer("hidden_size"),
                              .bias = c.flag("bias", true),
                              .nonlinearity = c.text("nonlinearity", "tanh")});
}

Results run_gru_cell(const Case& c) {
    return run_cell<tg::GRUCell>(c, tg::GRUCellOptions{.input_size = c.integer("input_size"),
                                                       .hidden_size = c.integer("hidden_size"),
                                                       .bias = c.flag("bias", true)});
}

// The cell's h' is compared as "output" and its c' as "c_n" (gradient grad_c).
Results run_lstm_cell(const Case& c) {
    check_known(c, {"input", "hx", "cx", "grad_output", "grad_c"});
    tg::LSTMCell model({.input_size = c.integer("input_size"),
                        .hidden_size = c.integer("hidden_size"),
                        .bias = c.flag("bias", true)});
    load(model, c);
    tg::Tensor input = c.tensor("input").detach().requires_grad_();
    tg::Tensor hx = leaf(c, "hx"), cx = leaf(c, "cx");
    auto [h, cell] = model(input, {hx, cx});
    weighted_sum(c, {{h, "grad_output"}, {cell, "grad_c"}}).backward();
    return collect(model, {{"output", h}, {"c_n", cell}},
                   {{"input", input}, {"hx", hx}, {"cx", cx}});
}

}  // namespace

void add_recurrent_runners(std::map<std::string, Runner>& runners) {
    runners["rnn"] = run_rnn;
    runners["lstm"] = run_lstm;
    runners["gru"] = run_gru;
    runners["rnn_cell"] = run_rnn_cell;
    runners["lstm_cell"] = run_lstm_cell;
    runners["gru_cell"] = run_gru_cell;
}

}  // namespace parity
