#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "../../examples/char_rnn/corpus.h"
#include "../../examples/char_rnn/model.h"
#include "../../examples/char_rnn/training.h"

namespace {

using namespace char_rnn;

std::string fixture(const std::string& name) {
    return std::string(std::getenv("TAPEGRAD_SOURCE_DIR")) + "/tests/data/char_rnn/" + name;
}

// A file in the temporary directory, removed when the test ends.
struct TempFile {
    explicit TempFile(const std::string& name, const std::string& contents = {})
        : path((std::filesystem::temp_directory_path() /
                ("char_rnn_test_" + std::to_string(::getpid()) + "_" + name))
                   .string()) {
        if (!contents.empty()) std::ofstream(path, std::ios::binary) << contents;
    }
    ~TempFile() { std::filesystem::remove(path); }
    std::string path;
};

std::vector<std::u32string> samples_of(std::initializer_list<const char32_t*> lines) {
    std::vector<std::u32string> out;
    for (const char32_t* line : lines) out.push_back(text_sample(line));
    return out;
}

// Sentences built from a few words in changing combinations: the next
// character is easy to guess from the ones before, its frequency alone is not.
std::vector<std::u32string> toy_text(int lines) {
    const std::u32string who[] = {U"the cat", U"a dog", U"my bird", U"his fox", U"our cow"};
    const std::u32string did[] = {U"sat on", U"ran to", U"looked at"};
    const std::u32string what[] = {U"the mat", U"a log",    U"the barn", U"her hat",
                                   U"a tree",  U"the moon", U"my car"};
    std::vector<std::u32string> out;
    for (int i = 0; i < lines; ++i)
        out.push_back(text_sample(who[i % 5] + U" " + did[i % 3] + U" " + what[i % 7] + U"."));
    return out;
}

}  // namespace

