// Tensor-core (bf16, fp32 accumulate) flash attention for bf16 mixed precision. Same algorithm as
// the fp32 kernels in attention.cu: tiles of 64 (or 128, 32) rows, an online softmax in base-2
// units, no N x N matrix in memory; backward as FlashAttention-2, either without atomics (one
// kernel owns dK, dV per key tile, another dQ per query tile: deterministic, the default) or in one
// pass over the scores with dQ summed by fp32 atomics (tc_bwd_fused_kernel).
//
// A block is 4 warps; each owns MR consecutive 16-row blocks of the block's rows (queries, or keys
// in the dK, dV kernel; MR = 2 in the forward and dQ kernels at head_dim <= 64, else 1). Products
// run on mma.sync m16n8k16 (mma_bf16.cuh), whose documented fragment layouts keep each warp's
// scores, probabilities and accumulators in registers: the accumulator of two adjacent 8-column
// score tiles is the A fragment of the next product.
// Shared memory holds only row-major bf16 operand tiles; ldmatrix reads them as A or B fragments,
// and with .trans across their rows where a product runs along the sequence (P V, Pᵀ dO, dSᵀ Q,
// dS K), so no tile is staged twice. The loop over the other side's tiles is double-buffered:
// tile i+1 is copied by cp.async (cp_async.cuh) while the block computes on tile i.
// q, k, v are fp32 (rounded to bf16 while a tile is staged, through registers) or already bf16
// (AttnArgs::q16..., mixed-precision activations: copied asynchronously); o is written in fp32 or
// bf16 to match. The backward reads dO as the bf16 copy tc_bwd_prep_kernel writes with D;
// gradients are fp32.
//
// Device code only: attention_tc.cu launches it, and test/native/cuda_emu/ compiles it on the host
// against a CPU emulation of the CUDA headers, built-ins, mma.sync, ldmatrix and cp.async to test
// it without a GPU.
#pragma once
#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "backend.h"
#include "cuda/bf16.cuh"
#include "cuda/cp_async.cuh"
#include "cuda/mma_bf16.cuh"

// The block's dynamic shared memory (the emulator gives each emulated block its own buffer).
#ifndef VJ_DYNAMIC_SMEM
#define VJ_DYNAMIC_SMEM(name) extern __shared__ __align__(128) unsigned char name[]
#endif

