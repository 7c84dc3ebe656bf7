// The weight initialiser's generator (lib/nn/init.ts InitRng) in C++: xorshift128+ with 53-bit
// uniforms and Box-Muller normals (cos first, sin kept as the spare). The same stream as the JS
// class, bit for bit: its state is the class's Uint32Array [s0 high, s0 low, s1 high, s1 low] and
// the spare travels with it. Where no draw can be rejected, the transcendental half of each pair
// runs on every thread: a ViT-L encoder builds in 4.4 s on 2 cores, 7.5 s with the draws in JS.
#pragma once
#include <cstdint>

namespace vj::cpu {

struct InitRngState {
  uint32_t st[4];
  bool has_spare;
  double spare;
};

// x[i] = a normal(0, std) draw, redrawn while outside [-bound, bound] (MOD-05's trunc_normal_,
// bounds absolute), for i < n, in order; advances s.
void fill_trunc_normal(InitRngState& s, float* x, int64_t n, double std, double bound);

}  // namespace vj::cpu
