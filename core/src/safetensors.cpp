#include <tapegrad/core/safetensors.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace tg {

namespace {

// The format stores little-endian data, which is copied as it is.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

using json = nlohmann::json;

// The reference implementation refuses larger headers; so do we, before parsing.
constexpr std::uint64_t kMaxHeaderSize = 100'000'000;
constexpr std::size_t kLengthSize = 8;  // the u64 header length that opens the file
// A valid header nests three deep (header, entry, shape); refusing deep
// nesting early keeps a hostile header from costing gigabytes.
constexpr int kMaxDepth = 8;

[[noreturn]] void fail(const std::string& file, const std::string& fault) {
    throw SafetensorsError(fmt::format("safetensors: {}: {}", file, fault));
}

// Call right after a failing system call: reads errno before anything can change it.
[[noreturn]] void fail_errno(const std::string& file, const char* step) {
    int err = errno;
    fail(file, fmt::format("cannot {} ({})", step, std::system_category().message(err)));
}

// A JSON value for an error message, cut short: a hostile header can hold
// arbitrarily long values.
std::string brief(std::string text, std::size_t limit = 60) {
    return text.size() > limit ? text.substr(0, limit) + "..." : text;
}
// Tensor and key names run longer than values, but a hostile one is unbounded too.
std::string brief_name(const std::string& name) { return brief(name, 200); }
std::string brief(const json& value) { return brief(value.dump()); }
std::string brief(const Shape& shape) { return brief(shape.str()); }

std::optional<DType> dtype_from_code(std::string_view code) {
    if (code == "F32") return DType::f32;
    if (code == "F64") return DType::f64;
    if (code == "I64") return DType::i64;
    return std::nullopt;
}

const char* dtype_code(DType d) {
    switch (d) {
        case DType::f32:
            return "F32";
        case DType::f64:
            return "F64";
        case DType::i64:
            return "I64";
    }
    return "?";
}

struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    std::uint64_t begin, end;  // relative to the data section
};

// Parses the header text. nlohmann silently keeps one value of a repeated
// key, so a parser callback tracks the keys of every open object instead;
// it also stops runaway nesting.
json parse_header(std::string_view text, const std::string& file) {
    std::vector<std::set<std::string>> open_objects;
    std::string duplicate;
    bool duplicate_is_tensor = false;
    auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth > kMaxDepth)
            fail(file, fmt::format("header nests deeper than {} levels", kMaxDepth));
        if (event == json::parse_event_t::object_start) {
            open_objects.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
            open_objects.pop_back();
        } else if (event == json::parse_event_t::key && duplicate.empty()) {
            const auto& key = parsed.get_ref<const std::string&>();
            if (!open_objects.back().insert(key).second) {
                duplicate = key;
                duplicate_is_tensor = open_objects.size() == 1;
            }
        }
        return true;
    };
    json header;
    try {
        header = json::parse(text.begin(), text.end(), callback);
    } catch (const json::exception& e) {
        // The parser quotes the last token it read, which can be long.
        std::string why = e.what();
        if (why.size() > 200) why = why.substr(0, 200) + "...";
        fail(file, fmt::format("header is not valid JSON: {}", why));
    }
    if (!duplicate.empty())
        fail(file, duplicate_is_tensor
                       ? fmt::format("duplicate tensor name '{}'", brief_name(duplicate))
                       : fmt::format("duplicate key '{}' in the header", brief_name(duplicate)));
    if (!header.is_object()) fail(file, "header is not a JSON object");
    return header;
}

std::map<std::string, std::string> read_metadata(const json& value, const std::string& file) {
    if (!value.is_object()) fail(file, "__metadata__ is not a JSON object");
    std::map<std::string, std::string> metadata;
    for (const auto& [key, v] : value.items()) {
        if (!v.is_string())
            fail(file,
                 fmt::format("__metadata__ value for key '{}' is not a string", brief_name(key)));
        metadata.emplace(key, v.get<std::string>());
    }
    return metadata;
}

