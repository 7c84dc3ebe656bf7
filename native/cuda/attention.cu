// Multi-head attention, flash style, in fp32: tiles of queries and keys in shared memory, an
// online softmax in base-2 units (t = s * scale * log2 e, so exp2f), no N x N matrix in memory.
// Any head_dim up to 128 (padded with zeros to 32, 64, 96 or 128); q/k/v/o/dq/dk/dv are read and
// written in place through their row strides and column offsets.
//
// Every block has 128 threads in a 16 x 8 grid (ty, tx); a thread owns rows ty*4 .. ty*4+3 of a
// 64-row tile and columns tx*4 + 32*g + e (g < NC/32, e < 4) of an NC-column tile. All products
// are one shared-memory micro-kernel, mma(), over operands stored k-major ([k][rows] and
// [k][cols], rows padded by 4 floats), read as float4.
//
// Backward (FlashAttention-2 style, without atomics so the result is deterministic):
//   D = rowsum(dO * O);  one kernel per (b, h, 64-key tile) owns and writes dK, dV (looping over
//   query tiles); another per (b, h, 64-query tile) writes dQ (looping over key tiles).
// With AttnArgs::bf16 (mixed precision) on sm_80+, the same algorithm runs on tensor cores
// (attention_tc.cu).
#include <climits>
#include <string>

#include "cuda/attention_tc.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace vj::cuda {

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kThreads = 128;

// acc[i][g*4+e] += sum_{k<K} At[k*lda + ty*4 + i] * Bt[k*ldb + tx*4 + 32*g + e]
template <int NG>
__device__ __forceinline__ void mma(float (&acc)[4][NG * 4], const float* __restrict__ At, int lda,
                                    const float* __restrict__ Bt, int ldb, int K, int ty, int tx) {
  const float* a = At + ty * 4;
  const float* b = Bt + tx * 4;
#pragma unroll 4
  for (int k = 0; k < K; k++) {
    float4 av = *reinterpret_cast<const float4*>(a + k * lda);
    float ar[4] = {av.x, av.y, av.z, av.w};
#pragma unroll
    for (int g = 0; g < NG; g++) {
      float4 bv = *reinterpret_cast<const float4*>(b + k * ldb + 32 * g);
      float br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int e = 0; e < 4; e++) acc[i][g * 4 + e] = fmaf(ar[i], br[e], acc[i][g * 4 + e]);
    }
  }
}

template <int NG>
__device__ __forceinline__ void zero(float (&acc)[4][NG * 4]) {
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < NG * 4; j++) acc[i][j] = 0.f;
}

// Transposed tile load: T[d*ld + r] = src[r*rs + d] (r < nrows, d < hd), zeros elsewhere in [R) x [HDP).
template <int R, int HDP>
__device__ __forceinline__ void load_t(float* T, int ld, const float* __restrict__ src, int64_t rs, int nrows, int hd) {
  for (int idx = threadIdx.x; idx < R * HDP; idx += kThreads) {
    int r = idx / HDP, d = idx % HDP;
    T[d * ld + r] = (r < nrows && d < hd) ? src[r * rs + d] : 0.f;
  }
}

// Row-major tile load: N[r*ld + d] = src[r*rs + d], zeros outside.
template <int R, int HDP>
__device__ __forceinline__ void load_n(float* N, int ld, const float* __restrict__ src, int64_t rs, int nrows, int hd) {
  for (int idx = threadIdx.x; idx < R * HDP; idx += kThreads) {
    int r = idx / HDP, d = idx % HDP;
    N[r * ld + d] = (r < nrows && d < hd) ? src[r * rs + d] : 0.f;
  }
}

