// CUDA kernel entry points (device pointers); native/cuda/backend.cu puts them in the Backend table.
#pragma once
#include "backend.h"

namespace vj::cuda {
#include "kernels.inc"
}  // namespace vj::cuda
