#include <tapegrad/core/tensor.h>

namespace tg {
std::string Tensor::str() const { return "tensor(...)"; }
}  // namespace tg
