#pragma once

// Everything a training program needs, in one include.
#include <tapegrad/core/error.h>
#include <tapegrad/core/generator.h>
#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/gradcheck.h>