namespace vj::cuda {

namespace {

using bf16 = __nv_bfloat16;

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kWarps = 4, kThreads = 32 * kWarps, kTile = 16 * kWarps;  // 64 rows (or keys) per tile

// Calls f(std::integral_constant<int, W>) with head_dim hd padded to a width W the mma.sync kernels
// are compiled for: 24, 32, 64, 80 (ViT-H's heads), 96 or 128; a call that asks for padding (pad24)
// takes 32 at 24. The launchers and the emulator's harness dispatch through it (the wgmma kernels
// have their own widths: wg_head_width).
template <class F>
decltype(auto) with_head_width(int64_t hd, bool pad24, F&& f) {
  if (hd <= 24 && !pad24) return f(std::integral_constant<int, 24>{});
  if (hd <= 32) return f(std::integral_constant<int, 32>{});
  if (hd <= 64) return f(std::integral_constant<int, 64>{});
  if (hd <= 80) return f(std::integral_constant<int, 80>{});
  if (hd <= 96) return f(std::integral_constant<int, 96>{});
  return f(std::integral_constant<int, 128>{});
}

// 16-row blocks per warp in the forward and dQ kernels (queries per block: 64 MR). Two (head_dim
// <= 64) halve the shared-memory reads per product, the limit of one 16-row block per warp on
// sm_80+ (an ldmatrix.x4 of 512 bytes feeds two m16n8k16 products); above 64 the accumulators and
// fragments of two blocks would not fit in registers. With two, the dQ kernel walks 32-key tiles
// to keep its scores and dP in registers, except at head_dim <= 32, where 64 keys fit (196
// registers) and halve the barriers per key.
template <int HDP>
constexpr int kMR = HDP <= 64 ? 2 : 1;
template <int HDP>
constexpr int kQueryRows = kTile * kMR<HDP>;
template <int HDP>
constexpr int kDqKeys = kMR<HDP> == 2 && HDP > 32 ? 32 : kTile;

// k-steps of 16 over head_dim HDP; at 24 the last is 8 wide (an m16n8k8 product), so the
// predictor's 24-wide heads (ViT-L's and ViT-H's: 384 / 16) run no padded products.
template <int HDP>
constexpr int kKSteps = (HDP + 15) / 16;
template <int HDP>
constexpr bool kHalfStep = HDP % 16 == 8;

// Forward blocks per multiprocessor the register allocation aims at: three (168 registers) at
// head_dim 32, where that fits without spilling; else two (255), which head_dim 96 needs, and 24
// too (179 registers; capped at 168 it spilled 44 bytes, though its accumulators are smaller).
template <int HDP>
constexpr int kFwdBlocks = HDP == 32 ? 3 : 2;

// Shared-memory geometry for head_dim padded to HDP, in bf16 tiles [64][LH]: two per pipeline
// stage (K, V; or Q, dO; tiles 2s, 2s+1), plus the dK, dV kernel's per-query lse and D for each
// stage. The kernels' own rows (Q; K, V; or Q, dO) are staged from tile 2 on, before the loop
// needs stage 1 (the dQ kernel's 128 rows of Q and dO take tiles 2-5). A row stride of 4 (mod 8)
// 32-bit words puts the 8 rows of an ldmatrix matrix in 8 disjoint groups of 4 banks (at HDP 24,
// 40 columns; the columns past HDP are never staged, and only unused fragment halves read them).
template <int HDP>
struct Geo {
  static constexpr int LH = HDP % 16 ? HDP + 16 : HDP + 8;
  static constexpr size_t tile = sizeof(bf16) * kTile * LH;
  static constexpr size_t fwd = 4 * tile;
  static constexpr size_t dq = (2 + 2 * kMR<HDP>) * tile;
  static constexpr size_t dkv = 4 * tile + 2 * 2 * sizeof(float) * kTile;
  static constexpr size_t bwd = dkv > dq ? dkv : dq;
  // The one-pass backward: dkv's tiles, K kept in tile 4 for dQ = dS K, and the tile's dSᵀ
  // [64 keys][64 queries] (row stride 72: 4 (mod 8) words, as LH).
  static constexpr size_t ds = sizeof(bf16) * kTile * (kTile + 8);
  static constexpr size_t fused = 5 * tile + ds + 2 * 2 * sizeof(float) * kTile;
  static_assert(tile % 128 == 0, "tiles keep the 128-byte alignment of the buffer");
};

// Tile i of the block's shared memory (stage s holds tiles 2s and 2s+1).
template <int HDP>
__device__ __forceinline__ bf16* smem_tile(unsigned char* smem, int i) {
  return reinterpret_cast<bf16*>(smem + i * Geo<HDP>::tile);
}

__device__ __forceinline__ float as_float(float v) { return v; }
__device__ __forceinline__ float as_float(uint16_t v) { return from_bf16(v); }

// Eight consecutive fp32 elements rounded to bf16, from two 16-byte loads; p is 16-byte aligned.
struct alignas(16) Bf16x8 {
  uint32_t w[4];
};
struct alignas(16) F32x4 {
  float v[4];
};
__device__ __forceinline__ Bf16x8 load8(const float* p) {
  const F32x4 a = reinterpret_cast<const F32x4*>(p)[0], b = reinterpret_cast<const F32x4*>(p)[1];
  return Bf16x8{{pack_bf16(a.v[0], a.v[1]), pack_bf16(a.v[2], a.v[3]), pack_bf16(b.v[0], b.v[1]),
                 pack_bf16(b.v[2], b.v[3])}};
}
// Whether every row of a tile at src (row stride rs) splits into aligned 8-element chunks.
template <class In>
__device__ __forceinline__ bool vectorizable(const In* src, int64_t rs, int hd) {
  return hd % 8 == 0 && rs % 8 == 0 && reinterpret_cast<uintptr_t>(src) % 16 == 0;
}

// T[r*LH + d] = bf16(src[r*rs + d]) for r < nrows, d < hd; zeros elsewhere in [ROWS) x [HDP).
// Aligned bf16 rows are copied by cp.async (in the caller's next group); the rest synchronously.
template <int HDP, int ROWS = kTile, class In>
__device__ __forceinline__ void stage_tile(bf16* T, const In* __restrict__ src, int64_t rs, int nrows, int hd) {
  constexpr int LH = Geo<HDP>::LH;
  if (vectorizable(src, rs, hd)) {
    for (int idx = threadIdx.x; idx < ROWS * HDP / 8; idx += kThreads) {
      const int r = idx / (HDP / 8), d = idx % (HDP / 8) * 8;
      bf16* dst = T + r * LH + d;
      if (r >= nrows || d >= hd) {
        *reinterpret_cast<Bf16x8*>(dst) = Bf16x8{};
      } else {
        if constexpr (sizeof(In) == sizeof(uint16_t)) cp_async16(dst, src + r * rs + d);
        else *reinterpret_cast<Bf16x8*>(dst) = load8(src + r * rs + d);
      }
    }
    return;
  }
  for (int idx = threadIdx.x; idx < ROWS * HDP; idx += kThreads) {
    int r = idx / HDP, d = idx % HDP;
    T[r * LH + d] = __float2bfloat16_rn((r < nrows && d < hd) ? as_float(src[r * rs + d]) : 0.f);
  }
}

// An operand held in fp32 (f) or bf16 (h, when set), at element offset off.
template <int HDP, int ROWS = kTile>
__device__ __forceinline__ void stage_rows(bf16* T, const float* f, const uint16_t* h, int64_t off, int64_t rs,
                                           int nrows, int hd) {
  if (h) stage_tile<HDP, ROWS>(T, h + off, rs, nrows, hd);
  else stage_tile<HDP, ROWS>(T, f + off, rs, nrows, hd);
}

// The A fragments (16 rows x HDP, KF = kKSteps k-steps) of a row-major bf16 tile in shared memory.
// Lane 8i + r points at row r (+8 for odd i), columns 8 * (i / 2) of each k-step.
template <int KF>
__device__ __forceinline__ void a_fragments(uint32_t (&f)[KF][4], const bf16* rows, int ld) {
  const int lane = threadIdx.x & 31, i = lane >> 3;
  const bf16* p = rows + ((i & 1) * 8 + (lane & 7)) * ld + (i >> 1) * 8;
#pragma unroll
  for (int kk = 0; kk < KF; kk++) ldmatrix_x4(f[kk], p + kk * 16);
}

template <int N>
__device__ __forceinline__ void zero_acc(float (&acc)[N][4]) {
#pragma unroll
  for (int n = 0; n < N; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
}

// s[m][j] = A_m · B_jᵀ for the warp's MR 16-row blocks A_m and the 8-row blocks j of a row-major
// tile B [NT*8][HDP] (scores: rows of the warp against 8 keys or queries at a time). One ldmatrix
// gives B_j's fragments of two k-steps (lane 8i + r points at row r, columns 16 * (i / 2) +
// 8 * (i % 2)) and serves all MR row blocks: shared-memory reads per product fall as 1 / MR.
// HALF: the last k-step is 8 wide (kHalfStep), an m16n8k8 product on its first half. An odd
// last k-step (head_dim 80: five) loads alone, by ldmatrix.x2.
template <int MR, int KF, int NT, bool HALF = false>
__device__ __forceinline__ void scores(float (&s)[MR][NT][4], const uint32_t (&af)[MR][KF][4], const bf16* B, int ld) {
  static_assert(KF % 2 == 0 || !HALF, "a half k-step ends a pair");
  const int lane = threadIdx.x & 31, i = lane >> 3;
  const bf16* p = B + (lane & 7) * ld + (i >> 1) * 16 + (i & 1) * 8;
#pragma unroll
  for (int j = 0; j < NT; j++)
#pragma unroll
    for (int m = 0; m < MR; m++) s[m][j][0] = s[m][j][1] = s[m][j][2] = s[m][j][3] = 0.f;
  // k-steps outermost: consecutive products write different accumulators, so none waits on the
  // one before it (the mma asm is volatile, which keeps this order).
#pragma unroll
  for (int kk = 0; kk + 1 < KF; kk += 2) {
#pragma unroll
    for (int j = 0; j < NT; j++) {
      uint32_t b[4];
      ldmatrix_x4(b, p + j * 8 * ld + kk * 16);
      const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
#pragma unroll
      for (int m = 0; m < MR; m++) mma_bf16_16816(s[m][j], af[m][kk], b0);
#pragma unroll
      for (int m = 0; m < MR; m++) {
        if (HALF && kk + 2 == KF) {
          const uint32_t a2[2] = {af[m][kk + 1][0], af[m][kk + 1][1]};
          mma_bf16_1688(s[m][j], a2, b1[0]);
        } else {
          mma_bf16_16816(s[m][j], af[m][kk + 1], b1);
        }
      }
    }
  }
  if constexpr (KF % 2) {
#pragma unroll
    for (int j = 0; j < NT; j++) {
      uint32_t b[2];
      ldmatrix_x2(b, p + j * 8 * ld + (KF - 1) * 16);  // lanes 0-15: columns 0-7 and 8-15 of the step
#pragma unroll
      for (int m = 0; m < MR; m++) mma_bf16_16816(s[m][j], af[m][KF - 1], b);
    }
  }
}

// acc[m] += A_m · V[16 rows from vk] for one 16-wide k-step, A_m given as fragments and V a
// row-major tile in shared memory: ldmatrix.trans reads V's B fragments down its rows, two
// 8-column blocks at a time (vk: lane 8i + r points at row r (+8 for odd i), column block i / 2),
// each load serving the MR row blocks; an odd last block (head_dim 24) loads alone.
template <int MR, int DT>
__device__ __forceinline__ void mma_kstep(float (&acc)[MR][DT][4], const uint32_t (&af)[MR][4], const bf16* vk) {
#pragma unroll
  for (int n = 0; n + 1 < DT; n += 2) {
    uint32_t b[4];
    ldmatrix_x4_trans(b, vk + n * 8);
    const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
#pragma unroll
    for (int m = 0; m < MR; m++) {
      mma_bf16_16816(acc[m][n], af[m], b0);
      mma_bf16_16816(acc[m][n + 1], af[m], b1);
    }
  }
  if constexpr (DT % 2) {
    uint32_t b[2];
    ldmatrix_x2_trans(b, vk + (DT - 1) * 8);  // lanes 0-15: rows 0-15 of the last block
#pragma unroll
    for (int m = 0; m < MR; m++) mma_bf16_16816(acc[m][DT - 1], af[m], b);
  }
}

// acc[m] += P_m · V with P_m the warp's [16][NT*8] register scores (rounded to bf16 here) and V a
// row-major tile [NT*8][HDP] in shared memory: the accumulator layout of two adjacent score tiles
// is the A fragment of one 16-wide k-step.
// HW: round P by cvt.rn.bf16x2 (pack_bf16_hw), for the kernels where ptxas allocates it without spilling.
template <int MR, int NT, int DT, bool HW = false>
__device__ __forceinline__ void accumulate(float (&acc)[MR][DT][4], const float (&p)[MR][NT][4], const bf16* V, int ld) {
  const int lane = threadIdx.x & 31, i = lane >> 3;
  const bf16* v = V + ((i & 1) * 8 + (lane & 7)) * ld + (i >> 1) * 8;
#pragma unroll
  for (int kk = 0; kk < NT / 2; kk++) {
    uint32_t pf[MR][4];
#pragma unroll
    for (int m = 0; m < MR; m++) {
      const float(&q)[NT][4] = p[m];
      constexpr auto pack = HW ? pack_bf16_hw : pack_bf16;
      pf[m][0] = pack(q[2 * kk][0], q[2 * kk][1]), pf[m][1] = pack(q[2 * kk][2], q[2 * kk][3]);
      pf[m][2] = pack(q[2 * kk + 1][0], q[2 * kk + 1][1]), pf[m][3] = pack(q[2 * kk + 1][2], q[2 * kk + 1][3]);
    }
    mma_kstep<MR, DT>(acc, pf, v + kk * 16 * ld);
  }
}

// Writes a warp's 16 accumulator rows to dst (row stride rs; fp32, or bf16 rounded), rows g and
// g+8 of each lane times mul[0] and mul[1]; rows >= nrows and columns >= hd are skipped.
template <int DT, class Out>
__device__ __forceinline__ void write_rows(const float (&acc)[DT][4], Out* dst, int64_t rs, int nrows, int hd,
                                           const float (&mul)[2]) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int R = g + 8 * r;
    if (R >= nrows) continue;
#pragma unroll
    for (int n = 0; n < DT; n++)
#pragma unroll
      for (int e = 0; e < 2; e++) {
        const int d = n * 8 + 2 * t + e;
        if (d < hd) store(dst + R * rs + d, acc[n][2 * r + e] * mul[r]);
      }
  }
}

struct NoFence {
  __device__ __forceinline__ void operator()() const {}
};

// The top of each loop iteration of the two-stage pipeline: once every warp is done with the
// other stage, stage_next() refills it (one cp.async group) if there is a next tile; then the
// current tile's group is waited for and made visible to the whole block (fence() first: the
// wgmma kernels' async-proxy fence).
template <class StageNext, class Fence = NoFence>
__device__ __forceinline__ void pipeline_step(bool more, StageNext stage_next, Fence fence = {}) {
  __syncthreads();
  if (more) {
    stage_next();
    cp_async_wait<1>();
  } else {
    cp_async_wait<0>();
  }
  fence();
  __syncthreads();
}

// This block's (batch, head) and the first row of its tile of `rows` rows, with ntiles tiles per (b, h).
struct BlockTile {
  int64_t bh, b, h;
  int r0;
};
__device__ __forceinline__ BlockTile block_tile(const AttnArgs& a, int ntiles, int rows = kTile) {
  const int64_t bh = blockIdx.x / ntiles;
  return BlockTile{bh, bh / a.H, bh % a.H, (int)(blockIdx.x % ntiles) * rows};
}

// ------------------------------------------------------------------------------ forward

// One key tile of the forward's online softmax, on the unscaled scores s of the warp's MR row
// blocks (c > 0, so the max commutes with the scaling): each probability is one FFMA and one ex2,
// and the running max (scaled) and sum l are updated; alpha is the factor the output accumulators
// must be rescaled by (rescale_rows), kept apart so that a kernel whose accumulators are still
// in a tensor-core product can apply it later. Only the last key tile can be partial, and only it
// (FULL = false) pays for the per-column bound nk. Every row's running max must be finite after
// the call: the first tile has a key.
template <bool FULL, int MR, int NT>
__device__ __forceinline__ void softmax_scores(float (&s)[MR][NT][4], float (&rmax)[MR][2], float (&l)[MR][2], float c,
                                               int nk, float (&alpha)[MR][2]) {
  const int t = threadIdx.x & 3;
#pragma unroll
  for (int m = 0; m < MR; m++) {
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        if (!FULL && j * 8 + 2 * t + (e & 1) >= nk) s[m][j][e] = -INFINITY;
        mx[e >> 1] = fmaxf(mx[e >> 1], s[m][j][e]);
      }
    float neg[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float mnew = fmaxf(rmax[m][r], mx[r] * c);
      alpha[m][r] = fast_exp2(rmax[m][r] - mnew);
      rmax[m][r] = mnew;
      neg[r] = -mnew;
      l[m][r] *= alpha[m][r];
    }
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float p = fast_exp2(fmaf(s[m][j][e], c, neg[e >> 1]));
        s[m][j][e] = p;
        l[m][e >> 1] += p;
      }
  }
}

