// Usage: make_seeds DIR. Writes seed files for safetensors_fuzz into DIR.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "fuzz_model.h"

namespace {

// A file of the 8-byte length (header_size, or the header's real length when
// 0), the header text and data_size zero bytes.
void write_raw(const std::string& path, const std::string& header, std::size_t data_size,
               std::uint64_t header_size = 0) {
    std::uint64_t n = header_size ? header_size : header.size();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << std::string(data_size, '\0');
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    tg::manual_seed(1);
    FuzzModel model;
    model.save(dir + "/model.safetensors");
    tg::Adam adam(model.parameters(), {.lr = 0.01, .amsgrad = true});
    fuzz_train_step(model, adam);
    tg::save_checkpoint(dir + "/checkpoint.safetensors", model, adam);

    // Sizes no memory holds: each must be refused before anything is allocated.
    write_raw(dir + "/huge_tensor.safetensors",
              R"({"w":{"dtype":"F64","shape":[125000000000000],)"
              R"("data_offsets":[0,1000000000000000]}})",
              8);
    write_raw(dir + "/huge_header.safetensors", "{}", 0, 1'000'000'000'000'000);
    write_raw(dir + "/huge_product.safetensors",
              R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})", 0);
    return 0;
}