// Product of the dimensions, or nullopt if it (or its product with
// dtype_size) does not fit. Zero-sized dimensions are left out of the check
// so that every partial product Shape::numel forms fits in int64 too.
std::optional<std::uint64_t> checked_nbytes(const Shape& shape, DType dtype) {
    std::optional<std::int64_t> numel = checked_numel(shape);
    std::uint64_t nbytes;
    if (!numel ||
        __builtin_mul_overflow(static_cast<std::uint64_t>(*numel), dtype_size(dtype), &nbytes))
        return std::nullopt;
    return nbytes;
}

Entry read_entry(const std::string& name, const json& info, std::uint64_t data_size,
                 const std::string& file) {
    auto fault = [&](const std::string& what) {
        fail(file, fmt::format("tensor '{}': {}", brief_name(name), what));
    };
    if (!info.is_object()) fault("entry is not a JSON object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!info.contains(key)) fault(fmt::format("entry has no \"{}\"", key));

    const json& code = info.at("dtype");
    if (!code.is_string()) fault("\"dtype\" is not a string");
    std::optional<DType> dtype = dtype_from_code(code.get_ref<const std::string&>());
    if (!dtype)
        fail(file,
             fmt::format("unsupported dtype {} for tensor '{}' (tapegrad reads F32, F64, I64)",
                         brief(code.get_ref<const std::string&>()), brief_name(name)));

    const json& dims = info.at("shape");
    if (!dims.is_array()) fault("\"shape\" is not an array");
    std::vector<std::int64_t> sizes;
    for (std::size_t i = 0; i < dims.size(); ++i) {
        const json& d = dims[i];
        if (d.is_number_integer() && !d.is_number_unsigned())
            fault(fmt::format("shape dimension {} is negative ({})", i, brief(d)));
        if (!d.is_number_unsigned())
            fault(fmt::format("shape dimension {} is not an integer ({})", i, brief(d)));
        if (d.get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max())
            fault(fmt::format("shape dimension {} is too large ({})", i, brief(d)));
        sizes.push_back(d.get<std::int64_t>());
    }
    Shape shape(std::move(sizes));
    std::optional<std::uint64_t> nbytes = checked_nbytes(shape, *dtype);
    if (!nbytes) fault(fmt::format("shape {} has too many elements (overflow)", brief(shape)));

    const json& offsets = info.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
        fault(fmt::format("\"data_offsets\" is {}, not two non-negative integers", brief(offsets)));
    auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
    if (begin > end) fault(fmt::format("data_offsets [{}, {}] have begin > end", begin, end));
    if (end > data_size)
        fault(fmt::format("data_offsets end {} is past the end of the data section ({} bytes)", end,
                          data_size));
    if (end - begin != *nbytes)
        fault(fmt::format("data_offsets [{}, {}] hold {} bytes but shape {} of {} needs {}", begin,
                          end, end - begin, brief(shape), brief(code.get_ref<const std::string&>()),
                          *nbytes));
    return {name, *dtype, std::move(shape), begin, end};
}

// As in the reference implementation, the tensors tile the data section:
// sorted by offsets, each starts where the previous one ended and the last
// ends with the file. So no byte is shared (zero-sized tensors may not sit
// strictly inside another one either), none is left over, and a file with
// bytes appended or cut off cannot pass for a valid one.
void check_layout(std::vector<Entry>& entries, std::uint64_t data_size, const std::string& file) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
    });
    const Entry* furthest = nullptr;  // the entry reaching furthest so far
    std::uint64_t covered = 0;
    for (const Entry& e : entries) {
        if (e.begin < covered)
            fail(file, fmt::format("tensors '{}' and '{}' overlap (bytes [{}, {}) and [{}, {}))",
                                   brief_name(furthest->name), brief_name(e.name), furthest->begin,
                                   furthest->end, e.begin, e.end));
        if (e.begin > covered)
            fail(file, fmt::format("bytes [{}, {}) of the data section belong to no tensor (a gap "
                                   "before tensor '{}')",
                                   covered, e.begin, brief_name(e.name)));
        if (!furthest || e.end > furthest->end) furthest = &e;
        covered = std::max(covered, e.end);
    }
    if (covered != data_size)
        fail(file, fmt::format("{} bytes of trailing data after the last tensor (the data section "
                               "is {} bytes, the tensors cover {})",
                               data_size - covered, data_size, covered));
}

// Closes the file however reading ends.
struct FileDescriptor {
    int fd;
    ~FileDescriptor() {
        if (fd >= 0) ::close(fd);
    }
};