// Output accumulators times softmax_scores' alpha, row by row.
template <int MR, int DT>
__device__ __forceinline__ void rescale_rows(float (&o)[MR][DT][4], const float (&alpha)[MR][2]) {
#pragma unroll
  for (int m = 0; m < MR; m++)
#pragma unroll
    for (int n = 0; n < DT; n++) {
      o[m][n][0] *= alpha[m][0], o[m][n][1] *= alpha[m][0];
      o[m][n][2] *= alpha[m][1], o[m][n][3] *= alpha[m][1];
    }
}

template <bool FULL, int MR, int NT, int DT>
__device__ __forceinline__ void online_softmax(float (&s)[MR][NT][4], float (&o)[MR][DT][4], float (&rmax)[MR][2],
                                               float (&l)[MR][2], float c, int nk) {
  float alpha[MR][2];
  softmax_scores<FULL>(s, rmax, l, c, nk, alpha);
  rescale_rows(o, alpha);
}

// FlashAttention-2's forward on mma.sync (mma_bf16.cuh): warp w owns query rows
// [16 MR w, 16 MR (w+1)) of the block's tile, keeps their Q fragments, scores, probabilities and
// output accumulators in registers, and needs shared memory only for the Q tile (in stage 1's
// tiles) and two stages of K, V. Lane (g, t) holds score and output columns 2t, 2t+1 of each
// 8-wide tile for rows g and g+8 of each 16-row block; a row's max and sum combine over the four
// lanes of its quad.
template <int HDP>
__global__ void __launch_bounds__(kThreads, kFwdBlocks<HDP>) tc_fwd_kernel(const AttnArgs a, float c, int nqt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int LH = G::LH, KF = kKSteps<HDP>, NT = kTile / 8, DT = HDP / 8, MR = kMR<HDP>, BQ = kQueryRows<HDP>;
  static_assert(BQ * LH * sizeof(bf16) <= 2 * G::tile, "the Q tile fits in stage 1");
  VJ_DYNAMIC_SMEM(smem);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;

  const auto [bh, b, h, q0] = block_tile(a, nqt, BQ);
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nq = min(BQ, Nq - q0);
  const int64_t kb = b * a.Nk * a.k_rs + h * hd, vb = b * a.Nk * a.v_rs + h * hd;
  // Where the rows go: computed now so that b, h, q0 need not stay live through the loop.
  float* const lse = a.lse ? a.lse + bh * a.Nq + q0 : nullptr;
  const int64_t ob = (b * a.Nq + q0) * a.o_rs + h * hd;
  // K, V of the key tile at k0 into stage s, as one cp.async group.
  auto stage_kv = [=](int k0, int s) {
    const int nk = min(kTile, Nk - k0);
    stage_rows<HDP>(smem_tile<HDP>(smem, 2 * s), a.k, a.k16, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    stage_rows<HDP>(smem_tile<HDP>(smem, 2 * s + 1), a.v, a.v16, vb + (int64_t)k0 * a.v_rs, a.v_rs, nk, hd);
    cp_async_commit();
  };
  stage_rows<HDP, BQ>(smem_tile<HDP>(smem, 2), a.q, a.q16, (b * a.Nq + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
  cp_async_commit();
  stage_kv(0, 0);
  cp_async_wait<1>();
  __syncthreads();
  uint32_t qf[MR][KF][4];
#pragma unroll
  for (int m = 0; m < MR; m++) a_fragments<KF>(qf[m], smem_tile<HDP>(smem, 2) + (warp * MR + m) * 16 * LH, LH);
  float o[MR][DT][4];
  float rmax[MR][2], l[MR][2];  // rows g, g+8 of each block; l is this lane's share
#pragma unroll
  for (int m = 0; m < MR; m++) {
    zero_acc(o[m]);
    rmax[m][0] = rmax[m][1] = -INFINITY;
    l[m][0] = l[m][1] = 0.f;
  }

  for (int k0 = 0, cur = 0; k0 < Nk; k0 += kTile, cur ^= 1) {
    const int nk = min(kTile, Nk - k0);
    pipeline_step(k0 + kTile < Nk, [=] { stage_kv(k0 + kTile, cur ^ 1); });
    float s[MR][NT][4];
    scores<MR, KF, NT, kHalfStep<HDP>>(s, qf, smem_tile<HDP>(smem, 2 * cur), LH);  // S = Q Kᵀ
    if (nk == kTile) online_softmax<true>(s, o, rmax, l, c, nk);
    else online_softmax<false>(s, o, rmax, l, c, nk);
    // cvt rounding spills at head_dim 32 (ptxas caps that kernel at 168 registers)
    accumulate<MR, NT, DT, (HDP > 32)>(o, s, smem_tile<HDP>(smem, 2 * cur + 1), LH);  // O += P V
  }

#pragma unroll
  for (int m = 0; m < MR; m++) {
    const int r0 = (warp * MR + m) * 16;  // the block's first row in the tile
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      l[m][r] += __shfl_xor_sync(0xffffffffu, l[m][r], 1);
      l[m][r] += __shfl_xor_sync(0xffffffffu, l[m][r], 2);
      inv[r] = 1.f / l[m][r];
      const int R = r0 + g + 8 * r;
      if (t == 0 && lse && R < nq) lse[R] = (rmax[m][r] + log2f(l[m][r])) * kLn2;
    }
    const int64_t off = ob + r0 * a.o_rs;
    if (a.o16) write_rows<DT>(o[m], a.o16 + off, a.o_rs, nq - r0, hd, inv);
    else write_rows<DT>(o[m], a.o + off, a.o_rs, nq - r0, hd, inv);
  }
#endif
}

// ------------------------------------------------------------------------------ backward

// D[bh*Nq + i] = rowsum(dO ∘ O) over the head's columns, D[rows + bh*Nq + i] = lse in base 2
// (D holds 2 * B*H*Nq floats), and g16 = dO rounded to bf16, compact [B*Nq][H*hd]: the backward
// kernels then stage dO tiles, lse and D by cp.async, dO at half the bytes. One warp per (row, head).
// zero_dq: also clear the row's dQ, which the one-pass backward then sums into by atomics.
__global__ void tc_bwd_prep_kernel(const AttnArgs a, float* __restrict__ D, uint16_t* __restrict__ g16, bool zero_dq) {
  const int64_t rows = a.B * a.H * a.Nq, C = a.H * a.hd;
  const int lane = threadIdx.x & 31;
  for (int64_t r = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; r < rows;
       r += ((int64_t)gridDim.x * blockDim.x) >> 5) {
    const int64_t i = r % a.Nq, bh = r / a.Nq, b = bh / a.H, h = bh % a.H, row = b * a.Nq + i;
    const float* go = a.dout + row * a.dout_rs + h * a.hd;
    const int64_t oo = row * a.o_rs + h * a.hd;
    uint16_t* gh = g16 + row * C + h * a.hd;
    float s = 0.f;
    for (int64_t d = lane; d < a.hd; d += 32) {
      const float gd = go[d];
      s += (a.o16 ? from_bf16(a.o16[oo + d]) : a.o[oo + d]) * gd;
      gh[d] = to_bf16(gd);
      if (zero_dq) a.dq[row * a.dq_rs + h * a.hd + d] = 0.f;
    }
#pragma unroll
    for (int k = 16; k > 0; k >>= 1) s += __shfl_xor_sync(0xffffffffu, s, k);
    if (lane == 0) {
      D[r] = s;
      D[rows + r] = a.lse[r] * kLog2e;
    }
  }
}

// lse (in base 2) and D of the kTile query rows from rb (nq of them real) into lse2 and D, by
// cp.async (the caller commits); padded rows get lse +inf (P = 0) and D 0. NT threads share it.
// Dg and L2g as tc_bwd_prep_kernel writes them: D, then lse in base 2 (L2g = Dg + B H Nq).
template <int NT>
__device__ __forceinline__ void stage_query_stats(float* lse2, float* D, const float* __restrict__ L2g,
                                                  const float* __restrict__ Dg, int64_t rb, int nq) {
  for (int i = threadIdx.x; i < kTile; i += NT) {
    if (i < nq) {
      cp_async4(lse2 + i, L2g + rb + i);
      cp_async4(D + i, Dg + rb + i);
    } else {
      lse2[i] = INFINITY;
      D[i] = 0.f;
    }
  }
}

// Q, dO, lse (in base 2) and D of the query tile at q0 into stage s (tiles 2s, 2s+1; lse2s and Ds
// hold [2][64]), as one cp.async group: the refill of the dK, dV and one-pass kernels. lse and D
// travel by cp.async too: a plain load here would hold every thread up for a global memory
// latency, in each iteration, before the current tile's products. g16 and Dg as tc_bwd_prep_kernel
// writes them (Dg: D, then lse in base 2).
template <int HDP>
__device__ __forceinline__ void stage_query_tile(unsigned char* smem, float* lse2s, float* Ds, const AttnArgs& a,
                                                 const uint16_t* __restrict__ g16, const float* __restrict__ Dg,
                                                 int64_t b, int64_t h, int64_t bh, int q0, int s) {
  const int hd = (int)a.hd, nq = min(kTile, (int)a.Nq - q0);
  const int64_t C = a.H * a.hd, row = b * a.Nq + q0, rb = bh * a.Nq + q0;
  const float* L2g = Dg + a.B * a.H * a.Nq;
  stage_rows<HDP>(smem_tile<HDP>(smem, 2 * s), a.q, a.q16, row * a.q_rs + h * hd, a.q_rs, nq, hd);
  stage_tile<HDP>(smem_tile<HDP>(smem, 2 * s + 1), g16 + row * C + h * hd, C, nq, hd);
  stage_query_stats<kThreads>(lse2s + s * kTile, Ds + s * kTile, L2g, Dg, rb, nq);
  cp_async_commit();
}

// The dK, dV and one-pass kernels' shared step for one query tile, a warp's 16 keys: Pᵀ (st, from
// Sᵀ = K Qᵀ and the queries' lse in base 2), dV += Pᵀ dO, then dPᵀ = V dOᵀ (dpt). dV is
// accumulated before dPᵀ exists, so the two score tiles are live together only through the dPᵀ
// product (at head_dim 96 that halved the dK, dV kernel's spill; none since the query-tile refill
// became stage_query_tile).
template <int HDP, int KF = kKSteps<HDP>, int NT = kTile / 8, int DT = HDP / 8>
__device__ __forceinline__ void key_tile_scores(float (&st)[1][NT][4], float (&dpt)[1][NT][4], float (&dv)[1][DT][4],
                                                const uint32_t (&kf)[1][KF][4], const uint32_t (&vf)[1][KF][4],
                                                const bf16* Qs, const bf16* dOs, const float* lse2, float c) {
  constexpr int LH = Geo<HDP>::LH;
  const int t = threadIdx.x & 3;
  scores<1, KF, NT, kHalfStep<HDP>>(st, kf, Qs, LH);  // Sᵀ = K Qᵀ: [key][query]
#pragma unroll
  for (int j = 0; j < NT; j++)
#pragma unroll
    for (int e = 0; e < 4; e++) st[0][j][e] = fast_exp2(fmaf(st[0][j][e], c, -lse2[j * 8 + 2 * t + (e & 1)]));
  accumulate<1, NT, DT, true>(dv, st, dOs, LH);        // dV += Pᵀ dO
  scores<1, KF, NT, kHalfStep<HDP>>(dpt, vf, dOs, LH);  // dPᵀ = V dOᵀ
}

// Per 64-key tile (warp w: keys [16w, 16w+16)): Sᵀ = K Qᵀ and dPᵀ = V dOᵀ in registers, then
// dV += Pᵀ dO and dK += scale · dSᵀ Q, looping over query tiles (Q, dO, lse and D of the next
// one staged while this one computes). g16 is tc_bwd_prep_kernel's bf16 dO.
template <int HDP>
__global__ void __launch_bounds__(kThreads) tc_bwd_dkv_kernel(const AttnArgs a, float c, const float* __restrict__ Dg,
                                                              const uint16_t* __restrict__ g16, int nkt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int LH = G::LH, KF = kKSteps<HDP>, NT = kTile / 8, DT = HDP / 8;
  VJ_DYNAMIC_SMEM(smem);
  float* lse2s = reinterpret_cast<float*>(smem + 4 * G::tile);  // [2][64]: per stage
  float* Ds = lse2s + 2 * kTile;                                // [2][64]
  const int warp = threadIdx.x >> 5, t = threadIdx.x & 3;

  const auto [bh, b, h, k0] = block_tile(a, nkt);
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nk = min(kTile, Nk - k0);
  // init-captures: C++17 lambdas cannot capture structured bindings by name
  auto stage_q = [=, b = b, h = h, bh = bh](int q0, int s) { stage_query_tile<HDP>(smem, lse2s, Ds, a, g16, Dg, b, h, bh, q0, s); };
  stage_rows<HDP>(smem_tile<HDP>(smem, 2), a.k, a.k16, (b * a.Nk + k0) * a.k_rs + h * hd, a.k_rs, nk, hd);
  stage_rows<HDP>(smem_tile<HDP>(smem, 3), a.v, a.v16, (b * a.Nk + k0) * a.v_rs + h * hd, a.v_rs, nk, hd);
  cp_async_commit();
  stage_q(0, 0);
  cp_async_wait<1>();
  __syncthreads();
  uint32_t kf[1][KF][4], vf[1][KF][4];
  a_fragments<KF>(kf[0], smem_tile<HDP>(smem, 2) + warp * 16 * LH, LH);
  a_fragments<KF>(vf[0], smem_tile<HDP>(smem, 3) + warp * 16 * LH, LH);
  float dk[1][DT][4], dv[1][DT][4];
  zero_acc(dk[0]);
  zero_acc(dv[0]);

  for (int q0 = 0, cur = 0; q0 < Nq; q0 += kTile, cur ^= 1) {
    pipeline_step(q0 + kTile < Nq, [=] { stage_q(q0 + kTile, cur ^ 1); });
    const bf16 *Qs = smem_tile<HDP>(smem, 2 * cur), *dOs = smem_tile<HDP>(smem, 2 * cur + 1);
    const float *lse2 = lse2s + cur * kTile, *Dq = Ds + cur * kTile;
    float st[1][NT][4], dpt[1][NT][4];
    key_tile_scores<HDP>(st, dpt, dv, kf, vf, Qs, dOs, lse2, c);
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) dpt[0][j][e] = st[0][j][e] * (dpt[0][j][e] - Dq[j * 8 + 2 * t + (e & 1)]);
    accumulate<1, NT, DT, true>(dk, dpt, Qs, LH);  // dK += dSᵀ Q
  }
  const int64_t kr = b * a.Nk + k0 + warp * 16;
  write_rows<DT>(dk[0], a.dk + kr * a.dk_rs + h * hd, a.dk_rs, nk - warp * 16, hd, {a.scale, a.scale});
  write_rows<DT>(dv[0], a.dv + kr * a.dv_rs + h * hd, a.dv_rs, nk - warp * 16, hd, {1.f, 1.f});
#endif
}

// Per query tile (warp w: the MR 16-row blocks from 16 MR w): S = Q Kᵀ and dP = dO Vᵀ in
// registers, then dQ += scale · dS K, looping over key tiles (K, V of the next staged while this one
// computes).
template <int HDP>
__global__ void __launch_bounds__(kThreads) tc_bwd_dq_kernel(const AttnArgs a, float c, const float* __restrict__ Dg,
                                                             const uint16_t* __restrict__ g16, int nqt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int MR = kMR<HDP>, BQ = kQueryRows<HDP>, BK = kDqKeys<HDP>;
  constexpr int LH = G::LH, KF = kKSteps<HDP>, NT = BK / 8, DT = HDP / 8;
  VJ_DYNAMIC_SMEM(smem);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;

  const auto [bh, b, h, q0] = block_tile(a, nqt, BQ);
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nq = min(BQ, Nq - q0);
  const int64_t C = a.H * a.hd, kb = b * a.Nk * a.k_rs + h * hd, vb = b * a.Nk * a.v_rs + h * hd;
  auto stage_kv = [=](int k0, int s) {
    const int nk = min(BK, Nk - k0);
    stage_rows<HDP, BK>(smem_tile<HDP>(smem, 2 * s), a.k, a.k16, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    stage_rows<HDP, BK>(smem_tile<HDP>(smem, 2 * s + 1), a.v, a.v16, vb + (int64_t)k0 * a.v_rs, a.v_rs, nk, hd);
    cp_async_commit();
  };
  bf16 *Qs = smem_tile<HDP>(smem, 2), *dOs = smem_tile<HDP>(smem, 2 + MR);
  stage_rows<HDP, BQ>(Qs, a.q, a.q16, (b * a.Nq + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
  stage_tile<HDP, BQ>(dOs, g16 + (b * a.Nq + q0) * C + h * hd, C, nq, hd);
  cp_async_commit();
  stage_kv(0, 0);
  cp_async_wait<1>();
  __syncthreads();
  uint32_t qf[MR][KF][4], gf[MR][KF][4];
  float lse2[MR][2], Dr[MR][2];
  float dq[MR][DT][4];
#pragma unroll
  for (int m = 0; m < MR; m++) {
    const int r0 = (warp * MR + m) * 16;
    a_fragments<KF>(qf[m], Qs + r0 * LH, LH);
    a_fragments<KF>(gf[m], dOs + r0 * LH, LH);
#pragma unroll
    for (int r = 0; r < 2; r++) {
      const int R = r0 + g + 8 * r;
      lse2[m][r] = R < nq ? a.lse[bh * a.Nq + q0 + R] * kLog2e : 0.f;
      Dr[m][r] = R < nq ? Dg[bh * a.Nq + q0 + R] : 0.f;
    }
    zero_acc(dq[m]);
  }

  for (int k0 = 0, cur = 0; k0 < Nk; k0 += BK, cur ^= 1) {
    const int nk = min(BK, Nk - k0);
    pipeline_step(k0 + BK < Nk, [=] { stage_kv(k0 + BK, cur ^ 1); });
    const bf16 *Ks = smem_tile<HDP>(smem, 2 * cur), *Vs = smem_tile<HDP>(smem, 2 * cur + 1);
    float s[MR][NT][4], dp[MR][NT][4];
    scores<MR, KF, NT, kHalfStep<HDP>>(s, qf, Ks, LH);   // S = Q Kᵀ
    scores<MR, KF, NT, kHalfStep<HDP>>(dp, gf, Vs, LH);  // dP = dO Vᵀ
#pragma unroll
    for (int m = 0; m < MR; m++)
#pragma unroll
      for (int j = 0; j < NT; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const float p = j * 8 + 2 * t + (e & 1) < nk ? exp2f(s[m][j][e] * c - lse2[m][e >> 1]) : 0.f;
          dp[m][j][e] = p * (dp[m][j][e] - Dr[m][e >> 1]);
        }
    accumulate<MR, NT, DT>(dq, dp, Ks, LH);  // dQ += dS K
  }
#pragma unroll
  for (int m = 0; m < MR; m++) {
    const int r0 = (warp * MR + m) * 16;
    write_rows<DT>(dq[m], a.dq + (b * a.Nq + q0 + r0) * a.dq_rs + h * hd, a.dq_rs, nq - r0, hd, {a.scale, a.scale});
  }
#endif
}

// dst[0], dst[1] += x, y by fp32 atomics (their results unused, so RED instructions); one
// 64-bit RED on sm_90 when pair (dst 8-byte aligned), else two 32-bit ones (only x when !both).
// The emulator takes sm_90's path, so that it checks the alignment the hardware faults on.
__device__ __forceinline__ void red_add(float* dst, float x, float y, bool both, bool pair) {
#if defined(VJ_CUDA_EMU) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900)
  if (pair) {
    atomicAdd(reinterpret_cast<float2*>(dst), make_float2(x, y));
    return;
  }
#endif
  atomicAdd(dst, x);
  if (both) atomicAdd(dst + 1, y);
}
// dst[0..3] += v: one 128-bit RED on sm_90 (dst 16-byte aligned), else four 32-bit ones.
__device__ __forceinline__ void red_add4(float* dst, float4 v) {
#if defined(VJ_CUDA_EMU) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900)
  atomicAdd(reinterpret_cast<float4*>(dst), v);
#else
  atomicAdd(dst, v.x);
  atomicAdd(dst + 1, v.y);
  atomicAdd(dst + 2, v.z);
  atomicAdd(dst + 3, v.w);
#endif
}

// The backward in one pass over the scores (FlashAttention-2's own schedule): per 64-key tile,
// as tc_bwd_dkv_kernel, except that each query tile's dSᵀ goes to shared memory as bf16 and is
// read back for dK += dSᵀ Q and, transposed, for that tile's dQ += scale · dS K (warp w: queries
// [16w, 16w+16), K kept in tile 4), which is added to dQ by atomics. That saves the dQ
// kernel's second pass (S, P and dP again: 3 of the 7 products and half the exponentials) for
// 64 x hd atomic adds per tile pair, in an order that varies from run to run: dQ is not bitwise
// reproducible. tc_bwd_prep_kernel clears dQ first.
template <int HDP>
__global__ void __launch_bounds__(kThreads) tc_bwd_fused_kernel(const AttnArgs a, float c, const float* __restrict__ Dg,
                                                                const uint16_t* __restrict__ g16, int nkt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int LH = G::LH, LS = kTile + 8, KF = kKSteps<HDP>, NT = kTile / 8, DT = HDP / 8;
  VJ_DYNAMIC_SMEM(smem);
  bf16* const Ks = smem_tile<HDP>(smem, 4);
  bf16* const dSt = reinterpret_cast<bf16*>(smem + 5 * G::tile);  // [key][query]
  float* lse2s = reinterpret_cast<float*>(smem + 5 * G::tile + G::ds);  // [2][64]: per stage
  float* Ds = lse2s + 2 * kTile;                                          // [2][64]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;

  const auto [bh, b, h, k0] = block_tile(a, nkt);
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nk = min(kTile, Nk - k0);
  // init-captures: C++17 lambdas cannot capture structured bindings by name
  auto stage_q = [=, b = b, h = h, bh = bh](int q0, int s) { stage_query_tile<HDP>(smem, lse2s, Ds, a, g16, Dg, b, h, bh, q0, s); };
  // V goes to tile 2 (stage 1's, free until the loop's first refill), K to tile 4 for good.
  stage_rows<HDP>(Ks, a.k, a.k16, (b * a.Nk + k0) * a.k_rs + h * hd, a.k_rs, nk, hd);
  stage_rows<HDP>(smem_tile<HDP>(smem, 2), a.v, a.v16, (b * a.Nk + k0) * a.v_rs + h * hd, a.v_rs, nk, hd);
  cp_async_commit();
  stage_q(0, 0);
  cp_async_wait<1>();
  __syncthreads();
  uint32_t kf[1][KF][4], vf[1][KF][4];
  a_fragments<KF>(kf[0], Ks + warp * 16 * LH, LH);
  a_fragments<KF>(vf[0], smem_tile<HDP>(smem, 2) + warp * 16 * LH, LH);
  float dk[1][DT][4], dv[1][DT][4];
  zero_acc(dk[0]);
  zero_acc(dv[0]);
  const bool key_lo = warp * 16 + g < nk, key_hi = warp * 16 + g + 8 < nk;  // this lane's two key rows are real

  for (int q0 = 0, cur = 0; q0 < Nq; q0 += kTile, cur ^= 1) {
    const int nq = min(kTile, Nq - q0);
    pipeline_step(q0 + kTile < Nq, [=] { stage_q(q0 + kTile, cur ^ 1); });
    const bf16 *Qs = smem_tile<HDP>(smem, 2 * cur), *dOs = smem_tile<HDP>(smem, 2 * cur + 1);
    const float *lse2 = lse2s + cur * kTile, *Dq = Ds + cur * kTile;
    float st[1][NT][4], dpt[1][NT][4];
    key_tile_scores<HDP>(st, dpt, dv, kf, vf, Qs, dOs, lse2, c);
#pragma unroll
    for (int j = 0; j < NT; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) dpt[0][j][e] = st[0][j][e] * (dpt[0][j][e] - Dq[j * 8 + 2 * t + (e & 1)]);
      // dSᵀ for dQ, rounded as dK's product rounds it. A padded key's row is stored as 0: its P =
      // 2^(0 - lse) overflows when the log-sum-exp is far below zero, and inf times K's zero row
      // would be NaN in dQ (dK and dV drop those rows; the split dQ kernel bounds the keys).
      bf16* row = dSt + (warp * 16 + g) * LS + j * 8 + 2 * t;
      *reinterpret_cast<uint32_t*>(row) = key_lo ? pack_bf16_hw(dpt[0][j][0], dpt[0][j][1]) : 0u;
      *reinterpret_cast<uint32_t*>(row + 8 * LS) = key_hi ? pack_bf16_hw(dpt[0][j][2], dpt[0][j][3]) : 0u;
    }
    __syncthreads();  // every warp's dSᵀ rows are stored
    {  // dK += dSᵀ Q, with dSᵀ read back (plain ldmatrix): its registers are free by now
      const bf16* dsk = dSt + (warp * 16 + ((lane >> 3) & 1) * 8 + (lane & 7)) * LS + (lane >> 4) * 8;
      const bf16* qv = Qs + (((lane >> 3) & 1) * 8 + (lane & 7)) * LH + (lane >> 4) * 8;
#pragma unroll
      for (int kk = 0; kk < kTile / 16; kk++) {
        uint32_t af[1][4];
        ldmatrix_x4(af[0], dsk + kk * 16);
        mma_kstep<1, DT>(dk, af, qv + kk * 16 * LH);
      }
    }
    if (warp * 16 < nq) {
      // dQ's A fragments come from dSᵀ by ldmatrix.trans: lane 8i + r points at key row
      // 8 (i / 2) + r, query columns 16w + 8 (i % 2), so lane (g, t) receives dS[16w + g (+8)][2t, 2t+1 (+8)].
      const bf16* dsa = dSt + ((lane >> 4) * 8 + (lane & 7)) * LS + warp * 16 + ((lane >> 3) & 1) * 8;
      const bf16* kv = Ks + (((lane >> 3) & 1) * 8 + (lane & 7)) * LH + (lane >> 4) * 8;
      float dq[1][DT][4];
      zero_acc(dq[0]);
#pragma unroll
      for (int kk = 0; kk < kTile / 16; kk++) {  // dQ = dS K over the tile's 64 keys
        uint32_t af[1][4];
        ldmatrix_x4_trans(af[0], dsa + kk * 16 * LS);
        mma_kstep<1, DT>(dq, af, kv + kk * 16 * LH);
      }
      float* dst = a.dq + (b * a.Nq + q0 + warp * 16 + g) * a.dq_rs + h * hd;
      const bool pair = hd % 2 == 0 && a.dq_rs % 2 == 0 && reinterpret_cast<uintptr_t>(a.dq) % 8 == 0;
#pragma unroll
      for (int r = 0; r < 2; r++) {
        if (warp * 16 + g + 8 * r >= nq) continue;
#pragma unroll
        for (int n = 0; n < DT; n++) {
          const int d = n * 8 + 2 * t;
          if (d < hd)
            red_add(dst + 8 * r * a.dq_rs + d, dq[0][n][2 * r] * a.scale, dq[0][n][2 * r + 1] * a.scale, d + 1 < hd, pair);
        }
      }
    }
  }
  const int64_t kr = b * a.Nk + k0 + warp * 16;
  write_rows<DT>(dk[0], a.dk + kr * a.dk_rs + h * hd, a.dk_rs, nk - warp * 16, hd, {a.scale, a.scale});
  write_rows<DT>(dv[0], a.dv + kr * a.dv_rs + h * hd, a.dv_rs, nk - warp * 16, hd, {1.f, 1.f});
#endif
}

}  // namespace

}  // namespace vj::cuda
