#pragma once

#include <cstdint>
#include <optional>

#include <tapegrad/core/call_site.h>
#include <tapegrad/layers/module.h>

namespace tg {

struct EmbeddingOptions {
    std::int64_t num_embeddings;
    std::int64_t embedding_dim;
    // A row that reads as zeros and never learns (a padding token), as in
    // PyTorch; negative counts from the end.
    std::optional<std::int64_t> padding_idx = std::nullopt;
};

// A lookup table of num_embeddings rows of embedding_dim values, as
// torch.nn.Embedding: weight [num_embeddings, embedding_dim] drawn from
// N(0, 1) by the default generator, the padding row (if any) set to zeros.
// int64 indices of any shape [...] give [..., embedding_dim].
class Embedding : public Module {
public:
    explicit Embedding(EmbeddingOptions options);
    Tensor forward(const Tensor& indices, CallSite site = CallSite::current()) const;
    Tensor operator()(const Tensor& indices, CallSite site = CallSite::current()) const {
        return forward(indices, site);
    }

    EmbeddingOptions options;  // padding_idx as given, possibly negative
    Tensor weight;             // [num_embeddings, embedding_dim]
};

}  // namespace tg
