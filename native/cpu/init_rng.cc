#include "cpu/init_rng.h"

#include <cmath>
#include <vector>

#include "cpu/threadpool.h"

namespace vj::cpu {
namespace {

struct Xorshift128p {
  uint64_t s0, s1;
  double uniform() {
    uint64_t x = s0;
    const uint64_t y = s1;
    s0 = y;
    x ^= x << 23;
    s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
    return (double)((s1 + y) >> 11) / 9007199254740992.0;  // / 2^53
  }
};

// Box-Muller on one pair of uniforms: r cos, kept as the draw, and r sin, kept as the spare. JS
// evaluates -2 * Math.log(u) and 2 * Math.PI * w left to right: the same roundings here.
inline void box_muller(double u, double w, double* c, double* s) {
  const double r = std::sqrt(-2.0 * std::log(u)), a = 2.0 * M_PI * w;
  *c = r * std::cos(a);
  *s = r * std::sin(a);
}

}  // namespace

// Box-Muller's largest |z|: sqrt(-2 ln 2^-53) < 8.58, so a bound of 8.6 std or more rejects nothing.
constexpr double kNoRejection = 8.6;

void fill_trunc_normal(InitRngState& s, float* x, int64_t n, double std, double bound) {
  Xorshift128p g{((uint64_t)s.st[0] << 32) | s.st[1], ((uint64_t)s.st[2] << 32) | s.st[3]};
  bool has_spare = s.has_spare;
  double spare = s.spare;
  int64_t i = 0;
  if (bound >= kNoRejection * std) {
    // Nothing is redrawn, so output i is a fixed half of a fixed pair: draw the uniforms in order
    // (cheap), then the logarithms and the sines, which cost 20-30 ns a pair, on every thread.
    if (has_spare && i < n) x[i++] = (float)(spare * std), has_spare = false;
    constexpr int64_t kChunk = 1 << 16;  // pairs
    std::vector<double> us, vs;
    while (n - i >= 2) {
      const int64_t pairs = (n - i) / 2 < kChunk ? (n - i) / 2 : kChunk;
      us.resize((size_t)pairs);
      vs.resize((size_t)pairs);
      for (int64_t j = 0; j < pairs; j++) {
        double u = 0;
        while (u == 0) u = g.uniform();
        us[(size_t)j] = u;
        vs[(size_t)j] = g.uniform();
      }
      float* out = x + i;
      parallel_for(pairs, 4096, [&](int64_t j0, int64_t j1) {
        for (int64_t j = j0; j < j1; j++) {
          double c, sn;
          box_muller(us[(size_t)j], vs[(size_t)j], &c, &sn);
          out[2 * j] = (float)(c * std);
          out[2 * j + 1] = (float)(sn * std);
        }
      });
      i += 2 * pairs;
    }
  }
  for (; i < n; i++) {
    double v;
    do {
      double z;
      if (has_spare) {
        has_spare = false;
        z = spare;
      } else {
        double u = 0;
        while (u == 0) u = g.uniform();
        box_muller(u, g.uniform(), &z, &spare);
        has_spare = true;
      }
      v = z * std;
    } while (v < -bound || v > bound);
    x[i] = (float)v;
  }
  s.st[0] = (uint32_t)(g.s0 >> 32);
  s.st[1] = (uint32_t)g.s0;
  s.st[2] = (uint32_t)(g.s1 >> 32);
  s.st[3] = (uint32_t)g.s1;
  s.has_spare = has_spare;
  s.spare = spare;
}

}  // namespace vj::cpu
