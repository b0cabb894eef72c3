// The examples are reproducible: from one seed, training gives the same
// losses bit for bit, every time, in one process; and on this machine also
// with one or two BLAS threads, for the sizes trained here.
//
// Why the thread count does not matter at these sizes: every GEMM they make
// (forward and backward) has m * n * k <= 262144, below which OpenBLAS (0.3.x,
// interface/gemm.c: 65536 * GEMM_MULTITHREAD_THRESHOLD of 4) computes it on
// the calling thread whatever the thread count; everything else tapegrad
// computes in plain loops on the calling thread, in a fixed order. Above that
// size OpenBLAS splits C into blocks of rows and columns, one per thread, and
// never splits k, so each element is still one dot product over all of k; yet
// some kernel families (Haswell and Zen, chosen on AVX2 CPUs) then round a
// part of the elements differently, so bigger models are reproducible per
// thread count only. The last test case shows which holds here.

#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <vector>

#include <tapegrad/core/config.h>

#include "../../examples/char_rnn/corpus.h"
#include "../../examples/char_rnn/model.h"
#include "../../examples/char_rnn/training.h"
#include "../../examples/sine_to_cosine/sine_to_cosine.h"
#include "../../examples/stacked_rnn/stacked_rnn.h"

namespace {

constexpr int kSteps = 200;

// Exact comparison: bit patterns, so -0.0 differs from 0.0 and NaN equals itself.
std::vector<std::uint64_t> bits(const std::vector<double>& values) {
    std::vector<std::uint64_t> out;
    for (double v : values) out.push_back(std::bit_cast<std::uint64_t>(v));
    return out;
}

std::vector<std::uint32_t> bits(const tg::Tensor& t) {
    std::vector<std::uint32_t> out;
    for (float v : t.to_vector<float>()) out.push_back(std::bit_cast<std::uint32_t>(v));
    return out;
}

// The BLAS thread count for a scope, then back to what it was.
class BlasThreads {
public:
    explicit BlasThreads(int n) : previous_(tg::config().threads) { tg::set_num_threads(n); }
    ~BlasThreads() { tg::set_num_threads(previous_); }
    BlasThreads(const BlasThreads&) = delete;
    BlasThreads& operator=(const BlasThreads&) = delete;

private:
    int previous_;
};

// 200 chunks of the curve, the example's model and settings.
std::vector<double> sine_to_cosine_losses() {
    tg::manual_seed(1);
    sine_to_cosine::SineToCosine model;
    auto steps = sine_to_cosine::train(model, {.steps = kSteps});
    return sine_to_cosine::losses(steps);
}

// 32 samples in shuffled batches of 8 for 50 epochs: 200 optimizer steps,
// each batch's loss recorded as fit computes it.
std::vector<double> stacked_rnn_losses() {
    tg::manual_seed(0);
    tg::keras::Sequential model = stacked_rnn::make_model();
    auto [x, y] = stacked_rnn::random_data(32);
    tg::keras::Adam optimizer(model.parameters());
    std::vector<double> losses;
    auto recorded_mse = [&](const tg::Tensor& prediction, const tg::Tensor& target) {
        tg::Tensor loss = tg::keras::mean_squared_error(prediction, target);
        losses.push_back(loss.item());
        return loss;
    };
    tg::keras::fit(model, x, y,
                   {.epochs = kSteps / 4, .batch_size = 8, .verbose = 0, .loss = recorded_mse},
                   optimizer);
    return losses;
}

// Short sentences from a few words; two LSTM layers with dropout, so the
// generator's stream and the carried state both matter.
std::vector<double> char_rnn_losses() {
    const std::u32string subjects[] = {U"a hen", U"the owl", U"two bees", U"one ant"};
    const std::u32string verbs[] = {U"sees", U"finds", U"digs under", U"flies over"};
    const std::u32string objects[] = {U"a stone", U"the hill", U"some seeds", U"the pond",
                                      U"a leaf"};
    std::vector<std::u32string> samples;
    for (int i = 0; i < 40; ++i)
        samples.push_back(char_rnn::text_sample(subjects[i % 4] + U" " + verbs[i % 4 / 2 + i % 3] +
                                                U" " + objects[i % 5] + U"."));
    const char_rnn::Vocabulary vocabulary(samples);
    const char_rnn::Batches data = char_rnn::batchify(samples, vocabulary, 4);

    tg::manual_seed(3);
    char_rnn::CharRNN model({.vocabulary_size = vocabulary.size(),
                             .embed = 8,
                             .hidden = 32,
                             .layers = 2,
                             .dropout = 0.2});
    tg::Adam optimizer(model.parameters(), {.lr = 1e-2});
    const char_rnn::TrainOptions options{.bptt = 16, .clip = 1.0};
    char_rnn::Progress progress{.state = model.initial_state(data.batch)};
    std::vector<double> losses;
    while (progress.step < kSteps)
        losses.push_back(char_rnn::train_step(model, optimizer, data, options, progress));
    return losses;
}

// Runs train twice with each of 1 and 2 BLAS threads: the same bits every
// time at a fixed thread count, and (see the top) across the two counts.
void check_reproducible(std::vector<double> (*train)()) {
    std::vector<std::uint64_t> per_threads[2];
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        BlasThreads scope(threads);
        const std::vector<double> first = train(), second = train();
        REQUIRE(first.size() == kSteps);
        CHECK(bits(first) == bits(second));
        // A run that learns nothing would pass the comparisons trivially.
        CHECK(first.back() < first.front());
        per_threads[threads - 1] = bits(first);
    }
    CHECK(per_threads[0] == per_threads[1]);
}

}  // namespace

