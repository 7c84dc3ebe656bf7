// LayerNorm row kernels, AVX-512 (built with -mavx512f...; picked at run time by layernorm.cc).
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _undefined_ operands.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace vj::cpu::avx512 {
namespace {

#include "vec_avx512.inc"
#include "layernorm_rows.inc"
}  // namespace vj::cpu::avx512
