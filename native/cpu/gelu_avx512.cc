// Exact (erf) GELU forward / backward, AVX-512 (picked at run time by gelu.cc).
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _undefined_ operands.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

namespace vj::cpu::avx512 {
namespace {

#include "vec_avx512.inc"
#include "gelu_rows.inc"
}  // namespace vj::cpu::avx512
