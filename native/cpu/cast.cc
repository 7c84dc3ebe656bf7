#include "cpu/bf16.h"
#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) y[i] = to_bf16(x[i]);
  });
}

void f32_to_bf16_many(const float* const* xs, uint16_t* const* ys, const int64_t* ns, int64_t count) {
  for (int64_t k = 0; k < count; k++) f32_to_bf16(xs[k], ys[k], ns[k]);
}

void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    from_bf16(x + i0, y + i0, i1 - i0);
  });
}

}  // namespace vj::cpu
