#include "cpu/bf16.h"
#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) y[i] = to_bf16(x[i]);
  });
}

void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) y[i] = from_bf16(x[i]);
  });
}

}  // namespace vj::cpu
