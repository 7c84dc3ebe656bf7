// The tensor-core attention kernels (native/cuda/attention_tc_kernels.cuh) run on the CPU under
// the CUDA emulator (cuda_emu.h, mma.sync from its fragment layouts), against a float64 reference on the same bf16-rounded
// inputs. Awkward shapes: sequence lengths off the 64-row tile, head_dim padded (80 -> 96, 20 -> 24),
// fused qkv with column offsets, cross-attention with 1 query. Output buffers start as NaN, so an
// element a kernel forgets to write fails. Built and run by test/native/attention_tc_emu.test.ts:
//   g++ -std=c++17 -O2 -fno-strict-aliasing -Itest/native/cuda_emu/include -Inative test/native/cuda_emu/attention_tc_emu.cc
// Prints one line per case and output; exits 1 if any error exceeds its tolerance.
#include "cuda_emu.h"
// cuda_emu.h first: it defines the built-ins the kernels use
#include "cuda/attention_tc_kernels.cuh"
#include "cuda/attention_wgmma_kernels.cuh"

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using vj::AttnArgs;

namespace {

float bf16_round(float f) { return vj_bf16_to_float(__float2bfloat16_rn(f)); }

struct Case {
  const char* name;
  int B, Nq, Nk, H, hd;
  bool fused;  // self-attention reading q|k|v of one [B, N, 3C] buffer, else q [B,Nq,C] and kv [B,Nk,2C]
  // q + shift and k - shift in every column: every score near -hd shift² scale, so the log-sum-exp
  // is far below zero (2^-lse overflows fp32) and a padded key's exp(0 - lse) would be inf.
  float shift = 0.f;
};

struct Buffers {
  std::vector<float> q, kv, o, lse, dout, dq, dkv;  // fused: q holds qkv and dq holds dqkv
  int64_t q_rs, k_rs;
  int64_t k_off, v_off;
};

// fused: the one-pass backward (tc_bwd_fused_kernel, dQ by atomics), else the dK, dV and dQ kernels.
template <int HDP>
void run(const AttnArgs& a, bool backward, bool fused) {
  using namespace vj::cuda;
  using G = Geo<HDP>;
  const float c = a.scale * kLog2e;
  const int nqt = (int)((a.Nq + kQueryRows<HDP> - 1) / kQueryRows<HDP>), nkt = (int)((a.Nk + kTile - 1) / kTile);
  if (!backward) {
    vj_emu::launch((unsigned)(nqt * a.B * a.H), kThreads, G::fwd, [&] { tc_fwd_kernel<HDP>(a, c, nqt); });
    return;
  }
  const int64_t rows = a.B * a.H * a.Nq;
  std::vector<float> D(2 * rows, NAN);  // D, then lse in base 2
  std::vector<uint16_t> g16((size_t)(rows * a.hd), 0xffff);
  vj_emu::launch(8, 64, 0, [&] { tc_bwd_prep_kernel(a, D.data(), g16.data(), fused); });
  if (fused) {
    vj_emu::launch((unsigned)(nkt * a.B * a.H), kThreads, G::fused,
                   [&] { tc_bwd_fused_kernel<HDP>(a, c, D.data(), g16.data(), nkt); });
    return;
  }
  vj_emu::launch((unsigned)(nkt * a.B * a.H), kThreads, G::bwd,
                 [&] { tc_bwd_dkv_kernel<HDP>(a, c, D.data(), g16.data(), nkt); });
  vj_emu::launch((unsigned)(nqt * a.B * a.H), kThreads, G::bwd,
                 [&] { tc_bwd_dq_kernel<HDP>(a, c, D.data(), g16.data(), nqt); });
}

// The wgmma forward (attention_wgmma_kernels.cuh) at head_dim padded to PW.
template <int PW, bool Narrow = false>
void run_wgmma(const AttnArgs& a) {
  using namespace vj::cuda;
  using G = WgGeo<wg_tile_width(PW), Narrow>;
  const int nqt = (int)((a.Nq + G::BM - 1) / G::BM);
  vj_emu::launch((unsigned)(nqt * a.B * a.H), G::threads, G::smem, [&] { wg_fwd_kernel<PW, Narrow>(a, a.scale * kLog2e, nqt); });
}
// The wgmma backward: the prep kernel (D, lse in base 2, bf16 dO; dQ cleared), then wg_bwd_kernel.
template <int PW>
void run_wgmma_bwd(const AttnArgs& a) {
  using namespace vj::cuda;
  using G = WgBwdGeo<wg_tile_width(PW)>;
  const int64_t rows = a.B * a.H * a.Nq;
  std::vector<float> D(2 * rows, NAN);
  std::vector<uint16_t> g16((size_t)(rows * a.hd), 0xffff);
  vj_emu::launch(8, 64, 0, [&] { tc_bwd_prep_kernel(a, D.data(), g16.data(), true); });
  const int nkt = (int)((a.Nk + G::BN - 1) / G::BN);
  vj_emu::launch((unsigned)(nkt * a.B * a.H), kWgThreads, G::smem,
                 [&] { wg_bwd_kernel<PW>(a, a.scale * kLog2e, D.data(), g16.data(), nkt); });
}
// The head widths and the wgmma kernels' conditions as the launchers have them (less the device).
void dispatch_wgmma_bwd(const AttnArgs& a) {
  vj::cuda::wg_head_width(a.hd, [&](auto PW) { run_wgmma_bwd<PW.value>(a); });
}
// every shape the kernels may take, head_dim <= 24 (VJEPA_CUDA_ATTN_WGMMA_HD24) included
bool wgmma_applies(const AttnArgs& a) { return vj::cuda::wg_takes(a, true); }
void dispatch_wgmma(const AttnArgs& a, bool narrow = false) {
  vj::cuda::wg_head_width(a.hd, [&](auto PW) {
    if constexpr (PW.value == 64) {
      if (narrow) return run_wgmma<64, true>(a);
    }
    run_wgmma<PW.value>(a);
  });
}

void dispatch(const AttnArgs& a, bool backward, bool fused = false) {
  vj::cuda::with_head_width(a.hd, false, [&](auto HD) { run<HD.value>(a, backward, fused); });
}

// max |got - ref| / max |ref| over the elements ref covers; NaN anywhere counts as failure.
double rel_err(const std::vector<double>& ref, const std::vector<float>& got, const std::vector<size_t>& at) {
  double d = 0, m = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    double e = std::fabs((double)got[at[i]] - ref[i]);
    if (!(e <= d)) d = std::isnan(e) ? INFINITY : e;
    m = std::fmax(m, std::fabs(ref[i]));
  }
  return d / std::fmax(m, 1e-30);
}

