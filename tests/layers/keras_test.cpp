#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>
#include <cstdlib>
#include <functional>

using namespace tg;

namespace {

std::vector<std::string> names(const Module& m) {
    std::vector<std::string> out;
    for (const auto& [name, p] : m.named_parameters()) out.push_back(name);
    return out;
}

double max_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    auto x = a.to_vector<double>(), y = b.to_vector<double>();
    double m = 0;
    for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
    return m;
}

// Non-zero values everywhere, so a wrongly mapped bias or gate shows.
void randomize(Module& m) {
    NoGrad no_grad;
    for (Tensor& p : m.parameters()) p.copy_(randn(p.shape(), p.dtype()) * 0.5);
}

// Keras's gate blocks (columns of a kernel, entries of a bias) in PyTorch's
// order: GRU z, r, h -> r, z, n; SimpleRNN and LSTM (i, f, c, o) already match.
Tensor torch_order(const Tensor& keras, bool gru, std::int64_t dim) {
    if (!gru) return keras;
    std::vector<Tensor> g = chunk(keras, 3, dim);
    return cat({g[1], g[0], g[2]}, dim);
}

// The PyTorch-layout state dict of a built Keras recurrent layer.
StateDict torch_weights(const keras::Recurrent& k, bool gru) {
    NoGrad no_grad;
    StateDict s;
    s["weight_ih_l0"] = t(torch_order(k.kernel, gru, 1));
    s["weight_hh_l0"] = t(torch_order(k.recurrent_kernel, gru, 1));
    if (k.bias.defined()) {
        s["bias_ih_l0"] = torch_order(gru ? k.bias[0] : k.bias, gru, 0);
        s["bias_hh_l0"] = gru ? torch_order(k.bias[1], true, 0) : zeros_like(k.bias);
    }
    return s;
}

Tensor eye(std::int64_t n, DType dtype = DType::f32) {
    std::vector<double> v(static_cast<std::size_t>(n * n), 0.0);
    for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i * n + i)] = 1.0;
    return Tensor::from(v, Shape{n, n}, dtype);
}

// x [B, T, F] read backwards in time.
Tensor reversed(const Tensor& x) {
    std::vector<Tensor> steps;
    for (std::int64_t t = x.size(1) - 1; t >= 0; --t) steps.push_back(select(x, 1, t));
    return stack(steps, 1);
}

// Runs the Keras layer and its PyTorch-layout twin and compares every output.
template <class KerasLayer, class TorchLayer, class TorchOptions>
void check_equivalent(keras::RecurrentOptions o, TorchOptions torch_options, bool gru, bool lstm) {
    o.return_state = true;
    KerasLayer k(o);
    k.build({4, 3});
    randomize(k);
    torch_options.input_size = 3;
    torch_options.hidden_size = o.units;
    torch_options.bias = o.use_bias;
    torch_options.batch_first = true;
    TorchLayer torch(torch_options);
    torch.load_state_dict(torch_weights(k, gru), true);

    Tensor x = randn({2, 4, 3});
    Tensor h0 = randn({2, o.units}), c0 = randn({2, o.units});
    std::vector<Tensor> init = lstm ? std::vector<Tensor>{h0, c0} : std::vector<Tensor>{h0};
    std::vector<Tensor> got = k.call(x, init);
    Tensor input = o.go_backwards ? reversed(x) : x;
    Tensor output, h_n, c_n;
    if constexpr (std::is_same_v<TorchLayer, LSTM>) {
        auto r = torch(input, {unsqueeze(h0, 0), unsqueeze(c0, 0)});
        output = r.output, h_n = r.h_n, c_n = r.c_n;
    } else {
        auto r = torch(input, unsqueeze(h0, 0));
        output = r.output, h_n = r.h_n;
    }
    REQUIRE(got.size() == (lstm ? 3u : 2u));
    Tensor expected = o.return_sequences ? output : select(output, 1, -1);
    CHECK(max_diff(got[0], expected) < 1e-5);
    CHECK(max_diff(got[1], squeeze(h_n, 0)) < 1e-5);
    if (lstm) CHECK(max_diff(got[2], squeeze(c_n, 0)) < 1e-5);
    // Without return_state only the output comes back, and forward is it.
    o.return_state = false;
    KerasLayer plain(o);
    plain.build({4, 3});
    plain.load_state_dict(k.state_dict());
    CHECK(plain.call(x, init).size() == 1);
    CHECK(max_diff(plain.forward(x), k.call(x)[0]) == 0);
}

}  // namespace

