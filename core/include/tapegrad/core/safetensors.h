#pragma once

#include <tapegrad/core/tensor.h>

namespace tg {}  // namespace tg