// Stores a thread's 4 x (NG*4) register tile transposed: P[col*ld + ty*4 + i] = s[i][j].
template <int NG>
__device__ __forceinline__ void store_t(float* P, int ld, const float (&s)[4][NG * 4], int ty, int tx) {
#pragma unroll
  for (int g = 0; g < NG; g++)
#pragma unroll
    for (int e = 0; e < 4; e++) {
      int j = g * 4 + e, col = tx * 4 + 32 * g + e;
      *reinterpret_cast<float4*>(P + col * ld + ty * 4) = make_float4(s[0][j], s[1][j], s[2][j], s[3][j]);
    }
}

// Sum / max over the 8 lanes (tx) that share a row.
__device__ __forceinline__ float row_max8(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 4));
}
__device__ __forceinline__ float row_sum8(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  v += __shfl_xor_sync(0xffffffffu, v, 2);
  return v + __shfl_xor_sync(0xffffffffu, v, 4);
}

// Writes a thread's rows of a [rows x HDP] register tile to dst rows (stride rs), times mul.
template <int NG>
__device__ __forceinline__ void write_rows(float* dst, int64_t rs, const float (&acc)[4][NG * 4], int nrows, int hd,
                                           int ty, int tx, const float (&mul)[4]) {
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int r = ty * 4 + i;
    if (r >= nrows) continue;
    float* row = dst + r * rs;
#pragma unroll
    for (int g = 0; g < NG; g++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        int d = tx * 4 + 32 * g + e;
        if (d < hd) row[d] = acc[i][g * 4 + e] * mul[i];
      }
  }
}

// ------------------------------------------------------------------------------ forward

template <int HDP>
struct FwdCfg {
  static constexpr int BQ = 64, BK = 64, LQ = BQ + 4, LK = BK + 4, LD = HDP + 4;
  static constexpr size_t smem = sizeof(float) * (size_t)(HDP * LQ + HDP * LK + BK * LD + BK * LQ);
};

template <int HDP>
__global__ void __launch_bounds__(kThreads) attn_fwd_kernel(const AttnArgs a, float c, int nqt) {
  using C = FwdCfg<HDP>;
  constexpr int BQ = C::BQ, BK = C::BK, LQ = C::LQ, LK = C::LK, LD = C::LD, NGD = HDP / 32, NGK = BK / 32;
  extern __shared__ __align__(16) float sm[];
  float* Qt = sm;                // [HDP][LQ]
  float* Kt = Qt + HDP * LQ;     // [HDP][LK]
  float* Vs = Kt + HDP * LK;     // [BK][LD]
  float* Pt = Vs + BK * LD;      // [BK][LQ]
  const int tx = threadIdx.x & 7, ty = threadIdx.x >> 3;
  const int64_t bh = blockIdx.x / nqt;
  const int q0 = (int)(blockIdx.x % nqt) * BQ;
  const int64_t b = bh / a.H, h = bh % a.H;
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nq = min(BQ, Nq - q0);
  load_t<BQ, HDP>(Qt, LQ, a.q + (b * a.Nq + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
  const float* kb = a.k + b * a.Nk * a.k_rs + h * hd;
  const float* vb = a.v + b * a.Nk * a.v_rs + h * hd;

  float m[4], l[4], acc[4][NGD * 4];
#pragma unroll
  for (int i = 0; i < 4; i++) {
    m[i] = -INFINITY;
    l[i] = 0.f;
  }
  zero<NGD>(acc);

  for (int k0 = 0; k0 < Nk; k0 += BK) {
    const int nk = min(BK, Nk - k0);
    __syncthreads();  // the previous tile's Kt / Vs / Pt are no longer read
    load_t<BK, HDP>(Kt, LK, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    load_n<BK, HDP>(Vs, LD, vb + (int64_t)k0 * a.v_rs, a.v_rs, nk, hd);
    __syncthreads();
    float s[4][NGK * 4];
    zero<NGK>(s);
    mma<NGK>(s, Qt, LQ, Kt, LK, hd, ty, tx);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < NGK * 4; j++) {
        int col = tx * 4 + 32 * (j / 4) + (j % 4);
        float t = col < nk ? s[i][j] * c : -INFINITY;
        s[i][j] = t;
        mx = fmaxf(mx, t);
      }
      mx = row_max8(mx);  // finite: every tile has at least one key
      float mnew = fmaxf(m[i], mx);
      float alpha = exp2f(m[i] - mnew);
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < NGK * 4; j++) {
        float p = exp2f(s[i][j] - mnew);
        s[i][j] = p;
        sum += p;
      }
      l[i] = l[i] * alpha + row_sum8(sum);
      m[i] = mnew;
#pragma unroll
      for (int j = 0; j < NGD * 4; j++) acc[i][j] *= alpha;
    }
    store_t<NGK>(Pt, LQ, s, ty, tx);
    __syncthreads();
    mma<NGD>(acc, Pt, LQ, Vs, LD, nk, ty, tx);
  }

  float inv[4];
#pragma unroll
  for (int i = 0; i < 4; i++) inv[i] = 1.f / l[i];
  write_rows<NGD>(a.o + (b * a.Nq + q0) * a.o_rs + h * hd, a.o_rs, acc, nq, hd, ty, tx, inv);
  if (tx == 0 && a.lse) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      int r = ty * 4 + i;
      if (r < nq) a.lse[bh * a.Nq + q0 + r] = (m[i] + log2f(l[i])) * kLn2;
    }
  }
}

