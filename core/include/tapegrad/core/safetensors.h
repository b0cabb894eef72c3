#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>

#include <tapegrad/core/error.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// A malformed or unreadable .safetensors file, or a save that failed; the
// message names the file and the fault.
struct SafetensorsError : Error {
    using Error::Error;
};

// The contents of a .safetensors file: tensors by name, and the optional
// "__metadata__" map of strings.
struct SafetensorsFile {
    std::map<std::string, Tensor> tensors;
    std::map<std::string, std::string> metadata;
};

// Reads and validates path. Tensors get their own storage; dtypes F32, F64
// and I64 are supported. As in the reference implementation, the tensors
// must tile the data section exactly: overlaps, gaps and trailing bytes are
// refused. The header is checked against the file's size before any data is
// read, so memory never exceeds what the file really holds. Every fault
// throws SafetensorsError naming the file.
SafetensorsFile load_safetensors(const std::string& path);

// The same checks on a whole file held in memory (never reading outside
// bytes). name_for_errors only labels the messages.
SafetensorsFile parse_safetensors(std::span<const std::byte> bytes,
                                  const std::string& name_for_errors);

// Writes tensors (data packed in name order) and metadata. The file is
// written beside path under a temporary name (path.tmp.<host>.<pid>.<n>),
// synced and renamed over path: an existing file at path survives a failed
// or killed save intact, and a reader sees the old file or the new one,
// never a mix. A save also removes the temporary files that writers killed
// mid-save on this host left beside path.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace tg
