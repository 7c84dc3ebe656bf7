// Launches the tensor-core attention kernels (attention_tc_kernels.cuh) for bf16 mixed precision.
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "cuda/attention_tc.h"
#include "cuda/attention_tc_kernels.cuh"
#include "cuda/common.cuh"

namespace vj::cuda {

namespace {

int64_t cdiv(int64_t x, int64_t y) { return (x + y - 1) / y; }

// The current device's per-block shared-memory opt-in limit (cached per device).
int smem_optin() {
  static int limit[kMaxDevices] = {};
  const int dev = current_device();
  if (!limit[dev])
    check(cudaDeviceGetAttribute(&limit[dev], cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "cudaDeviceGetAttribute");
  return limit[dev];
}

template <int HDP>
void fwd(const AttnArgs& a) {
  using G = Geo<HDP>;
  raise_smem_limit<tc_fwd_kernel<HDP>>(G::fwd, "attentionFwd (bf16)");
  int64_t nqt = cdiv(a.Nq, kQueryRows<HDP>), blocks = nqt * a.B * a.H;
  if (blocks > INT_MAX) fail("attentionFwd: too many (batch*heads, tiles) blocks for one launch");
  tc_fwd_kernel<HDP><<<(unsigned)blocks, kThreads, G::fwd, stream()>>>(a, a.scale * kLog2e, (int)nqt);
  check_launch("attentionFwd (bf16)");
}

template <int HDP>
void bwd(const AttnArgs& a, const float* D, const uint16_t* g16) {
  using G = Geo<HDP>;
  raise_smem_limit<tc_bwd_dkv_kernel<HDP>>(G::dkv, "attentionBwd (bf16)");
  raise_smem_limit<tc_bwd_dq_kernel<HDP>>(G::dq, "attentionBwd (bf16)");
  int64_t nkt = cdiv(a.Nk, kTile), nqt = cdiv(a.Nq, kQueryRows<HDP>);
  if (nkt * a.B * a.H > INT_MAX || nqt * a.B * a.H > INT_MAX)
    fail("attentionBwd: too many (batch*heads, tiles) blocks for one launch");
  tc_bwd_dkv_kernel<HDP><<<(unsigned)(nkt * a.B * a.H), kThreads, G::dkv, stream()>>>(a, a.scale * kLog2e, D, g16, (int)nkt);
  check_launch("attentionBwd (bf16 dk, dv)");
  tc_bwd_dq_kernel<HDP><<<(unsigned)(nqt * a.B * a.H), kThreads, G::dq, stream()>>>(a, a.scale * kLog2e, D, g16, (int)nqt);
  check_launch("attentionBwd (bf16 dq)");
}

template <int HDP>
void bwd_fused(const AttnArgs& a, const float* D, const uint16_t* g16) {
  using G = Geo<HDP>;
  raise_smem_limit<tc_bwd_fused_kernel<HDP>>(G::fused, "attentionBwd (bf16, fused)");
  int64_t nkt = cdiv(a.Nk, kTile);
  if (nkt * a.B * a.H > INT_MAX) fail("attentionBwd: too many (batch*heads, tiles) blocks for one launch");
  tc_bwd_fused_kernel<HDP><<<(unsigned)(nkt * a.B * a.H), kThreads, G::fused, stream()>>>(a, a.scale * kLog2e, D, g16, (int)nkt);
  check_launch("attentionBwd (bf16 fused)");
}

// VJEPA_CUDA_ATTN_NO_HD24=1 pads head_dim <= 24 to 32 as before the 24-wide kernels, so that a
// benchmark can time both (read at each call).
bool hd24_off() { return env_flag("VJEPA_CUDA_ATTN_NO_HD24"); }

// with_head_width, with head_dim <= 24 unpadded unless VJEPA_CUDA_ATTN_NO_HD24 says otherwise.
template <class F>
decltype(auto) with_hdp(int64_t hd, F&& f) {
  return with_head_width(hd, hd24_off(), std::forward<F>(f));
}

size_t bwd_smem(int64_t hd) {
  return with_hdp(hd, [](auto P) { return Geo<P.value>::bwd; });
}
size_t fused_smem(int64_t hd) {
  return with_hdp(hd, [](auto P) { return Geo<P.value>::fused; });
}

}  // namespace

bool attention_tc_supported(const AttnArgs& a) {
  static const bool off = env_flag("VJEPA_CUDA_NO_TC_ATTENTION");  // falls back to the fp32 kernels
  if (off || a.hd < 1 || a.hd > 128) return false;
  // The backward needs the most shared memory, at most 71 KB (the dK, dV kernel at head_dim 128),
  // within every sm_80+ part's per-block opt-in limit (99 KB on sm_86/89); the check stays for
  // devices that report less.
  return compute_major() >= 8 && bwd_smem(a.hd) <= (size_t)smem_optin();
}

void attention_tc_fwd(const AttnArgs& a) {
  if (attention_wgmma_fwd(a)) return;
  with_hdp(a.hd, [&](auto P) { fwd<P.value>(a); });
}

void attention_tc_bwd(const AttnArgs& a) {
  const int64_t rows = a.B * a.H * a.Nq;
  const AttnBwd req = attention_kernels(a.hd).bwd;
  // The wgmma pass where the device and call allow it, else the default.
  const bool wg = req == AttnBwd::wgmma && attention_wgmma_applies(a);
  // The fused kernel's shared memory fits every sm_90 part (95 KB at head_dim 128) but not every sm_8x one.
  const bool fused = req == AttnBwd::fused && fused_smem(a.hd) <= (size_t)smem_optin();
  Scratch D(sizeof(float) * 2 * (size_t)rows), g16(sizeof(uint16_t) * (size_t)(rows * a.hd));  // D, then lse2
  tc_bwd_prep_kernel<<<grid_for(rows * 32, 256), 256, 0, stream()>>>(a, D.as<float>(), g16.as<uint16_t>(), fused || wg);
  check_launch("attentionBwd (bf16 D, dO)");
  if (wg) return attention_wgmma_bwd(a, D.as<float>(), g16.as<uint16_t>());
  with_hdp(a.hd, [&](auto P) {
    if (fused) bwd_fused<P.value>(a, D.as<float>(), g16.as<uint16_t>());
    else bwd<P.value>(a, D.as<float>(), g16.as<uint16_t>());
  });
}

}  // namespace vj::cuda
