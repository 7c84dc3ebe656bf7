// Tensor-core (bf16, fp32 accumulate) flash attention for bf16 mixed precision. Same algorithm
// and tiling as the fp32 kernels in attention.cu: 64-row tiles, an online softmax in base-2
// units, no N x N matrix in memory; backward as FlashAttention-2 without atomics (one kernel owns
// dK, dV per key tile, another dQ per query tile).
//
// A block is 4 warps; warp w owns rows [16w, 16w+16) of the block's 64-row tile (queries, or
// keys in the dK, dV kernel). Products run on mma.sync m16n8k16 (mma_bf16.cuh), whose documented
// fragment layouts keep each warp's scores, probabilities and accumulators in registers: the
// accumulator of two adjacent 8-column score tiles is the A fragment of the next product, and
// shared memory holds only the bf16 operand tiles (rows, or transposed where the product reads
// them along the sequence).
// q, k, v are fp32 (rounded to bf16 while a tile is loaded) or already bf16 (AttnArgs::q16...,
// mixed-precision activations); o is written in fp32 or bf16 to match; gradients are fp32.
//
// Device code only: attention_tc.cu launches it, and test/native/cuda_emu/ compiles it on the host
// against a CPU emulation of the CUDA headers, built-ins and mma.sync to test it without a GPU.
#pragma once
#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>

#include "backend.h"
#include "cuda/bf16.cuh"
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

// Shared-memory geometry for head_dim padded to HDP: row tiles [64][LH] and transposed tiles
// [HDP][LK], in bf16. Row strides of 4 (mod 8) 32-bit words put the 32 lanes of a fragment load
// (lane g*4 + t reads word g*stride + t) in 32 different banks.
template <int HDP>
struct Geo {
  static constexpr int LH = HDP + 8, LK = kTile + 8;
  static constexpr size_t tile = sizeof(bf16) * kTile * LH;
  static constexpr size_t vt = sizeof(bf16) * HDP * LK;
  static constexpr size_t fwd = tile + vt;                                      // Q then K, Vᵀ
  static constexpr size_t dq = 2 * tile + vt;                                   // K, V, Kᵀ
  static constexpr size_t dkv = 2 * tile + 2 * vt + 2 * sizeof(float) * kTile;  // Q, dO, Qᵀ, dOᵀ, lse, D
  static constexpr size_t bwd = dkv > dq ? dkv : dq;
  static_assert(tile % 16 == 0 && vt % 16 == 0, "tiles stay 16-byte aligned");
};

__device__ __forceinline__ float as_float(float v) { return v; }
__device__ __forceinline__ float as_float(uint16_t v) { return from_bf16(v); }

// Eight consecutive elements as bf16: 16-byte loads (one for bf16 bits, two for fp32) instead of
// eight scalar ones. p is 16-byte aligned.
struct alignas(16) Bf16x8 {
  uint32_t w[4];
};
struct alignas(16) F32x4 {
  float v[4];
};
__device__ __forceinline__ Bf16x8 load8(const uint16_t* p) { return *reinterpret_cast<const Bf16x8*>(p); }
__device__ __forceinline__ Bf16x8 load8(const float* p) {
  const F32x4 a = reinterpret_cast<const F32x4*>(p)[0], b = reinterpret_cast<const F32x4*>(p)[1];
  return Bf16x8{{pack_bf16(a.v[0], a.v[1]), pack_bf16(a.v[2], a.v[3]), pack_bf16(b.v[0], b.v[1]),
                 pack_bf16(b.v[2], b.v[3])}};
}
__device__ __forceinline__ bf16 bf16_bits(uint32_t low16) {
#ifdef VJ_CUDA_EMU
  return bf16{(uint16_t)low16};
#else
  return __ushort_as_bfloat16((unsigned short)low16);
#endif
}
// Whether every row of a tile at src (row stride rs) splits into aligned 8-element chunks.
template <class In>
__device__ __forceinline__ bool vectorizable(const In* src, int64_t rs, int hd) {
  return hd % 8 == 0 && rs % 8 == 0 && reinterpret_cast<uintptr_t>(src) % 16 == 0;
}

