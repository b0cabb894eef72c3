#include <tapegrad/layers/linear.h>
#include <tapegrad/layers/rnn.h>

#include <memory>
#include <sstream>

#include "parity_case.h"

namespace parity {

namespace {

// One entry of the `layers` metadata: rnn:IN:OUT:seq|last, lstm:..., gru:...,
// linear:IN:OUT.
struct Spec {
    std::string kind;
    std::int64_t in = 0, out = 0;
    bool last = false;  // recurrent: keep only the last time step
};

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::stringstream stream(text);
    for (std::string part; std::getline(stream, part, sep);) parts.push_back(part);
    return parts;
}

Spec parse(const Case& c, const std::string& text) {
    auto bad = [&] {
        return tg::ValueError(
            fmt::format("{}: bad layer spec '{}' (expected rnn|lstm|gru:IN:OUT:"
                        "seq|last or linear:IN:OUT)",
                        c.path(), text));
    };
    std::vector<std::string> f = split(text, ':');
    if (f.size() < 3) throw bad();
    Spec s{f[0]};
    try {
        s.in = std::stoll(f[1]);
        s.out = std::stoll(f[2]);
    } catch (const std::exception&) {
        throw bad();
    }
    bool recurrent = s.kind == "rnn" || s.kind == "lstm" || s.kind == "gru";
    if (s.kind == "linear" ? f.size() != 3 : !recurrent || f.size() != 4) throw bad();
    if (recurrent) {
        if (f[3] != "seq" && f[3] != "last") throw bad();
        s.last = f[3] == "last";
    }
    return s;
}

// The PyTorch stack: layers registered as "0", "1", ... so that parameters
// are named "0.weight_ih_l0", "2.weight" as in the case.
class Stack : public tg::Module {
public:
    Stack(const Case& c, std::vector<Spec> specs) : specs_(std::move(specs)) {
        for (std::size_t i = 0; i < specs_.size(); ++i) {
            const Spec& s = specs_[i];
            std::unique_ptr<tg::Module> layer;
            if (s.kind == "linear")
                layer = std::make_unique<tg::Linear>(
                    tg::LinearOptions{.in_features = s.in, .out_features = s.out});
            else if (s.kind == "rnn")
                layer = std::make_unique<tg::RNN>(
                    tg::RNNOptions{.input_size = s.in, .hidden_size = s.out, .batch_first = true});
            else if (s.kind == "lstm")
                layer = std::make_unique<tg::LSTM>(
                    tg::LSTMOptions{.input_size = s.in, .hidden_size = s.out, .batch_first = true});
            else
                layer = std::make_unique<tg::GRU>(
                    tg::GRUOptions{.input_size = s.in, .hidden_size = s.out, .batch_first = true});
            register_module(std::to_string(i), *layer);
            layers_.push_back(std::move(layer));
        }
        if (layers_.empty())
            throw tg::ValueError(fmt::format("{}: 'layers' lists no layer", c.path()));
    }

    tg::Tensor forward(tg::Tensor x) const {
        for (std::size_t i = 0; i < specs_.size(); ++i) {
            const tg::Module* m = layers_[i].get();
            if (auto* linear = dynamic_cast<const tg::Linear*>(m)) {
                x = (*linear)(x);
                continue;
            }
            if (auto* lstm = dynamic_cast<const tg::LSTM*>(m))
                x = (*lstm)(x).output;
            else if (auto* rnn = dynamic_cast<const tg::RNN*>(m))
                x = (*rnn)(x).output;
            else
                x = (*dynamic_cast<const tg::GRU*>(m))(x).output;
            if (specs_[i].last) x = tg::select(x, 1, -1);  // [B, T, H] -> [B, H]
        }
        return x;
    }

private:
    std::vector<Spec> specs_;
    std::vector<std::unique_ptr<tg::Module>> layers_;
};

Results run_sequential(const Case& c) {
    const tg::StateDict params = c.parameters();
    for (const auto& [name, t] : c.tensors()) {
        bool data = name.starts_with("expected.") || params.count(name);
        if (!data && name != "input" && name != "grad_output")
            throw tg::ValueError(
                fmt::format("{}: module 'sequential' does not use tensor '{}'", c.path(), name));
    }
    std::vector<Spec> specs;
    for (const std::string& text : split(c.text("layers"), ',')) specs.push_back(parse(c, text));
    Stack model(c, specs);
    model.to(c.dtype());
    model.load_state_dict(params);
    tg::Tensor input = c.tensor("input").detach().requires_grad_();
    tg::Tensor output = model.forward(input);
    weighted_sum(c, {{output, "grad_output"}}).backward();
    Results r{{"output", output}};
    add_grads(r, {{"input", input}});
    add_grads(r, model.named_parameters());
    return r;
}

}  // namespace

void add_sequential_runners(std::map<std::string, Runner>& runners) {
    runners["sequential"] = run_sequential;
}

}  // namespace parity
