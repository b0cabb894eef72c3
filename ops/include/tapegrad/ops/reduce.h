#pragma once

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {}  // namespace tg
