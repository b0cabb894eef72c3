#pragma once

#include <array>
#include <vector>

#include <tapegrad/core/shape.h>

namespace tg::detail {

// Calls f(i, {j_0, ..., j_N-1}) for every flat index i of `out`, where j_k is
// the flat index of the same element in operand k broadcast to `out`.
template <std::size_t N, class F>
void broadcast_loop(const Shape& out, const std::array<const Shape*, N>& in, F f) {
    const std::size_t rank = out.size();
    const std::int64_t total = out.numel();
    if (total == 0) return;
    std::array<std::vector<std::int64_t>, N> strides;
    for (std::size_t k = 0; k < N; ++k) {
        strides[k].assign(rank, 0);
        auto own = in[k]->strides();
        std::size_t lead = rank - in[k]->size();
        for (std::size_t d = 0; d < in[k]->size(); ++d)
            if ((*in[k])[d] != 1) strides[k][lead + d] = own[d];
    }
    std::array<std::int64_t, N> base{};
    if (rank == 0) {
        f(0, base);
        return;
    }
    const std::int64_t inner = out[rank - 1];
    std::array<std::int64_t, N> step;
    for (std::size_t k = 0; k < N; ++k) step[k] = strides[k][rank - 1];
    std::vector<std::int64_t> index(rank, 0);
    for (std::int64_t i = 0; i < total; i += inner) {
        std::array<std::int64_t, N> j = base;
        for (std::int64_t t = 0; t < inner; ++t) {
            f(i + t, j);
            for (std::size_t k = 0; k < N; ++k) j[k] += step[k];
        }
        for (std::size_t d = rank - 1; d-- > 0;) {
            for (std::size_t k = 0; k < N; ++k) base[k] += strides[k][d];
            if (++index[d] < out[d]) break;
            for (std::size_t k = 0; k < N; ++k) base[k] -= strides[k][d] * out[d];
            index[d] = 0;
        }
    }
}

}  // namespace tg::detail
