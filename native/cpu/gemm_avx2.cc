// AVX2 + FMA GEMM: 6x16 micro-kernel (12 ymm accumulators) from the vector-extension template.
#include "cpu/gemm_generic.h"

namespace vj::cpu {
namespace {
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
}  // namespace

void gemm_avx2(const GemmArgs& g) { Driver<KGeneric<v8f, v8i, 6, 2, 256, 6 * 24>>::run(g); }

}  // namespace vj::cpu