// Reads exactly size bytes; a file that ends early has changed since its size was taken.
void read_exact(int fd, void* out, std::uint64_t size, std::uint64_t at, const std::string& path) {
    auto p = static_cast<char*>(out);
    for (std::uint64_t done = 0; done < size;) {
        ssize_t n = ::read(fd, p + done, std::min<std::uint64_t>(size - done, 1 << 30));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_errno(path, "read the file");
        if (n == 0)
            fail(path, fmt::format("the file ended at byte {}, before the {} bytes its size "
                                   "promised (it changed while being read?)",
                                   at + done, at + size));
        done += static_cast<std::uint64_t>(n);
    }
}

// For what has no size to check against (a pipe, a device): everything, then parsed.
std::vector<std::byte> read_all(int fd, const std::string& path) {
    std::vector<std::byte> bytes;
    std::byte chunk[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_errno(path, "read the file");
        if (n == 0) return bytes;
        bytes.insert(bytes.end(), chunk, chunk + n);
    }
}

// The u64 that opens a file of file_size bytes, checked against the limit and the size.
std::uint64_t header_size_of(const std::byte* first_bytes, std::uint64_t file_size,
                             const std::string& file) {
    if (file_size < kLengthSize)
        fail(file,
             fmt::format("file is {} bytes, shorter than the 8-byte header length", file_size));
    std::uint64_t header_size;
    std::memcpy(&header_size, first_bytes, kLengthSize);
    std::uint64_t rest = file_size - kLengthSize;
    if (header_size > kMaxHeaderSize)
        fail(file, fmt::format("header length {} exceeds the limit of {} bytes", header_size,
                               kMaxHeaderSize));
    if (header_size > rest)
        fail(file, fmt::format("header length {} is past the end of the file ({} bytes follow it)",
                               header_size, rest));
    return header_size;
}

// What the header says, checked against itself and the size of the data
// section; entries in data order.
struct Layout {
    std::vector<Entry> entries;
    std::map<std::string, std::string> metadata;
};

Layout read_layout(std::string_view header_text, std::uint64_t data_size, const std::string& file) {
    json header = parse_header(header_text, file);
    Layout layout;
    for (const auto& [name, info] : header.items()) {
        if (name == "__metadata__")
            layout.metadata = read_metadata(info, file);
        else
            layout.entries.push_back(read_entry(name, info, data_size, file));
    }
    check_layout(layout.entries, data_size, file);
    return layout;
}

// The JSON header, padded with spaces to a multiple of 8 bytes as the
// reference writer does, so the data section starts aligned.
std::string make_header(const std::string& path, const std::map<std::string, Tensor>& tensors,
                        const std::map<std::string, std::string>& metadata) {
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        if (name == "__metadata__")
            fail(path, "a tensor cannot be named '__metadata__' (reserved for metadata)");
        if (!t.defined()) fail(path, fmt::format("tensor '{}' is undefined", name));
        json entry = json::object();
        entry["dtype"] = dtype_code(t.dtype());
        entry["shape"] = t.shape().dims();
        entry["data_offsets"] = json::array({offset, offset + t.nbytes()});
        header[name] = std::move(entry);
        offset += t.nbytes();
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const json::exception& e) {
        fail(path, fmt::format("cannot encode the header: {}", e.what()));  // e.g. invalid UTF-8
    }
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
}

void write_all(int fd, const void* data, std::size_t size, const std::string& path) {
    auto p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, std::min<std::size_t>(size, 1 << 30));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_errno(path, "write the temporary file");
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

// Makes the rename itself durable.
void sync_directory(const std::string& path) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = std::filesystem::path(".");
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_errno(path, "open its directory to sync the rename");
    if (::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        errno = err;
        fail_errno(path, "sync its directory after the rename");
    }
    ::close(fd);
}

// The temporary file a save writes before renaming it over path:
// "<path>.tmp.<host>.<pid>.<tid>". The host and pid let a later save tell
// whether its writer still runs; the thread id keeps two threads saving the
// same path from writing into one file.
std::string temporary_prefix(const std::string& path) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return fmt::format("{}.tmp.{}.", path, host);
}

std::string temporary_name(const std::string& path) {
    return fmt::format("{}{}.{}", temporary_prefix(path), ::getpid(), ::gettid());
}