TEST_CASE("keras layers use Keras's parameter names and shapes") {
    keras::SimpleRNN rnn({.units = 5});
    CHECK_FALSE(rnn.built());
    CHECK(rnn.num_parameters() == 0);
    rnn.build({10, 8});
    CHECK(rnn.built());
    CHECK(names(rnn) == std::vector<std::string>{"kernel", "recurrent_kernel", "bias"});
    CHECK(rnn.kernel.shape() == Shape{8, 5});
    CHECK(rnn.recurrent_kernel.shape() == Shape{5, 5});
    CHECK(rnn.bias.shape() == Shape{5});
    CHECK(rnn.num_parameters() == 70);

    keras::LSTM lstm({.units = 4});
    lstm.build({7, 3});
    CHECK(lstm.kernel.shape() == Shape{3, 16});
    CHECK(lstm.recurrent_kernel.shape() == Shape{4, 16});
    CHECK(lstm.bias.shape() == Shape{16});

    keras::GRU gru({.units = 4, .use_bias = false});
    gru.build({7, 3});
    CHECK(names(gru) == std::vector<std::string>{"kernel", "recurrent_kernel"});
    keras::GRU gru_bias({.units = 4});
    gru_bias.build({7, 3});
    CHECK(gru_bias.bias.shape() == Shape{2, 12});  // reset_after=True

    keras::Dense dense({.units = 10});
    dense.build({3});
    CHECK(names(dense) == std::vector<std::string>{"kernel", "bias"});
    CHECK(dense.kernel.shape() == Shape{3, 10});
    CHECK(dense.output_shape({6, 3}) == Shape{6, 10});
    CHECK_THROWS_AS(dense.build({3}), ValueError);  // built once only
}

TEST_CASE("keras SimpleRNN equals tg::RNN with mapped weights") {
    manual_seed(1);
    for (bool seq : {false, true})
        for (bool back : {false, true})
            for (const char* act : {"tanh", "relu"}) {
                CAPTURE(seq);
                CAPTURE(back);
                CAPTURE(act);
                check_equivalent<keras::SimpleRNN, RNN>(
                    {.units = 5, .activation = act, .return_sequences = seq, .go_backwards = back},
                    RNNOptions{.input_size = 0, .hidden_size = 0, .nonlinearity = act}, false,
                    false);
            }
    check_equivalent<keras::SimpleRNN, RNN>({.units = 2, .use_bias = false},
                                            RNNOptions{.input_size = 0, .hidden_size = 0}, false,
                                            false);
}

TEST_CASE("keras LSTM equals tg::LSTM with mapped weights (same gate order)") {
    manual_seed(2);
    for (bool seq : {false, true})
        for (bool back : {false, true}) {
            CAPTURE(seq);
            CAPTURE(back);
            check_equivalent<keras::LSTM, LSTM>(
                {.units = 4, .return_sequences = seq, .go_backwards = back},
                LSTMOptions{.input_size = 0, .hidden_size = 0}, false, true);
        }
    check_equivalent<keras::LSTM, LSTM>({.units = 3, .use_bias = false},
                                        LSTMOptions{.input_size = 0, .hidden_size = 0}, false,
                                        true);
}

TEST_CASE("keras GRU (reset_after) equals tg::GRU with z/r reordered") {
    manual_seed(3);
    for (bool seq : {false, true})
        for (bool back : {false, true}) {
            CAPTURE(seq);
            CAPTURE(back);
            check_equivalent<keras::GRU, GRU>(
                {.units = 4, .return_sequences = seq, .go_backwards = back},
                GRUOptions{.input_size = 0, .hidden_size = 0}, true, false);
        }
    check_equivalent<keras::GRU, GRU>({.units = 3, .use_bias = false},
                                      GRUOptions{.input_size = 0, .hidden_size = 0}, true, false);
}