// ------------------------------------------------------------------------------ backward

// D[bh*Nq + i] = dot(dO row, O row) over the head's columns; one warp per row (fp32 kernels; the
// tensor-core path has its own, which also rounds dO to bf16).
__global__ void attn_bwd_d_kernel(const AttnArgs a, float* __restrict__ D) {
  const int64_t rows = a.B * a.H * a.Nq;
  const int lane = threadIdx.x & 31;
  for (int64_t r = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; r < rows;
       r += ((int64_t)gridDim.x * blockDim.x) >> 5) {
    int64_t i = r % a.Nq, bh = r / a.Nq, b = bh / a.H, h = bh % a.H;
    const int64_t oo = (b * a.Nq + i) * a.o_rs + h * a.hd;
    const float* g = a.dout + (b * a.Nq + i) * a.dout_rs + h * a.hd;
    float s = 0.f;
    for (int64_t d = lane; d < a.hd; d += 32) s += a.o[oo + d] * g[d];
    s = warp_sum(s);
    if (lane == 0) D[r] = s;
  }
}

template <int HDP>
struct DqCfg {
  static constexpr int BQ = 64, BK = 32, LQ = BQ + 4, LK = BK + 4, LD = HDP + 4;
  static constexpr size_t smem = sizeof(float) * (size_t)(2 * HDP * LQ + 2 * HDP * LK + BK * LD + BK * LQ);
};

