// GotoBLAS-style blocking shared by every ISA: op(B) is packed into NR-column panels per KC
// block (all threads share it), each thread packs its own MC x KC block of op(A) into MR-row
// panels and runs the register-blocked micro-kernel KT::tile over it. Everything here has
// internal linkage, so each ISA file gets its own copy compiled with its own flags.
// KT::In is the operand type (float, or uint16_t bf16) and K blocks are multiples of KT::KSTEP
// (2 for bf16, whose kernels take k in pairs). Packed panels of any type fit in the float-sized
// slots the driver lays out: a bf16 pair is one 32-bit word where fp32 would need two.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backend.h"
#include "cpu/gemm_kernels.h"

namespace vj::cpu {
namespace {

// What a micro-tile does with its accumulators. beta == 0 means C is not read (NaN-safe).
struct Epi {
  float alpha, beta;
  const float* bias;  // at the tile's first column, or null
  bool gelu;
  float* pre;  // at the tile's first element (ldc layout), with gelu
  // Narrow's outputs at the tile's first element (last K block only; the AVX-512 kernels)
  uint16_t* c16 = nullptr;
  uint16_t* pre16 = nullptr;
  bool round_pre = false;
};

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// Cap on the packed op(B) chunk (floats): larger N is processed in column chunks.
constexpr int64_t kBPackCap = int64_t(4) << 20;

template <class KT>
struct Driver {
  static constexpr int MR = KT::MR, NR = KT::NR;
  using In = typename KT::In;
  using Args = GemmArgsT<In>;

  struct Plan {
    const Args* g;
    const In *A, *B;
    float *C, *P;
    Narrow nw;  // this batch entry's
    int64_t kcb, nkb;   // K block size and count
    int64_t nc, nchunk;  // N chunk width (multiple of NR) and count
  };

  static Plan plan(const Args& g) {
    Plan p{};
    p.g = &g;
    p.nkb = cdiv(g.K, KT::KC);
    p.kcb = cdiv(cdiv(g.K, p.nkb), KT::KSTEP) * KT::KSTEP;
    p.nkb = cdiv(g.K, p.kcb);
    int64_t ncmax = imax(NR, (kBPackCap / imax(g.K, 1)) / NR * NR);
    p.nchunk = cdiv(g.N, ncmax);
    p.nc = cdiv(cdiv(g.N, p.nchunk), NR) * NR;
    return p;
  }
  static size_t bpack_floats(const Plan& p) { return (size_t)(p.g->K * p.nc) + 64; }
  static size_t apack_floats(const Plan& p) { return (size_t)(KT::MC * p.kcb) + 64; }

  // Packs the (k-block, panel) units [u0, u1) of column chunk jc.
  static void pack_b_units(const Plan& p, int64_t jc, int64_t ncw, int64_t u0, int64_t u1, float* bp) {
    const Args& g = *p.g;
    int64_t npan = cdiv(ncw, NR);
    for (int64_t u = u0; u < u1; u++) {
      int64_t kb = u / npan, j = u % npan;
      int64_t k0 = kb * p.kcb, kc = imin(p.kcb, g.K - k0);
      KT::pack_b(g.trans_b, p.B, g.ldb, k0, kc, jc + j * NR, imin(NR, ncw - j * NR), bp + k0 * npan * NR + j * kc * NR);
    }
  }

  // Rows [m0, m1) x panels [j0, j1) of column chunk jc, all K blocks. The K loop is inside the
  // row-block loop, so the MC x ncw block of C stays in L2 across the K passes (op(B) is packed whole).
  static void compute(const Plan& p, int64_t jc, int64_t ncw, int64_t m0, int64_t m1, int64_t j0, int64_t j1,
                      const float* bp, float* ap) {
    const Args& g = *p.g;
    int64_t npan = cdiv(ncw, NR);
    // equal row blocks of at most MC rows (a short last block would stream all of op(B) for little work)
    const int64_t MCb = cdiv(cdiv(m1 - m0, cdiv(m1 - m0, KT::MC)), MR) * MR;
    for (int64_t ic = m0; ic < m1; ic += MCb) {
      int64_t mc = imin(MCb, m1 - ic);
      for (int64_t kb = 0; kb < p.nkb; kb++) {
        int64_t k0 = kb * p.kcb, kc = imin(p.kcb, g.K - k0);
        bool first = kb == 0, last = kb == p.nkb - 1;
        KT::pack_a(g.trans_a, p.A, g.lda, ic, mc, k0, kc, ap);
        for (int64_t j = j0; j < j1; j++) {
          int64_t n = jc + j * NR;
          int nr = (int)imin(NR, ncw - j * NR);
          const float* bpan = bp + k0 * npan * NR + j * kc * NR;
          Epi e;
          e.alpha = g.alpha;
          e.beta = first ? g.beta : 1.f;
          e.bias = last && g.bias ? g.bias + n : nullptr;
          e.gelu = last && g.gelu;
          e.round_pre = last && p.nw.round_pre;
          for (int64_t i = 0; i < mc; i += MR) {
            int R = (int)imin(MR, mc - i);
            const int64_t at = (ic + i) * g.ldc + n;
            float* c = p.C + at;
            e.pre = e.gelu && p.P ? p.P + at : nullptr;
            e.c16 = last && p.nw.c16 ? p.nw.c16 + at : nullptr;
            e.pre16 = e.gelu && p.nw.pre16 ? p.nw.pre16 + at : nullptr;
            KT::tile(R, nr, kc, ap + i * kc, bpan, c, g.ldc, e);
          }
        }
      }
    }
  }