TEST_CASE("keras initialisers: glorot_uniform, orthogonal, zeros, unit forget bias") {
    manual_seed(4);
    keras::Dense dense({.units = 300});
    dense.build({200});
    const double limit = std::sqrt(6.0 / 500.0);
    auto k = dense.kernel.to_vector<double>();
    double sq = 0, biggest = 0;
    for (double v : k) sq += v * v, biggest = std::max(biggest, std::abs(v));
    CHECK(biggest <= limit);
    CHECK(biggest > 0.99 * limit);
    // Var U(-l, l) = l^2 / 3; 60000 draws put the estimate within a few percent.
    CHECK(sq / static_cast<double>(k.size()) == doctest::Approx(limit * limit / 3).epsilon(0.03));
    CHECK(max_diff(dense.bias, zeros({300})) == 0);

    // recurrent_kernel [units, 4 units]: its rows are orthonormal (K K^T = I;
    // K^T K has rank units and cannot be I).
    keras::LSTM lstm({.units = 6});
    lstm.build({5, 3});
    Tensor r = lstm.recurrent_kernel;
    CHECK(max_diff(matmul(r, t(r)), eye(6)) < 1e-5);
    std::vector<double> expected_bias(24, 0.0);
    for (int i = 6; i < 12; ++i) expected_bias[static_cast<std::size_t>(i)] = 1.0;
    CHECK(lstm.bias.to_vector<double>() == expected_bias);

    keras::SimpleRNN rnn({.units = 7});
    rnn.build({5, 3});
    Tensor q = rnn.recurrent_kernel;  // square: orthogonal both ways
    CHECK(max_diff(matmul(q, t(q)), eye(7)) < 1e-5);
    CHECK(max_diff(matmul(t(q), q), eye(7)) < 1e-5);

    Tensor tall = keras::orthogonal({9, 4}, DType::f64);  // orthonormal columns
    CHECK(max_diff(matmul(t(tall), tall), eye(4, DType::f64)) < 1e-12);
    CHECK_THROWS_AS(keras::orthogonal({3}), ShapeError);
}

TEST_CASE("keras layers pass a float64 gradient check") {
    manual_seed(5);
    Tensor x = randn({2, 3, 2}, DType::f64);
    keras::SimpleRNN rnn({.units = 3, .return_sequences = true});
    keras::LSTM lstm({.units = 2, .go_backwards = true});
    keras::GRU gru({.units = 2, .return_sequences = true});
    keras::Dense dense({.units = 3, .activation = "sigmoid"});
    std::vector<keras::Layer*> layers = {&rnn, &lstm, &gru, &dense};
    for (keras::Layer* layer : layers) {
        CAPTURE(layer->type());
        layer->build({3, 2});
        randomize(*layer);
        layer->to(DType::f64);
        auto f = [&](const std::vector<Tensor>& v) { return layer->forward(v[0]); };
        CHECK(gradcheck(f, {x}, {}, layer->parameters()));
    }
}

namespace {

// Keras's formulas stepped over time with ops: the reference for the
// activations the PyTorch layers lack. Returns {sequence, h, c}.
std::vector<Tensor> keras_steps(const keras::Recurrent& k, const Tensor& x) {
    const std::string type = k.type(), act = k.options.activation;
    const std::int64_t units = k.options.units, steps = x.size(1);
    Tensor h = zeros({x.size(0), units}, x.dtype()), c = h;
    std::vector<Tensor> outputs;
    for (std::int64_t s = 0; s < steps; ++s) {
        Tensor xt = select(x, 1, k.options.go_backwards ? steps - 1 - s : s);
        if (type == "GRU") {
            std::vector<Tensor> xs = chunk(matmul(xt, k.kernel) + k.bias[0], 3, 1);
            std::vector<Tensor> hs = chunk(matmul(h, k.recurrent_kernel) + k.bias[1], 3, 1);
            Tensor z = sigmoid(xs[0] + hs[0]), r = sigmoid(xs[1] + hs[1]);
            h = z * h + (1.0 - z) * keras::activation(xs[2] + r * hs[2], act);
        } else {
            Tensor sums = matmul(xt, k.kernel) + matmul(h, k.recurrent_kernel) + k.bias;
            if (type == "SimpleRNN") {
                h = keras::activation(sums, act);
            } else {
                std::vector<Tensor> g = chunk(sums, 4, 1);
                c = sigmoid(g[1]) * c + sigmoid(g[0]) * keras::activation(g[2], act);
                h = sigmoid(g[3]) * keras::activation(c, act);
            }
        }
        outputs.push_back(h);
    }
    return {stack(outputs, 1), h, c};
}

}  // namespace

