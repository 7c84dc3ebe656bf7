// LayerNorm row kernels, AVX2 + FMA (built with -mavx2 -mfma; picked at run time by layernorm.cc).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace vj::cpu::avx2 {
namespace {

#include "vec_avx2.inc"
#include "layernorm_rows.inc"
}  // namespace vj::cpu::avx2
