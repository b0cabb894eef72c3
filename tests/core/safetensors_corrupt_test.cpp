// A battery of corrupted .safetensors files, each written to disk and read
// three ways: load_safetensors, Module::load and load_checkpoint. Every one
// must be refused with a tg::Error; a SafetensorsError names the file and
// the fault, and a refused load leaves the model, the optimizer and the
// default generator exactly as they were.
#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sanitizer.h"

using namespace tg;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::byte>;

struct Net : Module {
    LSTM lstm{{.input_size = 2, .hidden_size = 3}};
    Linear head{{.in_features = 3, .out_features = 2}};
    Net() {
        register_module("lstm", lstm);
        register_module("head", head);
    }
    Tensor operator()(const Tensor& x) const { return head(lstm(x).output); }
};

void train_step(Net& net, Optimizer& optimizer) {
    Tensor x = linspace(-1.0, 1.0, 8).reshape({2, 2, 2});
    Tensor loss = mse_loss(net(x), zeros({2, 2, 2}));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
}

Bytes read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Bytes bytes(chars.size());
    std::memcpy(bytes.data(), chars.data(), chars.size());
    return bytes;
}

// The 8-byte length (the header's own unless given), the header text and
// data_size zero bytes.
Bytes make_file(const std::string& header, std::size_t data_size = 0,
                std::optional<std::uint64_t> length = std::nullopt) {
    std::uint64_t n = length.value_or(header.size());
    Bytes bytes(8 + header.size() + data_size, std::byte{0});
    std::memcpy(bytes.data(), &n, 8);
    std::memcpy(bytes.data() + 8, header.data(), header.size());
    return bytes;
}

std::string entry(const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return fmt::format(R"({{"dtype":{},"shape":{},"data_offsets":{}}})", dtype, shape, offsets);
}
std::string one(const std::string& e) { return R"({"a":)" + e + "}"; }
const std::string f32x2 = entry(R"("F32")", "[2]", "[0,8]");

// Every tensor's name, dtype, shape and bytes.
std::string fingerprint(const StateDict& state) {
    std::string out;
    for (const auto& [name, t] : state) {
        out += fmt::format("{} {} {}:", name, t.dtype(), t.shape());
        out.append(reinterpret_cast<const char*>(t.raw_data()), t.nbytes());
    }
    return out;
}

// The model, its optimizer and the generator the files are loaded into, the
// valid files the corruptions start from, and the count of files tried.
struct Battery {
    fs::path dir;
    Net net;
    Adam adam{net.parameters(), {.lr = 0.01}};
    std::string model_file, checkpoint_file;
    int case_fd = -1;
    std::string case_path;
    int files = 0;

    Battery() {
        static int count = 0;
        dir = fs::temp_directory_path() /
              fmt::format("tapegrad_corrupt_test_{}_{}", ::getpid(), count++);
        fs::remove_all(dir);
        fs::create_directories(dir);
        manual_seed(3);
        train_step(net, adam);  // so the optimizer holds state that must survive
        // Files from another model and optimizer: loading one would change everything.
        manual_seed(4);
        Net other;
        Adam other_adam(other.parameters(), {.lr = 0.5, .amsgrad = true});
        train_step(other, other_adam);
        train_step(other, other_adam);
        model_file = (dir / "model.safetensors").string();
        checkpoint_file = (dir / "checkpoint.safetensors").string();
        other.save(model_file);
        save_checkpoint(checkpoint_file, other, other_adam);
        manual_seed(5);
        case_fd = ::memfd_create("case.safetensors", MFD_CLOEXEC);
        REQUIRE(case_fd >= 0);
        case_path = fmt::format("/proc/self/fd/{}", case_fd);
    }
    ~Battery() {
        ::close(case_fd);
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }

    std::string state() const {
        return fingerprint(net.state_dict()) + fingerprint(adam.state_dict()) +
               fingerprint({{"generator", generator_state()}});
    }

    // Every case is a file in memory (memfd), rewritten for the next one: on
    // a disk, writing thousands of files would cost far more than reading
    // them. The loaders open it by path like any file.
    std::string write(const Bytes& bytes) {
        REQUIRE(::ftruncate(case_fd, 0) == 0);
        REQUIRE(::pwrite(case_fd, bytes.data(), bytes.size(), 0) ==
                static_cast<ssize_t>(bytes.size()));
        ++files;
        return case_path;
    }

