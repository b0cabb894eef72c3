#include <tapegrad/distributed/collectives.h>
#include <tapegrad/distributed/data_parallel.h>
#include <tapegrad/distributed/session.h>

#include <algorithm>
#include <climits>

#include <fmt/format.h>

#include "mpi_call.h"

namespace tg::dist {

namespace {

// One tensor's part of a stream of elements: read from `in` (null: zeros),
// written back to `out` (null: not written).
template <class T>
struct Slot {
    const T* in;
    T* out;
    std::size_t numel;
};

struct Cursor {
    std::size_t slot = 0;
    std::size_t offset = 0;
};

// Calls f(slot, offset in it, count, offset in the bucket) over the n
// elements that start at `from`; returns where they end.
template <class T, class F>
Cursor walk(const std::vector<Slot<T>>& slots, Cursor from, std::size_t n, F f) {
    for (std::size_t at = 0; at < n;) {
        const Slot<T>& s = slots[from.slot];
        std::size_t count = std::min(s.numel - from.offset, n - at);
        f(s, from.offset, count, at);
        at += count;
        from.offset += count;
        if (from.offset == s.numel) from = {from.slot + 1, 0};
    }
    return from;
}

// The slots' elements, in order, as one stream cut into buckets of at most
// bucket_elements: each bucket is packed into one buffer, handed to
// collective(buffer, count), and unpacked through finish. Every rank must
// pass slots of the same sizes. Returns the number of buckets.
template <class T, class Collective, class Finish>
int stream_buckets(const std::vector<Slot<T>>& slots, std::size_t bucket_elements,
                   Collective collective, Finish finish) {
    std::size_t total = 0;
    for (const Slot<T>& s : slots) total += s.numel;
    // MPI counts are int.
    std::size_t capacity = std::clamp<std::size_t>(bucket_elements, 1, INT_MAX);
    std::vector<T> buffer(std::min(total, capacity));
    int buckets = 0;
    Cursor cursor;
    for (std::size_t done = 0; done < total; ++buckets) {
        std::size_t n = std::min(buffer.size(), total - done);
        walk(slots, cursor, n,
             [&](const Slot<T>& s, std::size_t at, std::size_t count, std::size_t pos) {
                 if (s.in)
                     std::copy_n(s.in + at, count, buffer.data() + pos);
                 else
                     std::fill_n(buffer.data() + pos, count, T(0));
             });
        collective(buffer.data(), static_cast<int>(n));
        cursor = walk(slots, cursor, n,
                      [&](const Slot<T>& s, std::size_t at, std::size_t count, std::size_t pos) {
                          if (!s.out) return;
                          for (std::size_t i = 0; i < count; ++i)
                              s.out[at + i] = finish(buffer[pos + i]);
                      });
        done += n;
    }
    return buckets;
}

void check_parameters(const std::vector<Tensor>& parameters, const char* op) {
    for (std::size_t i = 0; i < parameters.size(); ++i) {
        if (!parameters[i].defined())
            throw ValueError(fmt::format("{}: parameter {} is undefined", op, i));
        if (!is_floating(parameters[i].dtype()))
            throw DTypeError(fmt::format("{}: parameter {} of shape {} is {}, not floating", op, i,
                                         parameters[i].shape(), parameters[i].dtype()));
    }
}

constexpr DType kFloatingDTypes[] = {DType::f32, DType::f64};

}  // namespace

void broadcast_parameters(const std::vector<Tensor>& parameters, int root) {
    const char* op = "broadcast_parameters";
    detail::require_session(op);
    detail::check_root(root, op);
    check_parameters(parameters, op);
    detail::check_same_layout(parameters, op);
    bool is_root = rank() == root;
    for (DType dtype : kFloatingDTypes) {
        dispatch_floating(dtype, [&]<class T>() {
            std::vector<Slot<T>> slots;
            for (Tensor p : parameters) {
                if (p.dtype() != dtype) continue;
                auto numel = static_cast<std::size_t>(p.numel());
                slots.push_back(is_root ? Slot<T>{p.data<T>(), nullptr, numel}
                                        : Slot<T>{nullptr, p.mutable_data<T>(), numel});
            }
            stream_buckets(
                slots, kDefaultBucketBytes / sizeof(T),
                [&](T* buffer, int n) {
                    detail::check(
                        MPI_Bcast(buffer, n, detail::mpi_type(dtype), root, MPI_COMM_WORLD), op,
                        "MPI_Bcast");
                },
                [](T v) { return v; });
        });
    }
}

void broadcast_parameters(const Module& module, int root) {
    broadcast_parameters(module.parameters(), root);
}

void broadcast_optimizer_state(Optimizer& optimizer, int root) {
    const char* op = "broadcast_optimizer_state";
    detail::require_session(op);
    detail::check_root(root, op);
    StateDict state = broadcast_state(optimizer.state_dict(), root);
    std::exception_ptr error;
    if (rank() != root) {
        try {
            optimizer.load_state_dict(state);
        } catch (...) {
            error = std::current_exception();
        }
    }
    detail::rethrow_if_any_failed(error, op, "could not load the root's optimizer state");
}

GradientSyncStats all_reduce_gradients(const std::vector<Tensor>& parameters,
                                       GradientSyncOptions options) {
    const char* op = "all_reduce_gradients";
    detail::require_session(op);
    if (options.bucket_bytes == 0)
        throw ValueError(fmt::format("{}: bucket_bytes must be positive", op));
    check_parameters(parameters, op);
    detail::check_same_layout(parameters, op);

    // Which parameters have a gradient on at least one rank: those take part
    // everywhere (as zeros where missing), so all ranks make the same calls.
    std::vector<unsigned char> has_grad(parameters.size());
    for (std::size_t i = 0; i < parameters.size(); ++i)
        has_grad[i] = parameters[i].grad().defined() ? 1 : 0;
    if (!has_grad.empty())
        detail::check(
            MPI_Allreduce(MPI_IN_PLACE, has_grad.data(), static_cast<int>(has_grad.size()),
                          MPI_UNSIGNED_CHAR, MPI_MAX, MPI_COMM_WORLD),
            op, "MPI_Allreduce");

    GradientSyncStats stats;
    for (DType dtype : kFloatingDTypes) {
        dispatch_floating(dtype, [&]<class T>() {
            std::vector<Slot<T>> slots;
            std::vector<Tensor> grads, means;
            std::vector<std::size_t> owners;
            for (std::size_t i = 0; i < parameters.size(); ++i) {
                const Tensor& p = parameters[i];
                if (!has_grad[i] || p.dtype() != dtype) continue;
                Tensor grad = p.grad();
                Tensor mean = Tensor::empty(p.shape(), dtype);
                slots.push_back({grad.defined() ? grad.data<T>() : nullptr, mean.mutable_data<T>(),
                                 static_cast<std::size_t>(p.numel())});
                grads.push_back(grad);
                means.push_back(mean);
                owners.push_back(i);
                stats.bytes += p.nbytes();
            }
            T size = static_cast<T>(world_size());
            stats.buckets += stream_buckets(
                slots, std::max<std::size_t>(options.bucket_bytes / sizeof(T), 1),
                [&](T* buffer, int n) {
                    detail::check(MPI_Allreduce(MPI_IN_PLACE, buffer, n, detail::mpi_type(dtype),
                                                MPI_SUM, MPI_COMM_WORLD),
                                  op, "MPI_Allreduce");
                },
                [size](T sum) { return sum / size; });
            for (std::size_t k = 0; k < owners.size(); ++k) {
                Tensor p = parameters[owners[k]];
                p.set_grad(means[k]);
            }
        });
    }
    return stats;
}

GradientSyncStats all_reduce_gradients(const Module& module, GradientSyncOptions options) {
    return all_reduce_gradients(module.parameters(), options);
}

DataParallel::DataParallel(const Module& module, DataParallelOptions options)
    : module_(module), options_(options) {
    broadcast_parameters(module_, options_.root);
}

GradientSyncStats DataParallel::synchronize() const {
    return all_reduce_gradients(module_, {.bucket_bytes = options_.bucket_bytes});
}

}  // namespace tg::dist
