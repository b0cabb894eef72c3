#pragma once

// The text side of the character model: samples read from an arXiv metadata
// snapshot or a plain text file, the vocabulary, the parallel streams that
// truncated backpropagation through time walks along, and the unigram baseline.
//
// A character is a Unicode code point: the files are decoded as UTF-8 (an
// invalid byte is an error naming the file and line), so an accented letter
// in an author's abstract is one character, as Python's str would count it.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <tapegrad/tapegrad.h>
#include <nlohmann/json.hpp>

namespace char_rnn {

// Every sample starts with BOS and ends with EOS. Sampling starts from BOS
// and stops at EOS; no sample holds "\n" inside, so EOS is unambiguous.
inline constexpr char32_t kBos = U' ';
inline constexpr char32_t kEos = U'\n';
inline constexpr std::size_t kMaxArxivCharacters = 512;
// The target of the step that crosses from one sample into the next: the
// model is not asked to predict BOS, which always follows EOS.
inline constexpr std::int64_t kIgnore = -100;

// UTF-8 bytes -> code points. Overlong forms, surrogates and values past
// U+10FFFF are invalid, as in Python's strict decoder.
inline std::u32string decode_utf8(std::string_view bytes, const std::string& where) {
    static constexpr char32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    std::u32string out;
    out.reserve(bytes.size());
    for (std::size_t i = 0; i < bytes.size();) {
        const auto lead = static_cast<unsigned char>(bytes[i]);
        const std::size_t length = lead < 0x80              ? 1
                                   : (lead >> 5) == 0b110   ? 2
                                   : (lead >> 4) == 0b1110  ? 3
                                   : (lead >> 3) == 0b11110 ? 4
                                                            : 0;
        bool valid = length > 0 && i + length <= bytes.size();
        char32_t c = length == 1 ? lead : lead & (0x7F >> length);
        for (std::size_t k = 1; valid && k < length; ++k) {
            const auto next = static_cast<unsigned char>(bytes[i + k]);
            valid = (next & 0xC0) == 0x80;
            c = (c << 6) | (next & 0x3F);
        }
        valid = valid && c >= smallest[length] && c <= 0x10FFFF && (c < 0xD800 || c > 0xDFFF);
        if (!valid)
            throw tg::ValueError(fmt::format("char_rnn: {}: invalid UTF-8 at byte {}", where, i));
        out.push_back(c);
        i += length;
    }
    return out;
}

inline std::string encode_utf8(std::u32string_view text) {
    std::string out;
    for (char32_t c : text) {
        if (c < 0x80) {
            out += static_cast<char>(c);
            continue;
        }
        static constexpr unsigned char lead_bits[] = {0, 0, 0xC0, 0xE0, 0xF0};
        const int length = c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        out += static_cast<char>(lead_bits[length] | (c >> (6 * (length - 1))));
        for (int k = length - 2; k >= 0; --k)
            out += static_cast<char>(0x80 | ((c >> (6 * k)) & 0x3F));
    }
    return out;
}

// BOS + (title + " ; " + abstract)[:512] + EOS, every "\n" replaced by " ".
// The replacement keeps the length, so replacing before or after the cut
// gives the same sample; this replaces, cuts, then adds BOS and EOS.
inline std::u32string arxiv_sample(const std::u32string& title, const std::u32string& abstract) {
    std::u32string text = title + U" ; " + abstract;
    std::replace(text.begin(), text.end(), U'\n', U' ');
    text.resize(std::min(text.size(), kMaxArxivCharacters));
    return kBos + text + kEos;
}

// A plain text line, wrapped like an arXiv sample but not cut: the cut is
// part of the arXiv recipe, and a line of a text file is already short.
inline std::u32string text_sample(const std::u32string& line) { return kBos + line + kEos; }

inline std::ifstream open_input(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw tg::ValueError(fmt::format("char_rnn: cannot open '{}'", path));
    return in;
}

// One sample per JSON line of an arXiv metadata snapshot (fields "title" and
// "abstract"; others are ignored); blank lines are skipped. max_samples 0
// reads them all.
inline std::vector<std::u32string> read_arxiv(const std::string& path,
                                              std::size_t max_samples = 0) {
    std::ifstream in = open_input(path);
    std::vector<std::u32string> samples;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (max_samples > 0 && samples.size() == max_samples) break;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = fmt::format("{}:{}", path, number);
        nlohmann::json record;
        try {
            record = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            throw tg::ValueError(fmt::format("char_rnn: {}: not JSON: {}", where, e.what()));
        }
        auto field = [&](const char* name) {
            if (!record.is_object() || !record.contains(name) || !record.at(name).is_string())
                throw tg::ValueError(fmt::format(
                    "char_rnn: {}: expected an object with a string field '{}'", where, name));
            return decode_utf8(record.at(name).get<std::string>(), where);
        };
        const std::u32string title = field("title");
        samples.push_back(arxiv_sample(title, field("abstract")));
    }
    return samples;
}

