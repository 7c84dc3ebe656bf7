// AdamW / EMA element loops built for AVX-512 (picked at run time by adamw.cc).
#include <cmath>
#include <cstdint>

namespace vj::cpu::avx512 {
#include "adamw_loops.inc"
}  // namespace vj::cpu::avx512
