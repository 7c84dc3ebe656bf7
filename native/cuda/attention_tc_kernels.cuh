// Tensor-core (bf16 WMMA, fp32 accumulate) flash attention for bf16 mixed precision. Same
// algorithm and tiling as the fp32 kernels in attention.cu: 64-row tiles, an online softmax in
// base-2 units, no N x N matrix in memory; backward as FlashAttention-2 without atomics (one
// kernel owns dK, dV per key tile, another dQ per query tile).
//
// A block is 4 warps; warp w owns rows [16w, 16w+16) of the block's 64-row tile. Products are
// 16x16x16 WMMA tiles over shared memory. The softmax needs the scores per row, which WMMA's
// accumulator layout hides, so each warp stores its 16 x 64 score strip to shared memory, two
// lanes per row apply the softmax (and the output rescale, whose accumulator therefore also lives
// in shared memory in the forward), and the probabilities go back as a bf16 operand.
// q, k, v are fp32 (rounded to bf16 while a tile is loaded) or already bf16 (AttnArgs::q16...,
// mixed-precision activations); o is written in fp32 or bf16 to match; gradients are fp32.
//
// Device code only: attention_tc.cu launches it, and test/native/cuda_emu/ compiles it on the host
// against a CPU emulation of the CUDA headers, built-ins and WMMA to test it without a GPU.
#pragma once
#include <cuda_bf16.h>
#include <mma.h>

#include <cstddef>
#include <cstdint>

#include "backend.h"
#include "cuda/bf16.cuh"

// The block's dynamic shared memory (the emulator gives each emulated block its own buffer).
#ifndef VJ_DYNAMIC_SMEM
#define VJ_DYNAMIC_SMEM(name) extern __shared__ __align__(128) unsigned char name[]
#endif

