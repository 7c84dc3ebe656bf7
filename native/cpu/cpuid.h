// Which vector instruction set the CPU kernels use, chosen at run time.
#pragma once
#include <string>

namespace vj::cpu {
// Ordered: each level has what the ones below it have. Avx512Bf16 is Avx512 plus the bf16 dot
// product (vdpbf16ps), which only the bf16 GEMM uses.
enum class Isa { Portable = 0, Avx2 = 1, Avx512 = 2, Avx512Bf16 = 3 };
Isa isa();                          // the active one
Isa best_isa();                     // the best this CPU (and this build) supports
void set_isa(const std::string& name);  // "portable" | "avx2" | "avx512" | "avx512bf16" | "auto"; throws if unsupported
const char* isa_name(Isa i);
}  // namespace vj::cpu