// T[r*ld + d] = bf16(src[r*rs + d]) for r < nrows, d < hd; zeros elsewhere in [64) x [HDP).
template <int HDP, class In>
__device__ __forceinline__ void load_tile(bf16* T, int ld, const In* __restrict__ src, int64_t rs, int nrows, int hd) {
  if (vectorizable(src, rs, hd)) {
    for (int idx = threadIdx.x; idx < kTile * HDP / 8; idx += kThreads) {
      const int r = idx / (HDP / 8), d = idx % (HDP / 8) * 8;
      *reinterpret_cast<Bf16x8*>(T + r * ld + d) = r < nrows && d < hd ? load8(src + r * rs + d) : Bf16x8{};
    }
    return;
  }
  for (int idx = threadIdx.x; idx < kTile * HDP; idx += kThreads) {
    int r = idx / HDP, d = idx % HDP;
    T[r * ld + d] = __float2bfloat16_rn((r < nrows && d < hd) ? as_float(src[r * rs + d]) : 0.f);
  }
}

// T[d*ld + r]: the same tile transposed, for products that read it along the sequence.
template <int HDP, class In>
__device__ __forceinline__ void load_tile_t(bf16* T, int ld, const In* __restrict__ src, int64_t rs, int nrows, int hd) {
  if (vectorizable(src, rs, hd)) {
    for (int idx = threadIdx.x; idx < kTile * HDP / 8; idx += kThreads) {
      const int r = idx % kTile, d = idx / kTile * 8;  // lanes along r: their stores spread over banks
      const Bf16x8 v = r < nrows && d < hd ? load8(src + r * rs + d) : Bf16x8{};
#pragma unroll
      for (int k = 0; k < 8; k++) T[(d + k) * ld + r] = bf16_bits(v.w[k / 2] >> (16 * (k % 2)));
    }
    return;
  }
  for (int idx = threadIdx.x; idx < kTile * HDP; idx += kThreads) {
    const int r = idx / HDP, d = idx % HDP;
    T[d * ld + r] = __float2bfloat16_rn((r < nrows && d < hd) ? as_float(src[r * rs + d]) : 0.f);
  }
}

// An operand held in fp32 (f) or bf16 (h, when set), at element offset off: as rows, or transposed.
template <int HDP>
__device__ __forceinline__ void load_rows(bf16* T, int ld, const float* f, const uint16_t* h, int64_t off, int64_t rs,
                                          int nrows, int hd) {
  if (h) load_tile<HDP>(T, ld, h + off, rs, nrows, hd);
  else load_tile<HDP>(T, ld, f + off, rs, nrows, hd);
}
template <int HDP>
__device__ __forceinline__ void load_transposed(bf16* T, int ld, const float* f, const uint16_t* h, int64_t off,
                                                int64_t rs, int nrows, int hd) {
  if (h) load_tile_t<HDP>(T, ld, h + off, rs, nrows, hd);
  else load_tile_t<HDP>(T, ld, f + off, rs, nrows, hd);
}

__device__ __forceinline__ uint32_t word(const bf16* p) { return *reinterpret_cast<const uint32_t*>(p); }

// The A fragments (16 rows x HDP, KF = HDP/16 k-steps) of a row-major bf16 tile in shared memory.
template <int KF>
__device__ __forceinline__ void a_fragments(uint32_t (&f)[KF][4], const bf16* rows, int ld) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const bf16* p = rows + g * ld + 2 * t;
#pragma unroll
  for (int kk = 0; kk < KF; kk++) {
    f[kk][0] = word(p + kk * 16);
    f[kk][1] = word(p + 8 * ld + kk * 16);
    f[kk][2] = word(p + kk * 16 + 8);
    f[kk][3] = word(p + 8 * ld + kk * 16 + 8);
  }
}

template <int N>
__device__ __forceinline__ void zero_acc(float (&acc)[N][4]) {
#pragma unroll
  for (int n = 0; n < N; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
}

// s[j] = A · B_jᵀ for the 8-row blocks j of a row-major tile B [NT*8][HDP] (scores: rows of the
// warp against 8 keys or queries at a time).
template <int KF, int NT>
__device__ __forceinline__ void scores(float (&s)[NT][4], const uint32_t (&af)[KF][4], const bf16* B, int ld) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int j = 0; j < NT; j++) {
    s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
    const bf16* p = B + (j * 8 + g) * ld + 2 * t;
#pragma unroll
    for (int kk = 0; kk < KF; kk++) {
      const uint32_t bf[2] = {word(p + kk * 16), word(p + kk * 16 + 8)};
      mma_bf16_16816(s[j], af[kk], bf);
    }
  }
}

