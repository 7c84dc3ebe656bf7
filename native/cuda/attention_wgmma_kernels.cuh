// Attention on Hopper's warpgroup products (wgmma.cuh, sm_90a), forward and one-pass backward:
// the algorithms of tc_fwd_kernel and tc_bwd_fused_kernel (attention_tc_kernels.cuh), with each
// warpgroup's products issued as 64-row wgmma instructions instead of 16-row mma.sync ones.
//
// Forward: a block is two warpgroups over 128 query rows, 64 each (three over 192 at head_dim 64:
// WgGeo), and walks the key tiles (128 keys at head_dim <= 64, else 64), double-buffered by
// cp.async as the mma.sync kernels are. Q, K and V
// live in shared memory in the swizzled K-major layout wgmma's descriptors read: S = Q Kᵀ takes both
// operands from there (Q and K are K-major for it), and P V takes P from registers (the
// accumulator layout of S is the A fragment, as with mma.sync) and V as an MN-major operand, so V
// is never transposed. Each warp's share of S and O has the mma.sync accumulator layout, so the
// softmax, the rescaling and the output rows are tc_fwd_kernel's own code. The backward is
// described at wg_bwd_kernel.
// bf16 q, k, v only (rows 16-byte aligned, head_dim a multiple of 8): attention_wgmma.cu checks.
//
// Device code only: attention_wgmma.cu launches it, and the CPU emulator (test/native/cuda_emu)
// runs it with wgmma computed from the same descriptors.
#pragma once
#include "cuda/attention_tc_kernels.cuh"
#include "cuda/attention_wgmma_geometry.cuh"
#include "cuda/wgmma.cuh"

