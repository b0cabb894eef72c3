// libFuzzer target: bytes as a .safetensors file, read from memory and from
// a file, then loaded into a small model and as a checkpoint. Every input
// must load or throw tg::Error; only tg::Error is caught, so any other
// exception, crash, sanitizer report or leak is a finding. A refused load
// must leave the model, the optimizer and the generator as they were.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "fuzz_model.h"

namespace {

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "safetensors_fuzz: %s\n", what.c_str());
    std::abort();
}

// Every tensor's name, dtype, shape and bytes, to compare states exactly.
std::string fingerprint(const tg::StateDict& state) {
    std::string out;
    for (const auto& [name, t] : state) {
        out += fmt::format("{} {} {}:", name, t.dtype(), t.shape());
        out.append(reinterpret_cast<const char*>(t.raw_data()), t.nbytes());
    }
    return out;
}

struct Harness {
    FuzzModel model;
    tg::StateDict initial;
    tg::Tensor initial_generator;
    int fd;
    std::string path;  // the in-memory file, for the loaders that take a path

    Harness() {
        for (const auto& [name, p] : model.state_dict()) initial.emplace(name, p.clone());
        initial_generator = tg::generator_state();
        fd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
        if (fd < 0) finding("memfd_create failed");
        path = fmt::format("/proc/self/fd/{}", fd);
    }

    void reset() {
        model.load_state_dict(initial);
        tg::set_generator_state(initial_generator);
        tg::clear_tape();
    }

    void write(const std::uint8_t* data, std::size_t size) {
        if (ftruncate(fd, 0) != 0) finding("ftruncate failed");
        for (std::size_t done = 0; done < size;) {
            ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
            if (n <= 0) finding("pwrite failed");
            done += static_cast<std::size_t>(n);
        }
    }

    std::string everything(const tg::Optimizer& optimizer) const {
        return fingerprint(model.state_dict()) + fingerprint(optimizer.state_dict()) +
               fingerprint({{"generator", tg::generator_state()}});
    }
};

Harness& harness() {
    static Harness h;
    return h;
}

// The reader from memory and from a file must agree exactly: same tensors, or
// the same message.
std::optional<tg::SafetensorsFile> read_both(Harness& h, const std::uint8_t* data,
                                             std::size_t size) {
    std::optional<tg::SafetensorsFile> parsed, loaded;
    std::string parse_error, load_error;
    try {
        parsed = tg::parse_safetensors({reinterpret_cast<const std::byte*>(data), size}, h.path);
    } catch (const tg::Error& e) {
        parse_error = e.what();
    }
    h.write(data, size);
    try {
        loaded = tg::load_safetensors(h.path);
    } catch (const tg::Error& e) {
        load_error = e.what();
    }
    if (parse_error != load_error)
        finding(
            fmt::format("memory and file readers disagree:\n  {}\n  {}", parse_error, load_error));
    if (parsed && (fingerprint(parsed->tensors) != fingerprint(loaded->tensors) ||
                   parsed->metadata != loaded->metadata))
        finding("memory and file readers read different contents");
    return parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Harness& h = harness();
    h.reset();
    std::optional<tg::SafetensorsFile> file = read_both(h, data, size);
    if (!file) return 0;

    for (bool strict : {true, false}) {
        std::string before = fingerprint(h.model.state_dict());
        try {
            h.model.load_state_dict(file->tensors, strict);
        } catch (const tg::Error&) {
            if (fingerprint(h.model.state_dict()) != before)
                finding("a refused load_state_dict changed the parameters");
        }
        h.reset();
    }

    tg::Adam adam(h.model.parameters(), {.lr = 0.01});
    std::string before = h.everything(adam);
    try {
        tg::load_checkpoint(h.path, h.model, adam);
    } catch (const tg::Error&) {
        if (h.everything(adam) != before)
            finding("a refused load_checkpoint changed the model, optimizer or generator");
        return 0;
    }
    try {
        fuzz_train_step(h.model, adam);
    } catch (const tg::Error&) {
    }
    return 0;
}
