// A character-level language model: embedding -> LSTM -> linear over the
// characters, trained with Adam and truncated backpropagation through time.
// It is PyTorch's word_language_model example with characters for words:
//
//   samples -> vocabulary -> batchify(train, batch)         corpus.h
//   model = RNNModel('LSTM', ntokens, embed, hidden, layers)  model.h
//   for each window of bptt characters:                      training.h
//       hidden = repackage_hidden(hidden)
//       output, hidden = model(data, hidden)
//       loss = criterion(output, targets); loss.backward()
//       clip_grad_norm_(model.parameters(), clip); optimizer.step()
//
// and it reports bits per character on held-out text next to a unigram
// model that ignores context, then writes a few samples.
//
//   char_rnn                               trains on /usr/share/common-licenses/GPL-3
//   char_rnn --text FILE                   one sample per non-empty line
//   char_rnn --arxiv arxiv-metadata.json   title ; abstract of each paper
//   char_rnn --checkpoint ck.safetensors --steps 200, then
//   char_rnn --resume ck.safetensors --steps 400   continues bit for bit
//   mpiexec -n 2 char_rnn --distributed    two ranks, half of the streams each

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <tapegrad/core/config.h>
#include <CLI/CLI.hpp>

#include "corpus.h"
#include "distributed.h"
#include "model.h"
#include "training.h"