// acc += P · V with P the warp's [16][NT*8] register scores (rounded to bf16 here) and V given
// transposed in shared memory, Vt [DT*8][ld]: the accumulator layout of two adjacent score tiles
// is the A fragment of one 16-wide k-step.
template <int NT, int DT>
__device__ __forceinline__ void accumulate(float (&acc)[DT][4], const float (&p)[NT][4], const bf16* Vt, int ld) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int kk = 0; kk < NT / 2; kk++) {
    const uint32_t pf[4] = {pack_bf16(p[2 * kk][0], p[2 * kk][1]), pack_bf16(p[2 * kk][2], p[2 * kk][3]),
                            pack_bf16(p[2 * kk + 1][0], p[2 * kk + 1][1]), pack_bf16(p[2 * kk + 1][2], p[2 * kk + 1][3])};
#pragma unroll
    for (int n = 0; n < DT; n++) {
      const bf16* v = Vt + (n * 8 + g) * ld + kk * 16 + 2 * t;
      const uint32_t vf[2] = {word(v), word(v + 8)};
      mma_bf16_16816(acc[n], pf, vf);
    }
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

// This block's (batch, head) and the first row of its 64-row tile, with ntiles tiles per (b, h).
struct BlockTile {
  int64_t bh, b, h;
  int r0;
};
__device__ __forceinline__ BlockTile block_tile(const AttnArgs& a, int ntiles) {
  const int64_t bh = blockIdx.x / ntiles;
  return BlockTile{bh, bh / a.H, bh % a.H, (int)(blockIdx.x % ntiles) * kTile};
}

// ------------------------------------------------------------------------------ forward

// FlashAttention-2's forward on mma.sync (mma_bf16.cuh): warp w owns query rows [16w, 16w+16)
// of the block's tile, keeps their Q fragments, scores, probabilities and output accumulators in
// registers, and needs shared memory only for the Q, K tiles and Vᵀ. Lane (g, t) holds score
// and output columns 2t, 2t+1 of each 8-wide tile for rows g and g+8; a row's max and sum
// combine over the four lanes of its quad.
template <int HDP>
__global__ void __launch_bounds__(kThreads) tc_fwd_kernel(const AttnArgs a, float c, int nqt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int LH = G::LH, LK = G::LK, KF = HDP / 16, NT = kTile / 8, DT = HDP / 8;
  VJ_DYNAMIC_SMEM(smem);
  bf16* Ks = reinterpret_cast<bf16*>(smem);                   // [64][LH]; first holds Q
  bf16* Vt = reinterpret_cast<bf16*>(smem + G::tile);         // [HDP][LK]: V transposed
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;

  const auto [bh, b, h, q0] = block_tile(a, nqt);
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nq = min(kTile, Nq - q0);
  load_rows<HDP>(Ks, LH, a.q, a.q16, (b * a.Nq + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
  __syncthreads();
  uint32_t qf[KF][4];
  a_fragments<KF>(qf, Ks + warp * 16 * LH, LH);
  float o[DT][4];
  zero_acc(o);
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // rows g, g+8; l is this lane's share
  const int64_t kb = b * a.Nk * a.k_rs + h * hd, vb = b * a.Nk * a.v_rs + h * hd;

  for (int k0 = 0; k0 < Nk; k0 += kTile) {
    const int nk = min(kTile, Nk - k0);
    __syncthreads();  // Q fragments taken / the previous tile's K, Vᵀ no longer read
    load_rows<HDP>(Ks, LH, a.k, a.k16, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    load_transposed<HDP>(Vt, LK, a.v, a.v16, vb + (int64_t)k0 * a.v_rs, a.v_rs, nk, hd);
    __syncthreads();
    float s[NT][4];
    scores<KF, NT>(s, qf, Ks, LH);  // S = Q Kᵀ
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float v = j * 8 + 2 * t + (e & 1) < nk ? s[j][e] * c : -INFINITY;
        s[j][e] = v;
        mx[e >> 1] = fmaxf(mx[e >> 1], v);
      }
    float alpha[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));  // finite: every tile has a key
      const float mnew = fmaxf(m[r], mx[r]);
      alpha[r] = exp2f(m[r] - mnew);
      m[r] = mnew;
      l[r] *= alpha[r];
    }
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float p = exp2f(s[j][e] - m[e >> 1]);
        s[j][e] = p;
        l[e >> 1] += p;
      }
#pragma unroll
    for (int n = 0; n < DT; n++) {
      o[n][0] *= alpha[0], o[n][1] *= alpha[0];
      o[n][2] *= alpha[1], o[n][3] *= alpha[1];
    }
    accumulate<NT, DT>(o, s, Vt, LK);  // O += P V
  }

  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    inv[r] = 1.f / l[r];
    const int R = warp * 16 + g + 8 * r;
    if (t == 0 && a.lse && R < nq) a.lse[bh * a.Nq + q0 + R] = (m[r] + log2f(l[r])) * kLn2;
  }
  const int64_t off = (b * a.Nq + q0 + warp * 16) * a.o_rs + h * hd;
  if (a.o16) write_rows<DT>(o, a.o16 + off, a.o_rs, nq - warp * 16, hd, inv);
  else write_rows<DT>(o, a.o + off, a.o_rs, nq - warp * 16, hd, inv);
