// Which head_dims the wgmma attention kernels (attention_wgmma_kernels.cuh) take, and the width
// their products run at: one definition for the kernels' dispatch and for the tuner's list of
// candidates (native.wgmmaHeadWidth, lib/ops/attention-trial.ts). Plain C++, so that an addon
// built without CUDA answers it too.
#pragma once
#include <cstdint>

namespace vj {

// 0 where the kernels do not take head_dim hd: not a multiple of 8 (their 16-byte loads), outside
// [16, 128], or at most 24 without hd24 (VJEPA_CUDA_ATTN_WGMMA_HD24, or the tuner's choice: the
// mma.sync kernels run 16 and 24 unpadded, and which wins is for a GPU to say). Else 24 (the
// predictors' heads), 32, 64, 80 (ViT-H's heads), 96 or 128: head_dim rounded up to the next width
// the kernels are compiled for (16 to 32).
constexpr int wgmma_head_width(int64_t hd, bool hd24) {
  if (hd % 8 != 0 || hd < 16 || hd > 128 || (hd <= 24 && !hd24)) return 0;
  return hd <= 16 ? 32 : hd <= 24 ? 24 : hd <= 32 ? 32 : hd <= 64 ? 64 : hd <= 80 ? 80 : hd <= 96 ? 96 : 128;
}

}  // namespace vj
