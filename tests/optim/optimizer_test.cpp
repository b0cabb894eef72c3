#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>

using namespace tg;

namespace {

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;

struct Model {
    Tensor weight, bias;  // a Linear(3, 4)
    std::vector<Tensor> parameters() const { return {weight, bias}; }
};

Model make_model() {
    manual_seed(7);
    return {randn({4, 3}).requires_grad_(), randn({4}).requires_grad_()};
}

// One training step on batch k of a fixed regression problem. The lr halves
// after step 2, as a scheduler would change it.
void train_step(Model& model, Optimizer& optimizer, int k) {
    if (k == 2) optimizer.set_lr(optimizer.lr() * 0.5);
    manual_seed(100 + static_cast<std::uint64_t>(k));
    Tensor x = randn({5, 3}), y = randn({5, 4});
    Tensor loss = mean(pow(linear(x, model.weight, model.bias) - y, 2.0));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            fmt::format("tapegrad_optim_{}_{}.safetensors", name, getpid()))
        .string();
}

// 6 steps in one go must equal 3 steps, a save of model and optimizer into
// one safetensors file, a fresh model and optimizer loaded from it, and 3
// more steps: bit for bit.
void check_resume(const std::string& name, const MakeOptimizer& make) {
    INFO(name);
    Model straight = make_model();
    auto straight_optimizer = make(straight.parameters());
    for (int k = 0; k < 6; ++k) train_step(straight, *straight_optimizer, k);

    Model first = make_model();
    auto first_optimizer = make(first.parameters());
    for (int k = 0; k < 3; ++k) train_step(first, *first_optimizer, k);
    std::map<std::string, Tensor> saved = {{"model.weight", first.weight},
                                           {"model.bias", first.bias}};
    for (const auto& [key, t] : first_optimizer->state_dict()) saved["optimizer." + key] = t;
    std::string path = temp_path(name);
    save_safetensors(path, saved);

    SafetensorsFile file = load_safetensors(path);
    std::filesystem::remove(path);
    Model resumed{file.tensors.at("model.weight").requires_grad_(),
                  file.tensors.at("model.bias").requires_grad_()};
    StateDict optimizer_state;
    for (const auto& [key, t] : file.tensors)
        if (key.starts_with("optimizer.")) optimizer_state[key.substr(10)] = t;
    auto resumed_optimizer = make(resumed.parameters());
    resumed_optimizer->load_state_dict(optimizer_state);
    CHECK(resumed_optimizer->lr() == first_optimizer->lr());
    for (int k = 3; k < 6; ++k) train_step(resumed, *resumed_optimizer, k);

    CHECK(resumed.weight.to_vector<float>() == straight.weight.to_vector<float>());
    CHECK(resumed.bias.to_vector<float>() == straight.bias.to_vector<float>());
}

std::unique_ptr<Optimizer> make_adam(std::vector<Tensor> params) {
    return std::make_unique<Adam>(params, AdamOptions{.lr = 0.05, .amsgrad = true});
}

void check_state_equal(const Optimizer& optimizer, const StateDict& expected) {
    StateDict now = optimizer.state_dict();
    CHECK(now.size() == expected.size());
    for (const auto& [key, t] : expected)
        CHECK(now.at(key).to_vector<double>() == t.to_vector<double>());
}

// load_state_dict(state) throws E with `message` and leaves `good` in place.
template <class E>
void check_load_fails(Optimizer& optimizer, const StateDict& good, const StateDict& state,
                      const char* message) {
    INFO(message);
    CHECK_THROWS_WITH_AS(optimizer.load_state_dict(state), doctest::Contains(message), E);
    check_state_equal(optimizer, good);
}

}  // namespace

TEST_CASE("every optimizer resumes bit for bit from a saved state_dict") {
    check_resume("adam", make_adam);
    check_resume("adamw", [](std::vector<Tensor> params) {
        return std::make_unique<AdamW>(params, AdamWOptions{.lr = 0.05, .weight_decay = 0.1});
    });
    check_resume("sgd", [](std::vector<Tensor> params) {
        return std::make_unique<SGD>(params,
                                     SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
    });
    check_resume("rmsprop", [](std::vector<Tensor> params) {
        return std::make_unique<RMSprop>(
            params, RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true});
    });
}

TEST_CASE("state_dict names hyper-parameters and per-parameter state like PyTorch") {
    Model model = make_model();
    Adam adam(model.parameters(), {.lr = 0.02, .betas = {0.8, 0.9}});
    StateDict before = adam.state_dict();
    CHECK(before.size() == 6);  // lr, beta1, beta2, eps, weight_decay, amsgrad
    CHECK(before.at("lr").item() == 0.02);
    CHECK(before.at("beta1").item() == 0.8);
    CHECK(before.at("lr").dtype() == DType::f64);
    CHECK(before.at("lr").dim() == 0);
    train_step(model, adam, 0);
    StateDict after = adam.state_dict();
    CHECK(after.size() == 12);
    CHECK(after.at("state.1.exp_avg").shape() == Shape{4});
    CHECK(after.at("state.0.exp_avg_sq").shape() == Shape{4, 3});
    CHECK(after.at("state.0.step").item() == 1.0);
    // A copy: later steps do not change what was saved.
    std::vector<float> saved = after.at("state.0.exp_avg").to_vector<float>();
    train_step(model, adam, 1);
    CHECK(after.at("state.0.exp_avg").to_vector<float>() == saved);
}

