// The wgmma attention kernels' tile geometry (attention_wgmma_kernels.cuh): the width their products
// run at for a head_dim, the width of the tiles they stage, and the forward's block shape. Apart from
// the kernels so that the wgmma self-test (wgmma_selftest.cu) lays its tiles out by the same rules.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cuda/wgmma_widths.h"

namespace vj::cuda {

// The kernels' products run over head_dim padded to PW (wgmma_head_width: 24, 32, 64, 80, 96 or 128)
// and their tiles are HD = wg_tile_width(PW) columns wide, the same but for 80 (ViT-H's heads) and 24
// (the predictors'). At 80 rows are staged 96 wide: a 160-byte row fits no 64- or 128-byte swizzle
// atom, and the 32-byte one would put a warp's staging stores on the same banks. So the tiles carry
// 16 zero columns that no product reads: the score products take 5 k-steps, not 6, and the output
// and gradient products are 80 wide, not 96 (a sixth of ViT-H's attention work). At 24 rows are
// staged 32 wide: the score products' second k-step (16 deep) reads the 8 zero columns, and the
// output and gradient products are 24 wide (m64n24k16), not 32: 3 of the 5 backward products, and
// P V, lose a quarter of their work against padding head_dim to 32.
__host__ __device__ constexpr int wg_tile_width(int pw) { return pw == 80 ? 96 : pw == 24 ? 32 : pw; }
// k-steps (16 deep) of the score products over head_dim: 24 takes two, over its zero columns.
__host__ __device__ constexpr int wg_score_ksteps(int pw) { return (pw + 15) / 16; }
// Calls f with PW as a compile-time constant, for a head_dim wg_takes took.
template <class F>
decltype(auto) wg_head_width(int64_t hd, F&& f) {
  switch (wgmma_head_width(hd, true)) {
    case 24: return f(std::integral_constant<int, 24>{});
    case 32: return f(std::integral_constant<int, 32>{});
    case 64: return f(std::integral_constant<int, 64>{});
    case 80: return f(std::integral_constant<int, 80>{});
    case 96: return f(std::integral_constant<int, 96>{});
    default: return f(std::integral_constant<int, 128>{});
  }
}

// Tile geometry for tiles HD wide (32, 64, 96 or 128: wg_tile_width). A tile of R rows is HD / AW atoms
// of R x AW columns, one after another; an atom's rows are SW bytes, 16-byte chunks swizzled.
//
// The forward's block is `groups` warpgroups of 64 query rows, `blocks` of them per multiprocessor
// (its __launch_bounds__). Two blocks of two, where a thread's tiles fit 128 registers: one
// block's softmax overlaps the other's products (a block's warpgroups meet at every tile's
// barrier and would otherwise leave the tensor cores idle together). At head_dim 64 (ViT-L's)
// the 128-key tiles need about 167 registers; capped at 128, ptxas keeps them by serializing every
// wgmma (its C7512), so there a block is three warpgroups alone on the multiprocessor (170
// registers each), as FlashAttention-3's forward is at this head_dim. Narrow is the other way to
// fit (VJEPA_CUDA_ATTN_FWD=wgmma-bn64, a tuner candidate): 64-key tiles in two blocks of two, 127
// registers, whose 32-wide score products read Q from shared memory half again as fast as the
// tensor cores use it. Which is faster is for a GPU to say; bench.mjs times both.
template <int HD, bool Narrow = false>
struct WgGeo {
  static constexpr int SW = HD % 64 == 0 ? 128 : 64;  // the widest swizzle that divides a row
  static constexpr int AW = SW / 2;                   // bf16 columns per atom
  static constexpr bool wide64 = HD == 64 && !Narrow;
  static constexpr int groups = wide64 ? 3 : 2, threads = 128 * groups, blocks = wide64 ? 1 : 2;
  static constexpr int BM = 64 * groups;              // query rows per block
  static constexpr int BN = HD <= 64 && !Narrow ? 128 : 64;  // keys per tile: S (BN / 2 floats a thread) and O fit
  static constexpr uint32_t q = BM * HD * 2, kv = BN * HD * 2;
  // Q, then K and V for each of two stages; 1024 bytes of slack to align the swizzle atoms.
  static constexpr size_t smem = 1024 + q + 4 * (size_t)kv;
  static_assert(HD % AW == 0 && q % 1024 == 0 && kv % 1024 == 0, "tiles keep the 1024-byte alignment");
};

}  // namespace vj::cuda