constexpr int kGuardRows = 64;  // NaN rows after each output: a write past the tensor fails

// Elements in the guard rows after `used` elements that are no longer NaN.
double guard_hits(const std::vector<float>& buf, size_t used) {
  double n = 0;
  for (size_t i = used; i < buf.size(); i++) n += !std::isnan(buf[i]);
  return n;
}

int failures = 0, wgmma_runs = 0;
void report(const char* cs, const char* what, double err, double tol) {
  bool ok = err <= tol;
  if (!ok) failures++;
  std::printf("%-34s %-9s %.2e %s\n", cs, what, err, ok ? "pass" : "FAIL");
}

// bf16_io: q, k, v read and o written as bf16 activations (AttnArgs::q16...; their tiles staged by
// cp.async where rows allow), else fp32 rounded while staged.
void run_case(const Case& cs, std::mt19937& rng, bool bf16_io) {
  const std::string label = std::string(cs.name) + (bf16_io ? " bf16" : "");
  const char* name = label.c_str();
  std::normal_distribution<float> nd;
  const int B = cs.B, Nq = cs.Nq, Nk = cs.fused ? cs.Nq : cs.Nk, H = cs.H, hd = cs.hd, C = H * hd;
  const float scale = 1.f / std::sqrt((float)hd);
  Buffers b;
  if (cs.fused) {
    b.q.resize((size_t)B * Nq * 3 * C);
    b.q_rs = b.k_rs = 3 * C;
    b.k_off = C;
    b.v_off = 2 * C;
  } else {
    b.q.resize((size_t)B * Nq * C);
    b.kv.resize((size_t)B * Nk * 2 * C);
    b.q_rs = C;
    b.k_rs = 2 * C;
    b.k_off = 0;
    b.v_off = C;
  }
  for (float& x : b.q) x = bf16_round(nd(rng));
  for (float& x : b.kv) x = bf16_round(nd(rng));
  if (cs.shift != 0.f) {
    for (size_t r = 0; r < b.q.size() / b.q_rs; r++)
      for (int col = 0; col < C; col++) {
        b.q[r * b.q_rs + col] = bf16_round(b.q[r * b.q_rs + col] + cs.shift);
        if (cs.fused) b.q[r * b.q_rs + C + col] = bf16_round(b.q[r * b.q_rs + C + col] - cs.shift);
      }
    for (size_t r = 0; r < b.kv.size() / (size_t)b.k_rs; r++)
      for (int col = 0; col < C; col++) b.kv[r * b.k_rs + col] = bf16_round(b.kv[r * b.k_rs + col] - cs.shift);
  }
  const float* kvbase = cs.fused ? b.q.data() : b.kv.data();
  auto Q = [&](int bb, int i, int h, int d) { return (double)b.q[((size_t)bb * Nq + i) * b.q_rs + h * hd + d]; };
  auto K = [&](int bb, int j, int h, int d) { return (double)kvbase[((size_t)bb * Nk + j) * b.k_rs + b.k_off + h * hd + d]; };
  auto V = [&](int bb, int j, int h, int d) { return (double)kvbase[((size_t)bb * Nk + j) * b.k_rs + b.v_off + h * hd + d]; };

  // float64 reference: forward and backward on the rounded inputs
  b.dout.resize((size_t)B * Nq * C);
  for (float& x : b.dout) x = bf16_round(nd(rng));
  std::vector<double> Oref((size_t)B * Nq * C), Lref((size_t)B * H * Nq), dQ((size_t)B * Nq * C, 0.0),
      dK((size_t)B * Nk * C, 0.0), dV((size_t)B * Nk * C, 0.0);
  std::vector<double> P(Nk), dP(Nk);
  for (int bb = 0; bb < B; bb++)
    for (int h = 0; h < H; h++)
      for (int i = 0; i < Nq; i++) {
        double mx = -INFINITY;
        for (int j = 0; j < Nk; j++) {
          double s = 0;
          for (int d = 0; d < hd; d++) s += Q(bb, i, h, d) * K(bb, j, h, d);
          P[j] = s * scale;
          mx = std::fmax(mx, P[j]);
        }
        double sum = 0;
        for (int j = 0; j < Nk; j++) sum += (P[j] = std::exp(P[j] - mx));
        for (int j = 0; j < Nk; j++) P[j] /= sum;
        Lref[((size_t)bb * H + h) * Nq + i] = mx + std::log(sum);
        double Di = 0;
        for (int d = 0; d < hd; d++) {
          double o = 0;
          for (int j = 0; j < Nk; j++) o += P[j] * V(bb, j, h, d);
          Oref[((size_t)bb * Nq + i) * C + h * hd + d] = o;
          Di += o * b.dout[((size_t)bb * Nq + i) * C + h * hd + d];
        }
        for (int j = 0; j < Nk; j++) {
          double s = 0;
          for (int d = 0; d < hd; d++) s += b.dout[((size_t)bb * Nq + i) * C + h * hd + d] * V(bb, j, h, d);
          dP[j] = P[j] * (s - Di);  // dS
        }
        for (int j = 0; j < Nk; j++)
          for (int d = 0; d < hd; d++) {
            dQ[((size_t)bb * Nq + i) * C + h * hd + d] += scale * dP[j] * K(bb, j, h, d);
            dK[((size_t)bb * Nk + j) * C + h * hd + d] += scale * dP[j] * Q(bb, i, h, d);
            dV[((size_t)bb * Nk + j) * C + h * hd + d] += P[j] * b.dout[((size_t)bb * Nq + i) * C + h * hd + d];
          }
      }

  // forward
  b.o.assign((size_t)(B * Nq + kGuardRows) * C, NAN);
  b.lse.assign((size_t)B * H * Nq, NAN);
  AttnArgs a;
  a.B = B, a.Nq = Nq, a.Nk = Nk, a.H = H, a.hd = hd, a.scale = scale, a.bf16 = true;
  a.q_rs = b.q_rs, a.k_rs = a.v_rs = b.k_rs, a.o_rs = C;
  a.lse = b.lse.data();
  std::vector<uint16_t> q16, kv16, o16;
  if (bf16_io) {  // the fp32 pointers stay null: a kernel that reads them crashes
    auto bits = [](const std::vector<float>& x) {
      std::vector<uint16_t> h(x.size());
      for (size_t i = 0; i < x.size(); i++) h[i] = __float2bfloat16_rn(x[i]).bits;
      return h;
    };
    q16 = bits(b.q), kv16 = bits(b.kv);
    o16.assign(b.o.size(), 0xffff);  // NaN
    const uint16_t* kv = cs.fused ? q16.data() : kv16.data();
    a.q16 = q16.data(), a.k16 = kv + b.k_off, a.v16 = kv + b.v_off, a.o16 = o16.data();
  } else {
    a.q = b.q.data(), a.k = kvbase + b.k_off, a.v = kvbase + b.v_off, a.o = b.o.data();
  }
  dispatch(a, false);
  if (bf16_io)
    for (size_t i = 0; i < o16.size(); i++) b.o[i] = vj_bf16_to_float(__nv_bfloat16{o16[i]});
  std::vector<size_t> all_o(Oref.size()), all_l(Lref.size());
  for (size_t i = 0; i < all_o.size(); i++) all_o[i] = i;
  for (size_t i = 0; i < all_l.size(); i++) all_l[i] = i;
  // o: P rounded to bf16 for P V; lse: fp32 softmax statistics of exact bf16 products
  report(name, "o", rel_err(Oref, b.o, all_o), 1e-2);
  report(name, "o guard", guard_hits(b.o, (size_t)B * Nq * C), 0);
  {
    double d = 0;
    for (size_t i = 0; i < Lref.size(); i++) {
      double e = std::fabs(b.lse[i] - Lref[i]);
      if (!(e <= d)) d = std::isnan(e) ? INFINITY : e;
    }
    report(name, "lse", d, 1e-4);  // absolute, in nats
  }

  // the same forward by the wgmma kernel, from fresh (NaN) outputs; at head_dim 64 its 64-key
  // tiles too (VJEPA_CUDA_ATTN_FWD=wgmma-bn64)
  for (bool narrow : {false, true}) {
    if (!wgmma_applies(a) || (narrow && hd != 64)) continue;
    const std::string tag = narrow ? " wgmma bn64" : " wgmma";
    std::vector<uint16_t> o16w(o16.size(), 0xffff);
    std::vector<float> ow(b.o.size()), lw(b.lse.size(), NAN);
    AttnArgs w = a;
    w.o16 = o16w.data(), w.lse = lw.data();
    dispatch_wgmma(w, narrow);
    for (size_t i = 0; i < o16w.size(); i++) ow[i] = vj_bf16_to_float(__nv_bfloat16{o16w[i]});
    report(name, ("o" + tag).c_str(), rel_err(Oref, ow, all_o), 1e-2);
    report(name, ("o guard" + tag).c_str(), guard_hits(ow, (size_t)B * Nq * C), 0);
    double d = 0;
    for (size_t i = 0; i < Lref.size(); i++) {
      double e = std::fabs(lw[i] - Lref[i]);
      if (!(e <= d)) d = std::isnan(e) ? INFINITY : e;
    }
    report(name, ("lse" + tag).c_str(), d, 1e-4);
    if (!narrow) wgmma_runs++;
  }

  // backward from the kernel's own o and lse (as the autograd op does), by both schedules
  a.dout = b.dout.data(), a.dout_rs = C;
  // schedules: 0 the dK, dV and dQ kernels, 1 the one-pass kernel, 2 the one pass on wgmma, 3 that
  // pass with dQ rows 8 but not 16 bytes apart, so that it adds by 8-byte REDs, not 16-byte ones
  for (int schedule = 0; schedule < 4; schedule++) {
    if (schedule >= 2 && !wgmma_applies(a)) continue;
    if (schedule == 3 && cs.fused) continue;
    const bool fused = schedule == 1;
    const std::string what = schedule == 1 ? " fused" : schedule == 2 ? " wgmma" : schedule == 3 ? " wgmma pairs" : "";
    const int64_t dq_rs = schedule == 3 ? C + 2 : C;
    std::vector<float> dqbuf, dkvbuf;
    if (cs.fused) {
      dqbuf.assign((size_t)(B * Nq + kGuardRows) * 3 * C, NAN);  // every column must be written
      a.dq = dqbuf.data(), a.dq_rs = 3 * C;
      a.dk = dqbuf.data() + C, a.dk_rs = 3 * C;
      a.dv = dqbuf.data() + 2 * C, a.dv_rs = 3 * C;
    } else {
      dqbuf.assign((size_t)(B * Nq + kGuardRows) * dq_rs, NAN);
      dkvbuf.assign((size_t)(B * Nk + kGuardRows) * 2 * C, NAN);
      a.dq = dqbuf.data(), a.dq_rs = dq_rs;
      a.dk = dkvbuf.data(), a.dk_rs = 2 * C;
      a.dv = dkvbuf.data() + C, a.dv_rs = 2 * C;
    }
    if (schedule >= 2) dispatch_wgmma_bwd(a);
    else dispatch(a, true, fused);
    auto positions = [&](int rows, int64_t rs, int64_t off) {
      std::vector<size_t> at((size_t)B * rows * C);
      for (int bb = 0; bb < B; bb++)
        for (int r = 0; r < rows; r++)
          for (int col = 0; col < C; col++) at[((size_t)bb * rows + r) * C + col] = ((size_t)bb * rows + r) * rs + off + col;
      return at;
    };
    const std::vector<float>& kvout = cs.fused ? dqbuf : dkvbuf;
    const int64_t krs = cs.fused ? 3 * C : 2 * C;
    // dS rounded to bf16 before dQ, dK; P before dV
    // With bf16 activations and the shift, D = rowsum(dO o O) comes from the bf16 O, whose rounding
    // the shift amplifies in dQ (the common part of K no longer cancels): up to a few 1e-2 in every
    // schedule, 2.2e-2 here, so 5e-2 there. What that run is for is the overflow: a NaN fails any tolerance.
    const double dq_tol = cs.shift != 0.f && bf16_io ? 5e-2 : 1e-2;
    report(name, ("dq" + what).c_str(), rel_err(dQ, dqbuf, positions(Nq, cs.fused ? 3 * C : dq_rs, 0)), dq_tol);
    report(name, ("dk" + what).c_str(), rel_err(dK, kvout, positions(Nk, krs, cs.fused ? C : 0)), 1e-2);
    report(name, ("dv" + what).c_str(), rel_err(dV, kvout, positions(Nk, krs, cs.fused ? 2 * C : C)), 1e-2);
    report(name, ("guard" + what).c_str(), guard_hits(dqbuf, (size_t)B * Nq * (cs.fused ? 3 * C : dq_rs)) +
                                         (cs.fused ? 0 : guard_hits(dkvbuf, (size_t)B * Nk * 2 * C)), 0);
  }
}

}  // namespace

