// Multi-head scaled-dot-product attention on the CPU: dispatch by instruction set, the
// portable instantiation, and the thread / scratch services of attention_kernels.h.
// The kernels themselves are in attention_impl.h.
#include <cstdlib>
#include <new>

#include "cpu/attention_impl.h"
#include "cpu/cpuid.h"
#include "cpu/kernels.h"
#include "cpu/threadpool.h"

VJ_ATTENTION_ENTRY_POINTS(portable, VecPortable)

namespace vj::cpu {

namespace attn {
namespace {
struct Buffer {
  float* p = nullptr;
  size_t n = 0;
  ~Buffer() { std::free(p); }
};
thread_local Buffer t_buffers[2];
}  // namespace

float* scratch(int slot, size_t floats) {
  Buffer& b = t_buffers[slot];
  if (b.n < floats) {
    std::free(b.p);
    b.p = nullptr;
    b.n = 0;
    size_t n = (floats + floats / 4 + 15) / 16 * 16;  // headroom so slowly growing shapes do not realloc each call
    b.p = (float*)std::aligned_alloc(64, n * sizeof(float));
    if (!b.p) throw std::bad_alloc();
    b.n = n;
  }
  return b.p;
}

int threads() { return num_threads(); }

int64_t pack_budget() {
  const char* e = std::getenv("VJEPA_ATTN_PACK_FLOATS");
  long long v = e && *e ? std::atoll(e) : 0;
  return v > 0 ? (int64_t)v : (int64_t)4 << 20;
}

void parallel(void (*fn)(void* ctx, int tid, int nt), void* ctx) {
  parallel_run([&](int tid, int nt) { fn(ctx, tid, nt); });
}
}  // namespace attn

void attention_fwd(const AttnArgs& a) {
#if defined(VJ_HAVE_AVX512BF16)
  if (a.q16) return attention_fwd_avx512bf16(a);  // attention_reads_bf16 said yes
#endif
#if defined(__x86_64__)
  switch (isa()) {
    case Isa::Avx512Bf16:
    case Isa::Avx512: return attention_fwd_avx512(a);
    case Isa::Avx2: return attention_fwd_avx2(a);
    default: break;
  }
#endif
  attention_fwd_portable(a);
}

void attention_bwd(const AttnArgs& a) {
#if defined(__x86_64__)
  switch (isa()) {
    case Isa::Avx512Bf16:
    case Isa::Avx512: return attention_bwd_avx512(a);
    case Isa::Avx2: return attention_bwd_avx2(a);
    default: break;
  }
#endif
  attention_bwd_portable(a);
}

// bf16 activations reach the fp32 kernels widened by the bindings, except the forward on
// AVX512-BF16, which reads them as they are.
bool attention_reads_bf16(const AttnArgs& a) {
#if defined(VJ_HAVE_AVX512BF16)
  return isa() == Isa::Avx512Bf16 && attention_fwd_bf16_accepts(a);
#else
  (void)a;
  return false;
#endif
}

}  // namespace vj::cpu
