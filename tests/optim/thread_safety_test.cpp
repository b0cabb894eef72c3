// Training is thread-safe across models: each thread records on its own tape
// and has its own grad mode, so two models trained at once in two threads
// end bit for bit where training them one after the other ends.
#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace tg;

namespace {

struct Net : Module {
    LSTM lstm{{.input_size = 4, .hidden_size = 8}};
    Linear head{{.in_features = 8, .out_features = 1}};
    Net() {
        register_module("lstm", lstm);
        register_module("head", head);
    }
    Tensor operator()(const Tensor& x) const { return head(lstm(x).output); }
};

struct Task {
    Tensor x, y;     // [T, B, 4], [T, B, 1]
    StateDict init;  // the initial weights, copied into each model that runs the task
};

struct Result {
    std::vector<double> losses;
    std::vector<std::vector<std::byte>> parameters;
};

// Made before any thread starts: every random number is drawn here.
Task make_task(const Tensor& y) {
    Net net;
    Task task{randn({y.size(0), y.size(1), 4}), y, {}};
    for (const auto& [name, p] : net.state_dict()) task.init.emplace(name, p.clone());
    return task;
}

Result train(const Task& task, int steps) {
    Net net;
    net.load_state_dict(task.init);
    Adam adam(net.parameters(), {.lr = 0.01});
    Result result;
    for (int step = 0; step < steps; ++step) {
        Tensor loss = mse_loss(net(task.x), task.y);
        adam.zero_grad();
        loss.backward();
        adam.step();
        result.losses.push_back(loss.item());
    }
    for (const Tensor& p : net.parameters()) {
        std::vector<std::byte> bytes(p.nbytes());
        std::memcpy(bytes.data(), p.raw_data(), p.nbytes());
        result.parameters.push_back(std::move(bytes));
    }
    return result;
}

}  // namespace

TEST_CASE("threads: two models trained at once equal the same two trained in turn, bit for bit") {
    manual_seed(31);
    Tensor y = randn({8, 3, 1});  // read by both threads at once
    Task a = make_task(y), b = make_task(y);
    constexpr int steps = 300;

    // Concurrent first, so that the two threads also race for the first
    // matrix product (the one that loads BLAS).
    Result a_threaded, b_threaded;
    std::thread first([&] { a_threaded = train(a, steps); });
    std::thread second([&] { b_threaded = train(b, steps); });
    first.join();
    second.join();

    Result a_alone = train(a, steps);
    Result b_alone = train(b, steps);
    CHECK(a_threaded.losses == a_alone.losses);
    CHECK(a_threaded.parameters == a_alone.parameters);
    CHECK(b_threaded.losses == b_alone.losses);
    CHECK(b_threaded.parameters == b_alone.parameters);
    CHECK(a_alone.losses != b_alone.losses);  // two different runs, not one twice
    CHECK(tape_size() == 0);
}

TEST_CASE("threads: concurrent draws from the default generator share one stream, none twice") {
    // Each draw holds the generator's lock for the whole tensor, so the
    // threads' draws are whole pieces of the one stream the seed fixes.
    constexpr int draws = 500, size = 16;
    manual_seed(41);
    std::vector<double> expected = rand({2 * draws * size}, DType::f64).to_vector<double>();

    manual_seed(41);
    std::vector<double> drawn_a, drawn_b;
    auto draw = [](std::vector<double>& out) {
        for (int i = 0; i < draws; ++i) {
            std::vector<double> piece = rand({size}, DType::f64).to_vector<double>();
            out.insert(out.end(), piece.begin(), piece.end());
        }
    };
    std::thread first([&] { draw(drawn_a); });
    std::thread second([&] { draw(drawn_b); });
    first.join();
    second.join();

    std::vector<double> drawn = drawn_a;
    drawn.insert(drawn.end(), drawn_b.begin(), drawn_b.end());
    std::sort(drawn.begin(), drawn.end());
    std::sort(expected.begin(), expected.end());
    CHECK(drawn == expected);
}

TEST_CASE("threads: saves of one path from two threads never leave a mix, even to a reader") {
    // Each thread writes its own temporary file and renames it over the
    // path, so a reader at any moment finds one whole file: all of one
    // thread's numbers, never some of each.
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / fmt::format("tapegrad_threads_{}", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string path = (dir / "shared.safetensors").string();
    save_safetensors(path, {{"w", zeros({16'384})}});

    constexpr int saves = 30;
    std::atomic<int> writing{2}, failed_saves{0};
    auto writer = [&](double value) {
        std::map<std::string, Tensor> tensors{{"w", full({16'384}, value)}};
        for (int i = 0; i < saves; ++i) {
            try {
                save_safetensors(path, tensors);
            } catch (const Error&) {
                ++failed_saves;  // e.g. the other thread renamed a shared temporary file away
            }
        }
        --writing;
    };
    int reads = 0, mixed = 0;
    std::thread first(writer, 1.0), second(writer, 2.0);
    while (writing > 0) {
        ++reads;
        try {
            std::vector<float> w = load_safetensors(path).tensors.at("w").to_vector<float>();
            if (std::count(w.begin(), w.end(), w.front()) != static_cast<std::ptrdiff_t>(w.size()))
                ++mixed;
        } catch (const Error&) {
            ++mixed;  // a file cut short
        }
    }
    first.join();
    second.join();
    std::vector<float> last = load_safetensors(path).tensors.at("w").to_vector<float>();
    CHECK((last.front() == 1.0f || last.front() == 2.0f));
    CHECK(std::count(last.begin(), last.end(), last.front()) == 16'384);
    CHECK(reads > 0);
    CHECK(mixed == 0);
    CHECK(failed_saves.load() == 0);
    for (const auto& item : fs::directory_iterator(dir))
        CHECK(item.path().filename().string().find(".tmp.") == std::string::npos);
    fs::remove_all(dir);
}