#endif
}

// ------------------------------------------------------------------------------ backward

// Per 64-key tile (warp w: keys [16w, 16w+16)): Sᵀ = K Qᵀ and dPᵀ = V dOᵀ in registers, then
// dV += Pᵀ dO and dK += scale · dSᵀ Q, looping over query tiles. Q and dO are staged twice: rows
// (the B operand of Sᵀ, dPᵀ) and transposed (of dK, dV).
template <int HDP>
__global__ void __launch_bounds__(kThreads) tc_bwd_dkv_kernel(const AttnArgs a, float c, const float* __restrict__ Dg,
                                                              int nkt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int LH = G::LH, LK = G::LK, KF = HDP / 16, NT = kTile / 8, DT = HDP / 8;
  VJ_DYNAMIC_SMEM(smem);
  bf16* Qs = reinterpret_cast<bf16*>(smem);                     // [64][LH]; first holds K
  bf16* dOs = reinterpret_cast<bf16*>(smem + G::tile);          // [64][LH]; first holds V
  bf16* Qt = reinterpret_cast<bf16*>(smem + 2 * G::tile);       // [HDP][LK]
  bf16* dOt = reinterpret_cast<bf16*>(smem + 2 * G::tile + G::vt);
  float* lse2s = reinterpret_cast<float*>(smem + 2 * G::tile + 2 * G::vt);
  float* Ds = lse2s + kTile;
  const int warp = threadIdx.x >> 5, t = threadIdx.x & 3;

  const auto [bh, b, h, k0] = block_tile(a, nkt);
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nk = min(kTile, Nk - k0);
  load_rows<HDP>(Qs, LH, a.k, a.k16, (b * a.Nk + k0) * a.k_rs + h * hd, a.k_rs, nk, hd);
  load_rows<HDP>(dOs, LH, a.v, a.v16, (b * a.Nk + k0) * a.v_rs + h * hd, a.v_rs, nk, hd);
  __syncthreads();
  uint32_t kf[KF][4], vf[KF][4];
  a_fragments<KF>(kf, Qs + warp * 16 * LH, LH);
  a_fragments<KF>(vf, dOs + warp * 16 * LH, LH);
  float dk[DT][4], dv[DT][4];
  zero_acc(dk);
  zero_acc(dv);
  const int64_t qb = b * a.Nq * a.q_rs + h * hd, gb = b * a.Nq * a.dout_rs + h * hd;

  for (int q0 = 0; q0 < Nq; q0 += kTile) {
    const int nq = min(kTile, Nq - q0);
    __syncthreads();  // K, V fragments taken / the previous tile's Q, dO no longer read
    load_rows<HDP>(Qs, LH, a.q, a.q16, qb + (int64_t)q0 * a.q_rs, a.q_rs, nq, hd);
    load_tile<HDP>(dOs, LH, a.dout + gb + (int64_t)q0 * a.dout_rs, a.dout_rs, nq, hd);
    load_transposed<HDP>(Qt, LK, a.q, a.q16, qb + (int64_t)q0 * a.q_rs, a.q_rs, nq, hd);
    load_transposed<HDP>(dOt, LK, a.dout, nullptr, gb + (int64_t)q0 * a.dout_rs, a.dout_rs, nq, hd);
    for (int i = threadIdx.x; i < kTile; i += kThreads) {
      lse2s[i] = i < nq ? a.lse[bh * a.Nq + q0 + i] * kLog2e : INFINITY;  // P = 0 for padded queries
      Ds[i] = i < nq ? Dg[bh * a.Nq + q0 + i] : 0.f;
    }
    __syncthreads();
    float st[NT][4], dpt[NT][4];
    scores<KF, NT>(st, kf, Qs, LH);   // Sᵀ = K Qᵀ: [key][query]
    scores<KF, NT>(dpt, vf, dOs, LH);  // dPᵀ = V dOᵀ
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int q = j * 8 + 2 * t + (e & 1);
        const float p = exp2f(st[j][e] * c - lse2s[q]);
        st[j][e] = p;
        dpt[j][e] = p * (dpt[j][e] - Ds[q]);
      }
    accumulate<NT, DT>(dv, st, dOt, LK);  // dV += Pᵀ dO
    accumulate<NT, DT>(dk, dpt, Qt, LK);  // dK += dSᵀ Q
  }
  const int64_t kr = b * a.Nk + k0 + warp * 16;
  write_rows<DT>(dk, a.dk + kr * a.dk_rs + h * hd, a.dk_rs, nk - warp * 16, hd, {a.scale, a.scale});
  write_rows<DT>(dv, a.dv + kr * a.dv_rs + h * hd, a.dv_rs, nk - warp * 16, hd, {1.f, 1.f});
