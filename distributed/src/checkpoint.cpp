#include <tapegrad/distributed/checkpoint.h>
#include <tapegrad/distributed/session.h>
#include <tapegrad/optim/checkpoint.h>

#include <fmt/format.h>

#include "mpi_call.h"

namespace tg::dist {

void save_checkpoint(const std::string& path, const Module& model, const Optimizer& optimizer,
                     int root) {
    const char* op = "save_checkpoint";
    detail::require_session(op);
    detail::check_root(root, op);
    std::exception_ptr error;
    std::string message;
    if (rank() == root) {
        try {
            tg::save_checkpoint(path, model, optimizer);
        } catch (const std::exception& e) {
            error = std::current_exception();
            message = e.what();
        } catch (...) {
            error = std::current_exception();
        }
        if (error && message.empty()) message = "an unknown error";
    }
    detail::broadcast_string(message, root, op);
    if (error) std::rethrow_exception(error);
    if (!message.empty())
        throw DistributedError(
            fmt::format("{}: rank {} could not write {}: {}", op, root, path, message));
}

void load_checkpoint(const std::string& path, Module& model, Optimizer& optimizer) {
    const char* op = "load_checkpoint";
    detail::require_session(op);
    std::exception_ptr error;
    try {
        tg::load_checkpoint(path, model, optimizer);
    } catch (...) {
        error = std::current_exception();
    }
    detail::rethrow_if_any_failed(error, op, fmt::format("could not read {}", path));
}

}  // namespace tg::dist