TEST_CASE("UTF-8 decodes to code points and back; invalid bytes are refused") {
    const std::string bytes = "caf\xc3\xa9 \xce\xbb \xf0\x9f\x99\x82";  // café λ, a 4-byte emoji
    const std::u32string text = decode_utf8(bytes, "here");
    CHECK(text == U"caf\u00e9 \u03bb \U0001F642");
    CHECK(encode_utf8(text) == bytes);
    for (const char* bad : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xff", "a\x80"})
        CHECK_THROWS_WITH_AS(decode_utf8(bad, "f.txt:3"),
                             doctest::Contains("f.txt:3: invalid UTF-8"), tg::ValueError);
}

TEST_CASE("an arXiv sample is BOS + (title ; abstract, newlines as spaces)[:512] + EOS") {
    auto samples = read_arxiv(fixture("arxiv_sample.jsonl"));
    REQUIRE(samples.size() == 3);  // the blank line between records is skipped
    CHECK(samples[0] ==
          U" Learning to count characters with   recurrent networks ;   We study how a small "
          U"recurrent network learns the statistics of text one character at a time. \n");
    // Written with \u escapes in the file, and as raw UTF-8.
    CHECK(samples[1] ==
          U" Na\u00efve bounds on caf\u00e9 queues ;   Queues at a caf\u00e9 are a "
          U"Markov chain with rate \u03bb. \n");
    // 512 characters between BOS and EOS, cut inside "little".
    CHECK(samples[2].size() == 1 + 512 + 1);
    CHECK(samples[2].starts_with(U" A long abstract ;   Recurrent networks read text"));
    CHECK(samples[2].ends_with(U"show that the cut changes the result very litt\n"));
    CHECK(samples[2].find(U"CUT-HERE") == std::u32string::npos);
    for (const auto& s : samples) CHECK(s.find(kEos) == s.size() - 1);

    CHECK(read_arxiv(fixture("arxiv_sample.jsonl"), 2).size() == 2);
}

TEST_CASE("arXiv lines that are not records are refused, naming the line") {
    TempFile bad_json("bad.jsonl", "{\"title\": \"a\", \"abstract\": \"b\"}\n{\"title\": \n");
    CHECK_THROWS_WITH_AS(read_arxiv(bad_json.path), doctest::Contains("bad.jsonl:2: not JSON"),
                         tg::ValueError);
    TempFile no_abstract("none.jsonl", "{\"title\": \"a\", \"abstract\": null}\n");
    CHECK_THROWS_WITH_AS(read_arxiv(no_abstract.path),
                         doctest::Contains("none.jsonl:1: expected an object with a string field "
                                           "'abstract'"),
                         tg::ValueError);
    CHECK_THROWS_AS(read_arxiv("/nonexistent/arxiv.jsonl"), tg::ValueError);
}

TEST_CASE("a text file gives one sample per non-empty line, not cut") {
    const std::string long_line(600, 'x');
    TempFile text("lines.txt", "first line\r\n\nsecond\n" + long_line + "\n");
    auto samples = read_text(text.path);
    REQUIRE(samples.size() == 3);
    CHECK(samples[0] == U" first line\n");
    CHECK(samples[1] == U" second\n");
    CHECK(samples[2].size() == 602);
}

TEST_CASE("the last tenth of the samples is held out, at least one") {
    std::vector<std::u32string> s(25, U" x\n");
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = text_sample(std::u32string(1 + i, U'a'));
    Split split = split_held_out(s, 0.1);
    CHECK(split.train.size() == 23);
    REQUIRE(split.held_out.size() == 2);
    CHECK(split.held_out[0] == s[23]);
    CHECK(split_held_out(samples_of({U"a", U"b"}), 0.1).held_out.size() == 1);
    CHECK_THROWS_AS(split_held_out(samples_of({U"a"}), 0.1), tg::ValueError);
}

TEST_CASE("the vocabulary is the sorted training characters plus an unknown entry") {
    Vocabulary v(samples_of({U"ba", U"cab"}));
    CHECK(v.characters() == U"\n abc");
    CHECK(v.size() == 6);
    CHECK(v.id(U'\n') == 0);
    CHECK(v.id(U' ') == 1);
    CHECK(v.id(U'c') == 4);
    CHECK(v.id(U'z') == v.unknown());
    CHECK(v.unknown() == 5);
    CHECK(v.character(2) == U'a');
    CHECK_THROWS_AS(v.character(v.unknown()), tg::IndexError);
}

TEST_CASE("batchify cuts the stream into columns; crossing into a sample's BOS is no target") {
    auto s = samples_of({U"ab", U"b"});  // " ab\n b\n": ids 1 2 3 0 1 3 0
    Vocabulary v(s);
    Batches b = batchify(s, v, 2);
    CHECK(b.rows == 3);
    CHECK(b.inputs == std::vector<std::int64_t>{1, 0, 2, 1, 3, 3});
    CHECK(b.targets == std::vector<std::int64_t>{2, kIgnore, 3, 3, 0, 0});
    CHECK(b.windows(2) == 2);
    Window w = b.window(1, 2);  // the short last window: row 2
    CHECK(w.input.shape() == tg::Shape{1, 2});
    CHECK(w.target.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0});
    CHECK(w.targets == 2);
    CHECK(b.window(0, 2).targets == 3);
    CHECK_THROWS_AS(batchify(s, v, 7), tg::ValueError);
}

