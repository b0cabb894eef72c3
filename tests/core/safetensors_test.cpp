#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

using namespace tg;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::byte>;

// A fresh directory under the system temp dir, removed with its contents.
struct TempDir {
    fs::path path;
    TempDir() {
        static int count = 0;
        path = fs::temp_directory_path() /
               fmt::format("tapegrad_safetensors_test_{}_{}", ::getpid(), count++);
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

Bytes read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Bytes bytes(chars.size());
    std::memcpy(bytes.data(), chars.data(), chars.size());
    return bytes;
}

// A file made of the 8-byte length, the header text as given and data_size
// bytes of data.
Bytes make_file(const std::string& header, std::size_t data_size = 0) {
    std::uint64_t n = header.size();
    Bytes bytes(8 + header.size() + data_size, std::byte{0});
    std::memcpy(bytes.data(), &n, 8);
    std::memcpy(bytes.data() + 8, header.data(), header.size());
    return bytes;
}

SafetensorsFile parse(const Bytes& bytes) { return parse_safetensors(bytes, "bad.safetensors"); }

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.dtype() == b.dtype() && a.shape() == b.shape() &&
           std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

std::map<std::string, Tensor> sample_tensors() {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    constexpr double inf = std::numeric_limits<double>::infinity();
    // Integers beyond double precision must survive too.
    Tensor index = Tensor::empty({3}, DType::i64);
    std::int64_t* p = index.mutable_data<std::int64_t>();
    p[0] = std::numeric_limits<std::int64_t>::min(), p[1] = -3, p[2] = 9007199254740993;
    return {
        {"index", index},
        {"weight", Tensor::from({{1.5, -2.0, 3.25}, {nan, inf, -0.0}})},
        {"bias", Tensor::from({0.1, -1e300, 5e-324}, DType::f64)},
        {"scalar", Tensor::scalar(7.5)},
        {"empty", Tensor::from(std::vector<double>{})},
        {"empty_2x0", zeros({2, 0}, DType::f64)},
    };
}

}  // namespace

TEST_CASE("safetensors: f32, f64, i64, 0-D and empty tensors round-trip bit for bit") {
    TempDir dir;
    std::string path = dir.file("model.safetensors");
    auto tensors = sample_tensors();
    std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "é \"quoted\""}};
    save_safetensors(path, tensors, metadata);

    SafetensorsFile loaded = load_safetensors(path);
    CHECK(loaded.metadata == metadata);
    REQUIRE(loaded.tensors.size() == tensors.size());
    for (const auto& [name, t] : tensors) {
        INFO(name);
        REQUIRE(loaded.tensors.count(name) == 1);
        CHECK(same_bits(loaded.tensors.at(name), t));
    }
    CHECK(loaded.tensors.at("index").to_vector<std::int64_t>()[2] == 9007199254740993);
    CHECK_FALSE(loaded.tensors.at("weight").requires_grad());
}

TEST_CASE("safetensors: the writer pads the header to 8 bytes and packs data in name order") {
    TempDir dir;
    std::string path = dir.file("a.safetensors");
    save_safetensors(path, {{"b", Tensor::from({1.0, 2.0})}, {"a", Tensor::scalar(3.0)}});
    Bytes bytes = read_bytes(path);
    std::uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    CHECK(n % 8 == 0);
    CHECK(bytes.size() == 8 + n + 12);
    std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, n);
    CHECK(header.rfind(R"({"a":{"data_offsets":[0,4],"dtype":"F32","shape":[]},)", 0) == 0);
    CHECK(header.find(R"("b":{"data_offsets":[4,12],"dtype":"F32","shape":[2]}})") !=
          std::string::npos);
    CHECK(header.find("__metadata__") == std::string::npos);  // none given, none written
    float a;
    std::memcpy(&a, bytes.data() + 8 + n, 4);
    CHECK(a == 3.0f);
}

