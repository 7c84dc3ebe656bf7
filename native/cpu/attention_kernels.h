// Internal interface of the CPU attention: the ISA-specific drivers (attention_avx512.cc,
// attention_avx2.cc, and the portable one in attention.cc) and the services they take from
// attention.cc. The ISA files include no STL headers, so no inline library code compiled with
// AVX flags can be picked by the linker for baseline callers; threads and memory come through
// these plain functions instead.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backend.h"

namespace vj::cpu {

void attention_fwd_portable(const AttnArgs& a);
void attention_bwd_portable(const AttnArgs& a);
#if defined(__x86_64__)
void attention_fwd_avx2(const AttnArgs& a);
void attention_bwd_avx2(const AttnArgs& a);
void attention_fwd_avx512(const AttnArgs& a);
void attention_bwd_avx512(const AttnArgs& a);
#endif
#if defined(VJ_HAVE_AVX512BF16)
// The forward from bf16 q, k, v (attention_avx512bf16.cc), for the shapes it accepts.
bool attention_fwd_bf16_accepts(const AttnArgs& a);
void attention_fwd_avx512bf16(const AttnArgs& a);
#endif

namespace attn {
// 64-byte aligned scratch of at least `floats` floats, owned by the calling thread and reused
// (contents are not kept between calls). Slot 0 is per-work-item scratch, slot 1 holds the
// buffers the calling thread shares with the pool during one call.
float* scratch(int slot, size_t floats);
int threads();
// Floats of packed K/V the forward holds at once (16 MB; VJEPA_ATTN_PACK_FLOATS overrides, for tests).
int64_t pack_budget();
// fn(ctx, tid, nt) on every pool thread.
void parallel(void (*fn)(void* ctx, int tid, int nt), void* ctx);
}  // namespace attn

}  // namespace vj::cpu
