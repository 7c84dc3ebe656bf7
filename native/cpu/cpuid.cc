#include "cpu/cpuid.h"

#include <cstdlib>

#include "tensor.h"

namespace vj::cpu {
namespace {
Isa detect() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq")) {
#if defined(VJ_HAVE_AVX512BF16)
    if (__builtin_cpu_supports("avx512bf16")) return Isa::Avx512Bf16;
#endif
    return Isa::Avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Portable;
}

Isa g_isa = [] {
  Isa best = detect();
  if (const char* e = std::getenv("VJEPA_ISA")) {
    std::string s = e;
    if (s == "portable") return Isa::Portable;
    if (s == "avx2" && best >= Isa::Avx2) return Isa::Avx2;
    if (s == "avx512" && best >= Isa::Avx512) return Isa::Avx512;
  }
  return best;
}();
}  // namespace

Isa isa() { return g_isa; }
Isa best_isa() { return detect(); }
const char* isa_name(Isa i) {
  switch (i) {
    case Isa::Avx512Bf16: return "avx512bf16";
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "portable";
  }
}

void set_isa(const std::string& name) {
  Isa best = detect();
  Isa want;
  if (name == "auto") want = best;
  else if (name == "portable") want = Isa::Portable;
  else if (name == "avx2") want = Isa::Avx2;
  else if (name == "avx512") want = Isa::Avx512;
  else if (name == "avx512bf16") want = Isa::Avx512Bf16;
  else fail("setIsa: unknown instruction set '" + name + "' (portable, avx2, avx512, avx512bf16 or auto)");
  if (want > best) fail(std::string("setIsa: this CPU does not support ") + isa_name(want) + " (best: " + isa_name(best) + ")");
  g_isa = want;
}
}  // namespace vj::cpu