TEST_CASE("safetensors: a view saves only its own elements") {
    TempDir dir;
    std::string path = dir.file("row.safetensors");
    Tensor m = Tensor::from({{1.0, 2.0}, {3.0, 4.0}}, DType::f64);
    save_safetensors(path, {{"row", m[1]}});
    CHECK(load_safetensors(path).tensors.at("row").to_vector<double>() ==
          std::vector<double>{3.0, 4.0});
}

TEST_CASE("safetensors: every kind of bad file is refused with a message naming the fault") {
    struct Case {
        Bytes bytes;
        const char* fault;
    };
    auto entry = [](const std::string& dtype, const std::string& shape,
                    const std::string& offsets) {
        return fmt::format(R"({{"dtype":{},"shape":{},"data_offsets":{}}})", dtype, shape, offsets);
    };
    auto one = [&](const std::string& e) { return R"({"a":)" + e + "}"; };
    std::string f32x2 = entry(R"("F32")", "[2]", "[0,8]");
    Bytes huge_length = make_file("{}");
    std::uint64_t absurd = std::uint64_t{1} << 62;
    std::memcpy(huge_length.data(), &absurd, 8);
    Bytes past_end = make_file("{}");
    std::uint64_t twenty = 20;
    std::memcpy(past_end.data(), &twenty, 8);

    std::vector<Case> cases = {
        {Bytes(5), "shorter than the 8-byte header length"},
        {huge_length, "exceeds the limit"},
        {past_end, "header length 20 is past the end of the file"},
        {make_file("{nope"), "header is not valid JSON"},
        {make_file(""), "header is not valid JSON"},
        {make_file("[1, 2]"), "header is not a JSON object"},
        {make_file(std::string(1000, '[') + std::string(1000, ']')), "nests deeper than"},
        {make_file(one(entry(R"("F32")", "[[[[[[[[[[2]]]]]]]]]]", "[0,8]")), 8),
         "nests deeper than"},
        {make_file(one("3")), "tensor 'a': entry is not a JSON object"},
        {make_file(one(R"({"shape":[2],"data_offsets":[0,8]})"), 8), R"(no "dtype")"},
        {make_file(one(R"({"dtype":"F32","data_offsets":[0,8]})"), 8), R"(no "shape")"},
        {make_file(one(R"({"dtype":"F32","shape":[2]})"), 8), R"(no "data_offsets")"},
        {make_file(one(entry("1", "[2]", "[0,8]")), 8), R"("dtype" is not a string)"},
        {make_file(one(entry(R"("F32")", "2", "[0,8]")), 8), R"("shape" is not an array)"},
        {make_file(one(entry(R"("BF16")", "[2]", "[0,4]")), 4),
         "unsupported dtype BF16 for tensor 'a'"},
        {make_file(one(entry(R"("F32")", "[-2]", "[0,8]")), 8), "dimension 0 is negative (-2)"},
        {make_file(one(entry(R"("F32")", "[2, 1.5]", "[0,8]")), 8),
         "dimension 1 is not an integer (1.5)"},
        {make_file(one(entry(R"("F32")", R"(["2"])", "[0,8]")), 8),
         "dimension 0 is not an integer"},
        {make_file(one(entry(R"("F32")", "[18446744073709551615]", "[0,8]")), 8),
         "dimension 0 is too large"},
        {make_file(one(entry(R"("F32")", "[4294967296,4294967296]", "[0,8]")), 8),
         "too many elements"},
        // The element count fits but not the byte count.
        {make_file(one(entry(R"("F64")", "[4611686018427387904]", "[0,8]")), 8),
         "too many elements"},
        // Zero elements, yet the partial product 2^62 * 4 overflows.
        {make_file(one(entry(R"("F32")", "[4611686018427387904,4,0]", "[0,0]"))),
         "too many elements"},
        {make_file(one(entry(R"("F32")", "[2]", R"("0,8")")), 8), "not two non-negative integers"},
        {make_file(one(entry(R"("F32")", "[2]", "[0]")), 8), "not two non-negative integers"},
        {make_file(one(entry(R"("F32")", "[2]", "[-8,0]")), 8), "not two non-negative integers"},
        {make_file(one(entry(R"("F32")", "[2]", "[0,8.0]")), 8), "not two non-negative integers"},
        {make_file(one(entry(R"("F32")", "[0]", "[8,4]")), 8), "[8, 4] have begin > end"},
        {make_file(one(f32x2), 4), "end 8 is past the end of the data section (4 bytes)"},
        {make_file(one(entry(R"("F32")", "[3]", "[0,8]")), 8),
         "hold 8 bytes but shape [3] of F32 needs 12"},
        {make_file(R"({"a":)" + f32x2 + R"(,"b":)" + entry(R"("F32")", "[2]", "[4,12]") + "}", 12),
         "tensors 'a' and 'b' overlap"},
        {make_file(R"({"a":)" + f32x2 + R"(,"a":)" + f32x2 + "}", 8), "duplicate tensor name 'a'"},
        {make_file(one(R"({"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]})"), 8),
         "duplicate key 'dtype'"},
        {make_file(R"({"__metadata__":"pt"})"), "__metadata__ is not a JSON object"},
        {make_file(R"({"__metadata__":{"format":"pt","epoch":3}})"),
         "__metadata__ value for key 'epoch' is not a string"},
    };
    for (const Case& c : cases) {
        INFO(c.fault);
        CHECK_THROWS_WITH_AS(parse(c.bytes), doctest::Contains(c.fault), SafetensorsError);
        CHECK_THROWS_WITH_AS(parse(c.bytes), doctest::Contains("bad.safetensors"), Error);
    }
}

