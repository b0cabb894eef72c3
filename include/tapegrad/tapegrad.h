#pragma once

// Everything a training program needs, in one include.
#include <tapegrad/core/blas.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/generator.h>
#include <tapegrad/core/safetensors.h>
#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>
#include <tapegrad/ops/activation.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/gradcheck.h>
#include <tapegrad/ops/index.h>
#include <tapegrad/ops/linalg.h>
#include <tapegrad/ops/reduce.h>
#include <tapegrad/ops/shape.h>