TEST_CASE("the unigram baseline: add-one smoothed training frequencies, in bits") {
    auto train_samples = samples_of({U"ab", U"b"});  // targets a b \n | b \n
    Vocabulary v(train_samples);                     // \n, space, a, b, unknown
    Unigram unigram(batchify(train_samples, v, 1), v.size());
    // Counts + 1 over 5 targets + 5 entries: \n 3, space 1, a 2, b 3, unknown 1 (of 10).
    CHECK(unigram.probability(v.id(U'\n')) == doctest::Approx(0.3));
    CHECK(unigram.probability(v.id(U' ')) == doctest::Approx(0.1));
    CHECK(unigram.probability(v.id(U'a')) == doctest::Approx(0.2));
    CHECK(unigram.probability(v.unknown()) == doctest::Approx(0.1));
    const double train_bits = (std::log2(10.0 / 2) + 4 * std::log2(10.0 / 3)) / 5;
    CHECK(unigram.bits_per_character(batchify(train_samples, v, 1)) ==
          doctest::Approx(train_bits).epsilon(1e-12));
    // Held-out " bc\n": b, then c unseen (the unknown entry), then \n.
    const double held_out_bits = (2 * std::log2(10.0 / 3) + std::log2(10.0)) / 3;
    CHECK(unigram.bits_per_character(batchify(samples_of({U"bc"}), v, 1)) ==
          doctest::Approx(held_out_bits).epsilon(1e-12));
}

TEST_CASE("training brings held-out bits per character well below the unigram's") {
    Split split = split_held_out(toy_text(60), 0.1);
    Vocabulary v(split.train);
    Batches train = batchify(split.train, v, 4);
    Batches held_out = batchify(split.held_out, v, 2);
    const double unigram = Unigram(train, v.size()).bits_per_character(held_out);

    tg::manual_seed(3);
    CharRNN model({.vocabulary_size = v.size(), .embed = 8, .hidden = 32});
    tg::Adam optimizer(model.parameters(), {.lr = 1e-2});
    TrainOptions options{.bptt = 16, .clip = 1.0};
    Progress progress{.state = model.initial_state(train.batch)};
    const double before = evaluate(model, held_out, options.bptt);
    while (progress.step < 150) train_step(model, optimizer, train, options, progress);
    const double after = evaluate(model, held_out, options.bptt);
    MESSAGE("unigram ", unigram, " bpc, model ", before, " -> ", after, " bpc");
    CHECK(after < before);
    CHECK(after < unigram - 1.0);
}

TEST_CASE("sampling starts at BOS and stops at EOS or the length cap") {
    Vocabulary v(samples_of({U"abc"}));
    tg::manual_seed(1);
    CharRNN model({.vocabulary_size = v.size(), .embed = 4, .hidden = 8});
    tg::Generator generator(5);
    auto force = [&](std::int64_t id, double logit) {
        tg::NoGrad no_grad;
        model.decoder.weight.zero_();
        model.decoder.bias.zero_();
        model.decoder.bias.set({id}, logit);
    };
    force(v.id(kEos), 50.0);
    CHECK(sample(model, v, 1.0, 100, generator) == U"");
    force(v.id(U'b'), 50.0);
    CHECK(sample(model, v, 1.0, 7, generator) == U"bbbbbbb");
    CHECK(sample(model, v, 0.0, 3, generator) == U"bbb");
    // The unknown entry is never drawn, however likely.
    force(v.id(U'c'), 10.0);
    {
        tg::NoGrad no_grad;
        model.decoder.bias.set({v.unknown()}, 50.0);
    }
    CHECK(sample(model, v, 0.0, 5, generator) == U"ccccc");
    CHECK(sample(model, v, 1.0, 5, generator) == U"ccccc");
    CHECK_THROWS_AS(sample(model, v, -1.0, 5, generator), tg::ValueError);
}