// A writer killed mid-save (SIGKILL, OOM killer) leaves its temporary file
// behind. Each save removes those whose writer ran on this host and is gone,
// so they never pile up. Best effort: nothing here can fail a save, and a
// file whose writer may still run (another host, a live pid) is kept.
void remove_stale_temporaries(const std::string& path) {
    namespace fs = std::filesystem;
    fs::path prefix(temporary_prefix(path));
    fs::path dir = prefix.parent_path().empty() ? fs::path(".") : prefix.parent_path();
    std::string start = prefix.filename().string();
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (!name.starts_with(start)) continue;
        std::string_view rest = std::string_view(name).substr(start.size());
        std::size_t dot = rest.find('.');
        if (dot == std::string_view::npos || dot + 1 == rest.size() ||
            rest.find_first_not_of("0123456789", dot + 1) != std::string_view::npos)
            continue;
        pid_t pid = 0;
        auto [pid_end, error] = std::from_chars(rest.data(), rest.data() + dot, pid);
        if (error != std::errc() || pid_end != rest.data() + dot || pid <= 0) continue;
        if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
        std::error_code ignored;
        fs::remove(it->path(), ignored);
    }
}

}  // namespace

SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, const std::string& file) {
    std::uint64_t header_size = header_size_of(bytes.data(), bytes.size(), file);
    auto text = reinterpret_cast<const char*>(bytes.data()) + kLengthSize;
    std::span<const std::byte> data = bytes.subspan(kLengthSize + header_size);
    Layout layout = read_layout({text, header_size}, data.size(), file);

    // Everything is checked: only now allocate and copy.
    SafetensorsFile out;
    out.metadata = std::move(layout.metadata);
    for (const Entry& e : layout.entries) {
        Tensor t = Tensor::empty(e.shape, e.dtype);
        if (e.end > e.begin)
            std::memcpy(t.raw_mutable_data(), data.data() + e.begin, e.end - e.begin);
        out.tensors.emplace(e.name, std::move(t));
    }
    return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
    FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) fail_errno(path, "open the file");
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) fail_errno(path, "stat the file");
    if (!S_ISREG(st.st_mode)) return parse_safetensors(read_all(file.fd, path), path);

    // The header is read and checked against the file's size before the data
    // is touched, so neither a hostile header nor a huge file of the wrong
    // kind costs more memory than the tensors the file really holds; the
    // data goes straight into them, in file order.
    auto size = static_cast<std::uint64_t>(st.st_size);
    std::byte length[kLengthSize];
    read_exact(file.fd, length, std::min<std::uint64_t>(size, kLengthSize), 0, path);
    std::uint64_t header_size = header_size_of(length, size, path);
    std::string text(header_size, '\0');
    read_exact(file.fd, text.data(), header_size, kLengthSize, path);
    std::uint64_t data_start = kLengthSize + header_size;
    Layout layout = read_layout(text, size - data_start, path);

    SafetensorsFile out;
    out.metadata = std::move(layout.metadata);
    for (const Entry& e : layout.entries) {
        Tensor t = Tensor::empty(e.shape, e.dtype);
        read_exact(file.fd, t.raw_mutable_data(), e.end - e.begin, data_start + e.begin, path);
        out.tensors.emplace(e.name, std::move(t));
    }
    return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    // Check and encode everything before touching the disk.
    std::string header = make_header(path, tensors, metadata);
    std::uint64_t header_size = header.size();

    remove_stale_temporaries(path);
    std::string tmp = temporary_name(path);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail_errno(path, "create the temporary file beside it");
    try {
        write_all(fd, &header_size, kLengthSize, path);
        write_all(fd, header.data(), header.size(), path);
        for (const auto& [name, t] : tensors) write_all(fd, t.raw_data(), t.nbytes(), path);
        if (::fsync(fd) != 0) fail_errno(path, "sync the temporary file");
        int closed = ::close(fd);
        fd = -1;
        if (closed != 0) fail_errno(path, "close the temporary file");
        if (::rename(tmp.c_str(), path.c_str()) != 0)
            fail_errno(path, "rename the temporary file over it");
    } catch (...) {
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    sync_directory(path);
}

}  // namespace tg
