// Launches the wgmma attention kernels (attention_wgmma_kernels.cuh), forward and backward.
// CMake compiles this file for sm_90a, whose SASS runs only on compute capability 9.0 (H100,
// H200), so the kernels are launched only there, after a probe of the loaded image (the emulated
// build takes it as such).
#include <atomic>
#include <climits>
#include <string>

#include "cuda/attention_tc.h"
#include "cuda/attention_wgmma_kernels.cuh"
#include "cuda/common.cuh"

namespace vj::cuda {

namespace {

std::atomic<uint64_t> g_wgmma_calls{0};

}  // namespace

// Whether the current device runs this file's sm_90a code: compute capability 9.0, and the
// image the driver loaded is the one with wgmma (wg_probe_kernel).
bool wgmma_available() {
  static int state[kMaxDevices] = {};  // 0 not asked yet, 1 yes, 2 no
  const int dev = current_device();
  if (!state[dev]) {
    int major = 0, minor = 0;
    check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), "cudaDeviceGetAttribute");
    check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev), "cudaDeviceGetAttribute");
    int has = 0;
    if (major == 9 && minor == 0) {
      Scratch flag(sizeof(int));
      wg_probe_kernel<<<1, 1, 0, stream()>>>(flag.as<int>());
      check_launch("attentionFwd (wgmma probe)");
      check(cudaMemcpyAsync(&has, flag.as<int>(), sizeof(int), cudaMemcpyDeviceToHost, stream()), "wgmma probe");
      check(cudaStreamSynchronize(stream()), "wgmma probe");
    }
    state[dev] = has == 1 ? 1 : 2;
  }
  return state[dev] == 1;
}

namespace {

template <int PW, bool Narrow>
void fwd_geo(const AttnArgs& a) {
  using G = WgGeo<wg_tile_width(PW), Narrow>;
  raise_smem_limit<wg_fwd_kernel<PW, Narrow>>(G::smem, "attentionFwd (bf16, wgmma)");
  const int64_t nqt = (a.Nq + G::BM - 1) / G::BM, blocks = nqt * a.B * a.H;
  if (blocks > INT_MAX) fail("attentionFwd: too many (batch*heads, tiles) blocks for one launch");
  wg_fwd_kernel<PW, Narrow><<<(unsigned)blocks, G::threads, G::smem, stream()>>>(a, a.scale * kLog2e, (int)nqt);
  check_launch("attentionFwd (bf16, wgmma)");
}

// At head_dim 64, wgmma-bn64 takes the 64-key tiles instead of the three-warpgroup block (WgGeo):
// which is faster is the tuner's trial to say.
template <int PW>
void fwd(const AttnArgs& a, bool bn64) {
  if constexpr (PW == 64) {
    if (bn64) return fwd_geo<64, true>(a);
  }
  fwd_geo<PW, false>(a);
}

template <int PW>
void bwd(const AttnArgs& a, const float* D, const uint16_t* g16) {
  using G = WgBwdGeo<wg_tile_width(PW)>;
  raise_smem_limit<wg_bwd_kernel<PW>>(G::smem, "attentionBwd (bf16, wgmma)");
  const int64_t nkt = (a.Nk + G::BN - 1) / G::BN, blocks = nkt * a.B * a.H;
  if (blocks > INT_MAX) fail("attentionBwd: too many (batch*heads, tiles) blocks for one launch");
  wg_bwd_kernel<PW><<<(unsigned)blocks, kWgThreads, G::smem, stream()>>>(a, a.scale * kLog2e, D, g16, (int)nkt);
  check_launch("attentionBwd (bf16, wgmma)");
}

}  // namespace

bool attention_wgmma_applies(const AttnArgs& a) {
  return wg_takes(a, attention_kernels(a.hd).pad_wgmma) && wgmma_available();
}

bool attention_wgmma_fwd(const AttnArgs& a) {
  const AttnFwd k = attention_kernels(a.hd).fwd;
  if ((k != AttnFwd::wgmma && k != AttnFwd::wgmma_bn64) || !attention_wgmma_applies(a)) return false;
  wg_head_width(a.hd, [&](auto PW) { fwd<PW.value>(a, k == AttnFwd::wgmma_bn64); });
  g_wgmma_calls++;
  return true;
}

void attention_wgmma_bwd(const AttnArgs& a, const float* D, const uint16_t* g16) {
  wg_head_width(a.hd, [&](auto PW) { bwd<PW.value>(a, D, g16); });
  g_wgmma_calls++;
}

}  // namespace vj::cuda

namespace vj {

uint64_t cuda_wgmma_attention() { return cuda::g_wgmma_calls.load(); }

}  // namespace vj