template <int HDP>
__global__ void __launch_bounds__(kThreads) attn_bwd_dq_kernel(const AttnArgs a, float c, const float* __restrict__ Dg,
                                                               int nqt) {
  using C = DqCfg<HDP>;
  constexpr int BQ = C::BQ, BK = C::BK, LQ = C::LQ, LK = C::LK, LD = C::LD, NGD = HDP / 32;
  extern __shared__ __align__(16) float sm[];
  float* Qt = sm;                 // [HDP][LQ]
  float* dOt = Qt + HDP * LQ;     // [HDP][LQ]
  float* Kt = dOt + HDP * LQ;     // [HDP][LK]
  float* Vt = Kt + HDP * LK;      // [HDP][LK]
  float* Ks = Vt + HDP * LK;      // [BK][LD]
  float* dSt = Ks + BK * LD;      // [BK][LQ]
  const int tx = threadIdx.x & 7, ty = threadIdx.x >> 3;
  const int64_t bh = blockIdx.x / nqt;
  const int q0 = (int)(blockIdx.x % nqt) * BQ;
  const int64_t b = bh / a.H, h = bh % a.H;
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nq = min(BQ, Nq - q0);
  load_t<BQ, HDP>(Qt, LQ, a.q + (b * a.Nq + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
  load_t<BQ, HDP>(dOt, LQ, a.dout + (b * a.Nq + q0) * a.dout_rs + h * hd, a.dout_rs, nq, hd);
  float lse2[4], Dv[4];
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int r = ty * 4 + i;
    lse2[i] = r < nq ? a.lse[bh * a.Nq + q0 + r] * kLog2e : 0.f;
    Dv[i] = r < nq ? Dg[bh * a.Nq + q0 + r] : 0.f;
  }
  const float* kb = a.k + b * a.Nk * a.k_rs + h * hd;
  const float* vb = a.v + b * a.Nk * a.v_rs + h * hd;
  float acc[4][NGD * 4];
  zero<NGD>(acc);

  for (int k0 = 0; k0 < Nk; k0 += BK) {
    const int nk = min(BK, Nk - k0);
    __syncthreads();
    load_t<BK, HDP>(Kt, LK, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    load_t<BK, HDP>(Vt, LK, vb + (int64_t)k0 * a.v_rs, a.v_rs, nk, hd);
    load_n<BK, HDP>(Ks, LD, kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    __syncthreads();
    float s[4][4], dp[4][4];
    zero<1>(s);
    zero<1>(dp);
    mma<1>(s, Qt, LQ, Kt, LK, hd, ty, tx);
    mma<1>(dp, dOt, LQ, Vt, LK, hd, ty, tx);
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        float p = tx * 4 + j < nk ? exp2f(s[i][j] * c - lse2[i]) : 0.f;
        s[i][j] = p * (dp[i][j] - Dv[i]);  // dS
      }
    store_t<1>(dSt, LQ, s, ty, tx);
    __syncthreads();
    mma<NGD>(acc, dSt, LQ, Ks, LD, nk, ty, tx);
  }
  const float mul[4] = {a.scale, a.scale, a.scale, a.scale};
  write_rows<NGD>(a.dq + (b * a.Nq + q0) * a.dq_rs + h * hd, a.dq_rs, acc, nq, hd, ty, tx, mul);
}

template <int HDP>
struct DkvCfg {
  static constexpr int BK = 64, BQ = 32, LK = BK + 4, LQ = BQ + 4, LD = HDP + 4;
  static constexpr size_t smem =
      sizeof(float) * (size_t)(2 * HDP * LK + 2 * HDP * LQ + 2 * BQ * LD + BQ * LK + 2 * BQ);
};

template <int HDP>
__global__ void __launch_bounds__(kThreads) attn_bwd_dkv_kernel(const AttnArgs a, float c,
                                                                const float* __restrict__ Dg, int nkt) {
  using C = DkvCfg<HDP>;
  constexpr int BK = C::BK, BQ = C::BQ, LK = C::LK, LQ = C::LQ, LD = C::LD, NGD = HDP / 32;
  extern __shared__ __align__(16) float sm[];
  float* Kt = sm;                 // [HDP][LK]
  float* Vt = Kt + HDP * LK;      // [HDP][LK]
  float* Qt = Vt + HDP * LK;      // [HDP][LQ]
  float* dOt = Qt + HDP * LQ;     // [HDP][LQ]
  float* Qs = dOt + HDP * LQ;     // [BQ][LD]
  float* dOs = Qs + BQ * LD;      // [BQ][LD]
  float* Pk = dOs + BQ * LD;      // [BQ][LK]: P^T, then dS^T, k-major over queries
  float* lse2s = Pk + BQ * LK;    // [BQ]
  float* Ds = lse2s + BQ;         // [BQ]
  const int tx = threadIdx.x & 7, ty = threadIdx.x >> 3;
  const int64_t bh = blockIdx.x / nkt;
  const int k0 = (int)(blockIdx.x % nkt) * BK;
  const int64_t b = bh / a.H, h = bh % a.H;
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk;
  const int nk = min(BK, Nk - k0);
  load_t<BK, HDP>(Kt, LK, a.k + (b * a.Nk + k0) * a.k_rs + h * hd, a.k_rs, nk, hd);
  load_t<BK, HDP>(Vt, LK, a.v + (b * a.Nk + k0) * a.v_rs + h * hd, a.v_rs, nk, hd);
  const float* qb = a.q + b * a.Nq * a.q_rs + h * hd;
  const float* gb = a.dout + b * a.Nq * a.dout_rs + h * hd;
  float dk[4][NGD * 4], dv[4][NGD * 4];
  zero<NGD>(dk);
  zero<NGD>(dv);

  for (int q0 = 0; q0 < Nq; q0 += BQ) {
    const int nq = min(BQ, Nq - q0);
    __syncthreads();
    load_t<BQ, HDP>(Qt, LQ, qb + (int64_t)q0 * a.q_rs, a.q_rs, nq, hd);
    load_t<BQ, HDP>(dOt, LQ, gb + (int64_t)q0 * a.dout_rs, a.dout_rs, nq, hd);
    load_n<BQ, HDP>(Qs, LD, qb + (int64_t)q0 * a.q_rs, a.q_rs, nq, hd);
    load_n<BQ, HDP>(dOs, LD, gb + (int64_t)q0 * a.dout_rs, a.dout_rs, nq, hd);
    for (int r = threadIdx.x; r < BQ; r += kThreads) {
      lse2s[r] = r < nq ? a.lse[bh * a.Nq + q0 + r] * kLog2e : INFINITY;  // P = 0 for padded queries
      Ds[r] = r < nq ? Dg[bh * a.Nq + q0 + r] : 0.f;
    }
    __syncthreads();
    float st[4][4], dpt[4][4];
    zero<1>(st);
    zero<1>(dpt);
    mma<1>(st, Kt, LK, Qt, LQ, hd, ty, tx);    // S^T [key][query]
    mma<1>(dpt, Vt, LK, dOt, LQ, hd, ty, tx);  // dP^T
#pragma unroll
    for (int j = 0; j < 4; j++) {
      int col = tx * 4 + j;
      float l2 = lse2s[col], dd = Ds[col];
#pragma unroll
      for (int i = 0; i < 4; i++) {
        float p = exp2f(st[i][j] * c - l2);
        st[i][j] = p;
        dpt[i][j] = p * (dpt[i][j] - dd);
      }
    }
    store_t<1>(Pk, LK, st, ty, tx);
    __syncthreads();
    mma<NGD>(dv, Pk, LK, dOs, LD, nq, ty, tx);
    __syncthreads();
    store_t<1>(Pk, LK, dpt, ty, tx);
    __syncthreads();
    mma<NGD>(dk, Pk, LK, Qs, LD, nq, ty, tx);
  }
  const float one[4] = {1.f, 1.f, 1.f, 1.f};
  const float mul[4] = {a.scale, a.scale, a.scale, a.scale};
  write_rows<NGD>(a.dk + (b * a.Nk + k0) * a.dk_rs + h * hd, a.dk_rs, dk, nk, hd, ty, tx, mul);
  write_rows<NGD>(a.dv + (b * a.Nk + k0) * a.dv_rs + h * hd, a.dv_rs, dv, nk, hd, ty, tx, one);
}

// ------------------------------------------------------------------------------ host side

void check_args(const AttnArgs& a, const char* op) {
  if (a.hd < 1 || a.hd > 128)
    fail(std::string(op) + ": head_dim " + std::to_string(a.hd) + " is not supported by the CUDA kernel (1..128)");
  if (a.Nq > INT_MAX / 2 || a.Nk > INT_MAX / 2) fail(std::string(op) + ": sequence too long for the CUDA kernel");
}

// The fp32 kernels read only q, k, v, o: bf16 activations must have been widened (bindings).
void check_fp32_operands(const AttnArgs& a, const char* op) {
  if (a.q16 || a.k16 || a.v16 || a.o16) fail(std::string(op) + ": bf16 activations reached the fp32 kernels");
}

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

void launch_check_blocks(int64_t blocks, const char* op) {
  if (blocks > INT_MAX) fail(std::string(op) + ": too many (batch*heads, tiles) blocks for one launch");
}

template <int HDP>
void fwd(const AttnArgs& a) {
  using C = FwdCfg<HDP>;
  raise_smem_limit<attn_fwd_kernel<HDP>>(C::smem, "attentionFwd");
  int64_t nqt = cdiv(a.Nq, C::BQ), blocks = nqt * a.B * a.H;
  launch_check_blocks(blocks, "attentionFwd");
  attn_fwd_kernel<HDP><<<(unsigned)blocks, kThreads, C::smem, stream()>>>(a, a.scale * kLog2e, (int)nqt);
  check_launch("attentionFwd");
}

template <int HDP>
void bwd(const AttnArgs& a, const float* D) {
  using Q = DqCfg<HDP>;
  using KV = DkvCfg<HDP>;
  raise_smem_limit<attn_bwd_dq_kernel<HDP>>(Q::smem, "attentionBwd");
  raise_smem_limit<attn_bwd_dkv_kernel<HDP>>(KV::smem, "attentionBwd");
  int64_t nqt = cdiv(a.Nq, Q::BQ), nkt = cdiv(a.Nk, KV::BK);
  launch_check_blocks(nkt * a.B * a.H, "attentionBwd");
  launch_check_blocks(nqt * a.B * a.H, "attentionBwd");
  attn_bwd_dkv_kernel<HDP><<<(unsigned)(nkt * a.B * a.H), kThreads, KV::smem, stream()>>>(a, a.scale * kLog2e, D,
                                                                                         (int)nkt);
  check_launch("attentionBwd (dk, dv)");
  attn_bwd_dq_kernel<HDP><<<(unsigned)(nqt * a.B * a.H), kThreads, Q::smem, stream()>>>(a, a.scale * kLog2e, D,
                                                                                       (int)nqt);
  check_launch("attentionBwd (dq)");
}

}  // namespace

void attention_fwd(const AttnArgs& a) {
  if (a.B <= 0 || a.H <= 0 || a.Nq <= 0) return;
  check_args(a, "attentionFwd");
  if (a.Nk <= 0) fail("attentionFwd: attention needs at least one key");
  if (a.bf16 && attention_tc_supported(a)) return attention_tc_fwd(a);
  check_fp32_operands(a, "attentionFwd");
  if (a.hd <= 32) fwd<32>(a);
  else if (a.hd <= 64) fwd<64>(a);
  else if (a.hd <= 96) fwd<96>(a);
  else fwd<128>(a);
}

// Only the tensor-core kernels load bf16 tiles; the fp32 kernels get widened copies.
bool attention_reads_bf16(const AttnArgs& a) { return a.bf16 && attention_tc_supported(a); }

void attention_bwd(const AttnArgs& a) {
  if (a.B <= 0 || a.H <= 0 || a.Nq <= 0 || a.Nk <= 0) return;
  check_args(a, "attentionBwd");
  if (!a.lse || !(a.o || a.o16) || !a.dout) fail("attentionBwd: needs out, lse and dout from the forward");
  if (a.bf16 && attention_tc_supported(a)) return attention_tc_bwd(a);
  check_fp32_operands(a, "attentionBwd");
  int64_t rows = a.B * a.H * a.Nq;
  Scratch D(sizeof(float) * (size_t)rows);
  attn_bwd_d_kernel<<<grid_for(rows * 32, 256), 256, 0, stream()>>>(a, D.as<float>());
  check_launch("attentionBwd (D)");
  if (a.hd <= 32) bwd<32>(a, D.as<float>());
  else if (a.hd <= 64) bwd<64>(a, D.as<float>());
  else if (a.hd <= 96) bwd<96>(a, D.as<float>());
  else bwd<128>(a, D.as<float>());
}

}  // namespace vj::cuda