// One sample per non-empty line (a trailing "\r" is dropped).
inline std::vector<std::u32string> read_text(const std::string& path, std::size_t max_samples = 0) {
    std::ifstream in = open_input(path);
    std::vector<std::u32string> samples;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (max_samples > 0 && samples.size() == max_samples) break;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        samples.push_back(text_sample(decode_utf8(line, fmt::format("{}:{}", path, number))));
    }
    return samples;
}

struct Split {
    std::vector<std::u32string> train;
    std::vector<std::u32string> held_out;
};

// The last fraction of the samples (at least one) is held out, so the split
// depends on the file alone, never on a seed.
inline Split split_held_out(const std::vector<std::u32string>& samples, double fraction) {
    if (!(fraction > 0 && fraction < 1))
        throw tg::ValueError(
            fmt::format("char_rnn: the held-out fraction must be in (0, 1), got {}", fraction));
    const std::size_t held_out = std::max<std::size_t>(
        1, static_cast<std::size_t>(static_cast<double>(samples.size()) * fraction));
    if (samples.size() < held_out + 1)
        throw tg::ValueError(
            fmt::format("char_rnn: {} samples are too few to hold {} out and train on the rest",
                        samples.size(), held_out));
    const auto cut = samples.begin() + static_cast<std::ptrdiff_t>(samples.size() - held_out);
    return {{samples.begin(), cut}, {cut, samples.end()}};
}

// The characters of the training samples, sorted, then one extra entry that
// stands for every character the training text never showed. Held-out text
// maps its unseen characters there: both models then pay for them with the
// probability they give that entry (the network learns it is rare, the
// unigram gives it add-one smoothing), instead of the characters being
// skipped, which would flatter both.
class Vocabulary {
public:
    explicit Vocabulary(const std::vector<std::u32string>& samples) {
        std::set<char32_t> seen;
        for (const auto& s : samples) seen.insert(s.begin(), s.end());
        characters_.assign(seen.begin(), seen.end());
    }

    std::int64_t size() const { return static_cast<std::int64_t>(characters_.size()) + 1; }
    std::int64_t unknown() const { return size() - 1; }
    std::int64_t id(char32_t c) const {
        auto it = std::lower_bound(characters_.begin(), characters_.end(), c);
        if (it == characters_.end() || *it != c) return unknown();
        return it - characters_.begin();
    }
    char32_t character(std::int64_t id) const {
        if (id < 0 || id >= unknown())
            throw tg::IndexError(fmt::format("char_rnn: no character has id {} (vocabulary of {})",
                                             id, characters_.size()));
        return characters_[static_cast<std::size_t>(id)];
    }
    const std::u32string& characters() const { return characters_; }

private:
    std::u32string characters_;
};

// One window of truncated BPTT: input ids [T, B], target ids [T * B] in the
// order of the logits the model returns, and how many targets count.
struct Window {
    tg::Tensor input;
    tg::Tensor target;
    std::int64_t targets = 0;
};

// The samples concatenated into one stream of ids and cut into `batch`
// parallel streams, as PyTorch's word_language_model batchify does: column b
// reads its stretch of the text top to bottom, so the state after one window
// is the right start for the next. Unlike batchify, each column also gets the
// first character of the next column as its last target, so every character
// but the leftover tail (fewer than batch) is a target exactly once.
struct Batches {
    std::int64_t batch = 0;
    std::int64_t rows = 0;              // time steps per column
    std::vector<std::int64_t> inputs;   // [rows, batch]
    std::vector<std::int64_t> targets;  // [rows, batch], kIgnore at sample starts