TEST_CASE("keras recurrent layers apply every activation as Keras does, values and gradients") {
    manual_seed(8);
    Tensor x = randn({2, 5, 3}, DType::f64);
    for (const char* act : {"tanh", "relu", "sigmoid", "linear"})
        for (bool back : {false, true})
            for (int kind = 0; kind < 3; ++kind) {
                keras::RecurrentOptions o{.units = 4,
                                          .activation = act,
                                          .return_sequences = true,
                                          .return_state = true,
                                          .go_backwards = back};
                std::unique_ptr<keras::Recurrent> k;
                if (kind == 0) k = std::make_unique<keras::SimpleRNN>(o);
                if (kind == 1) k = std::make_unique<keras::LSTM>(o);
                if (kind == 2) k = std::make_unique<keras::GRU>(o);
                CAPTURE(k->type());
                CAPTURE(std::string(act));
                CAPTURE(back);
                k->build({5, 3});
                randomize(*k);
                k->to(DType::f64);
                // Each graph is differentiated before the next one is recorded.
                std::vector<Tensor> params = k->parameters();
                std::vector<Tensor> got = k->call(x);
                Tensor weights = randn(got[0].shape(), DType::f64);
                std::vector<Tensor> got_grads = grad({sum(got[0] * weights)}, params);
                std::vector<Tensor> want = keras_steps(*k, x);
                std::vector<Tensor> want_grads = grad({sum(want[0] * weights)}, params);
                CHECK(max_diff(got[0], want[0]) < 1e-12);
                CHECK(max_diff(got[1], want[1]) < 1e-12);
                if (kind == 1) CHECK(max_diff(got[2], want[2]) < 1e-12);
                for (std::size_t i = 0; i < params.size(); ++i)
                    CHECK(max_diff(got_grads[i], want_grads[i]) < 1e-10);
            }
}

TEST_CASE("keras Dense applies its activation") {
    keras::Dense relu({.units = 2, .activation = "relu"});
    relu.build({2});
    {
        NoGrad no_grad;
        relu.kernel.copy_(Tensor::from({{1.0, -1.0}, {2.0, 0.5}}));
        relu.bias.copy_(Tensor::from({0.5, -1.0}));
    }
    // [1, 1] kernel = [3, -0.5]; + bias = [3.5, -1.5]; relu -> [3.5, 0].
    CHECK(relu(Tensor::from({{1.0, 1.0}})).to_vector<double>() == std::vector<double>{3.5, 0.0});
    keras::Dense sig({.units = 1, .activation = "sigmoid", .use_bias = false});
    sig.build({1});
    {
        NoGrad no_grad;
        sig.kernel.copy_(Tensor::from({{2.0}}));
    }
    CHECK(sig(Tensor::from({{0.0}, {1.0}})).to_vector<double>()[0] == 0.5);
    CHECK(sig(Tensor::from({{1.0}})).item() == doctest::Approx(1.0 / (1.0 + std::exp(-2.0))));
}

TEST_CASE("layer(x) builds a keras layer from its first input, as in Keras") {
    keras::GRU gru({.units = 3});
    CHECK_THROWS_AS(gru.forward(randn({2, 4, 5})), ValueError);  // not built yet
    Tensor y = gru(randn({2, 4, 5}));
    CHECK(gru.built());
    CHECK(gru.kernel.shape() == Shape{5, 9});
    CHECK(y.shape() == Shape{2, 3});
    CHECK_THROWS_AS(gru(randn({2, 4, 6})), ShapeError);  // built for 5 features
}