    // Runs load, which must throw E; returns its message.
    template <class E = Error>
    std::string message_of(const std::function<void()>& load) {
        try {
            load();
        } catch (const E& e) {
            return e.what();
        }
        return "(no error)";
    }

    enum class Loaders { both, module, checkpoint };

    // A file the reader itself refuses: the message starts with the file and
    // holds the fault, and neither Module::load nor load_checkpoint (or only
    // the one the file was made for) changes a thing.
    void refuse(const Bytes& bytes, const std::string& fault, Loaders loaders = Loaders::both) {
        std::string path = write(bytes);
        std::string before = state();
        std::string message = message_of<SafetensorsError>([&] { (void)load_safetensors(path); });
        INFO(message);
        CHECK(message.starts_with(fmt::format("safetensors: {}: ", path)));
        CHECK(message.find(fault) != std::string::npos);
        if (loaders != Loaders::checkpoint)
            CHECK(message_of<SafetensorsError>([&] { net.load(path); }) == message);
        if (loaders != Loaders::module)
            CHECK(message_of<SafetensorsError>([&] { load_checkpoint(path, net, adam); }) ==
                  message);
        CHECK(state() == before);
    }

    // A well-formed file that does not fit: load_checkpoint throws E holding
    // fault and leaves everything as it was.
    template <class E>
    void refuse_checkpoint(const StateDict& tensors, const std::string& fault) {
        std::string path = (dir / fmt::format("case_{}.safetensors", files)).string();
        save_safetensors(path, tensors, {{"format", "tapegrad-checkpoint"}});
        ++files;
        std::string before = state();
        std::string message = message_of<E>([&] { load_checkpoint(path, net, adam); });
        INFO(message);
        CHECK(message.find(fault) != std::string::npos);
        CHECK(state() == before);
    }
};

}  // namespace

TEST_CASE("corrupt files: a valid file cut at every byte is refused, naming the fault") {
    Battery b;
    for (const std::string& valid : {b.model_file, b.checkpoint_file}) {
        auto loader =
            valid == b.model_file ? Battery::Loaders::module : Battery::Loaders::checkpoint;
        Bytes full = read_bytes(valid);
        std::uint64_t header_size;
        std::memcpy(&header_size, full.data(), 8);
        std::size_t data_start = 8 + header_size;
        REQUIRE(data_start < full.size());
        for (std::size_t n = 0; n < full.size(); ++n) {
            INFO(valid, " cut to ", n, " bytes");
            Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            if (n < 8)
                b.refuse(cut,
                         fmt::format("file is {} bytes, shorter than the 8-byte header length", n),
                         loader);
            else if (n < data_start)
                b.refuse(cut,
                         fmt::format("header length {} is past the end of the file ({} bytes "
                                     "follow it)",
                                     header_size, n - 8),
                         loader);
            else
                b.refuse(
                    cut,
                    fmt::format("is past the end of the data section ({} bytes)", n - data_start),
                    loader);
        }
    }
    MESSAGE(b.files, " truncated files refused");
    CHECK(b.files > 1000);
}

