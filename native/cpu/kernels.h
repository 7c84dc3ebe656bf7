// CPU kernel entry points; native/cpu/backend.cc puts them in the Backend table.
#pragma once
#include "backend.h"

namespace vj::cpu {
#include "kernels.inc"

// Position tables (CPU only: built once per shape, in float64, then rounded).
void sincos_3d(float* out, int64_t T, int64_t Hp, int64_t Wp, int64_t D, bool uniform_power);
void sincos_2d(float* out, int64_t Hp, int64_t Wp, int64_t D);
}  // namespace vj::cpu