// The seed model's summary, in Keras 2's layout as TF 2.8 - 2.11 print it
// (keras/utils/layer_utils.py print_summary: line_length 65, columns at
// 0.45 and 0.85 of it, a leading space per row, a blank line after each
// layer, totals with thousands separators).
TEST_CASE("keras Sequential: the seed model and its summary") {
    keras::Sequential model(
        {
            keras::SimpleRNN({.units = 5, .return_sequences = true}),
            keras::SimpleRNN({.units = 3}),
            keras::Dense({.units = 10}),
        },
        /*input_shape=*/{10, 8});
    CHECK(model.size() == 3);
    CHECK(model.num_parameters() == 137);
    CHECK(names(model) == std::vector<std::string>{"0.kernel", "0.recurrent_kernel", "0.bias",
                                                   "1.kernel", "1.recurrent_kernel", "1.bias",
                                                   "2.kernel", "2.bias"});
    const std::string blank(65, ' ');
    const std::string expected =
        "Model: \"sequential\"\n"
        "_________________________________________________________________\n"
        " Layer (type)                Output Shape              Param #   \n"
        "=================================================================\n"
        " simple_rnn (SimpleRNN)      (None, 10, 5)             70        \n" +
        blank + "\n" + " simple_rnn_1 (SimpleRNN)    (None, 3)                 27        \n" +
        blank + "\n" + " dense (Dense)               (None, 10)                40        \n" +
        blank + "\n" +
        "=================================================================\n"
        "Total params: 137\n"
        "Trainable params: 137\n"
        "Non-trainable params: 0\n"
        "_________________________________________________________________\n";
    CHECK(model.summary_text() == expected);

    // forward is the layers one after another.
    Tensor x = randn({4, 10, 8});
    Tensor y = model(x);
    CHECK(y.shape() == Shape{4, 10});
    Tensor manual = model[2].forward(model[1].forward(model[0].forward(x)));
    CHECK(max_diff(y, manual) == 0);
    sum(y).backward();
    for (const auto& [name, p] : model.named_parameters()) CHECK(p.grad().defined());
}

TEST_CASE("keras Sequential summary: dense on sequences, big counts, LSTM and GRU") {
    keras::Sequential model({keras::LSTM({.units = 4, .return_sequences = true}),
                             keras::GRU({.units = 3, .return_sequences = true}),
                             keras::Dense({.units = 1000}), keras::Dense({.units = 2000})},
                            {6, 2});
    // LSTM 4 * (2*4 + 4*4 + 4) = 112; GRU 3 * (4*3 + 3*3 + 2*3) = 81;
    // Dense 3*1000 + 1000 = 4000 and 1000*2000 + 2000 = 2002000.
    std::string s = model.summary_text();
    CHECK(s.find(" lstm (LSTM)                 (None, 6, 4)              112       \n") !=
          std::string::npos);
    CHECK(s.find(" gru (GRU)                   (None, 6, 3)              81        \n") !=
          std::string::npos);
    CHECK(s.find(" dense_1 (Dense)             (None, 6, 2000)           2002000   \n") !=
          std::string::npos);
    CHECK(s.find("Total params: 2,006,193\n") != std::string::npos);
}

TEST_CASE("keras errors") {
    using keras::Dense, keras::SimpleRNN, keras::LSTM, keras::Sequential;
    // A recurrent layer needs input_shape (time, features).
    CHECK_THROWS_AS(Sequential({SimpleRNN({.units = 3})}, {8}), ShapeError);
    CHECK_THROWS_AS(Sequential({Dense({.units = 3}), SimpleRNN({.units = 3})}, {8}), ShapeError);
    CHECK_THROWS_AS(Sequential({SimpleRNN({.units = 3})}, {}), ShapeError);
    // return_state gives several outputs: not in a Sequential (as Keras).
    CHECK_THROWS_WITH_AS(Sequential({LSTM({.units = 3, .return_state = true})}, {4, 2}),
                         doctest::Contains("return_state"), ValueError);
    CHECK_THROWS_AS(SimpleRNN({.units = 3, .activation = "softmax"}), ValueError);
    CHECK_THROWS_AS(Dense({.units = 0}), ValueError);
    SimpleRNN built({.units = 2});
    built.build({3, 2});
    CHECK_THROWS_AS(Sequential({built}, {3, 2}), ValueError);
    Sequential model({SimpleRNN({.units = 2})}, {3, 2});
    CHECK_THROWS_AS(model(randn({4, 5, 2})), ShapeError);  // wrong time steps
    CHECK_THROWS_AS(model(randn({5, 2})), ShapeError);     // no batch
    CHECK_THROWS_AS(model(randn({4, 3, 2}, DType::f64)), DTypeError);
    CHECK_THROWS_AS(built.call(randn({4, 3, 2}), {randn({4, 3})}), ShapeError);
}