  // Splits the Mp x Np panel grid over nt threads as tm x tn blocks, preferring rows
  // (splitting columns makes threads pack the same A rows twice).
  static void grid(int64_t M, int64_t ncw, int nt, int* tm_out, int* tn_out) {
    int64_t Mp = cdiv(M, MR), Np = cdiv(ncw, NR);
    double best = 1e300;
    int btm = 1, btn = 1;
    for (int tm = nt; tm >= 1; tm--) {
      if (nt % tm) continue;
      int tn = nt / tm;
      if (tm > Mp || tn > Np) continue;
      double rows = (double)imin(M, cdiv(Mp, tm) * MR), cols = (double)imin(ncw, cdiv(Np, tn) * NR);
      double cost = rows * cols * (1.0 + 0.04 * (tn - 1));
      if (cost < best * 0.999) best = cost, btm = tm, btn = tn;
    }
    *tm_out = btm;
    *tn_out = btn;
  }

  struct Job {
    const Plan* p;
    int64_t jc, ncw;
    float* bp;
    float* ap;
    size_t astride;
  };

  static void pack_job(void* ctx, int tid, int nt) {
    Job& j = *(Job*)ctx;
    int64_t units = j.p->nkb * cdiv(j.ncw, NR);
    pack_b_units(*j.p, j.jc, j.ncw, units * tid / nt, units * (tid + 1) / nt, j.bp);
  }

  static void compute_job(void* ctx, int tid, int nt) {
    Job& j = *(Job*)ctx;
    const Args& g = *j.p->g;
    int tm, tn;
    grid(g.M, j.ncw, nt, &tm, &tn);
    if (tid >= tm * tn) return;
    int im = tid / tn, in = tid % tn;
    int64_t Mp = cdiv(g.M, MR), Np = cdiv(j.ncw, NR);
    int64_t m0 = imin(g.M, Mp * im / tm * MR), m1 = imin(g.M, Mp * (im + 1) / tm * MR);
    int64_t j0 = Np * in / tn, j1 = Np * (in + 1) / tn;
    if (m0 < m1 && j0 < j1) compute(*j.p, j.jc, j.ncw, m0, m1, j0, j1, j.bp, j.ap + j.astride * tid);
  }

  // One matrix of the batch on nt threads (nt == 1: no pool), scratch at ws.
  static void solve(const Args& gb, int nt, float* ws, const Narrow& nw) {
    Plan p = plan(gb);
    p.A = gb.A;
    p.B = gb.B;
    p.C = gb.C;
    p.P = gb.pre;
    p.nw = nw;
    size_t bsz = bpack_floats(p), asz = apack_floats(p);
    Job j{&p, 0, 0, ws, ws + bsz, asz};
    for (int64_t c = 0; c < p.nchunk; c++) {
      j.jc = c * p.nc;
      j.ncw = imin(p.nc, gb.N - j.jc);
      if (nt == 1) {
        pack_job(&j, 0, 1);
        compute_job(&j, 0, 1);
      } else {
        gemm_parallel(pack_job, &j);
        gemm_parallel(compute_job, &j);
      }
    }
  }

  struct BatchJob {
    const Args* g;
    const Narrow* nw;
    float* ws;
    size_t per;
  };

  // nw's pointers at batch entry b (C's batch stride)
  static Narrow entry(const Narrow* nw, const Args& g, int64_t b) {
    Narrow n;
    if (!nw) return n;
    n.c16 = nw->c16 ? nw->c16 + b * g.stride_c : nullptr;
    n.pre16 = nw->pre16 ? nw->pre16 + b * g.stride_c : nullptr;
    n.round_pre = nw->round_pre;
    return n;
  }

  static Args entry(const Args& g, int64_t b) {
    Args e = g;
    e.A = g.A + b * g.stride_a;
    e.B = g.B + b * g.stride_b;
    e.C = g.C + b * g.stride_c;
    e.pre = g.pre ? g.pre + b * g.stride_c : nullptr;
    return e;
  }

  static void batch_job(void* ctx, int tid, int nt) {
    BatchJob& j = *(BatchJob*)ctx;
    for (int64_t b = tid; b < j.g->batch; b += nt) solve(entry(*j.g, b), 1, j.ws + j.per * tid, entry(j.nw, *j.g, b));
  }

  static void run(const Args& g, const Narrow* nw = nullptr) {
    int nt = gemm_threads();
    double work = (double)g.M * g.N * g.K;
    if (work < 65536.0 * 4) nt = 1;  // pool hand-off costs more than it saves
    Plan p = plan(g);
    size_t per = bpack_floats(p) + apack_floats(p);
    if (nt > 1 && g.batch >= nt && work < 4e6) {
      BatchJob j{&g, nw, gemm_workspace(per * nt), per};
      gemm_parallel(batch_job, &j);
      return;
    }
    float* ws = gemm_workspace(bpack_floats(p) + apack_floats(p) * nt);
    for (int64_t b = 0; b < g.batch; b++) solve(entry(g, b), nt, ws, entry(nw, g, b));
  }
};

}  // namespace
}  // namespace vj::cpu