TEST_CASE("corrupt files: every class of bad header is refused, naming the file and the fault") {
    Battery b;
    struct Case {
        Bytes bytes;
        std::string fault;
    };
    Bytes valid = read_bytes(b.model_file);
    Bytes one_extra = valid, eight_extra = valid;
    one_extra.push_back(std::byte{0});
    eight_extra.resize(valid.size() + 8, std::byte{0x41});
    std::string f64 = R"("F64")", f32 = R"("F32")";

    std::vector<Case> cases = {
        // The length field.
        {Bytes(0), "file is 0 bytes, shorter than the 8-byte header length"},
        {Bytes(7), "file is 7 bytes, shorter than the 8-byte header length"},
        {make_file("{}", 0, 20),
         "header length 20 is past the end of the file (2 bytes follow it)"},
        {make_file("{}", 0, std::uint64_t{1} << 63), "exceeds the limit of 100000000 bytes"},
        {make_file("{}", 0, 1'000'000'000'000'000),
         "header length 1000000000000000 exceeds the limit"},
        // Not JSON, or not an object.
        {make_file(""), "header is not valid JSON"},
        {make_file("{nope"), "header is not valid JSON"},
        {make_file("{\"a\":{}"), "header is not valid JSON"},
        {make_file("{\"\xff\":1}"), "header is not valid JSON"},  // not UTF-8
        {make_file(std::string("{\0}", 3)), "header is not valid JSON"},
        {make_file("[1, 2]"), "header is not a JSON object"},
        {make_file("\"text\""), "header is not a JSON object"},
        {make_file("null"), "header is not a JSON object"},
        {make_file(std::string(1000, '[') + std::string(1000, ']')), "nests deeper than 8 levels"},
        // Entries missing or of the wrong type.
        {make_file(one("3")), "tensor 'a': entry is not a JSON object"},
        {make_file(one(R"({"shape":[2],"data_offsets":[0,8]})"), 8), R"(entry has no "dtype")"},
        {make_file(one(R"({"dtype":"F32","data_offsets":[0,8]})"), 8), R"(entry has no "shape")"},
        {make_file(one(R"({"dtype":"F32","shape":[2]})"), 8), R"(entry has no "data_offsets")"},
        {make_file(one(entry("1", "[2]", "[0,8]")), 8), R"("dtype" is not a string)"},
        {make_file(one(entry(f32, "2", "[0,8]")), 8), R"("shape" is not an array)"},
        // Unsupported dtypes.
        {make_file(one(entry(R"("BF16")", "[2]", "[0,4]")), 4),
         "unsupported dtype BF16 for tensor 'a' (tapegrad reads F32, F64, I64)"},
        {make_file(one(entry(R"("F16")", "[2]", "[0,4]")), 4), "unsupported dtype F16"},
        {make_file(one(entry(R"("I32")", "[2]", "[0,8]")), 8), "unsupported dtype I32"},
        {make_file(one(entry(R"("f32")", "[2]", "[0,8]")), 8), "unsupported dtype f32"},
        // Bad dimensions and shape products.
        {make_file(one(entry(f32, "[-2]", "[0,8]")), 8),
         "tensor 'a': shape dimension 0 is negative (-2)"},
        {make_file(one(entry(f32, "[2, -1]", "[0,8]")), 8), "shape dimension 1 is negative (-1)"},
        {make_file(one(entry(f32, "[2, 1.5]", "[0,8]")), 8),
         "shape dimension 1 is not an integer (1.5)"},
        {make_file(one(entry(f32, R"(["2"])", "[0,8]")), 8), "shape dimension 0 is not an integer"},
        {make_file(one(entry(f32, "[18446744073709551615]", "[0,8]")), 8),
         "shape dimension 0 is too large"},
        {make_file(one(entry(f32, "[4294967296,4294967296]", "[0,8]")), 8),
         "shape [4294967296, 4294967296] has too many elements (overflow)"},
        // The element count fits, the byte count does not.
        {make_file(one(entry(f64, "[4611686018427387904]", "[0,8]")), 8), "too many elements"},
        // No elements, yet a partial product overflows.
        {make_file(one(entry(f32, "[4611686018427387904,4,0]", "[0,0]"))), "too many elements"},
        // Offsets of the wrong form.
        {make_file(one(entry(f32, "[2]", R"("0,8")")), 8),
         R"("data_offsets" is "0,8", not two non-negative integers)"},
        {make_file(one(entry(f32, "[2]", "[0]")), 8), "not two non-negative integers"},
        {make_file(one(entry(f32, "[2]", "[0,4,8]")), 8), "not two non-negative integers"},
        {make_file(one(entry(f32, "[2]", "[-8,0]")), 8), "not two non-negative integers"},
        {make_file(one(entry(f32, "[2]", "[0,8.0]")), 8), "not two non-negative integers"},
        // Offsets out of range, reversed, or disagreeing with shape x dtype.
        {make_file(one(entry(f32, "[0]", "[8,4]")), 8), "data_offsets [8, 4] have begin > end"},
        {make_file(one(f32x2), 4),
         "data_offsets end 8 is past the end of the data section (4 "
         "bytes)"},
        {make_file(one(entry(f32, "[2]", "[0,18446744073709551615]")), 8),
         "end 18446744073709551615 is past the end of the data section"},
        // A header that claims 10^15 bytes is refused before anything is allocated.
        {make_file(one(entry(f64, "[125000000000000]", "[0,1000000000000000]")), 8),
         "data_offsets end 1000000000000000 is past the end of the data section (8 bytes)"},
        {make_file(one(entry(f32, "[3]", "[0,8]")), 8),
         "data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12"},
        {make_file(one(entry(f64, "[2]", "[0,8]")), 8), "shape [2] of F64 needs 16"},
        {make_file(one(entry(f32, "[]", "[0,8]")), 8), "shape [] of F32 needs 4"},
        // Overlaps, gaps and trailing bytes: the tensors must tile the data section.
        {make_file(R"({"a":)" + f32x2 + R"(,"b":)" + entry(f32, "[2]", "[4,12]") + "}", 12),
         "tensors 'a' and 'b' overlap (bytes [0, 8) and [4, 12))"},
        {make_file(R"({"a":)" + f32x2 + R"(,"b":)" + f32x2 + "}", 8),
         "tensors 'a' and 'b' overlap"},
        {make_file(R"({"a":)" + f32x2 + R"(,"z":)" + entry(f32, "[0]", "[4,4]") + "}", 8),
         "tensors 'a' and 'z' overlap"},
        {make_file(R"({"a":)" + f32x2 + R"(,"b":)" + entry(f32, "[2]", "[12,20]") + "}", 20),
         "bytes [8, 12) of the data section belong to no tensor (a gap before tensor 'b')"},
        {make_file(one(entry(f32, "[2]", "[4,12]")), 12),
         "bytes [0, 4) of the data section belong to no tensor"},
        {make_file(one(f32x2), 9),
         "1 bytes of trailing data after the last tensor (the data section is 9 bytes, the "
         "tensors cover 8)"},
        {make_file("{}", 3), "3 bytes of trailing data after the last tensor"},
        {one_extra, "1 bytes of trailing data after the last tensor"},
        {eight_extra, "8 bytes of trailing data after the last tensor"},
        // Duplicates, which a JSON parser would silently resolve.
        {make_file(R"({"a":)" + f32x2 + R"(,"a":)" + f32x2 + "}", 8), "duplicate tensor name 'a'"},
        {make_file(one(R"({"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]})"), 8),
         "duplicate key 'dtype' in the header"},
        {make_file(R"({"__metadata__":{"k":"1","k":"2"}})"), "duplicate key 'k' in the header"},
        // Metadata.
        {make_file(R"({"__metadata__":"pt"})"), "__metadata__ is not a JSON object"},
        {make_file(R"({"__metadata__":{"format":"pt","epoch":3}})"),
         "__metadata__ value for key 'epoch' is not a string"},
    };
    for (const Case& c : cases) {
        INFO(c.fault);
        b.refuse(c.bytes, c.fault);
    }
    MESSAGE(b.files, " files with a bad header refused");
}

