// Which vector instruction set the CPU kernels use, chosen at run time.
#pragma once
#include <string>

namespace vj::cpu {
enum class Isa { Portable = 0, Avx2 = 1, Avx512 = 2 };
Isa isa();                          // the active one
Isa best_isa();                     // the best this CPU (and this build) supports
void set_isa(const std::string& name);  // "portable" | "avx2" | "avx512" | "auto"; throws if unsupported
const char* isa_name(Isa i);
}  // namespace vj::cpu
