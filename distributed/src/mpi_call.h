#pragma once

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/core/tensor.h>

namespace tg::dist::detail {

// Throws DistributedError naming op, the MPI call and MPI's reason, unless
// code is MPI_SUCCESS (MPI_COMM_WORLD returns errors instead of aborting).
void check(int code, const char* op, const char* call);

// Throws DistributedError unless a Session is alive.
void require_session(const char* op);

MPI_Datatype mpi_type(DType dtype);

// Throws DistributedError on every rank unless all ranks pass tensors of the
// same count, shapes and dtypes: a collective over buffers of different
// sizes would otherwise hang or mix unrelated data.
void check_same_layout(const std::vector<Tensor>& tensors, const char* op);

// Root's text on every rank.
void broadcast_string(std::string& text, int root, const char* op);

// Throws ValueError unless root is a rank of the job.
void check_root(int root, const char* op);

// Makes a step that may fail on some ranks fail on all of them: every rank
// learns which ranks failed. A rank that failed rethrows its own error; the
// others throw DistributedError naming op, the failed ranks and what.
void rethrow_if_any_failed(std::exception_ptr error, const char* op, std::string_view what);

}  // namespace tg::dist::detail