TEST_CASE("safetensors: lenient where the format allows") {
    // Leading whitespace, unknown entry fields and a zero-sized tensor at the
    // end of another one are all fine.
    std::string header = R"( {"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8],"extra":1},)"
                         R"("z":{"dtype":"F64","shape":[0,5],"data_offsets":[8,8]}})";
    Bytes bytes = make_file(header, 8);
    bytes[8 + header.size()] = std::byte{42};
    SafetensorsFile f = parse(bytes);
    CHECK(f.tensors.at("a").to_vector<std::int64_t>() == std::vector<std::int64_t>{42});
    CHECK(f.tensors.at("z").shape() == Shape{0, 5});
}

TEST_CASE("safetensors: every truncation of a valid file throws an Error") {
    TempDir dir;
    std::string path = dir.file("small.safetensors");
    save_safetensors(path, sample_tensors(), {{"format", "pt"}});
    Bytes full = read_bytes(path);
    REQUIRE(full.size() > 8);
    for (std::size_t n = 0; n < full.size(); ++n) {
        // A buffer of exactly n bytes, so the sanitizer sees any read past it.
        Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        INFO(n);
        CHECK_THROWS_AS(parse(cut), Error);
    }
    CHECK(parse(full).tensors.size() == sample_tensors().size());
}

TEST_CASE("safetensors: corrupting any byte gives an Error or a valid file, never a crash") {
    TempDir dir;
    std::string path = dir.file("tiny.safetensors");
    // Small, so that trying several values at every byte stays fast.
    save_safetensors(path, {{"w", Tensor::from({1.0, 2.0})}}, {{"k", "v"}});
    Bytes full = read_bytes(path);
    int parsed = 0, refused = 0;
    for (std::size_t i = 0; i < full.size(); ++i) {
        for (int v : {0x00, 0xff, int('"'), int('9'), int('-')}) {
            Bytes bad = full;
            bad[i] = static_cast<std::byte>(v);
            try {
                SafetensorsFile f = parse(bad);
                ++parsed;
                // Whatever parses is self-consistent: one tensor (its name may
                // have changed) whose size matches its shape.
                REQUIRE(f.tensors.size() == 1);
                const Tensor& w = f.tensors.begin()->second;
                CHECK(w.nbytes() == static_cast<std::size_t>(w.numel()) * dtype_size(w.dtype()));
                CHECK(w.numel() <= 2);
            } catch (const Error&) {
                ++refused;
            }
        }
    }
    // Most corruptions hit the header and must be refused; some only touch
    // the data bytes or padding and still parse.
    CHECK(refused > 0);
    CHECK(parsed > 0);
}

