#pragma once

// Everything a training program needs, in one include.
#include <tapegrad/core/blas.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/generator.h>
#include <tapegrad/core/safetensors.h>
#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>
#include <tapegrad/layers/cells.h>
#include <tapegrad/layers/linear.h>
#include <tapegrad/layers/module.h>
#include <tapegrad/layers/rnn.h>
#include <tapegrad/ops/activation.h>
#include <tapegrad/ops/elementwise.h>
#include <tapegrad/ops/gradcheck.h>
#include <tapegrad/ops/index.h>
#include <tapegrad/ops/linalg.h>
#include <tapegrad/ops/loss.h>
#include <tapegrad/ops/recurrent.h>
#include <tapegrad/ops/reduce.h>
#include <tapegrad/ops/shape.h>
#include <tapegrad/optim/adam.h>
#include <tapegrad/optim/clip_grad.h>
#include <tapegrad/optim/lr_scheduler.h>
#include <tapegrad/optim/optimizer.h>
#include <tapegrad/optim/rmsprop.h>
#include <tapegrad/optim/sgd.h>
