// Exact (erf) GELU forward / backward, AVX2 + FMA (picked at run time by gelu.cc).
#include <immintrin.h>

#include <cstdint>

namespace vj::cpu::avx2 {
namespace {

#include "vec_avx2.inc"
#include "gelu_rows.inc"
}  // namespace vj::cpu::avx2