    std::int64_t windows(std::int64_t bptt) const { return (rows + bptt - 1) / bptt; }

    Window window(std::int64_t index, std::int64_t bptt) const {
        const std::int64_t first = index * bptt, length = std::min(bptt, rows - first);
        if (index < 0 || length <= 0)
            throw tg::IndexError(fmt::format("char_rnn: window {} of {} (bptt {}, {} rows)", index,
                                             windows(bptt), bptt, rows));
        Window w{tg::Tensor::empty({length, batch}, tg::DType::i64),
                 tg::Tensor::empty({length * batch}, tg::DType::i64)};
        const auto begin = static_cast<std::ptrdiff_t>(first * batch);
        const auto end = begin + static_cast<std::ptrdiff_t>(length * batch);
        std::copy(inputs.begin() + begin, inputs.begin() + end,
                  w.input.mutable_data<std::int64_t>());
        std::copy(targets.begin() + begin, targets.begin() + end,
                  w.target.mutable_data<std::int64_t>());
        w.targets = std::count_if(targets.begin() + begin, targets.begin() + end,
                                  [](std::int64_t t) { return t != kIgnore; });
        return w;
    }
};

inline std::int64_t count_characters(const std::vector<std::u32string>& samples) {
    std::int64_t n = 0;
    for (const auto& s : samples) n += static_cast<std::int64_t>(s.size());
    return n;
}

inline std::int64_t count_unseen(const std::vector<std::u32string>& samples,
                                 const Vocabulary& vocabulary) {
    std::int64_t n = 0;
    for (const auto& s : samples)
        for (char32_t c : s) n += vocabulary.id(c) == vocabulary.unknown();
    return n;
}

inline Batches batchify(const std::vector<std::u32string>& samples, const Vocabulary& vocabulary,
                        std::int64_t batch) {
    std::vector<std::int64_t> stream;
    std::vector<bool> sample_start;
    for (const auto& s : samples)
        for (std::size_t i = 0; i < s.size(); ++i) {
            stream.push_back(vocabulary.id(s[i]));
            sample_start.push_back(i == 0);
        }
    const std::int64_t pairs = static_cast<std::int64_t>(stream.size()) - 1;
    if (batch <= 0 || pairs < batch)
        throw tg::ValueError(
            fmt::format("char_rnn: {} characters cannot be cut into {} streams of at least 2",
                        stream.size(), batch));
    Batches b{batch, pairs / batch, {}, {}};
    b.inputs.resize(static_cast<std::size_t>(b.rows * batch));
    b.targets.resize(b.inputs.size());
    for (std::int64_t t = 0; t < b.rows; ++t)
        for (std::int64_t column = 0; column < batch; ++column) {
            const auto from = static_cast<std::size_t>(column * b.rows + t);
            const auto to = static_cast<std::size_t>(t * batch + column);
            b.inputs[to] = stream[from];
            b.targets[to] = sample_start[from + 1] ? kIgnore : stream[from + 1];
        }
    return b;
}

// The baseline that knows no context: each character's share of the training
// targets, add-one smoothed over the whole vocabulary (the unknown entry too,
// so unseen held-out characters cost log2 of a finite number).
class Unigram {
public:
    Unigram(const Batches& train, std::int64_t vocabulary_size)
        : counts_(static_cast<std::size_t>(vocabulary_size), 1.0),
          total_(static_cast<double>(vocabulary_size)) {
        for (std::int64_t t : train.targets)
            if (t != kIgnore) {
                counts_.at(static_cast<std::size_t>(t)) += 1;
                total_ += 1;
            }
    }

    double probability(std::int64_t id) const {
        return counts_.at(static_cast<std::size_t>(id)) / total_;
    }

    // Mean -log2 p over the targets of data: bits per character. On the
    // training batches it is the entropy of the (smoothed) distribution.
    double bits_per_character(const Batches& data) const {
        double bits = 0;
        std::int64_t n = 0;
        for (std::int64_t t : data.targets)
            if (t != kIgnore) {
                bits -= std::log2(probability(t));
                ++n;
            }
        return bits / static_cast<double>(n);
    }

private:
    std::vector<double> counts_;
    double total_;
};

}  // namespace char_rnn