// The Keras model against PyTorch's own numbers: the sequential parity cases
// (tools/parity_cases/sequential.py) hold the seed model and an LSTM/GRU
// stack in PyTorch's layout; mapped into Keras's layout (kernel = W_ih^T,
// recurrent_kernel = W_hh^T, bias = b_ih + b_hh; GRU z/r swapped and its
// biases in two rows; Dense kernel = W^T), the Keras Sequential must give the
// same output and input gradient.
TEST_CASE("keras Sequential matches PyTorch on the sequential parity cases") {
    const char* root = std::getenv("TAPEGRAD_SOURCE_DIR");
    REQUIRE(root != nullptr);
    auto load = [&](const char* stem) {
        return load_safetensors(
                   fmt::format("{}/tests/parity/sequential/{}.safetensors", root, stem))
            .tensors;
    };
    // From PyTorch's order (r, z, n) back to Keras's (z, r, h): the same swap.
    auto keras_kernel = [](const Tensor& w, bool gru) { return torch_order(t(w), gru, 1); };

    SUBCASE("seed model: SimpleRNN -> SimpleRNN -> Dense") {
        auto c = load("seed_model_float64");
        keras::Sequential model({keras::SimpleRNN({.units = 5, .return_sequences = true}),
                                 keras::SimpleRNN({.units = 3}), keras::Dense({.units = 10})},
                                {10, 8});
        model.to(DType::f64);
        StateDict s;
        for (const char* i : {"0", "1"}) {
            std::string p = i;
            s[p + ".kernel"] = keras_kernel(c.at(p + ".weight_ih_l0"), false);
            s[p + ".recurrent_kernel"] = keras_kernel(c.at(p + ".weight_hh_l0"), false);
            s[p + ".bias"] = c.at(p + ".bias_ih_l0") + c.at(p + ".bias_hh_l0");
        }
        s["2.kernel"] = t(c.at("2.weight"));
        s["2.bias"] = c.at("2.bias");
        model.load_state_dict(s);
        Tensor x = c.at("input").detach().requires_grad_();
        Tensor y = model(x);
        CHECK(max_diff(y, c.at("expected.output")) < 1e-10);
        sum(y * c.at("grad_output")).backward();
        CHECK(max_diff(x.grad(), c.at("expected.grad.input")) < 1e-10);
    }
    SUBCASE("LSTM -> GRU -> Dense") {
        auto c = load("lstm_gru_float64");
        keras::Sequential model({keras::LSTM({.units = 6, .return_sequences = true}),
                                 keras::GRU({.units = 4}), keras::Dense({.units = 10})},
                                {10, 8});
        model.to(DType::f64);
        StateDict s;
        s["0.kernel"] = keras_kernel(c.at("0.weight_ih_l0"), false);
        s["0.recurrent_kernel"] = keras_kernel(c.at("0.weight_hh_l0"), false);
        s["0.bias"] = c.at("0.bias_ih_l0") + c.at("0.bias_hh_l0");
        s["1.kernel"] = keras_kernel(c.at("1.weight_ih_l0"), true);
        s["1.recurrent_kernel"] = keras_kernel(c.at("1.weight_hh_l0"), true);
        s["1.bias"] = stack({torch_order(c.at("1.bias_ih_l0"), true, 0),
                             torch_order(c.at("1.bias_hh_l0"), true, 0)},
                            0);
        s["2.kernel"] = t(c.at("2.weight"));
        s["2.bias"] = c.at("2.bias");
        model.load_state_dict(s);
        Tensor x = c.at("input").detach().requires_grad_();
        Tensor y = model(x);
        CHECK(max_diff(y, c.at("expected.output")) < 1e-10);
        sum(y * c.at("grad_output")).backward();
        CHECK(max_diff(x.grad(), c.at("expected.grad.input")) < 1e-10);
    }
}
