// The emulator's wgmma ordering rules (cuda_emu.h), each broken on purpose by one small kernel:
// the fences and barriers the attention kernels rely on are only checked if the emulator refuses
// a kernel without them. Run by test/native/cuda_emu.test.ts, one process per case (a broken rule
// aborts):
//   g++ -std=c++17 -O2 -fno-strict-aliasing -Itest/native/cuda_emu/include -Inative test/native/cuda_emu/wgmma_rules_emu.cc
//   ./a.out <case>     # prints "<case>: exact" and exits 0 when the product is right
#include "cuda_emu.h"
// cuda_emu.h first: it defines the built-ins the kernels use
#include "cuda/cp_async.cuh"
#include "cuda/wgmma.cuh"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace vj::cuda;

namespace {

// D [64][32] = A [64][32] B [32][32]ᵀ in two k-steps, from K-major 64-byte-swizzled tiles.
constexpr int kM = 64, kN = 32, kK = 32, kSmem = 1024 + 2 * kM * kK + 2 * kN * kK;

struct Case {
  bool cp_async = false;       // stage the tiles by cp.async (else by ordinary stores)
  bool fence_first = false;    // ... and fence before the cp.async wait instead of after it
  bool proxy_fence = true;     // fence.proxy.async before the publishing barrier
  bool barrier = true;         // the publishing __syncthreads
  bool wgmma_fence = true;     // wgmma.fence before the products
  bool regs_a = false;         // A from registers, every k-step's fragment built before the fence
  bool regs_a_in_loop = false; // ... or each built in the issuing loop, into one array
  bool touch_acc = false;      // write the accumulator while its products are in flight
  // After the products, each warp rewrites its quarter of B's tile: once the whole block has
  // waited for them and met at a barrier (legal), or as soon as the warp itself has waited (a
  // race: the other warps' shares of the product may still be reading B).
  bool rewrite_b_after_barrier = false, rewrite_b_after_own_wait = false;
};

void kernel(const Case& cs, const uint16_t* A, const uint16_t* B, float* D) {
  VJ_DYNAMIC_SMEM(raw);
  unsigned char* const at = wg_aligned_smem(raw);
  unsigned char* const bt = at + 2 * kM * kK;
  const int tid = threadIdx.x, w = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  auto stage = [&](unsigned char* tile, const uint16_t* src, int rows) {
    for (int c = tid; c < rows * kK / 8; c += 128) {
      const int r = c / (kK / 8), k = c % (kK / 8) * 8;
      unsigned char* dst = tile + (rows == kM ? wg_tile_offset<64, kM>(r, k) : wg_tile_offset<64, kN>(r, k));
      if (cs.cp_async) cp_async16(dst, src + r * kK + k);
      else std::memcpy(dst, src + r * kK + k, 16);
    }
  };
  stage(at, A, kM);
  stage(bt, B, kN);
  if (cs.cp_async) {
    cp_async_commit();
    if (cs.fence_first) proxy_fence();
    cp_async_wait<0>();
  }
  if (cs.proxy_fence && !cs.fence_first) proxy_fence();
  if (cs.barrier) __syncthreads();

  // the m16n8k16 A fragment of k-step kk (rows 16w..16w+15)
  auto fragment = [&](uint32_t(&a)[4], int kk) {
    for (int r = 0; r < 4; r++) {
      const int m = 16 * w + g + 8 * (r & 1), k = 16 * kk + 8 * (r >> 1) + 2 * t;
      a[r] = (uint32_t)A[m * kK + k] | (uint32_t)A[m * kK + k + 1] << 16;
    }
  };
  uint32_t af[kK / 16][4];
  if (cs.regs_a)
    for (int kk = 0; kk < kK / 16; kk++) fragment(af[kk], kk);
  float d[kN / 2];
  for (int i = 0; i < kN / 2; i++) d[i] = 0.f;
  if (cs.wgmma_fence) wgmma_fence();
  for (int kk = 0; kk < kK / 16; kk++) {
    const uint64_t db = wg_kmajor_desc<64, kN>(smem_addr(bt), 16 * kk);
    if (cs.regs_a) {
      wgmma_rs<0>(d, af[kk], db, 1);
    } else if (cs.regs_a_in_loop) {
      fragment(af[0], kk);  // the second k-step overwrites the first's registers
      wgmma_rs<0>(d, af[0], db, 1);
    } else {
      wgmma_ss<0, 0>(d, wg_kmajor_desc<64, kM>(smem_addr(at), 16 * kk), db, 1);
    }
    if (cs.touch_acc && kk == 0) d[0] = 1.f;
  }
  wgmma_commit();
  wgmma_wait<0>();
  if (cs.rewrite_b_after_barrier || cs.rewrite_b_after_own_wait) {
    if (cs.rewrite_b_after_barrier) __syncthreads();
    for (int i = 2 * kN * kK / 4 * w + lane; i < 2 * kN * kK / 4 * (w + 1); i += 32) bt[i] = (unsigned char)~bt[i];
  }
  for (int i = 0; i < kN / 2; i++) D[(16 * w + g + 8 * ((i >> 1) & 1)) * kN + 8 * (i / 4) + 2 * t + (i & 1)] = d[i];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "ok";
  Case cs;
  if (name == "ok") {
  } else if (name == "ok-cp-async") cs.cp_async = true;
  else if (name == "ok-registers-a") cs.regs_a = true;
  else if (name == "no-proxy-fence") cs.proxy_fence = false;
  else if (name == "cp-async-fenced-before-its-wait") cs.cp_async = cs.fence_first = true;
  else if (name == "no-barrier") cs.barrier = false;
  else if (name == "no-wgmma-fence") cs.wgmma_fence = false;
  else if (name == "a-registers-reused") cs.regs_a_in_loop = true;
  else if (name == "accumulator-written") cs.touch_acc = true;
  else if (name == "ok-operand-rewritten-after-barrier") cs.rewrite_b_after_barrier = true;
  else if (name == "operand-rewritten-after-own-wait") cs.rewrite_b_after_own_wait = true;
  else {
    std::fprintf(stderr, "unknown case %s\n", name.c_str());
    return 2;
  }
  // small integers: every product and sum is exact in fp32
  std::vector<uint16_t> A(kM * kK), B(kN * kK);
  std::vector<float> Af(A.size()), Bf(B.size()), D(kM * kN, NAN);
  uint32_t s = 12345;
  auto next = [&s] { return (s = s * 1664525u + 1013904223u) >> 16; };
  for (size_t i = 0; i < A.size(); i++) Af[i] = (float)((int)(next() % 7) - 3), A[i] = __float2bfloat16_rn(Af[i]).bits;
  for (size_t i = 0; i < B.size(); i++) Bf[i] = (float)((int)(next() % 7) - 3), B[i] = __float2bfloat16_rn(Bf[i]).bits;
  vj_emu::launch(1, 128, kSmem, [&] { kernel(cs, A.data(), B.data(), D.data()); });
  int bad = 0;
  for (int m = 0; m < kM; m++)
    for (int n = 0; n < kN; n++) {
      float ref = 0.f;
      for (int k = 0; k < kK; k++) ref += Af[m * kK + k] * Bf[n * kK + k];
      bad += !(D[m * kN + n] == ref);
    }
  std::printf(bad ? "%s: %d of %d wrong\n" : "%s: exact\n", name.c_str(), bad, kM * kN);
  return bad ? 1 : 0;
}
