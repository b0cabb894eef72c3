#pragma once

#include <exception>
#include <string_view>

#include <tapegrad/core/error.h>

namespace tg::dist {

// An MPI call that failed, or ranks that disagree about what they exchange
// (different models, a checkpoint one rank could not read). The message names
// the operation and the rank.
struct DistributedError : Error {
    using Error::Error;
};

// MPI for the lifetime of the object: create one at the top of main, before
// anything else, and let it end with main.
//
//     int main(int argc, char** argv) {
//         tg::dist::Session session(argc, argv);
//         ...
//     }
//
// MPI errors come back as DistributedError instead of ending the process
// mid-call. The other ranks would wait forever for a rank that fails, inside
// a collective it never joins, so a failure ends the whole job instead:
// an exception that leaves main prints "rank N: <what>" and aborts every rank;
// one that unwinds through the Session into a handler (main's catch printing
// the error) leaves MPI running, and every rank is aborted when this process
// exits. A rank that handles an error and carries on, or finishes normally,
// while the others still wait for it, hangs the job: rethrow, or call
// tg::dist::abort.
class Session {
public:
    Session();
    Session(int& argc, char**& argv);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    int rank() const;
    int world_size() const;

private:
    void start(int* argc, char*** argv);

    int uncaught_at_start_ = 0;
    std::terminate_handler previous_terminate_ = nullptr;
};

// This process's rank in [0, world_size()), and the number of processes in
// the job. Both throw DistributedError when no Session is alive.
int rank();
int world_size();
bool is_initialized();  // a Session is alive

// Returns once every rank has called it.
void barrier();

// Prints "rank N: message" to stderr and ends every rank of the job with code.
[[noreturn]] void abort(std::string_view message, int code = 1);

}  // namespace tg::dist
