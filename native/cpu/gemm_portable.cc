// Portable GEMM (baseline x86-64 = SSE2, or NEON on ARM): 6x8 micro-kernel of 4-wide vectors.
#include "cpu/gemm_generic.h"

namespace vj::cpu {
namespace {
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
}  // namespace

void gemm_portable(const GemmArgs& g) { Driver<KGeneric<v4f, v4i, 6, 2, 256, 6 * 24>>::run(g); }

}  // namespace vj::cpu