TEST_CASE("load_state_dict casts buffers to the parameter's dtype") {
    Tensor w = ones({2}, DType::f64).requires_grad_();
    SGD sgd({w}, {.lr = 0.1, .momentum = 0.9});
    StateDict state = sgd.state_dict();
    state["state.0.momentum_buffer"] = Tensor::from({1.0, 2.0}, DType::f32);
    sgd.load_state_dict(state);
    CHECK(sgd.state_dict().at("state.0.momentum_buffer").dtype() == DType::f64);
    w.set_grad(zeros({2}, DType::f64));
    sgd.step();  // b = 0.9 b
    CHECK(w.to_vector<double>() == std::vector<double>{1.0 - 0.1 * 0.9, 1.0 - 0.1 * 1.8});
}

TEST_CASE("load_state_dict names the offending entry and changes nothing") {
    Model model = make_model();
    auto adam = make_adam(model.parameters());
    train_step(model, *adam, 0);
    const StateDict good = adam->state_dict();

    StateDict state = good;
    state.erase("beta2");
    check_load_fails<ValueError>(*adam, good, state,
                                 "Adam: load_state_dict: missing entry 'beta2'");
    state = good;
    state["momentum"] = Tensor::scalar(0.9, DType::f64);
    check_load_fails<ValueError>(*adam, good, state, "unexpected entry 'momentum'");
    state = good;
    state["state.0.exp_avg"] = zeros({3, 4});
    check_load_fails<ShapeError>(*adam, good, state,
                                 "entry 'state.0.exp_avg' has shape [3, 4], expected [4, 3]");
    state = good;
    state["state.2.exp_avg"] = zeros({4});
    check_load_fails<ValueError>(
        *adam, good, state, "entry 'state.2.exp_avg' is for parameter 2, but the optimizer has 2");
    state = good;
    state["state.x.exp_avg"] = zeros({4});
    check_load_fails<ValueError>(*adam, good, state,
                                 "entry 'state.x.exp_avg' is not named 'state.<index>.<name>'");
    state = good;
    state["state.0.momentum_buffer"] = zeros({4, 3});
    check_load_fails<ValueError>(*adam, good, state, "unexpected entry 'state.0.momentum_buffer'");
    state = good;
    state.erase("state.1.max_exp_avg_sq");
    check_load_fails<ValueError>(*adam, good, state, "missing entry 'state.1.max_exp_avg_sq'");
    state = good;
    state["lr"] = Tensor::from({0.1, 0.2}, DType::f64);
    check_load_fails<ShapeError>(*adam, good, state, "entry 'lr' should be 0-D, got shape [2]");
    state = good;
    state["amsgrad"] = Tensor::scalar(0.5, DType::f64);
    check_load_fails<ValueError>(*adam, good, state,
                                 "entry 'amsgrad' is a flag and should be 0 or 1, got 0.5");
    state = good;
    state["beta1"] = Tensor::scalar(1.5, DType::f64);
    check_load_fails<ValueError>(*adam, good, state,
                                 "Adam: invalid beta parameter at index 0: 1.5");
    state = good;
    state["lr"] = Tensor::scalar(-1.0, DType::f64);
    check_load_fails<ValueError>(*adam, good, state, "invalid learning rate: -1");

    // An Adam without amsgrad: the options load, the state is incomplete for
    // them, and the options roll back.
    state = good;
    state["amsgrad"] = Tensor::scalar(0.0, DType::f64);
    check_load_fails<ValueError>(*adam, good, state, "unexpected entry 'state.0.max_exp_avg_sq'");
}

TEST_CASE("a state_dict of another optimizer is refused") {
    Model model = make_model();
    SGD sgd(model.parameters(), {.lr = 0.1, .momentum = 0.9});
    Adam adam(model.parameters());
    CHECK_THROWS_WITH_AS(sgd.load_state_dict(adam.state_dict()),
                         doctest::Contains("SGD: load_state_dict: unexpected entry 'amsgrad'"),
                         ValueError);
}

TEST_CASE("zero_grad drops the gradients; set_lr checks its argument") {
    Model model = make_model();
    SGD sgd(model.parameters(), {.lr = 0.1});
    train_step(model, sgd, 0);
    CHECK(model.weight.grad().defined());
    sgd.zero_grad();
    CHECK_FALSE(model.weight.grad().defined());
    CHECK_FALSE(model.bias.grad().defined());
    sgd.step();  // no gradients: nothing moves
    sgd.set_lr(0.5);
    CHECK(sgd.lr() == 0.5);
    CHECK_THROWS_WITH_AS(sgd.set_lr(-0.5), doctest::Contains("SGD: invalid learning rate: -0.5"),
                         ValueError);
    CHECK(sgd.parameters().size() == 2);
    CHECK(sgd.parameters()[0].is_same(model.weight));
}

TEST_CASE("optimizers refuse parameters they cannot update") {
    Tensor w = ones({2}).requires_grad_();
    CHECK_THROWS_WITH_AS(Adam({}), doctest::Contains("Adam: got an empty parameter list"),
                         ValueError);
    CHECK_THROWS_WITH_AS(Adam({w, Tensor()}), doctest::Contains("parameter 1 is undefined"),
                         ValueError);
    CHECK_THROWS_WITH_AS(Adam({Tensor::from({1.0}, DType::i64)}),
                         doctest::Contains("parameter 0 is int64, not a floating tensor"),
                         DTypeError);
    Tensor not_leaf = w * 2.0;
    CHECK_THROWS_WITH_AS(Adam({not_leaf}), doctest::Contains("can't optimize a non-leaf tensor"),
                         ValueError);
    clear_tape();
    CHECK_THROWS_WITH_AS(SGD({w, w}, {.lr = 0.1}),
                         doctest::Contains("parameter 1 is the same tensor as parameter 0"),
                         ValueError);
}