int main(int argc, char** argv) try {
    CLI::App app{"Character-level language model trained with truncated BPTT"};
    std::string arxiv, text, checkpoint, resume;
    char_rnn::ModelOptions model_options{.vocabulary_size = 0, .dropout = 0.2};
    char_rnn::TrainOptions train_options;
    double lr = 5e-3, holdout = 0.1, temperature = 0.8;
    std::int64_t steps = 800, eval_every = 100, checkpoint_every = 0, sample_length = 300;
    std::int64_t batch = 16, samples_to_draw = 3;
    std::size_t max_samples = 0;
    std::uint64_t seed = 1;
    int threads = 0;
    bool distributed = false;
    auto* arxiv_flag = app.add_option("--arxiv", arxiv, "arXiv metadata snapshot (JSON lines)");
    app.add_option("--text", text, "plain text, one sample per line (default: the GPL-3 text)")
        ->excludes(arxiv_flag);
    app.add_option("--max-samples", max_samples, "read at most this many samples (0: all)");
    app.add_option("--holdout", holdout, "fraction of samples, from the end, held out")
        ->capture_default_str();
    app.add_option("--cell", model_options.cell, "recurrent cell")
        ->check(CLI::IsMember({"lstm", "gru", "rnn"}))
        ->capture_default_str();
    app.add_option("--embed", model_options.embed, "embedding size")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--hidden", model_options.hidden, "hidden size")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--layers", model_options.layers, "recurrent layers")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--dropout", model_options.dropout, "dropout probability")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--bptt", train_options.bptt, "characters per window")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--batch", batch, "parallel streams")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--lr", lr, "Adam learning rate")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--clip", train_options.clip, "max gradient norm (0: off)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--steps", steps, "train until this many steps in all")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--seed", seed, "seed of initialisation, dropout and sampling")
        ->capture_default_str();
    app.add_option("--eval-every", eval_every, "steps between reports")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--temperature", temperature, "sampling temperature (0: most likely)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--sample-length", sample_length, "at most this many characters per sample")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--samples", samples_to_draw, "samples to write at the end")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--threads", threads,
                   "BLAS threads (default: OpenBLAS's, or OPENBLAS_NUM_THREADS)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--checkpoint", checkpoint, "write a checkpoint here (atomically)");
    app.add_option("--checkpoint-every", checkpoint_every,
                   "steps between checkpoints (0: only at the end)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--resume", resume, "continue from this checkpoint");
    app.add_flag("--distributed", distributed,
                 "data-parallel over MPI (run under mpiexec -n N): each rank trains on batch / N "
                 "of the streams");
    CLI11_PARSE(app, argc, argv);

    // Only rank 0 prints; every rank runs the same steps and collectives.
    const char_rnn::Parallel parallel(distributed, argc, argv);
    parallel.check_batch(batch);
    if (threads > 0) tg::set_num_threads(threads);
    if (parallel.is_root())
        fmt::print("{}{}\n", tg::config().to_string(),
                   distributed ? fmt::format(" | {} rank{}", parallel.ranks(),
                                             parallel.ranks() == 1 ? "" : "s")
                               : "");

    tg::manual_seed(seed);

    // The data: samples, the held-out tail, the vocabulary of the training
    // part, and both parts cut into parallel streams.
    const char* gpl = "/usr/share/common-licenses/GPL-3";
    if (arxiv.empty() && text.empty()) text = gpl;
    if (text == gpl && !std::filesystem::exists(gpl))
        throw tg::ValueError(fmt::format("{} is missing here: pass --text or --arxiv", gpl));
    const std::string source = arxiv.empty() ? text : arxiv;
    auto samples = arxiv.empty() ? char_rnn::read_text(text, max_samples)
                                 : char_rnn::read_arxiv(arxiv, max_samples);
    const char_rnn::Split split = char_rnn::split_held_out(samples, holdout);
    const char_rnn::Vocabulary vocabulary(split.train);
    const char_rnn::Batches train = char_rnn::batchify(split.train, vocabulary, batch);
    // PyTorch's example evaluates with 10 streams; a tiny held-out text gets fewer.
    const std::int64_t held_out_characters = char_rnn::count_characters(split.held_out);
    const char_rnn::Batches held_out = char_rnn::batchify(
        split.held_out, vocabulary, std::min<std::int64_t>(10, held_out_characters - 1));
    if (parallel.is_root())
        fmt::print(
            "data: {}: {} samples, {} train ({} characters), {} held out ({} characters, {} "
            "unseen in training)\n",
            source, samples.size(), split.train.size(), char_rnn::count_characters(split.train),
            split.held_out.size(), held_out_characters,
            char_rnn::count_unseen(split.held_out, vocabulary));

    const char_rnn::Unigram unigram(train, vocabulary.size());
    const double unigram_held_out = unigram.bits_per_character(held_out);
    if (parallel.is_root())
        fmt::print(
            "unigram baseline: train {:.3f} bpc, held-out {:.3f} bpc ({} characters + unknown)\n",
            unigram.bits_per_character(train), unigram_held_out, vocabulary.size() - 1);

    // The model and its optimizer; a resumed run then overwrites both.
    model_options.vocabulary_size = vocabulary.size();
    char_rnn::CharRNN model(model_options);
    parallel.broadcast_parameters(model);
    tg::Adam optimizer(model.parameters(), {.lr = lr});
    char_rnn::Progress progress{.state = model.initial_state(parallel.columns(batch))};
    if (!resume.empty()) {
        // Every rank reads the file: the whole batch's state, of which it
        // keeps its columns, and the running loss, which rank 0 keeps. So a
        // checkpoint resumes on any number of ranks, or none.
        progress =
            char_rnn::load_checkpoint(resume, model, optimizer, vocabulary, train, train_options);
        progress.state = {parallel.my_columns(progress.state.h, batch),
                          parallel.my_columns(progress.state.c, batch)};
        if (!parallel.is_root()) progress.nats = 0;
        if (parallel.is_root()) fmt::print("resumed from {} at step {}\n", resume, progress.step);
    }
    const std::int64_t windows = train.windows(train_options.bptt);
    if (parallel.is_root())
        fmt::print(
            "model: {} embed {} hidden {} layers {}, {} parameters; {} streams x {} rows, {} "
            "windows of {} per epoch\n",
            model_options.cell, model_options.embed, model_options.hidden, model_options.layers,
            model.num_parameters(), batch, train.rows, windows, train_options.bptt);

    // Training: one window per step, a report every eval_every steps and at
    // the end. Only reports on the eval_every grid restart the running mean:
    // a checkpoint written at the end then holds the sums an uninterrupted
    // run would carry on with, so a resumed run reports the same numbers.
    const auto start = std::chrono::steady_clock::now();
    while (progress.step < steps) {
        char_rnn::train_step(model, optimizer, train, train_options, progress, parallel);
        const bool last = progress.step == steps, on_grid = progress.step % eval_every == 0;
        if (on_grid || last) {
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            char_rnn::Progress all = progress;  // the ranks' losses, summed on every rank
            all.nats = parallel.sum(progress.nats);
            if (parallel.is_root()) {
                fmt::print(
                    "step {:5}  epoch {:6.2f}  train {:.3f} bpc  held-out {:.3f} bpc  "
                    "(unigram {:.3f})  {:.1f} s\n",
                    progress.step, double(progress.step) / double(windows), all.mean_bits(),
                    char_rnn::evaluate(model, held_out, train_options.bptt), unigram_held_out,
                    seconds);
                std::fflush(stdout);
            }
        }
        if (on_grid) progress.restart_mean();
        if (!checkpoint.empty() &&
            (last || (checkpoint_every > 0 && progress.step % checkpoint_every == 0))) {
            // The whole batch's state and loss, so any number of ranks can resume.
            char_rnn::Progress whole = progress;
            whole.state = {parallel.gather_columns(progress.state.h, batch),
                           parallel.gather_columns(progress.state.c, batch)};
            whole.nats = parallel.sum(progress.nats);
            parallel.on_root_then_wait([&] {
                char_rnn::save_checkpoint(checkpoint, model, optimizer, whole, vocabulary, train,
                                          train_options);
            });
        }
    }

    // Samples from BOS to EOS, with a generator of their own.
    if (!parallel.is_root()) return 0;
    tg::Generator generator(seed);
    if (samples_to_draw > 0) fmt::print("samples (temperature {}):\n", temperature);
    for (std::int64_t i = 0; i < samples_to_draw; ++i)
        fmt::print("  {}\n", char_rnn::encode_utf8(char_rnn::sample(model, vocabulary, temperature,
                                                                    sample_length, generator)));
    return 0;
} catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
}
