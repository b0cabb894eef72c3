#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <sys/wait.h>
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

// The name save_safetensors writes to before renaming (see safetensors.h).
std::string temporary_name(const std::string& path) {
    char host[256] = {};
    REQUIRE(::gethostname(host, sizeof host - 1) == 0);
    return fmt::format("{}.tmp.{}.{}.{}", path, host, ::getpid(), ::gettid());
}

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
    std::string tmp = temporary_name(path);
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
        CHECK_THROWS_WITH_AS(save_safetensors(target, other),
                             doctest::Contains("cannot rename the temporary file over it"),
                             SafetensorsError);
        for (const auto& item : fs::directory_iterator(dir.path))
            CHECK(item.path().filename().string().find(".tmp.") == std::string::npos);
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

TEST_CASE("safetensors: a save removes the temporary files of writers that are gone") {
    TempDir dir;
    std::string path = dir.file("ckpt.safetensors");
    char host[256] = {};
    REQUIRE(::gethostname(host, sizeof host - 1) == 0);
    pid_t gone = ::fork();
    REQUIRE(gone >= 0);
    if (gone == 0) ::_exit(0);
    REQUIRE(::waitpid(gone, nullptr, 0) == gone);
    auto temporary = [&](const std::string& owner) {
        std::string name = fmt::format("{}.tmp.{}", path, owner);
        std::ofstream(name) << "partial";
        return name;
    };
    std::string stale = temporary(fmt::format("{}.{}.7", host, gone));
    std::vector<std::string> kept = {
        temporary(fmt::format("{}.{}.8", host, ::getpid())),  // this process: may be writing
        temporary(fmt::format("{}.1.9", host)),               // a process that runs
        temporary(fmt::format("other-host.{}.7", gone)),      // cannot tell from here
        temporary(fmt::format("{}.{}", host, gone)),          // not a name a save writes
        dir.file("other.safetensors.tmp." + fmt::format("{}.{}.7", host, gone)),
    };
    std::ofstream(kept.back()) << "partial";
    save_safetensors(path, {{"a", ones({2})}});
    CHECK_FALSE(fs::exists(stale));
    for (const std::string& name : kept) {
        INFO(name);
        CHECK(fs::exists(name));
    }
    CHECK(load_safetensors(path).tensors.at("a").to_vector<float>() == std::vector<float>{1, 1});
}
