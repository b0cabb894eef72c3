#pragma once

#include <stdexcept>
#include <string>

namespace tg {

// Every error a user can cause derives from Error; messages name the op,
// the rule that was broken and the shapes or values at fault.
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct ShapeError : Error {
    using Error::Error;
};
struct DTypeError : Error {
    using Error::Error;
};
struct ValueError : Error {
    using Error::Error;
};
struct IndexError : Error {
    using Error::Error;
};
// A NaN or Inf appeared while anomaly mode was on (see anomaly.h).
struct AnomalyError : Error {
    using Error::Error;
};

// Runs f(); an error it throws leaves as the same type with "context: " in
// front, so e.g. a state dict refused while loading a file names the file.
template <class F>
decltype(auto) with_context(const std::string& context, F&& f) {
    auto prefixed = [&](const Error& e) { return context + ": " + e.what(); };
    try {
        return f();
    } catch (const ShapeError& e) {
        throw ShapeError(prefixed(e));
    } catch (const DTypeError& e) {
        throw DTypeError(prefixed(e));
    } catch (const ValueError& e) {
        throw ValueError(prefixed(e));
    } catch (const IndexError& e) {
        throw IndexError(prefixed(e));
    }
}

}  // namespace tg