#endif
}

// Per 64-query tile (warp w: queries [16w, 16w+16)): S = Q Kᵀ and dP = dO Vᵀ in registers, then
// dQ += scale · dS K, looping over key tiles (K staged as rows and transposed).
template <int HDP>
__global__ void __launch_bounds__(kThreads) tc_bwd_dq_kernel(const AttnArgs a, float c, const float* __restrict__ Dg,
                                                             int nqt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int LH = G::LH, LK = G::LK, KF = HDP / 16, NT = kTile / 8, DT = HDP / 8;
  VJ_DYNAMIC_SMEM(smem);
  bf16* Ks = reinterpret_cast<bf16*>(smem);             // [64][LH]; first holds Q
  bf16* Vs = reinterpret_cast<bf16*>(smem + G::tile);   // [64][LH]; first holds dO
  bf16* Kt = reinterpret_cast<bf16*>(smem + 2 * G::tile);  // [HDP][LK]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;

  const auto [bh, b, h, q0] = block_tile(a, nqt);
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nq = min(kTile, Nq - q0);
  load_rows<HDP>(Ks, LH, a.q, a.q16, (b * a.Nq + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
  load_tile<HDP>(Vs, LH, a.dout + (b * a.Nq + q0) * a.dout_rs + h * hd, a.dout_rs, nq, hd);
  __syncthreads();
  uint32_t qf[KF][4], gf[KF][4];
  a_fragments<KF>(qf, Ks + warp * 16 * LH, LH);
  a_fragments<KF>(gf, Vs + warp * 16 * LH, LH);
  float lse2[2], Dr[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int R = warp * 16 + g + 8 * r;
    lse2[r] = R < nq ? a.lse[bh * a.Nq + q0 + R] * kLog2e : 0.f;
    Dr[r] = R < nq ? Dg[bh * a.Nq + q0 + R] : 0.f;
  }
  float dq[DT][4];
  zero_acc(dq);
  const int64_t kb = b * a.Nk * a.k_rs + h * hd, vb = b * a.Nk * a.v_rs + h * hd;

  for (int k0 = 0; k0 < Nk; k0 += kTile) {
    const int nk = min(kTile, Nk - k0);
    __syncthreads();  // Q, dO fragments taken / the previous tile's K, V no longer read
    load_rows<HDP>(Ks, LH, a.k, a.k16, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    load_rows<HDP>(Vs, LH, a.v, a.v16, vb + (int64_t)k0 * a.v_rs, a.v_rs, nk, hd);
    load_transposed<HDP>(Kt, LK, a.k, a.k16, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    __syncthreads();
    float s[NT][4], dp[NT][4];
    scores<KF, NT>(s, qf, Ks, LH);   // S = Q Kᵀ
    scores<KF, NT>(dp, gf, Vs, LH);  // dP = dO Vᵀ
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float p = j * 8 + 2 * t + (e & 1) < nk ? exp2f(s[j][e] * c - lse2[e >> 1]) : 0.f;
        dp[j][e] = p * (dp[j][e] - Dr[e >> 1]);
      }
    accumulate<NT, DT>(dq, dp, Kt, LK);  // dQ += dS K
  }
  write_rows<DT>(dq, a.dq + (b * a.Nq + q0 + warp * 16) * a.dq_rs + h * hd, a.dq_rs, nq - warp * 16, hd,
                 {a.scale, a.scale});
#endif
}

}  // namespace

}  // namespace vj::cuda