namespace vj::cuda {

namespace {

constexpr int kWgThreads = 256;  // the backward's block: two warpgroups

// Whether these kernels can take a call, the device aside: bf16 q, k, v in whole 16-byte chunks, at
// a head_dim wgmma_head_width takes (16 and 24 only when hd24, VJEPA_CUDA_ATTN_WGMMA_HD24=1 or the
// tuner's choice: the mma.sync kernels run them unpadded too, and which wins is for a GPU to say).
inline bool wg_takes(const AttnArgs& a, bool hd24) {
  auto aligned16 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (!a.q16 || !a.k16 || !a.v16 || !wgmma_head_width(a.hd, hd24)) return false;
  return a.q_rs % 8 == 0 && a.k_rs % 8 == 0 && a.v_rs % 8 == 0 && aligned16(a.q16) && aligned16(a.k16) && aligned16(a.v16);
}

// Rows [0, R) x columns [0, HD) of the bf16 matrix at src (row stride rs) into a swizzled tile
// (wg_tile_offset), by the block's THREADS threads: rows < nrows and columns < hd by cp.async (in
// the caller's next group), zeros elsewhere.
template <int HD, int R, int THREADS>
__device__ __forceinline__ void wg_stage(unsigned char* tile, const uint16_t* __restrict__ src, int64_t rs, int nrows,
                                         int hd) {
  for (int idx = threadIdx.x; idx < R * HD / 8; idx += THREADS) {
    const int r = idx / (HD / 8), d = idx % (HD / 8) * 8;
    unsigned char* dst = tile + wg_tile_offset<WgGeo<HD>::SW, R>(r, d);
    if (r < nrows && d < hd) cp_async16(dst, src + r * rs + d);
    else *reinterpret_cast<Bf16x8*>(dst) = Bf16x8{};
  }
}

// pipeline_step with the async-proxy fence: the current tile's copies are waited for, fenced for
// the products' reads, and published by the barrier.
template <class StageNext>
__device__ __forceinline__ void wg_pipeline_step(bool more, StageNext stage_next) {
  pipeline_step(more, stage_next, [] { proxy_fence(); });
}

template <int N>
__device__ __forceinline__ float (&as_tiles(float (&f)[4 * N]))[1][N][4] {
  return *reinterpret_cast<float(*)[1][N][4]>(&f);
}

template <int PW, bool Narrow = false>
__global__ void __launch_bounds__(WgGeo<wg_tile_width(PW), Narrow>::threads, WgGeo<wg_tile_width(PW), Narrow>::blocks)
    wg_fwd_kernel(const AttnArgs a, float c, int nqt) {
#if defined(VJ_CUDA_EMU) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int HD = wg_tile_width(PW);
  using G = WgGeo<HD, Narrow>;
  constexpr int NT = G::BN / 8, DT = PW / 8, KS = wg_score_ksteps(PW), PS = G::BN / 16;
  VJ_DYNAMIC_SMEM(raw);
  unsigned char* const smem = wg_aligned_smem(raw);
  const uint32_t sq = smem_addr(smem);  // Q; stage s: K at sq + q + 2 s kv, V after it
  // by a shuffle, so that ptxas knows it is the same across the warp (wg_bwd_kernel says why)
  const int wg = __shfl_sync(0xffffffffu, (int)threadIdx.x >> 7, 0);
  const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;

  const auto [bh, b, h, q0] = block_tile(a, nqt, G::BM);
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk, nq = min(G::BM, Nq - q0);
  const int64_t kb = b * a.Nk * a.k_rs + h * hd, vb = b * a.Nk * a.v_rs + h * hd;
  float* const lse = a.lse ? a.lse + bh * a.Nq + q0 : nullptr;
  const int64_t ob = (b * a.Nq + q0) * a.o_rs + h * hd;
  auto stage_kv = [=](int k0, int s) {
    const int nk = min(G::BN, Nk - k0);
    unsigned char* kt = smem + G::q + 2 * s * G::kv;
    wg_stage<HD, G::BN, G::threads>(kt, a.k16 + kb + (int64_t)k0 * a.k_rs, a.k_rs, nk, hd);
    wg_stage<HD, G::BN, G::threads>(kt + G::kv, a.v16 + vb + (int64_t)k0 * a.v_rs, a.v_rs, nk, hd);
    cp_async_commit();
  };
  wg_stage<HD, G::BM, G::threads>(smem, a.q16 + (b * a.Nq + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
  cp_async_commit();
  stage_kv(0, 0);

  float o[4 * DT], rmax[1][2] = {{-INFINITY, -INFINITY}}, l[1][2] = {{0.f, 0.f}};
#pragma unroll
  for (int i = 0; i < 4 * DT; i++) o[i] = 0.f;
  const uint32_t qw = sq + 64 * wg * G::SW;  // this warpgroup's 64 rows of Q (rows are SW bytes in every atom)
  // In the last block of a sequence a warpgroup may have no query rows at all (1568 queries leave
  // 32 for a block of 192): it only stages and meets the barriers, and leaves the tensor cores to
  // the others.
  const bool idle = 64 * wg >= nq;

  for (int k0 = 0, cur = 0; k0 < Nk; k0 += G::BN, cur ^= 1) {
    const int nk = min(G::BN, Nk - k0);
    wg_pipeline_step(k0 + G::BN < Nk, [=] { stage_kv(k0 + G::BN, cur ^ 1); });
    if (idle) continue;
    const uint32_t kt = sq + G::q + 2 * cur * G::kv, vt = kt + G::kv;

    // S = Q Kᵀ, 64 x BN per warpgroup, as two groups of BN / 2 keys each, so that the tensor cores
    // work while the threads do the softmax: half a's exponentials run while half b's scores are
    // computed, and half b's while P V runs on half a. The accumulators of the output are in
    // that product meanwhile, so half b's rescaling of them waits for it (softmax_scores' alpha).
    float s[4 * NT];
    float(&sa)[2 * NT] = *reinterpret_cast<float(*)[2 * NT]>(s);
    float(&sb)[2 * NT] = *reinterpret_cast<float(*)[2 * NT]>(s + 2 * NT);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < KS; kk++)
      wgmma_ss<0, 0>(sa, wg_kmajor_desc<G::SW, G::BM>(qw, 16 * kk), wg_kmajor_desc<G::SW, G::BN>(kt, 16 * kk), kk > 0);
    wgmma_commit();
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < KS; kk++)
      wgmma_ss<0, 0>(sb, wg_kmajor_desc<G::SW, G::BM>(qw, 16 * kk), wg_kmajor_desc<G::SW, G::BN>(kt + G::BN / 2 * G::SW, 16 * kk),
                     kk > 0);
    wgmma_commit();

    float alpha[1][2];
    uint32_t p[PS][4];  // P in bf16, as the A fragments of the PS k-steps of P V
    // the scores of half hf (tiles NT / 2 hf ...) to probabilities, packed into its k-steps of P
    auto softmax_half = [&](float(&sh)[2 * NT], int hf) {
      const int nkh = nk - hf * G::BN / 2;
      if (nk == G::BN) softmax_scores<true>(as_tiles<NT / 2>(sh), rmax, l, c, nkh, alpha);
      else softmax_scores<false>(as_tiles<NT / 2>(sh), rmax, l, c, nkh, alpha);
#pragma unroll
      for (int kk = 0; kk < PS / 2; kk++) {
        const float* q = sh + 8 * kk;  // score tiles 2 kk and 2 kk + 1 of the half
        uint32_t(&pk)[4] = p[PS / 2 * hf + kk];
        pk[0] = pack_bf16_hw(q[0], q[1]), pk[1] = pack_bf16_hw(q[2], q[3]);
        pk[2] = pack_bf16_hw(q[4], q[5]), pk[3] = pack_bf16_hw(q[6], q[7]);
      }
    };
    auto pv_half = [&](int hf) {  // O += P V over the half's keys
      fence_operand(o);
      wgmma_fence();
#pragma unroll
      for (int kk = PS / 2 * hf; kk < PS / 2 * (hf + 1); kk++) wgmma_rs<1>(o, p[kk], wg_mnmajor_desc<G::SW, G::BN>(vt, 16 * kk), 1);
      wgmma_commit();
    };
    wgmma_wait<1>();
    fence_operand(sa);
    softmax_half(sa, 0);
    rescale_rows(as_tiles<DT>(o), alpha);  // no product holds O yet
    pv_half(0);
    wgmma_wait<1>();  // half b's scores land (P V on half a may still run)
    fence_operand(sb);
    softmax_half(sb, 1);
    wgmma_wait<0>();
    fence_operand(o);
    rescale_rows(as_tiles<DT>(o), alpha);
    pv_half(1);
    wgmma_wait<0>();
    fence_operand(o);
  }

  const int r0 = 64 * wg + 16 * warp;  // the warp's first row in the block's tile
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[0][r] += __shfl_xor_sync(0xffffffffu, l[0][r], 1);
    l[0][r] += __shfl_xor_sync(0xffffffffu, l[0][r], 2);
    inv[r] = 1.f / l[0][r];
    const int R = r0 + g + 8 * r;
    if (t == 0 && lse && R < nq) lse[R] = (rmax[0][r] + log2f(l[0][r])) * kLn2;
  }
  const int64_t off = ob + r0 * a.o_rs;
  if (a.o16) write_rows<DT>(as_tiles<DT>(o)[0], a.o16 + off, a.o_rs, nq - r0, hd, inv);
  else write_rows<DT>(as_tiles<DT>(o)[0], a.o + off, a.o_rs, nq - r0, hd, inv);
#endif
}

// ------------------------------------------------------------------------------ backward

// The backward's geometry: a block is two warpgroups over 128 keys (64 each) and walks 64-query
// tiles. Shared memory: K and V (kept), Q and dO for two stages, the tile's dSᵀ, and lse (base 2)
// and D for two stages.
template <int HD>
struct WgBwdGeo {
  static constexpr int BN = 128, BM = 64;
  static constexpr uint32_t kv = BN * HD * 2, qt = BM * HD * 2;
  // dSᵀ [key][query]: rows of 64 queries, 128 bytes, one 128-byte swizzle atom wide: read as
  // dQ's A operand (queries x keys) in the MN-major layout.
  static constexpr uint32_t ds = BN * BM * 2;
  static_assert(BM * 2 == 128, "a dSᵀ row is one 128-byte atom wide (wg_tile_offset<128, BN>)");
  static_assert(BM == kTile, "query tiles of stage_query_stats' size");
  // dSᵀ is double-buffered: with Overlap, tile j's dQ products still read theirs while tile j + 1's
  // are stored.
  static constexpr uint32_t k = 0, v = kv, q = 2 * kv, dst = 2 * kv + 4 * qt, stats = dst + 2 * ds;
  static constexpr size_t smem = 1024 + stats + 2 * 2 * BM * sizeof(float);
  static_assert(kv % 1024 == 0 && qt % 1024 == 0 && ds % 1024 == 0, "tiles keep the 1024-byte alignment");
  static constexpr bool overlap = HD <= 96;  // wg_bwd_kernel's dQ overlap: its registers fit
};

// FlashAttention-2's one-pass backward (tc_bwd_fused_kernel's schedule) on wgmma. Warpgroup w
// owns keys [64 w, 64 w + 64) of the block's tile; per query tile it computes Sᵀ = K Qᵀ and
// dPᵀ = V dOᵀ (both operands from shared memory), then P and dS in registers, and issues
// dV += Pᵀ dO and dK += dSᵀ Q with Pᵀ and dSᵀ as register A operands (the accumulator layout of
// Sᵀ, as in the forward) and dO, Q as MN-major B operands (no transposed copies). dSᵀ also goes
// to shared memory as bf16, and the query tile's dQ += dS K over all 128 keys (dSᵀ and K both read
// MN-major) is computed by one warpgroup, 0 and 1 taking turns by tile, and added to dQ by fp32
// atomics: one add per dQ element per key tile, as in FlashAttention-2. (Each warpgroup's share
// over its own 64 keys took as many products but twice the atomics, and the L2's atomic
// throughput, not the products, is what the dQ path is expected to bind on.)
// tc_bwd_prep_kernel writes D, lse in base 2 and dO in bf16 (g16), and clears dQ first.
//
// The tensor cores are kept busy while the warpgroup's own threads work: the products go as
// groups that land in order (Sᵀ; dPᵀ; dV; dK; dQ), each waited for only when its result is
// needed, so P's exponentials run while dPᵀ is computed and dS while dV is. With Overlap, a
// tile's dQ products are not waited for in their own iteration either: they run through the
// pipeline's barrier and staging, are waited for before the next tile's Sᵀ and dPᵀ are issued, and
// their atomics run while those are on the tensor cores. That keeps a dQ accumulator live across
// the next tile's score products, so it is for the head_dims whose registers allow it
// (WgBwdGeo::overlap), and dSᵀ is double-buffered. The warpgroup whose turn it is not has nothing
// to wait for there, and its Sᵀ and dPᵀ queue behind the other's dQ on the tensor cores.
// A block per multiprocessor (dK, dV and dQ take up to 255 registers), but for the 24-wide products,
// whose kernel fits 128 registers without spilling or serializing (188 uncapped): there two blocks
// share a multiprocessor, so that one's exponentials run under the other's products, as the
// forward's two blocks do. (At 32, capped at 128, it spilled 196 bytes and serialized, C7512.)
__host__ __device__ constexpr int wg_bwd_blocks(int pw) { return pw == 24 ? 2 : 1; }
template <int PW>
__global__ void __launch_bounds__(kWgThreads, wg_bwd_blocks(PW)) wg_bwd_kernel(const AttnArgs a, float c, const float* __restrict__ Dg,
                                                                const uint16_t* __restrict__ g16, int nkt) {
#if defined(VJ_CUDA_EMU) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int HD = wg_tile_width(PW);
  using G = WgBwdGeo<HD>;
  using F = WgGeo<HD>;
  constexpr int BN = G::BN, BM = G::BM, NT = BM / 8, DT = PW / 8, KS = wg_score_ksteps(PW), QS = BM / 16;
  constexpr bool Overlap = G::overlap;
  VJ_DYNAMIC_SMEM(raw);
  unsigned char* const smem = wg_aligned_smem(raw);
  const uint32_t sa = smem_addr(smem);
  float* const lse2s = reinterpret_cast<float*>(smem + G::stats);  // [2][BM]: per stage
  float* const Ds = lse2s + 2 * BM;                                // [2][BM]
  // wg by a shuffle, as CUTLASS's canonical_warp_group_idx: ptxas then knows it is the same across
  // the warp, and the turns taken by dQ's products below are not a divergent path to it (which
  // would serialize every wgmma of the kernel, C7518).
  const int wg = __shfl_sync(0xffffffffu, (int)threadIdx.x >> 7, 0);
  const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;

  const auto [bh, b, h, k0] = block_tile(a, nkt, BN);
  const int hd = (int)a.hd, Nq = (int)a.Nq, Nk = (int)a.Nk, nk = min(BN, Nk - k0);
  const int64_t C = a.H * a.hd, qrow0 = b * a.Nq, rb = bh * a.Nq;
  const float* const L2g = Dg + a.B * a.H * a.Nq;
  // Q, dO, lse and D of the query tile at q0 into stage s, as one cp.async group.
  auto stage_q = [=, b = b, h = h](int q0, int s) {
    const int nq = min(BM, Nq - q0);
    unsigned char* qt = smem + G::q + 2 * s * G::qt;
    wg_stage<HD, BM, kWgThreads>(qt, a.q16 + (qrow0 + q0) * a.q_rs + h * hd, a.q_rs, nq, hd);
    wg_stage<HD, BM, kWgThreads>(qt + G::qt, g16 + (qrow0 + q0) * C + h * hd, C, nq, hd);
    stage_query_stats<kWgThreads>(lse2s + s * BM, Ds + s * BM, L2g, Dg, rb + q0, nq);
    cp_async_commit();
  };
  wg_stage<HD, BN, kWgThreads>(smem + G::k, a.k16 + (b * a.Nk + k0) * a.k_rs + h * hd, a.k_rs, nk, hd);
  wg_stage<HD, BN, kWgThreads>(smem + G::v, a.v16 + (b * a.Nk + k0) * a.v_rs + h * hd, a.v_rs, nk, hd);
  cp_async_commit();
  stage_q(0, 0);

  float dk[4 * DT], dv[4 * DT];
#pragma unroll
  for (int i = 0; i < 4 * DT; i++) dk[i] = dv[i] = 0.f;
  const int kw = 64 * wg;  // the warpgroup's first key in the tile
  const uint32_t kt = sa + G::k, vt = sa + G::v, dst = sa + G::dst;
  const uint32_t kwa = kt + kw * F::SW, vwa = vt + kw * F::SW;  // its rows of K and V
  // This thread's two key rows (g and g + 8 of its warp's 16) are real keys: a padded key's P =
  // 2^(0 - lse) overflows when the log-sum-exp is far below zero, so its P and dS are set to 0.
  const int krow = kw + 16 * warp + g;  // this thread's first key row of Sᵀ, dSᵀ in the tile
  const bool key_ok[2] = {krow < nk, krow + 8 < nk};
  // The last key tile of a sequence may leave a warpgroup no keys at all (1568 keys leave 32 for a
  // tile of 128): it computes no scores and no dK, dV, and its rows of dSᵀ stay zero for the dQ
  // products (which still take their turns, over the other warpgroup's keys).
  const bool idle = kw >= nk;
  if (idle) {
    for (int i = threadIdx.x & 127; i < 64 * BM * 2 / 16; i += 128)
      for (int buf = 0; buf < 2; buf++)
        reinterpret_cast<uint4*>(smem + G::dst + buf * G::ds + kw * BM * 2)[i] = make_uint4(0, 0, 0, 0);
  }
  const bool pair = hd % 2 == 0 && a.dq_rs % 2 == 0 && reinterpret_cast<uintptr_t>(a.dq) % 8 == 0;
  // 16-byte REDs where dQ's rows allow (head_dim is a multiple of 8 here): lanes t and t ^ 1 swap
  // half their pairs so that each holds four adjacent columns of one row, which halves the atomics.
  const bool quad = a.dq_rs % 4 == 0 && reinterpret_cast<uintptr_t>(a.dq) % 16 == 0;

  float dq[4 * DT];  // dQ = dS K of a query tile this warpgroup owns: [64 queries][PW]
  // the tile at q0 belongs to warpgroup (q0 / BM) % 2
  auto owns = [wg = wg](int q0) { return (q0 / BM) % 2 == wg; };
  // adds the tile at q0's dQ to the global one (fp32 atomics)
  auto add_dq = [&, h = h](int q0) {
    const int nq = min(BM, Nq - q0);
    float* const dqg = a.dq + (qrow0 + q0 + 16 * warp + g) * a.dq_rs + h * hd;
    if (quad) {
      // an even lane takes row g, columns 2t..2t+3 of each 8; an odd one row g + 8, from 2(t - 1)
      const int odd = t & 1;
      float* const dst = dqg + 8 * odd * a.dq_rs + 2 * (t & ~1);
      const bool row_ok = 16 * warp + g + 8 * odd < nq;
#pragma unroll
      for (int n = 0; n < DT; n++) {
        // row g: v[0], v[1]; row g + 8: v[2], v[3]. Scaled before the shuffles: ptxas serializes
        // the kernel's products if a shuffle reads an accumulator register itself (C7514).
        float v[4];
#pragma unroll
        for (int e = 0; e < 4; e++) v[e] = dq[4 * n + e] * a.scale;
        const float s0 = __shfl_xor_sync(0xffffffffu, odd ? v[0] : v[2], 1);
        const float s1 = __shfl_xor_sync(0xffffffffu, odd ? v[1] : v[3], 1);
        if (row_ok && 8 * n < hd) red_add4(dst + 8 * n, odd ? make_float4(s0, s1, v[2], v[3]) : make_float4(v[0], v[1], s0, s1));
      }
      return;
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
      if (16 * warp + g + 8 * r >= nq) continue;
#pragma unroll
      for (int n = 0; n < DT; n++) {
        const int d = n * 8 + 2 * t;
        if (d < hd) red_add(dqg + 8 * r * a.dq_rs + d, dq[4 * n + 2 * r] * a.scale, dq[4 * n + 2 * r + 1] * a.scale, d + 1 < hd, pair);
      }
    }
  };

  for (int q0 = 0, cur = 0; q0 < Nq; q0 += BM, cur ^= 1) {
    // Its first barrier also frees this tile's dSᵀ buffer: every thread has waited for the dQ
    // products that read it last (the tile before the previous one with Overlap, else the previous).
    wg_pipeline_step(q0 + BM < Nq, [=] { stage_q(q0 + BM, cur ^ 1); });
    const uint32_t qt = sa + G::q + 2 * cur * G::qt, ot = qt + G::qt;
    const int dsb = Overlap ? cur : 0;  // this tile's dSᵀ buffer
    const float *lse2 = lse2s + cur * BM, *Dq = Ds + cur * BM;

    // Sᵀ = K Qᵀ and dPᵀ = V dOᵀ, [64 keys][64 queries], as two groups: P's exponentials run while
    // dPᵀ is on the tensor cores, and dS while dV += Pᵀ dO is.
    float st[4 * NT], dpt[4 * NT];
    // Pᵀ and dSᵀ in bf16: the A operands of dV's and dK's k-steps. Declared out here because the dK
    // products still read ps after the working warpgroup's block below ends (until the wait after
    // dQ's): an operand must outlive its product (the emulator's storage as well as the registers).
    uint32_t pp[QS][4], ps[QS][4];
    if (Overlap) {
      // The previous tile's dQ (where this warpgroup owned it), in flight through the pipeline step,
      // lands before Sᵀ and dPᵀ are issued, and its atomics run while they compute. Waiting for it
      // after their issue instead (wait<2>) is what the schedule means, but ptxas cannot follow a
      // group across the loop's back edge and would serialize every wgmma of the kernel (C7514).
      wgmma_wait<0>();
      fence_operand(dq);
    }
    // An idle warpgroup only adds the previous tile's dQ; a working one adds it after issuing its
    // score products, so that the atomics run under them. (The add written once between two
    // `if (!idle)` blocks made ptxas serialize the products, C7515, and spill at head_dim 96.)
    if (idle) {
      if (Overlap && q0 > 0 && owns(q0 - BM)) add_dq(q0 - BM);
    } else {
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < KS; kk++)
        wgmma_ss<0, 0>(st, wg_kmajor_desc<F::SW, BN>(kwa, 16 * kk), wg_kmajor_desc<F::SW, BM>(qt, 16 * kk), kk > 0);
      wgmma_commit();
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < KS; kk++)
        wgmma_ss<0, 0>(dpt, wg_kmajor_desc<F::SW, BN>(vwa, 16 * kk), wg_kmajor_desc<F::SW, BM>(ot, 16 * kk), kk > 0);
      wgmma_commit();
      if (Overlap && q0 > 0 && owns(q0 - BM)) add_dq(q0 - BM);
      wgmma_wait<1>();
      fence_operand(st);

#pragma unroll
      for (int i = 0; i < 4 * NT; i++) {
        const int col = 8 * (i / 4) + 2 * t + (i & 1);
        st[i] = key_ok[(i >> 1) & 1] ? fast_exp2(fmaf(st[i], c, -lse2[col])) : 0.f;
      }
#pragma unroll
      for (int kk = 0; kk < QS; kk++)
#pragma unroll
        for (int r = 0; r < 4; r++) pp[kk][r] = pack_bf16_hw(st[8 * kk + 2 * r], st[8 * kk + 2 * r + 1]);
      fence_operand(dv);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < QS; kk++) wgmma_rs<1>(dv, pp[kk], wg_mnmajor_desc<F::SW, BM>(ot, 16 * kk), 1);  // dV += Pᵀ dO
      wgmma_commit();
      wgmma_wait<1>();  // dPᵀ lands
      fence_operand(dpt);

#pragma unroll
      for (int i = 0; i < 4 * NT; i++) {
        const int col = 8 * (i / 4) + 2 * t + (i & 1);
        dpt[i] = st[i] * (dpt[i] - Dq[col]);
      }
#pragma unroll
      for (int kk = 0; kk < QS; kk++) {
#pragma unroll
        for (int r = 0; r < 4; r++) ps[kk][r] = pack_bf16_hw(dpt[8 * kk + 2 * r], dpt[8 * kk + 2 * r + 1]);
        // to dSᵀ in shared memory, swizzled as dQ's descriptor reads it: ps[kk][r] holds key row
        // krow (+8 for odd r), queries 16 kk + 2t, +1 (+8 for r >= 2)
#pragma unroll
        for (int r = 0; r < 4; r++) {
          const int row = krow + 8 * (r & 1), col = 16 * kk + 8 * (r >> 1) + 2 * t;
          *reinterpret_cast<uint32_t*>(smem + G::dst + dsb * G::ds + wg_tile_offset<128, BN>(row, col)) = ps[kk][r];
        }
      }
      fence_operand(dk);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < QS; kk++) wgmma_rs<1>(dk, ps[kk], wg_mnmajor_desc<F::SW, BM>(qt, 16 * kk), 1);  // dK += dSᵀ Q
      wgmma_commit();
    }
    proxy_fence();  // the dSᵀ stores, visible to the dQ products' reads
    __syncthreads();

    if (owns(q0)) {
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < BN / 16; kk++)
        wgmma_ss<1, 1>(dq, wg_mnmajor_desc<128, BN>(dst + dsb * G::ds, 16 * kk), wg_mnmajor_desc<F::SW, BN>(kt, 16 * kk), kk > 0);
      wgmma_commit();
      if (Overlap) {
        wgmma_wait<1>();  // dV and dK land: the next pipeline step restages the Q and dO they read
      } else {
        wgmma_wait<0>();
        fence_operand(dq);
        add_dq(q0);
      }
    } else {
      wgmma_wait<0>();
    }
    fence_operand(dv);
    fence_operand(dk);
  }
  if (Overlap) {
    wgmma_wait<0>();  // in both warpgroups: ptxas cannot tell which has a group in flight
    fence_operand(dq);
    if (owns((Nq - 1) / BM * BM)) add_dq((Nq - 1) / BM * BM);
  }
  const int r0 = kw + 16 * warp;
  const int64_t kr = b * a.Nk + k0 + r0;
  write_rows<DT>(as_tiles<DT>(dk)[0], a.dk + kr * a.dk_rs + h * hd, a.dk_rs, nk - r0, hd, {a.scale, a.scale});
  write_rows<DT>(as_tiles<DT>(dv)[0], a.dv + kr * a.dv_rs + h * hd, a.dv_rs, nk - r0, hd, {1.f, 1.f});
#endif
}

// 1 in the device image that has wgmma (sm_90a), 0 in any other: a fatbin may carry both, and the
// driver picks one.
__global__ void wg_probe_kernel(int* out) {
#if defined(VJ_CUDA_EMU) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
  *out = 1;
#else
  *out = 0;
#endif
}

}  // namespace

}  // namespace vj::cuda
