#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <unistd.h>

#include <filesystem>

using namespace tg;

namespace {

// A small sequence model whose training draws random numbers (dropout
// between the LSTM layers and before the head), so a resume must restore
// the generator as well as the parameters and Adam's moments.
struct Net : Module {
    LSTM lstm{{.input_size = 3, .hidden_size = 4, .num_layers = 2, .dropout = 0.3}};
    Linear head{{.in_features = 4, .out_features = 2}};
    Net() {
        register_module("lstm", lstm);
        register_module("head", head);
    }
    Tensor operator()(const Tensor& x) const {
        return head(dropout(lstm(x).output, 0.25, is_training()));
    }
};

struct Batch {
    Tensor x, y;  // [T, B, 3], [T, B, 2]
};

Batch make_batch() {
    manual_seed(1);
    Tensor x = randn({5, 2, 3});
    return {x, randn({5, 2, 2})};
}

double train_step(Net& net, Optimizer& optimizer, const Batch& batch) {
    Tensor loss = mse_loss(net(batch.x), batch.y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    return loss.item();
}

std::vector<std::vector<float>> values(const Module& m) {
    std::vector<std::vector<float>> out;
    for (const Tensor& p : m.parameters()) out.push_back(p.to_vector<float>());
    return out;
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            fmt::format("tapegrad_checkpoint_{}_{}.safetensors", name, getpid()))
        .string();
}

}  // namespace

TEST_CASE("6 steps equal 3 steps, a checkpoint, fresh objects and 3 steps, bit for bit") {
    Batch batch = make_batch();
    manual_seed(2);
    Net straight;
    Adam straight_adam(straight.parameters(), {.lr = 0.01});
    std::vector<double> straight_losses;
    for (int k = 0; k < 6; ++k)
        straight_losses.push_back(train_step(straight, straight_adam, batch));

    manual_seed(2);
    Net first;
    Adam first_adam(first.parameters(), {.lr = 0.01});
    std::vector<double> losses;
    for (int k = 0; k < 3; ++k) losses.push_back(train_step(first, first_adam, batch));
    std::string path = temp_path("resume");
    save_checkpoint(path, first, first_adam);

    // Fresh objects with other weights, another lr and a moved generator:
    // everything they need comes from the file.
    manual_seed(99);
    Net resumed;
    Adam resumed_adam(resumed.parameters());
    load_checkpoint(path, resumed, resumed_adam);
    CHECK(resumed_adam.lr() == 0.01);
    for (int k = 3; k < 6; ++k) losses.push_back(train_step(resumed, resumed_adam, batch));

    CHECK(losses == straight_losses);
    CHECK(values(resumed) == values(straight));
    std::filesystem::remove(path);
}

// The recipe by hand, leaving the generator out: the dropout masks differ,
// which shows that the generator state is what makes the resume exact.
TEST_CASE(
    "the checkpoint holds model., optim. and generator; without the generator a resume "
    "drifts") {
    Batch batch = make_batch();
    manual_seed(2);
    Net straight;
    Adam straight_adam(straight.parameters(), {.lr = 0.01});
    for (int k = 0; k < 3; ++k) train_step(straight, straight_adam, batch);
    std::string path = temp_path("recipe");
    save_checkpoint(path, straight, straight_adam);
    double next = train_step(straight, straight_adam, batch);

    SafetensorsFile file = load_safetensors(path);
    StateDict model_state, optim_state;
    for (const auto& [key, tensor] : file.tensors) {
        if (key.starts_with("model."))
            model_state.emplace(key.substr(6), tensor);
        else if (key.starts_with("optim."))
            optim_state.emplace(key.substr(6), tensor);
        else
            CHECK(key == "generator");
    }
    CHECK(file.tensors.at("generator").dtype() == DType::i64);
    CHECK(model_state.size() == straight.parameters().size());
    manual_seed(99);
    Net resumed;
    Adam resumed_adam(resumed.parameters());
    resumed.load_state_dict(model_state);
    resumed_adam.load_state_dict(optim_state);
    CHECK(train_step(resumed, resumed_adam, batch) != next);

    set_generator_state(file.tensors.at("generator"));
    resumed.load_state_dict(model_state);
    resumed_adam.load_state_dict(optim_state);
    CHECK(train_step(resumed, resumed_adam, batch) == next);
    std::filesystem::remove(path);
}

