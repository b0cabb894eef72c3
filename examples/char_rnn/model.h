#pragma once

// The network: embedding -> recurrent layers -> linear over the vocabulary,
// PyTorch's word_language_model RNNModel with characters for words. The
// submodules carry its names (encoder, rnn, decoder), so a state_dict
// loads into that PyTorch model as it is.

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <tapegrad/tapegrad.h>

#include "corpus.h"

namespace char_rnn {

struct ModelOptions {
    std::int64_t vocabulary_size;
    std::string cell = "lstm";  // or "gru", "rnn" (tanh)
    std::int64_t embed = 32;
    std::int64_t hidden = 128;
    std::int64_t layers = 1;
    double dropout = 0.0;  // on the embeddings, between layers, and on the last layer's output
};

// What one window hands to the next: h, and c for an LSTM;
// each [layers, batch, hidden].
struct State {
    tg::Tensor h;
    tg::Tensor c;

    // The same values without their history, so backward stops at the
    // window's start: truncated backpropagation through time.
    State detach() const { return {h.detach(), c.defined() ? c.detach() : tg::Tensor{}}; }
};

class CharRNN : public tg::Module {
public:
    explicit CharRNN(ModelOptions o)
        : options(o),
          encoder({.num_embeddings = o.vocabulary_size, .embedding_dim = o.embed}),
          lstm(make<tg::LSTM>("lstm")),
          gru(make<tg::GRU>("gru")),
          rnn(make<tg::RNN>("rnn")),
          decoder({.in_features = o.hidden, .out_features = o.vocabulary_size}) {
        if (!lstm && !gru && !rnn)
            throw tg::ValueError(
                fmt::format("char_rnn: cell must be lstm, gru or rnn, got '{}'", o.cell));
        register_module("encoder", encoder);
        if (lstm) register_module("rnn", *lstm);
        if (gru) register_module("rnn", *gru);
        if (rnn) register_module("rnn", *rnn);
        register_module("decoder", decoder);
    }

    State initial_state(std::int64_t batch) const {
        tg::Shape shape{options.layers, batch, options.hidden};
        return {tg::zeros(shape), lstm ? tg::zeros(shape) : tg::Tensor{}};
    }

    // ids [T, B] -> logits [T * B, vocabulary_size], and the state after step T.
    std::pair<tg::Tensor, State> forward(const tg::Tensor& ids, const State& state) const {
        tg::Tensor x = tg::dropout(encoder(ids), options.dropout, is_training());  // [T, B, embed]
        auto [y, next] = recurrent(x, state);                                      // [T, B, hidden]
        y = tg::dropout(y, options.dropout, is_training());
        return {decoder(y.reshape({-1, options.hidden})), next};
    }

    ModelOptions options;
    tg::Embedding encoder;  // [vocabulary_size, embed], N(0, 1) as in PyTorch
    // Exactly one of the three is set, by options.cell (PyTorch's
    // getattr(nn, rnn_type)); all are registered as "rnn".
    std::unique_ptr<tg::LSTM> lstm;
    std::unique_ptr<tg::GRU> gru;
    std::unique_ptr<tg::RNN> rnn;
    tg::Linear decoder;

private:
    template <class Layer>
    std::unique_ptr<Layer> make(const char* cell) const {
        if (options.cell != cell) return nullptr;
        return std::make_unique<Layer>(
            decltype(Layer::options){.input_size = options.embed,
                                     .hidden_size = options.hidden,
                                     .num_layers = options.layers,
                                     .dropout = options.layers > 1 ? options.dropout : 0.0});
    }

    std::pair<tg::Tensor, State> recurrent(const tg::Tensor& x, const State& state) const {
        if (lstm) {
            tg::LSTMOutput out = (*lstm)(x, {state.h, state.c});
            return {out.output, {out.h_n, out.c_n}};
        }
        tg::RNNOutput out = gru ? (*gru)(x, state.h) : (*rnn)(x, state.h);
        return {out.output, {out.h_n, {}}};
    }
};

// Puts a module in evaluation mode (no dropout) for a scope, then back.
class EvalMode {
public:
    explicit EvalMode(tg::Module& m) : module_(m), was_training_(m.is_training()) { m.eval(); }
    ~EvalMode() { module_.train(was_training_); }
    EvalMode(const EvalMode&) = delete;
    EvalMode& operator=(const EvalMode&) = delete;

private:
    tg::Module& module_;
    bool was_training_;
};

// Draws characters one at a time from softmax(logits / temperature),
// feeding each back in, from BOS until EOS or max_length characters; returns
// the text between them. Temperature 0 takes the most likely character. The
// unknown entry is never drawn. A generator of its own keeps sampling from
// moving the training's random stream.
inline std::u32string sample(CharRNN& model, const Vocabulary& vocabulary, double temperature,
                             std::int64_t max_length, tg::Generator& generator) {
    if (!(temperature >= 0))
        throw tg::ValueError(
            fmt::format("char_rnn: temperature must be >= 0, got {}", temperature));
    tg::NoGrad no_grad;
    EvalMode eval(model);
    State state = model.initial_state(1);
    std::int64_t id = vocabulary.id(kBos);
    const std::int64_t eos = vocabulary.id(kEos);
    std::u32string text;
    while (static_cast<std::int64_t>(text.size()) < max_length) {
        tg::Tensor input = tg::full({1, 1}, static_cast<double>(id), tg::DType::i64);
        auto [logits, next] = model.forward(input, state);
        state = next;
        std::vector<double> p = logits.to_vector<double>();
        p.back() = -std::numeric_limits<double>::infinity();  // the unknown entry
        const double top = *std::max_element(p.begin(), p.end());
        if (temperature == 0) {
            id = std::max_element(p.begin(), p.end()) - p.begin();
        } else {
            double total = 0;
            for (double& v : p) total += v = std::exp((v - top) / temperature);
            double u = generator.uniform() * total;
            id = 0;
            while (id + 1 < vocabulary.unknown() && u >= p[static_cast<std::size_t>(id)])
                u -= p[static_cast<std::size_t>(id++)];
        }
        if (id == eos) break;
        text += vocabulary.character(id);
    }
    return text;
}

}  // namespace char_rnn
