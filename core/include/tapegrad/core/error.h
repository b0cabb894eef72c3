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

}  // namespace tg