TEST_CASE("a refused checkpoint changes neither model, optimizer nor generator") {
    Batch batch = make_batch();
    manual_seed(2);
    Net net;
    Adam adam(net.parameters(), {.lr = 0.01});
    train_step(net, adam, batch);
    std::string good = temp_path("good"), bad = temp_path("bad");
    save_checkpoint(good, net, adam);
    StateDict entries = load_safetensors(good).tensors;

    manual_seed(5);
    Net other;
    Adam other_adam(other.parameters());
    auto params = values(other);
    Tensor generator = generator_state();
    auto unchanged = [&] {
        CHECK(values(other) == params);
        CHECK(other_adam.lr() == doctest::Approx(1e-3));
        CHECK(other_adam.state_dict().size() == Adam(other.parameters()).state_dict().size());
        CHECK(generator_state().to_vector<std::int64_t>() == generator.to_vector<std::int64_t>());
    };
    auto refuse = [&](StateDict changed, const std::string& message) {
        save_safetensors(bad, changed);
        CHECK_THROWS_WITH(load_checkpoint(bad, other, other_adam),
                          doctest::Contains(message.c_str()));
        unchanged();
    };
    StateDict changed = entries;
    changed.emplace("extra", zeros({1}));
    refuse(changed, "unexpected key 'extra'");
    changed = entries;
    changed.erase("generator");
    refuse(changed, "missing key 'generator'");
    changed = entries;
    changed["generator"] = zeros({3}, DType::i64);
    refuse(changed, "the state must be [4], not [3]");
    changed = entries;
    changed.erase("model.head.bias");
    refuse(changed, "missing keys [head.bias]");
    changed = entries;
    changed["model.head.weight"] = zeros({4, 2});
    refuse(changed, "'head.weight' has shape [4, 2]");
    // The model part is fine here; the optimizer's is not, so the model
    // (already loaded by then) must be put back.
    changed = entries;
    changed["optim.state.0.exp_avg"] = zeros({1});
    refuse(changed, "exp_avg");
    std::filesystem::remove(good);
    std::filesystem::remove(bad);
}

TEST_CASE("extras travel beside the model under 'extra.' and come back without the prefix") {
    Batch batch = make_batch();
    manual_seed(2);
    Net net;
    Adam adam(net.parameters(), {.lr = 0.01});
    train_step(net, adam, batch);
    const StateDict extra = {
        {"step", Tensor::scalar(12345678901, DType::i64)},
        {"carried.h", randn({2, 2, 4})},
        {"running_loss", Tensor::scalar(0.1, DType::f64)},
    };
    std::string path = temp_path("extra");
    save_checkpoint(path, net, adam, extra);
    const StateDict file = load_safetensors(path).tensors;
    CHECK(file.count("extra.step") == 1);
    CHECK(file.count("extra.carried.h") == 1);
    CHECK(file.count("generator") == 1);

    manual_seed(99);
    Net resumed;
    Adam resumed_adam(resumed.parameters());
    StateDict loaded = load_checkpoint(path, resumed, resumed_adam);
    REQUIRE(loaded.size() == extra.size());
    for (const auto& [key, tensor] : extra) {
        CAPTURE(key);
        REQUIRE(loaded.count(key) == 1);
        CHECK(loaded.at(key).dtype() == tensor.dtype());
        CHECK(loaded.at(key).shape() == tensor.shape());
        CHECK(loaded.at(key).to_vector<double>() == tensor.to_vector<double>());
    }
    CHECK(loaded.at("step").to_vector<std::int64_t>() == std::vector<std::int64_t>{12345678901});
    CHECK(values(resumed) == values(net));
    CHECK(resumed_adam.lr() == 0.01);

    // Without extras the file holds none, and loading hands back none.
    save_checkpoint(path, net, adam);
    CHECK(load_checkpoint(path, resumed, resumed_adam).empty());
    std::filesystem::remove(path);
}

TEST_CASE("check_extra sees the extras first; refusing leaves everything as it was") {
    Batch batch = make_batch();
    manual_seed(2);
    Net net;
    Adam adam(net.parameters(), {.lr = 0.01});
    train_step(net, adam, batch);
    std::string path = temp_path("check");
    save_checkpoint(path, net, adam, {{"batch", Tensor::scalar(3, DType::i64)}});

    manual_seed(5);
    Net other;
    Adam other_adam(other.parameters());
    const auto params = values(other);
    const Tensor generator = generator_state();
    bool called = false;
    auto refuse_other_batch = [&](const StateDict& extra) {
        called = true;
        CHECK(values(other) == params);  // nothing restored yet
        if (extra.at("batch").item() != 4) throw ValueError("written with batch 3, not 4");
    };
    CHECK_THROWS_WITH_AS(load_checkpoint(path, other, other_adam, refuse_other_batch),
                         (path + ": written with batch 3, not 4").c_str(), ValueError);
    CHECK(called);
    CHECK(values(other) == params);
    CHECK(other_adam.lr() == doctest::Approx(1e-3));
    CHECK(generator_state().to_vector<std::int64_t>() == generator.to_vector<std::int64_t>());

    StateDict extra = load_checkpoint(path, other, other_adam, [](const StateDict&) {});
    CHECK(extra.at("batch").item() == 3);
    CHECK(values(other) == values(net));
    std::filesystem::remove(path);
}

TEST_CASE("an extra with an empty key or an undefined tensor is refused, the file untouched") {
    manual_seed(2);
    Net net;
    Adam adam(net.parameters());
    std::string path = temp_path("bad_extra");
    save_checkpoint(path, net, adam, {{"step", Tensor::scalar(1, DType::i64)}});
    CHECK_THROWS_WITH_AS(
        save_checkpoint(path, net, adam, {{"", zeros({1})}}),
        doctest::Contains(("save_checkpoint: " + path + ": an extra has an empty key").c_str()),
        ValueError);
    CHECK_THROWS_WITH_AS(save_checkpoint(path, net, adam, {{"c", Tensor{}}}),
                         doctest::Contains("extra 'c' is an undefined tensor"), ValueError);
    CHECK(load_checkpoint(path, net, adam).at("step").item() == 1);
    std::filesystem::remove(path);
}