TEST_CASE("sine_to_cosine: 200 chunk steps from one seed, bit for bit, with 1 or 2 threads") {
    check_reproducible(sine_to_cosine_losses);
}

TEST_CASE("stacked_rnn: 200 optimizer steps from one seed, bit for bit, with 1 or 2 threads") {
    check_reproducible(stacked_rnn_losses);
}

TEST_CASE("char_rnn: 200 steps from one seed, bit for bit, with 1 or 2 threads") {
    check_reproducible(char_rnn_losses);
}

// A product big enough for OpenBLAS to split over two threads (m * n * k is
// 2^23): the same thread count gives the same bits, forward and backward;
// whether one thread gives those bits too depends on the kernels (see the top).
TEST_CASE("a GEMM that two threads share is repeatable at a fixed thread count") {
    tg::manual_seed(5);
    const tg::Tensor a = tg::randn({256, 128}), b = tg::randn({128, 256});
    struct Result {
        std::vector<std::uint32_t> y, da, db;
    };
    auto run = [&] {
        tg::Tensor x = a.detach().requires_grad_(), w = b.detach().requires_grad_();
        tg::Tensor y = tg::matmul(x, w);
        tg::sum(y * y).backward();
        return Result{bits(y), bits(x.grad()), bits(w.grad())};
    };
    Result one, two;
    {
        BlasThreads scope(1);
        one = run();
    }
    {
        BlasThreads scope(2);
        two = run();
        const Result again = run();
        CHECK(again.y == two.y);
        CHECK(again.da == two.da);
        CHECK(again.db == two.db);
    }
    auto differing = [](const std::vector<std::uint32_t>& p, const std::vector<std::uint32_t>& q) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < p.size(); ++i) n += p[i] != q[i];
        return n;
    };
    MESSAGE("OpenBLAS kernels ", tg::config().core, ": 1 vs 2 threads, elements that differ: y ",
            differing(one.y, two.y), ", da ", differing(one.da, two.da), ", db ",
            differing(one.db, two.db), " of ", one.y.size(), ", ", one.da.size(), ", ",
            one.db.size());
}
