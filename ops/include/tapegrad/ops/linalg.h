#pragma once

#include <tapegrad/core/tape.h>
#include <tapegrad/core/tensor.h>

namespace tg {

// Matrix product with torch.matmul's rules: 1-D . 1-D is a dot product (0-D);
// a 1-D a is a row [1, k] and a 1-D b a column [k, 1], the added dimension
// removed from the result; dimensions before the last two are batch
// dimensions and broadcast. Floating dtypes only; mixed dtypes promote.
Tensor matmul(const Tensor& a, const Tensor& b, CallSite site = CallSite::current());

// y = x w^T + b as torch.nn.functional.linear: x [..., in], w [out, in],
// optional b [out] (an undefined tensor means no bias); y [..., out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = {},
              CallSite site = CallSite::current());

}  // namespace tg
