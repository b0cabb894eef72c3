// save_checkpoint survives SIGKILL at any moment: a child process saves
// numbered checkpoints in a loop and is killed at random times; after every
// kill the file loads and holds exactly one version (every number in it
// agrees), never older than one seen before, and the temporary files of
// killed writers do not pile up (the next save removes them).
#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>

using namespace tg;
namespace fs = std::filesystem;

namespace {

// Big enough that a save takes a while (about 60 KB), so kills land in every phase of it.
struct Net : Module {
    LSTM lstm{{.input_size = 8, .hidden_size = 32}};
    Linear head{{.in_features = 32, .out_features = 4}};
    Net() {
        register_module("lstm", lstm);
        register_module("head", head);
    }
};

// Adam's state_dict as after a step, built by hand: the parent never calls
// into BLAS, so no BLAS threads exist when it forks.
StateDict stepped_state(const Adam& adam) {
    StateDict state = adam.state_dict();
    for (std::size_t i = 0; i < adam.parameters().size(); ++i) {
        const Tensor& p = adam.parameters()[i];
        state[fmt::format("state.{}.step", i)] = number_tensor(1.0);
        state[fmt::format("state.{}.exp_avg", i)] = zeros_like(p);
        state[fmt::format("state.{}.exp_avg_sq", i)] = zeros_like(p);
    }
    return state;
}

// Makes every number a checkpoint holds, but Adam's fixed hyper-parameters,
// equal to version: parameters, moments, step, lr and the generator words
// (and the extra step, saved beside them).
void stamp(Net& net, Adam& adam, const StateDict& optim_template, std::int64_t version) {
    {
        NoGrad no_grad;
        for (Tensor& p : net.parameters()) p.fill_(static_cast<double>(version));
    }
    StateDict state = optim_template;
    for (auto& [key, t] : state)
        if (key.starts_with("state.") || key == "lr")
            t = full_like(t, static_cast<double>(version));
    adam.load_state_dict(state);
    set_generator_state(full({4}, static_cast<double>(version), DType::i64));
}

// The one version all stamped numbers of a checkpoint agree on, or -1 for a mix.
std::int64_t version_of(const SafetensorsFile& file) {
    std::set<double> seen;
    for (const auto& [key, t] : file.tensors)
        if (!key.starts_with("optim.") || key.starts_with("optim.state.") || key == "optim.lr")
            for (double v : t.to_vector<double>()) seen.insert(v);
    return seen.size() == 1 ? static_cast<std::int64_t>(*seen.begin()) : -1;
}

// The program's own state saved beside: the step count.
StateDict extra(std::int64_t version) {
    return {{"step", Tensor::scalar(static_cast<double>(version), DType::i64)}};
}

// Saves versions first, first + 1, ... until killed. Reports on ready_fd
// (as the 8 bytes of first) just before the first save starts.
[[noreturn]] void save_forever(const std::string& path, Net& net, Adam& adam,
                               const StateDict& optim_template, std::int64_t first, int ready_fd) {
    try {
        stamp(net, adam, optim_template, first);
        if (::write(ready_fd, &first, sizeof first) != sizeof first) ::_exit(3);
        for (std::int64_t version = first;; ++version) {
            if (version != first) stamp(net, adam, optim_template, version);
            save_checkpoint(path, net, adam, extra(version));
        }
    } catch (...) {
        ::_exit(2);
    }
}

std::vector<std::string> temporaries(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& item : fs::directory_iterator(dir))
        if (item.path().filename().string().find(".tmp.") != std::string::npos)
            out.push_back(item.path().filename().string());
    return out;
}

}  // namespace

TEST_CASE("checkpoints: 200 SIGKILLs during saves leave one whole checkpoint, old or new") {
    fs::path dir = fs::temp_directory_path() / fmt::format("tapegrad_kill_test_{}", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string path = (dir / "ckpt.safetensors").string();

    manual_seed(7);
    Net net;
    Adam adam(net.parameters(), {.lr = 0.01});
    const StateDict optim_template = stepped_state(adam);
    stamp(net, adam, optim_template, 1);
    save_checkpoint(path, net, adam, extra(1));

    Net loaded_net;
    Adam loaded_adam(loaded_net.parameters());
    std::mt19937 rng(20240601);
    std::uniform_int_distribution<int> delay_us(0, 5000);
    constexpr int kills = 200;
    std::int64_t last = 1;
    int advanced = 0, mid_write = 0, survived = 0;
    std::size_t most_temporaries = 0;

    for (int k = 0; k < kills; ++k) {
        int ready[2];
        REQUIRE(::pipe(ready) == 0);
        pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            ::close(ready[0]);
            save_forever(path, net, adam, optim_template, last + 1, ready[1]);
        }
        ::close(ready[1]);
        std::int64_t first = 0;
        REQUIRE(::read(ready[0], &first, sizeof first) == sizeof first);
        ::close(ready[0]);
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        REQUIRE(::kill(child, SIGKILL) == 0);
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        INFO("kill ", k);
        REQUIRE(WIFSIGNALED(status));  // not an exit: the child never failed a save
        CHECK(WTERMSIG(status) == SIGKILL);

        SafetensorsFile file = load_safetensors(path);
        std::int64_t version = version_of(file);
        CHECK(version >= last);  // never a mix (-1) nor older than seen before
        StateDict loaded_extra = load_checkpoint(path, loaded_net, loaded_adam);
        CHECK(loaded_extra.at("step").item() == version);
        CHECK(loaded_net.parameters().front().to_vector<double>().front() == version);
        CHECK(loaded_adam.lr() == static_cast<double>(version));
        CHECK(generator_state().to_vector<std::int64_t>() == std::vector<std::int64_t>(4, version));
        if (version > last) ++advanced;
        last = std::max(last, version);

        // At most the killed child's own temporary file: the next save removes it.
        std::vector<std::string> left = temporaries(dir);
        CHECK(left.size() <= 1);
        most_temporaries = std::max(most_temporaries, left.size());
        if (!left.empty()) ++mid_write;
        ++survived;
    }
    save_checkpoint(path, loaded_net, loaded_adam);
    CHECK(temporaries(dir).empty());
    MESSAGE(survived, " kills survived: ", mid_write, " landed mid-write (a temporary file was ",
            "left), ", advanced, " after a newer checkpoint was in place; last version ", last,
            "; at most ", most_temporaries, " temporary file at a time");
    // Both outcomes must have happened, or the test did not test anything.
    CHECK(mid_write > 0);
    CHECK(advanced > 0);
    fs::remove_all(dir);
}
