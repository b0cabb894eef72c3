#include <tapegrad/distributed/session.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "mpi_call.h"

namespace tg::dist {

namespace {

// Runs for an exception that leaves main (or any other std::terminate): the
// other ranks are blocked in a collective this rank will never join, so the
// whole job ends here rather than waiting for a time limit.
void abort_job_on_terminate() {
    std::string what = "std::terminate called without an active exception";
    if (std::exception_ptr error = std::current_exception()) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
            what = "an exception that is not a std::exception";
        }
    }
    abort(what);
}

// Set when an exception unwound through the Session: MPI was left running so
// that the program's own handler can still report the error, and the job is
// aborted when this process exits.
bool abort_at_exit = false;

void abort_job_at_exit() {
    if (abort_at_exit)
        abort("exiting after an exception left tg::dist::Session; ending every rank of the job");
}

int world_rank_or(int fallback) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) return fallback;
    int r = fallback;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

}  // namespace

namespace detail {

void check(int code, const char* op, const char* call) {
    if (code == MPI_SUCCESS) return;
    char reason[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, reason, &length);
    throw DistributedError(fmt::format("{}: {} failed on rank {}: {}", op, call, world_rank_or(-1),
                                       std::string(reason, length)));
}

void require_session(const char* op) {
    if (!is_initialized())
        throw DistributedError(fmt::format(
            "{}: MPI is not running; create a tg::dist::Session at the top of main", op));
}

void check_root(int root, const char* op) {
    int size = world_size();
    if (root < 0 || root >= size)
        throw ValueError(
            fmt::format("{}: root {} is not a rank of this job of {} ranks", op, root, size));
}

}  // namespace detail

Session::Session() { start(nullptr, nullptr); }

Session::Session(int& argc, char**& argv) { start(&argc, &argv); }

void Session::start(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized)
        throw DistributedError(
            "Session: MPI is already initialized; create one Session, at the top of main");
    // Only the thread that created the Session calls MPI; BLAS threads never do.
    int provided = 0;
    detail::check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "Session",
                  "MPI_Init_thread");
    detail::check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "Session",
                  "MPI_Comm_set_errhandler");
    uncaught_at_start_ = std::uncaught_exceptions();
    previous_terminate_ = std::set_terminate(abort_job_on_terminate);
    std::atexit(abort_job_at_exit);
}

Session::~Session() {
    std::set_terminate(previous_terminate_);
    // Unwinding past the Session means this rank is leaving while the others
    // may wait for it inside a collective, where MPI_Finalize would wait for
    // them in turn.
    if (std::uncaught_exceptions() > uncaught_at_start_) {
        abort_at_exit = true;
        return;
    }
    MPI_Finalize();
}

int Session::rank() const { return dist::rank(); }
int Session::world_size() const { return dist::world_size(); }

bool is_initialized() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
}

int rank() {
    detail::require_session("rank");
    int r = 0;
    detail::check(MPI_Comm_rank(MPI_COMM_WORLD, &r), "rank", "MPI_Comm_rank");
    return r;
}

int world_size() {
    detail::require_session("world_size");
    int size = 0;
    detail::check(MPI_Comm_size(MPI_COMM_WORLD, &size), "world_size", "MPI_Comm_size");
    return size;
}

void barrier() {
    detail::require_session("barrier");
    detail::check(MPI_Barrier(MPI_COMM_WORLD), "barrier", "MPI_Barrier");
}

void abort(std::string_view message, int code) {
    int r = world_rank_or(-1);
    std::string line =
        r >= 0 ? fmt::format("rank {}: {}\n", r, message) : fmt::format("tapegrad: {}\n", message);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    if (r >= 0) MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
}

}  // namespace tg::dist