int main() {
  std::mt19937 rng(2024);
  const Case cases[] = {
      {"self hd=64 N=77 B=2 H=3", 2, 77, 77, 3, 64, true},
      // the wgmma forward's three warpgroups at head_dim 64 (192 query rows) all with real rows, a
      // second query tile, and a short last key tile
      {"self hd=64 N=261 B=1 H=1", 1, 261, 261, 1, 64, true},
      {"self hd=32 N=130 B=1 H=2", 1, 130, 130, 2, 32, true},
      {"self hd=80 N=65 B=1 H=2", 1, 65, 65, 2, 80, true},
      {"self hd=128 N=64 B=1 H=1", 1, 64, 64, 1, 128, true},
      {"cross hd=64 Nq=5 Nk=300 B=2 H=2", 2, 5, 300, 2, 64, false},
      {"cross hd=16 Nq=1 Nk=70 B=1 H=1", 1, 1, 70, 1, 16, false},
      // head_dim off the 8-element chunks: the scalar tile loads (the others take 16-byte ones)
      {"self hd=20 (pad 24) N=70 B=1 H=3", 1, 70, 70, 3, 20, true},
      // the predictor's width: an 8-wide last k-step and an odd column block, no padding
      {"self hd=24 N=100 B=2 H=2", 2, 100, 100, 2, 24, true},
      // every score near -140 nats (lse far below zero), padded keys in the last tile
      {"self hd=32 N=70 B=1 H=2 lse<-100", 1, 70, 70, 2, 32, true, 5.f},
      // the wgmma kernels' 80-wide products over 96-wide tiles, with 8 zero columns (last: a case
      // added earlier would change every later case's random draws)
      {"self hd=72 N=50 B=1 H=1", 1, 50, 50, 1, 72, true},
  };
  int n = 0;
  for (const Case& c : cases)
    for (bool bf16_io : {false, true}) {
      run_case(c, rng, bf16_io);
      n++;
    }
  if (failures) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all %d runs passed (%d with the wgmma kernels too)\n", n, wgmma_runs);
  return 0;
}