TEST_CASE("safetensors: load names the file when it cannot be read") {
    TempDir dir;
    std::string missing = dir.file("missing.safetensors");
    CHECK_THROWS_WITH_AS(
        load_safetensors(missing),
        doctest::Contains((missing + ": cannot open the file (No such file").c_str()),
        SafetensorsError);
    CHECK_THROWS_WITH_AS(load_safetensors(dir.path.string()), doctest::Contains("Is a directory"),
                         SafetensorsError);
}

TEST_CASE("safetensors: save overwrites an existing file") {
    TempDir dir;
    std::string path = dir.file("w.safetensors");
    save_safetensors(path, {{"a", ones({3})}});
    save_safetensors(path, {{"b", zeros({2}, DType::i64)}});
    SafetensorsFile f = load_safetensors(path);
    CHECK(f.tensors.size() == 1);
    CHECK(f.tensors.count("b") == 1);
    CHECK(fs::directory_iterator(dir.path)->path().filename() == "w.safetensors");
}

TEST_CASE("safetensors: a failed save leaves the existing file intact and no temporary file") {
    TempDir dir;
    std::string path = dir.file("keep.safetensors");
    std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
    save_safetensors(path, sample_tensors());
    Bytes before = read_bytes(path);
    auto unchanged = [&] { return read_bytes(path) == before; };
    std::map<std::string, Tensor> other{{"x", ones({4})}};

    SUBCASE("directory does not exist") {
        std::string nowhere = dir.file("no/such/dir/x.safetensors");
        CHECK_THROWS_WITH_AS(
            save_safetensors(nowhere, other),
            doctest::Contains((nowhere + ": cannot create the temporary file").c_str()),
            SafetensorsError);
        CHECK_THROWS_WITH_AS(save_safetensors(nowhere, other),
                             doctest::Contains("No such file or directory"), SafetensorsError);
    }
    SUBCASE("the temporary file cannot be created") {
        fs::create_directory(tmp);  // blocks the temporary name
        CHECK_THROWS_WITH_AS(save_safetensors(path, other), doctest::Contains("Is a directory"),
                             SafetensorsError);
        fs::remove(tmp);
    }
    SUBCASE("the rename fails") {
        std::string target = dir.file("occupied");
        fs::create_directories(fs::path(target) / "child");
        std::string target_tmp = fmt::format("{}.tmp.{}", target, ::getpid());
        CHECK_THROWS_WITH_AS(save_safetensors(target, other),
                             doctest::Contains("cannot rename the temporary file over it"),
                             SafetensorsError);
        CHECK_FALSE(fs::exists(target_tmp));
        CHECK(fs::is_directory(fs::path(target) / "child"));
    }
    SUBCASE("bad tensors are refused before anything is written") {
        CHECK_THROWS_WITH_AS(save_safetensors(path, {{"__metadata__", ones({1})}}),
                             doctest::Contains("reserved"), SafetensorsError);
        CHECK_THROWS_WITH_AS(save_safetensors(path, {{"w", Tensor()}}),
                             doctest::Contains("tensor 'w' is undefined"), SafetensorsError);
        CHECK_THROWS_WITH_AS(save_safetensors(path, {{"\xff", ones({1})}}),
                             doctest::Contains("cannot encode the header"), SafetensorsError);
    }
    CHECK(unchanged());
    CHECK_FALSE(fs::exists(tmp));
}