TEST_CASE("corrupt files: hostile names and values are cut short in messages") {
    Battery b;
    std::string long_name(100'000, 'n');
    std::string huge_rank = "[1";
    for (int i = 0; i < 10'000; ++i) huge_rank += ",1";
    huge_rank += "]";
    std::vector<Bytes> cases = {
        make_file(R"({")" + long_name + R"(":3})"),
        make_file(R"({"a":)" + entry('"' + long_name + '"', "[2]", "[0,8]") + "}", 8),
        make_file(one(entry(R"("F32")", huge_rank, "[0,8]")), 8),
    };
    for (const Bytes& bytes : cases) {
        std::string path = b.write(bytes);
        std::string message = b.message_of<SafetensorsError>([&] { (void)load_safetensors(path); });
        INFO(message.substr(0, 300));
        CHECK(message.starts_with(fmt::format("safetensors: {}: ", path)));
        CHECK(message.size() < path.size() + 600);
    }
    MESSAGE(b.files, " files with hostile names refused");
}

TEST_CASE("corrupt files: any byte of a checkpoint changed loads whole or is refused untouched") {
    // Corrupted data bytes still make a well-formed file, and a corrupted
    // header can name other keys or values (a flag that is neither 0 nor 1):
    // whatever load_checkpoint accepts it accepts whole, and whatever it
    // refuses leaves the model, the optimizer and the generator untouched.
    Battery b;
    Bytes full = read_bytes(b.checkpoint_file);
    StateDict initial_model;
    for (const auto& [name, p] : b.net.state_dict()) initial_model.emplace(name, p.clone());
    StateDict initial_adam = b.adam.state_dict();
    Tensor initial_generator = generator_state();
    int loaded = 0, refused = 0;
    std::uint64_t header_size;
    std::memcpy(&header_size, full.data(), 8);
    constexpr int values[] = {0xff, '0', '"'};
    for (std::size_t i = 0; i < full.size(); ++i) {
        // Three values in the length and the header; in the data, where any
        // value is as good as another, one. Under AddressSanitizer, where a
        // load costs twenty times as much, one value a byte in turn and
        // every fourth data byte.
        bool in_data = i >= 8 + header_size;
        if (kAddressSanitizer && in_data && i % 4 != 0) continue;
        for (int v : values) {
            if (full[i] == std::byte(v)) continue;
            if (in_data && v != values[0]) continue;
            if (kAddressSanitizer && !in_data && v != values[i % 3]) continue;
            Bytes bad = full;
            bad[i] = std::byte(v);
            std::string path = b.write(bad);
            std::string before = b.state();
            try {
                load_checkpoint(path, b.net, b.adam);
                ++loaded;
            } catch (const Error&) {
                ++refused;
                INFO("byte ", i, " set to ", v);
                CHECK(b.state() == before);
            }
            b.net.load_state_dict(initial_model);
            b.adam.load_state_dict(initial_adam);
            set_generator_state(initial_generator);
        }
    }
    MESSAGE(b.files, " files with one byte changed",
            std::string(kAddressSanitizer ? " (sampled under AddressSanitizer)" : ""), ": ", loaded,
            " loaded, ", refused, " refused");
    CHECK(loaded > 0);
    CHECK(refused > loaded);
}

TEST_CASE("corrupt files: a well-formed checkpoint that does not fit changes nothing") {
    Battery b;
    StateDict good = load_safetensors(b.checkpoint_file).tensors;
    auto with = [&](const std::string& key, const Tensor& value) {
        StateDict changed = good;
        changed[key] = value;
        return changed;
    };
    auto without = [&](const std::string& key) {
        StateDict changed = good;
        REQUIRE(changed.erase(key) == 1);
        return changed;
    };
    // The model part loads first and the optimizer part last, so a bad
    // optimizer entry checks that the model's new values are taken back.
    b.refuse_checkpoint<ShapeError>(with("model.head.bias", zeros({3})),
                                    "'head.bias' has shape [3] in the state dict but [2]");
    b.refuse_checkpoint<DTypeError>(with("model.head.bias", zeros({2}, DType::i64)),
                                    "'head.bias' is int64, expected a floating dtype");
    b.refuse_checkpoint<ValueError>(without("model.lstm.weight_hh_l0"),
                                    "missing keys [lstm.weight_hh_l0]");
    b.refuse_checkpoint<ShapeError>(with("optim.state.5.exp_avg", zeros({1})),
                                    "entry 'state.5.exp_avg' has shape [1], expected [2]");
    b.refuse_checkpoint<ValueError>(without("optim.state.0.step"), "missing entry 'state.0.step'");
    b.refuse_checkpoint<ValueError>(with("optim.amsgrad", Tensor::scalar(0.5, DType::f64)),
                                    "'amsgrad' is a flag and should be 0 or 1, got 0.5");
    b.refuse_checkpoint<ValueError>(with("optim.lr", Tensor::scalar(-1.0, DType::f64)),
                                    "invalid learning rate: -1");
    b.refuse_checkpoint<ValueError>(with("optim.beta1", Tensor::scalar(1.0, DType::f64)),
                                    "invalid beta parameter at index 0: 1");
    b.refuse_checkpoint<ValueError>(with("generator", zeros({4}, DType::i64)),
                                    "the state is all zeros");
    b.refuse_checkpoint<DTypeError>(with("generator", zeros({4})), "must be i64, not float32");
    b.refuse_checkpoint<ValueError>(without("generator"), "missing key 'generator'");
    b.refuse_checkpoint<ValueError>(with("extra", zeros({1})), "unexpected key 'extra'");
    MESSAGE(b.files, " checkpoints that do not fit refused");
}