namespace {

struct Run {
    std::vector<double> losses;
    tg::StateDict parameters;
};

// Trains from seed 7 up to `until` steps, after resuming from `resume` if
// given; writes a checkpoint at `checkpoint_at` if given.
Run train(const ModelOptions& model_options, const Batches& data, const Vocabulary& v,
          std::int64_t until, const std::string& resume = {}, std::int64_t checkpoint_at = -1,
          const std::string& checkpoint = {}) {
    tg::manual_seed(resume.empty() ? 7 : 12345);  // a resumed run must not depend on it
    CharRNN model(model_options);
    tg::Adam optimizer(model.parameters(), {.lr = 5e-3});
    TrainOptions options{.bptt = 5, .clip = 0.5};
    Progress progress{.state = model.initial_state(data.batch)};
    if (!resume.empty()) progress = load_checkpoint(resume, model, optimizer, v, data, options);
    Run run;
    while (progress.step < until) {
        run.losses.push_back(train_step(model, optimizer, data, options, progress));
        if (progress.step == checkpoint_at)
            save_checkpoint(checkpoint, model, optimizer, progress, v, data, options);
    }
    run.parameters = model.state_dict();
    return run;
}

}  // namespace

TEST_CASE("a resumed run continues with bit-identical losses") {
    auto samples = toy_text(4);
    Vocabulary v(samples);
    Batches data = batchify(samples, v, 3);  // 7 windows of 5 per epoch
    REQUIRE(data.windows(5) == 7);
    for (const char* cell : {"lstm", "gru"}) {
        CAPTURE(cell);
        // Two layers and dropout: the generator's state and both layers'
        // carried state matter. The checkpoint falls mid-epoch, and steps 9
        // to 16 cross into the third epoch.
        ModelOptions o{.vocabulary_size = v.size(),
                       .cell = cell,
                       .embed = 6,
                       .hidden = 10,
                       .layers = 2,
                       .dropout = 0.2};
        TempFile checkpoint("resume.safetensors");
        Run straight = train(o, data, v, 17);
        Run first = train(o, data, v, 9, {}, 9, checkpoint.path);
        Run second = train(o, data, v, 17, checkpoint.path);
        REQUIRE(straight.losses.size() == 17);
        REQUIRE(first.losses.size() == 9);
        REQUIRE(second.losses.size() == 8);
        for (std::size_t i = 0; i < 17; ++i) {
            CAPTURE(i);
            const double resumed = i < 9 ? first.losses[i] : second.losses[i - 9];
            CHECK(resumed == straight.losses[i]);  // exactly
        }
        for (const auto& [name, t] : straight.parameters)
            CHECK(t.to_vector<float>() == second.parameters.at(name).to_vector<float>());
    }
}

TEST_CASE("a checkpoint refuses other data or other flags") {
    auto samples = toy_text(12);
    Vocabulary v(samples);
    Batches data = batchify(samples, v, 3);
    ModelOptions o{.vocabulary_size = v.size(), .embed = 6, .hidden = 10};
    TempFile checkpoint("refuse.safetensors");
    train(o, data, v, 2, {}, 2, checkpoint.path);

    CharRNN model(o);
    tg::Adam optimizer(model.parameters());
    const tg::Tensor before = model.decoder.weight.clone();
    CHECK_THROWS_WITH_AS(
        load_checkpoint(checkpoint.path, model, optimizer, v, batchify(samples, v, 2), {.bptt = 5}),
        doctest::Contains("written with --batch 3"), tg::ValueError);
    CHECK_THROWS_WITH_AS(load_checkpoint(checkpoint.path, model, optimizer, v, data, {.bptt = 4}),
                         doctest::Contains("--bptt 5"), tg::ValueError);
    Vocabulary other(toy_text(3));
    CHECK_THROWS_WITH_AS(load_checkpoint(checkpoint.path, model, optimizer, other,
                                         batchify(samples, other, 3), {.bptt = 5}),
                         doctest::Contains("another vocabulary"), tg::ValueError);
    CharRNN wider({.vocabulary_size = v.size(), .embed = 6, .hidden = 12});
    tg::Adam wider_optimizer(wider.parameters());
    CHECK_THROWS_WITH_AS(
        load_checkpoint(checkpoint.path, wider, wider_optimizer, v, data, {.bptt = 5}),
        doctest::Contains("carried state"), tg::ValueError);
    CHECK(model.decoder.weight.to_vector<float>() == before.to_vector<float>());
}