namespace vj::cuda {

namespace {

namespace wm = nvcuda::wmma;
using bf16 = __nv_bfloat16;

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kWarps = 4, kThreads = 32 * kWarps, kTile = 16 * kWarps;  // 64 rows (or keys) per tile

// Shared-memory geometry for head_dim padded to HDP: bf16 tiles [64][LH], per-warp fp32 strips
// [16][LS], per-warp bf16 strips [16][LP]. Leading dims keep every WMMA pointer 32-byte aligned
// and are multiples of 8 (bf16) / 4 (fp32) elements, as load/store_matrix_sync require.
template <int HDP>
struct Geo {
  static constexpr int LH = HDP + 8, LS = (kTile > HDP ? kTile : HDP) + 4, LP = kTile + 8, LO = HDP + 4;
  static constexpr size_t tile = sizeof(bf16) * kTile * LH;          // one [64][LH] bf16 tile
  static constexpr size_t strip = sizeof(float) * 16 * LS * kWarps;  // one fp32 strip per warp
  static constexpr size_t pstrip = sizeof(bf16) * 16 * LP * kWarps;  // one bf16 strip per warp
  static constexpr size_t ostrip = sizeof(float) * 16 * LO * kWarps;
  static constexpr size_t fwd = 3 * tile + strip + pstrip + ostrip;   // Q, K, V; S; P; O
  static constexpr size_t bwd = 4 * tile + 2 * strip + 2 * pstrip + 2 * sizeof(float) * kTile;
  static_assert(tile % 32 == 0 && strip % 32 == 0 && pstrip % 32 == 0 && ostrip % 32 == 0, "WMMA alignment");
};

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800

using FragA = wm::fragment<wm::matrix_a, 16, 16, 16, bf16, wm::row_major>;
using FragBCol = wm::fragment<wm::matrix_b, 16, 16, 16, bf16, wm::col_major>;
using FragBRow = wm::fragment<wm::matrix_b, 16, 16, 16, bf16, wm::row_major>;
using FragC = wm::fragment<wm::accumulator, 16, 16, 16, float>;

__device__ __forceinline__ float as_float(float v) { return v; }
__device__ __forceinline__ float as_float(uint16_t v) { return from_bf16(v); }

// T[r*ld + d] = bf16(src[r*rs + d]) for r < nrows, d < hd; zeros elsewhere in [64) x [HDP).
template <int HDP, class In>
__device__ __forceinline__ void load_tile(bf16* T, int ld, const In* __restrict__ src, int64_t rs, int nrows, int hd) {
  for (int idx = threadIdx.x; idx < kTile * HDP; idx += kThreads) {
    int r = idx / HDP, d = idx % HDP;
    T[r * ld + d] = __float2bfloat16_rn((r < nrows && d < hd) ? as_float(src[r * rs + d]) : 0.f);
  }
}

// The same from an operand held in fp32 (f) or bf16 (h, when set), at element offset off.
template <int HDP>
__device__ __forceinline__ void load_rows(bf16* T, int ld, const float* f, const uint16_t* h, int64_t off, int64_t rs,
                                          int nrows, int hd) {
  if (h) load_tile<HDP>(T, ld, h + off, rs, nrows, hd);
  else load_tile<HDP>(T, ld, f + off, rs, nrows, hd);
}

// S[16][N] = A[16][K] · Bᵀ with B stored [N][K] row-major (Bᵀ read column-major).
template <int K, int N>
__device__ __forceinline__ void mm_abt(float* S, int lds, const bf16* A, int lda, const bf16* B, int ldb) {
#pragma unroll
  for (int j = 0; j < N / 16; j++) {
    FragC c;
    wm::fill_fragment(c, 0.f);
#pragma unroll
    for (int kk = 0; kk < K / 16; kk++) {
      FragA fa;
      FragBCol fb;
      wm::load_matrix_sync(fa, A + kk * 16, lda);
      wm::load_matrix_sync(fb, B + j * 16 * ldb + kk * 16, ldb);
      wm::mma_sync(c, fa, fb, c);
    }
    wm::store_matrix_sync(S + j * 16, c, lds, wm::mem_row_major);
  }
}

// acc[j] += A[16][K] · B[K][16j, 16j+16) with B stored [K][*] row-major.
template <int K, int NF>
__device__ __forceinline__ void mm_ab_acc(FragC (&acc)[NF], const bf16* A, int lda, const bf16* B, int ldb) {
#pragma unroll
  for (int kk = 0; kk < K / 16; kk++) {
    FragA fa;
    wm::load_matrix_sync(fa, A + kk * 16, lda);
#pragma unroll
    for (int j = 0; j < NF; j++) {
      FragBRow fb;
      wm::load_matrix_sync(fb, B + kk * 16 * ldb + j * 16, ldb);
      wm::mma_sync(acc[j], fa, fb, acc[j]);
    }
  }
}

template <int NF>
__device__ __forceinline__ void zero(FragC (&acc)[NF]) {
#pragma unroll
  for (int j = 0; j < NF; j++) wm::fill_fragment(acc[j], 0.f);
}

// Writes a warp's 16 x HDP accumulator rows to dst (row stride rs) times mul, through the
// warp's fp32 strip; rows >= nrows (of the warp) and columns >= hd are skipped.
template <int HDP, int NF>
__device__ __forceinline__ void write_acc(float* strip, int ls, FragC (&acc)[NF], float* dst, int64_t rs, int nrows,
                                          int hd, float mul) {
  __syncwarp();
#pragma unroll
  for (int j = 0; j < NF; j++) wm::store_matrix_sync(strip + j * 16, acc[j], ls, wm::mem_row_major);
  __syncwarp();
  const int lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
  if (r < nrows)
    for (int d = half * (HDP / 2); d < (half + 1) * (HDP / 2) && d < hd; d++) dst[r * rs + d] = strip[r * ls + d] * mul;
  __syncwarp();
}

#endif

// ------------------------------------------------------------------------------ forward

template <int HDP>
__global__ void __launch_bounds__(kThreads) tc_fwd_kernel(const AttnArgs a, float c, int nqt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int LH = G::LH, LS = G::LS, LP = G::LP, LO = G::LO;
  VJ_DYNAMIC_SMEM(smem);
  bf16* Qs = reinterpret_cast<bf16*>(smem);
  bf16* Ks = reinterpret_cast<bf16*>(smem + G::tile);
  bf16* Vs = reinterpret_cast<bf16*>(smem + 2 * G::tile);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
  float* Sw = reinterpret_cast<float*>(smem + 3 * G::tile) + warp * 16 * LS;
  bf16* Pw = reinterpret_cast<bf16*>(smem + 3 * G::tile + G::strip) + warp * 16 * LP;
  float* Ow = reinterpret_cast<float*>(smem + 3 * G::tile + G::strip + G::pstrip) + warp * 16 * LO;

  const int64_t bh = blockIdx.x / nqt;
  const int q0 = (int)(blockIdx.x % nqt) * kTile;
  const int64_t b = bh / a.H, h = bh % a.H;
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nq = min(kTile, Nq - q0);
  load_rows<HDP>(Qs, LH, a.q, a.q16, (b * a.Nq + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
  for (int i = lane; i < 16 * LO; i += 32) Ow[i] = 0.f;
  const int64_t kb = b * a.Nk * a.k_rs + h * hd, vb = b * a.Nk * a.v_rs + h * hd;
  float m = -INFINITY, l = 0.f;  // of row r (both lanes of the pair hold them)
  float* srow = Sw + r * LS;
  bf16* prow = Pw + r * LP;
  float* orow = Ow + r * LO;

  for (int k0 = 0; k0 < Nk; k0 += kTile) {
    const int nk = min(kTile, Nk - k0);
    __syncthreads();  // the previous tile's Ks / Vs are no longer read
    load_rows<HDP>(Ks, LH, a.k, a.k16, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    load_rows<HDP>(Vs, LH, a.v, a.v16, vb + (int64_t)k0 * a.v_rs, a.v_rs, nk, hd);
    __syncthreads();
    mm_abt<HDP, kTile>(Sw, LS, Qs + warp * 16 * LH, LH, Ks, LH);
    __syncwarp();
    float mx = -INFINITY;
    for (int j = half * 32; j < half * 32 + 32; j++) {
      float t = j < nk ? srow[j] * c : -INFINITY;
      srow[j] = t;
      mx = fmaxf(mx, t);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));  // finite: every tile has a key
    const float mnew = fmaxf(m, mx), alpha = exp2f(m - mnew);
    float sum = 0.f;
    for (int j = half * 32; j < half * 32 + 32; j++) {
      float p = exp2f(srow[j] - mnew);
      sum += p;
      prow[j] = __float2bfloat16_rn(p);
    }
    l = l * alpha + sum + __shfl_xor_sync(0xffffffffu, sum, 1);
    m = mnew;
    for (int d = half * (HDP / 2); d < (half + 1) * (HDP / 2); d++) orow[d] *= alpha;
    __syncwarp();
    {
      FragC pv[HDP / 16];
      zero(pv);
      mm_ab_acc<kTile, HDP / 16>(pv, Pw, LP, Vs, LH);
#pragma unroll
      for (int j = 0; j < HDP / 16; j++) wm::store_matrix_sync(Sw + j * 16, pv[j], LS, wm::mem_row_major);
    }
    __syncwarp();
    for (int d = half * (HDP / 2); d < (half + 1) * (HDP / 2); d++) orow[d] += srow[d];
    __syncwarp();
  }

  const int R = warp * 16 + r;
  if (R < nq) {
    const float inv = 1.f / l;
    const int64_t off = (b * a.Nq + q0 + R) * a.o_rs + h * hd;
    for (int d = half * (HDP / 2); d < (half + 1) * (HDP / 2) && d < hd; d++) {
      if (a.o16) a.o16[off + d] = to_bf16(orow[d] * inv);
      else a.o[off + d] = orow[d] * inv;
    }
    if (half == 0 && a.lse) a.lse[bh * a.Nq + q0 + R] = (m + log2f(l)) * kLn2;
  }
#endif
}

// ------------------------------------------------------------------------------ backward

// The backward kernels' shared memory: four bf16 [64][LH] tiles, then this warp's fp32 S and dP
// strips, bf16 P and dS strips, and the block's 64 log-sum-exps and D values.
template <int HDP>
struct BwdSmem {
  bf16* tile[4];
  float *S, *dP, *lse2, *D;
  bf16 *P, *dS;
  __device__ BwdSmem(unsigned char* smem, int warp) {
    using G = Geo<HDP>;
    for (int i = 0; i < 4; i++) tile[i] = reinterpret_cast<bf16*>(smem + i * G::tile);
    unsigned char* p = smem + 4 * G::tile;
    S = reinterpret_cast<float*>(p) + warp * 16 * G::LS;
    dP = reinterpret_cast<float*>(p + G::strip) + warp * 16 * G::LS;
    P = reinterpret_cast<bf16*>(p + 2 * G::strip) + warp * 16 * G::LP;
    dS = reinterpret_cast<bf16*>(p + 2 * G::strip + G::pstrip) + warp * 16 * G::LP;
    lse2 = reinterpret_cast<float*>(p + 2 * G::strip + 2 * G::pstrip);
    D = lse2 + kTile;
  }
};

// Per 64-key tile: dV = Pᵀ dO and dK = scale * dSᵀ Q, looping over query tiles.
template <int HDP>
__global__ void __launch_bounds__(kThreads) tc_bwd_dkv_kernel(const AttnArgs a, float c, const float* __restrict__ Dg,
                                                              int nkt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int LH = G::LH, LS = G::LS, LP = G::LP;
  VJ_DYNAMIC_SMEM(smem);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
  const BwdSmem<HDP> sm(smem, warp);
  bf16 *Ks = sm.tile[0], *Vs = sm.tile[1], *Qs = sm.tile[2], *dOs = sm.tile[3];
  float *Sw = sm.S, *dPw = sm.dP, *lse2s = sm.lse2, *Ds = sm.D;  // Sᵀ, dPᵀ strips [key][query]
  bf16 *Pw = sm.P, *dSw = sm.dS;                                    // Pᵀ, dSᵀ (bf16)

  const int64_t bh = blockIdx.x / nkt;
  const int k0 = (int)(blockIdx.x % nkt) * kTile;
  const int64_t b = bh / a.H, h = bh % a.H;
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nk = min(kTile, Nk - k0);
  load_rows<HDP>(Ks, LH, a.k, a.k16, (b * a.Nk + k0) * a.k_rs + h * hd, a.k_rs, nk, hd);
  load_rows<HDP>(Vs, LH, a.v, a.v16, (b * a.Nk + k0) * a.v_rs + h * hd, a.v_rs, nk, hd);
  const int64_t qb = b * a.Nq * a.q_rs + h * hd;
  const float* gb = a.dout + b * a.Nq * a.dout_rs + h * hd;
  FragC dk[HDP / 16], dv[HDP / 16];
  zero(dk);
  zero(dv);

  for (int q0 = 0; q0 < Nq; q0 += kTile) {
    const int nq = min(kTile, Nq - q0);
    __syncthreads();
    load_rows<HDP>(Qs, LH, a.q, a.q16, qb + (int64_t)q0 * a.q_rs, a.q_rs, nq, hd);
    load_tile<HDP>(dOs, LH, gb + (int64_t)q0 * a.dout_rs, a.dout_rs, nq, hd);
    for (int i = threadIdx.x; i < kTile; i += kThreads) {
      lse2s[i] = i < nq ? a.lse[bh * a.Nq + q0 + i] * kLog2e : INFINITY;  // P = 0 for padded queries
      Ds[i] = i < nq ? Dg[bh * a.Nq + q0 + i] : 0.f;
    }
    __syncthreads();
    mm_abt<HDP, kTile>(Sw, LS, Ks + warp * 16 * LH, LH, Qs, LH);    // Sᵀ = K Qᵀ
    mm_abt<HDP, kTile>(dPw, LS, Vs + warp * 16 * LH, LH, dOs, LH);  // dPᵀ = V dOᵀ
    __syncwarp();
    for (int j = half * 32; j < half * 32 + 32; j++) {
      float pr = exp2f(Sw[r * LS + j] * c - lse2s[j]);
      Pw[r * LP + j] = __float2bfloat16_rn(pr);
      dSw[r * LP + j] = __float2bfloat16_rn(pr * (dPw[r * LS + j] - Ds[j]));
    }
    __syncwarp();
    mm_ab_acc<kTile, HDP / 16>(dv, Pw, LP, dOs, LH);
    mm_ab_acc<kTile, HDP / 16>(dk, dSw, LP, Qs, LH);
  }
  const int rows = max(0, min(16, nk - warp * 16));
  write_acc<HDP>(Sw, LS, dk, a.dk + (b * a.Nk + k0 + warp * 16) * a.dk_rs + h * hd, a.dk_rs, rows, hd, a.scale);
  write_acc<HDP>(Sw, LS, dv, a.dv + (b * a.Nk + k0 + warp * 16) * a.dv_rs + h * hd, a.dv_rs, rows, hd, 1.f);
#endif
}

// Per 64-query tile: dQ = scale * dS K, looping over key tiles.
template <int HDP>
__global__ void __launch_bounds__(kThreads) tc_bwd_dq_kernel(const AttnArgs a, float c, const float* __restrict__ Dg,
                                                             int nqt) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using G = Geo<HDP>;
  constexpr int LH = G::LH, LS = G::LS, LP = G::LP;
  VJ_DYNAMIC_SMEM(smem);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
  const BwdSmem<HDP> sm(smem, warp);
  bf16 *Qs = sm.tile[0], *dOs = sm.tile[1], *Ks = sm.tile[2], *Vs = sm.tile[3];
  float *Sw = sm.S, *dPw = sm.dP;
  bf16* dSw = sm.dS;

  const int64_t bh = blockIdx.x / nqt;
  const int q0 = (int)(blockIdx.x % nqt) * kTile;
  const int64_t b = bh / a.H, h = bh % a.H;
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nq = min(kTile, Nq - q0);
  load_rows<HDP>(Qs, LH, a.q, a.q16, (b * a.Nq + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
  load_tile<HDP>(dOs, LH, a.dout + (b * a.Nq + q0) * a.dout_rs + h * hd, a.dout_rs, nq, hd);
  const int R = warp * 16 + r;
  const float lse2 = R < nq ? a.lse[bh * a.Nq + q0 + R] * kLog2e : 0.f;
  const float Dr = R < nq ? Dg[bh * a.Nq + q0 + R] : 0.f;
  const int64_t kb = b * a.Nk * a.k_rs + h * hd, vb = b * a.Nk * a.v_rs + h * hd;
  FragC dq[HDP / 16];
  zero(dq);

  for (int k0 = 0; k0 < Nk; k0 += kTile) {
    const int nk = min(kTile, Nk - k0);
    __syncthreads();
    load_rows<HDP>(Ks, LH, a.k, a.k16, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    load_rows<HDP>(Vs, LH, a.v, a.v16, vb + (int64_t)k0 * a.v_rs, a.v_rs, nk, hd);
    __syncthreads();
    mm_abt<HDP, kTile>(Sw, LS, Qs + warp * 16 * LH, LH, Ks, LH);    // S = Q Kᵀ
    mm_abt<HDP, kTile>(dPw, LS, dOs + warp * 16 * LH, LH, Vs, LH);  // dP = dO Vᵀ
    __syncwarp();
    for (int j = half * 32; j < half * 32 + 32; j++) {
      float pr = j < nk ? exp2f(Sw[r * LS + j] * c - lse2) : 0.f;
      dSw[r * LP + j] = __float2bfloat16_rn(pr * (dPw[r * LS + j] - Dr));
    }
    __syncwarp();
    mm_ab_acc<kTile, HDP / 16>(dq, dSw, LP, Ks, LH);
  }
  const int rows = max(0, min(16, nq - warp * 16));
  write_acc<HDP>(Sw, LS, dq, a.dq + (b * a.Nq + q0 + warp * 16) * a.dq_rs + h * hd, a.dq_rs, rows, hd, a.scale);
#endif
}

}  // namespace

}  // namespace vj::cuda
