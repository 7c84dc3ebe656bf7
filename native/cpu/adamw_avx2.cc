// AdamW / EMA element loops built for AVX2 (picked at run time by adamw.cc).
#include <cmath>
#include <cstdint>

namespace vj::cpu::avx2 {
#include "adamw_loops.inc"
}  // namespace vj::cpu::avx2
