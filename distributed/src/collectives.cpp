#include <tapegrad/core/tape.h>
#include <tapegrad/distributed/collectives.h>
#include <tapegrad/distributed/session.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mpi_call.h"

namespace tg::dist {

namespace detail {

MPI_Datatype mpi_type(DType dtype) {
    switch (dtype) {
        case DType::f32:
            return MPI_FLOAT;
        case DType::f64:
            return MPI_DOUBLE;
        case DType::i64:
            return MPI_INT64_T;
    }
    return MPI_BYTE;
}

namespace {

// FNV-1a over the count, dtypes and shapes: equal layouts give equal hashes
// on every rank, whatever the values.
std::uint64_t layout_hash(const std::vector<Tensor>& tensors) {
    std::uint64_t h = 14695981039346656037ull;
    auto mix = [&h](std::uint64_t v) {
        for (int byte = 0; byte < 8; ++byte) {
            h ^= (v >> (8 * byte)) & 0xff;
            h *= 1099511628211ull;
        }
    };
    mix(tensors.size());
    for (const Tensor& t : tensors) {
        mix(static_cast<std::uint64_t>(t.dtype()));
        mix(static_cast<std::uint64_t>(t.dim()));
        for (std::int64_t d = 0; d < t.dim(); ++d) mix(static_cast<std::uint64_t>(t.size(d)));
    }
    return h;
}

}  // namespace

void check_same_layout(const std::vector<Tensor>& tensors, const char* op) {
    // The maximum of (x, -x) over the ranks gives max(x) and -min(x): one
    // small collective tells every rank whether all hashes are equal.
    std::uint64_t h = layout_hash(tensors);
    std::int64_t low = static_cast<std::int64_t>(h & 0xffffffffu);
    std::int64_t high = static_cast<std::int64_t>(h >> 32);
    std::int64_t v[4] = {low, high, -low, -high};
    check(MPI_Allreduce(MPI_IN_PLACE, v, 4, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), op,
          "MPI_Allreduce");
    if (v[0] == -v[2] && v[1] == -v[3]) return;
    std::int64_t elements = 0;
    for (const Tensor& t : tensors) elements += t.numel();
    throw DistributedError(
        fmt::format("{}: the ranks pass different tensors (count, shapes or dtypes differ); "
                    "rank {} has {} tensors of {} elements in all. Every rank must build the "
                    "same model and call the same collectives in the same order",
                    op, rank(), tensors.size(), elements));
}

namespace {

// MPI counts are int: long buffers go in pieces.
constexpr std::size_t kMaxCount = std::size_t{1} << 30;

void broadcast_bytes(std::byte* data, std::size_t n, int root, const char* op) {
    for (std::size_t done = 0; done < n; done += kMaxCount) {
        int count = static_cast<int>(std::min(kMaxCount, n - done));
        check(MPI_Bcast(data + done, count, MPI_BYTE, root, MPI_COMM_WORLD), op, "MPI_Bcast");
    }
}

}  // namespace

void broadcast_string(std::string& text, int root, const char* op) {
    std::int64_t size = static_cast<std::int64_t>(text.size());
    check(MPI_Bcast(&size, 1, MPI_INT64_T, root, MPI_COMM_WORLD), op, "MPI_Bcast");
    text.resize(static_cast<std::size_t>(size));
    broadcast_bytes(reinterpret_cast<std::byte*>(text.data()), text.size(), root, op);
}

void rethrow_if_any_failed(std::exception_ptr error, const char* op, std::string_view what) {
    std::vector<int> failed(static_cast<std::size_t>(world_size()), 0);
    failed[static_cast<std::size_t>(rank())] = error ? 1 : 0;
    check(MPI_Allreduce(MPI_IN_PLACE, failed.data(), static_cast<int>(failed.size()), MPI_INT,
                        MPI_MAX, MPI_COMM_WORLD),
          op, "MPI_Allreduce");
    std::vector<int> ranks;
    for (std::size_t r = 0; r < failed.size(); ++r)
        if (failed[r]) ranks.push_back(static_cast<int>(r));
    if (ranks.empty()) return;
    if (error) std::rethrow_exception(error);
    throw DistributedError(fmt::format("{}: {} on rank{} {}", op, what, ranks.size() > 1 ? "s" : "",
                                       fmt::join(ranks, ", ")));
}

}  // namespace detail

void broadcast(Tensor& tensor, int root) {
    detail::require_session("broadcast");
    detail::check_root(root, "broadcast");
    detail::check_same_layout({tensor}, "broadcast");
    std::byte* data =
        rank() == root ? const_cast<std::byte*>(tensor.raw_data()) : tensor.raw_mutable_data();
    detail::broadcast_bytes(data, tensor.nbytes(), root, "broadcast");
}

namespace {

MPI_Op mpi_op(ReduceOp op) {
    switch (op) {
        case ReduceOp::min:
            return MPI_MIN;
        case ReduceOp::max:
            return MPI_MAX;
        case ReduceOp::sum:
        case ReduceOp::mean:
            break;
    }
    return MPI_SUM;
}

}  // namespace

void all_reduce(Tensor& tensor, ReduceOp op) {
    detail::require_session("all_reduce");
    detail::check_same_layout({tensor}, "all_reduce");
    if (op == ReduceOp::mean && !is_floating(tensor.dtype()))
        throw DTypeError(
            fmt::format("all_reduce: the mean needs a floating tensor, not {}", tensor.dtype()));
    std::byte* data = tensor.raw_mutable_data();
    std::size_t element = dtype_size(tensor.dtype());
    std::size_t n = static_cast<std::size_t>(tensor.numel());
    for (std::size_t done = 0; done < n; done += detail::kMaxCount) {
        int count = static_cast<int>(std::min(detail::kMaxCount, n - done));
        detail::check(MPI_Allreduce(MPI_IN_PLACE, data + done * element, count,
                                    detail::mpi_type(tensor.dtype()), mpi_op(op), MPI_COMM_WORLD),
                      "all_reduce", "MPI_Allreduce");
    }
    if (op != ReduceOp::mean) return;
    dispatch_floating(tensor.dtype(), [&]<class T>() {
        T* p = reinterpret_cast<T*>(data);
        T size = static_cast<T>(world_size());
        for (std::size_t i = 0; i < n; ++i) p[i] /= size;
    });
}

double all_reduce(double value, ReduceOp op) {
    Tensor t = Tensor::scalar(value, DType::f64);
    all_reduce(t, op);
    return t.item();
}

namespace {

// Names, dtypes and shapes as bytes: per entry the name's length, the name,
// the dtype, the rank and the sizes, all but the name as int64.
void put(std::string& out, std::int64_t v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::int64_t take(const std::string& in, std::size_t& at) {
    std::int64_t v;
    std::memcpy(&v, in.data() + at, sizeof v);
    at += sizeof v;
    return v;
}

std::string describe(const std::map<std::string, Tensor>& state) {
    std::string out;
    for (const auto& [name, t] : state) {
        put(out, static_cast<std::int64_t>(name.size()));
        out += name;
        put(out, static_cast<std::int64_t>(t.dtype()));
        put(out, t.dim());
        for (std::int64_t d = 0; d < t.dim(); ++d) put(out, t.size(d));
    }
    return out;
}

std::map<std::string, Tensor> empty_from(const std::string& description) {
    std::map<std::string, Tensor> state;
    for (std::size_t at = 0; at < description.size();) {
        std::size_t length = static_cast<std::size_t>(take(description, at));
        std::string name = description.substr(at, length);
        at += length;
        DType dtype = static_cast<DType>(take(description, at));
        std::vector<std::int64_t> sizes(static_cast<std::size_t>(take(description, at)));
        for (std::int64_t& s : sizes) s = take(description, at);
        state.emplace(std::move(name), Tensor::empty(Shape(sizes), dtype));
    }
    return state;
}

}  // namespace

std::map<std::string, Tensor> broadcast_state(const std::map<std::string, Tensor>& state,
                                              int root) {
    detail::require_session("broadcast_state");
    detail::check_root(root, "broadcast_state");
    bool is_root = rank() == root;
    std::string description = is_root ? describe(state) : std::string();
    detail::broadcast_string(description, root, "broadcast_state");
    std::map<std::string, Tensor> out;
    if (is_root)
        for (const auto& [name, t] : state) out.emplace(name, t.detach());
    else
        out = empty_from(description);
    for (auto& [name, t] : out) {
        std::byte* data = is_root ? const_cast<std::byte*>(t.raw_data()) : t.raw_mutable_data();
        detail::broadcast_bytes(data, t.nbytes(), root, "broadcast_state");
    }
    return out;
}

}  // namespace tg::dist
