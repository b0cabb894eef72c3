#include <tapegrad/layers/embedding.h>
#include <tapegrad/ops/index.h>

#include <algorithm>

namespace tg {

Embedding::Embedding(EmbeddingOptions o) : options(o) {
    if (o.num_embeddings <= 0 || o.embedding_dim <= 0)
        throw ValueError(
            fmt::format("Embedding: num_embeddings ({}) and embedding_dim ({}) must be positive",
                        o.num_embeddings, o.embedding_dim));
    if (o.padding_idx && (*o.padding_idx < -o.num_embeddings || *o.padding_idx >= o.num_embeddings))
        throw IndexError(
            fmt::format("Embedding: padding_idx {} is out of range for {} embeddings "
                        "(allowed: -{} to {})",
                        *o.padding_idx, o.num_embeddings, o.num_embeddings, o.num_embeddings - 1));
    Tensor table = randn({o.num_embeddings, o.embedding_dim});
    // PyTorch draws the whole table, then zeroes the padding row, so the
    // other rows take the same random numbers with or without padding.
    if (o.padding_idx) {
        const std::int64_t row =
            *o.padding_idx < 0 ? *o.padding_idx + o.num_embeddings : *o.padding_idx;
        float* p = table.mutable_data<float>() + row * o.embedding_dim;
        std::fill(p, p + o.embedding_dim, 0.0f);
    }
    weight = register_parameter("weight", table);
}

Tensor Embedding::forward(const Tensor& indices, CallSite site) const {
    return embedding(indices, weight, options.padding_idx, site);
}

}  // namespace tg
