// Tensor-core attention for bf16 mixed precision (native/cuda/attention_tc.cu): the fp32 kernels'
// algorithm with every product (Q Kᵀ, P V and the backward's) on bf16 mma.sync with fp32
// accumulation. q, k, v, o are fp32 or bf16 activations; gradients, lse and the softmax stay fp32;
// q, k, v, dO, P and dS are rounded to bf16 where they enter a product. attention.cu calls these
// when AttnArgs::bf16 is set and they apply.
#pragma once
#include "backend.h"

namespace vj::cuda {

// The bf16 attention kernels for head_dim on the current device (attention_choice.cu):
// VJEPA_CUDA_ATTN_FWD / _BWD where set (anything but the names below is an error), else the
// tuner's choice (setAttentionKernels), else mma with the split backward. pad_wgmma: wgmma may take
// head_dim <= 24 (16 padded to 32; VJEPA_CUDA_ATTN_WGMMA_HD24=1, or the tuner chose wgmma there).
// wgmma_bn64 ("wgmma-bn64") is wgmma with the 64-key tiles at head_dim 64 (WgGeo's Narrow), the
// same kernels as wgmma at any other head_dim.
enum class AttnFwd : uint8_t { mma = 1, wgmma = 2, wgmma_bn64 = 3 };
enum class AttnBwd : uint8_t { split = 1, fused = 2, wgmma = 3 };
struct AttnKernels {
  AttnFwd fwd;
  AttnBwd bwd;
  bool pad_wgmma;
};
AttnKernels attention_kernels(int64_t hd);

// True when this device and head_dim can take the tensor-core path (sm_80+, head_dim <= 128)
// and VJEPA_CUDA_NO_TC_ATTENTION=1 does not turn it off.
bool attention_tc_supported(const AttnArgs& a);
void attention_tc_fwd(const AttnArgs& a);
// The forward on Hopper's wgmma (attention_wgmma.cu) when attention_kernels chose it and
// attention_wgmma_applies. Returns whether it ran.
bool attention_wgmma_fwd(const AttnArgs& a);
// Whether the current device runs the sm_90a code (attention_wgmma.cu, wgmma_selftest.cu):
// compute capability 9.0 and the image with wgmma loaded (asked once per device).
bool wgmma_available();
// Whether the wgmma kernels take this call: sm_90 (the sm_90a image loaded), bf16 q, k, v in
// 16-byte chunks, 24 < head_dim <= 128 (16 too where attention_kernels allows the padding).
bool attention_wgmma_applies(const AttnArgs& a);
// The one-pass backward on wgmma, from tc_bwd_prep_kernel's D, lse and bf16 dO, dQ cleared.
void attention_wgmma_bwd(const AttnArgs& a, const float* D, const uint16_t* g16);
// Computes D = rowsum(dO * O) and a bf16 copy of dO itself, then dQ, dK, dV: by the dK, dV and dQ
// kernels, or in one pass with dQ summed by atomics where attention_kernels says fused, or that
// pass on wgmma where it says wgmma and attention_wgmma_applies (else the default).
void attention_tc_bwd(const AttnArgs& a);

}  // namespace vj::cuda
