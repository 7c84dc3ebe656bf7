// Sin-cos position tables exactly as MOD-06: per axis, all sines then all cosines with
// omega_k = 10000^(-k/M); axes in the order time, height, width; with uniform_power each
// axis gets 2*ceil(D/6) channels and the row is truncated to D.
#include <cmath>
#include <vector>

#include "cpu/kernels.h"

namespace vj::cpu {

static void sincos_1d(double* row, int64_t dim, double pos) {
  int64_t M = dim / 2;
  for (int64_t k = 0; k < M; k++) {
    double omega = std::pow(10000.0, -(double)k / (double)M);
    row[k] = std::sin(pos * omega);
    row[M + k] = std::cos(pos * omega);
  }
}

void sincos_3d(float* out, int64_t T, int64_t Hp, int64_t Wp, int64_t D, bool uniform_power) {
  int64_t dt, dh, dw;
  if (uniform_power) {
    dt = dh = dw = 2 * ((D + 5) / 6);
  } else {
    dt = D / 2;
    dh = D / 4;
    dw = D / 4;
  }
  if (dt % 2 || dh % 2 || dw % 2) fail("sincos3d: per-axis widths must be even (D=" + std::to_string(D) + ")");
  std::vector<double> row((size_t)(dt + dh + dw));
  for (int64_t d = 0; d < T; d++)
    for (int64_t h = 0; h < Hp; h++)
      for (int64_t w = 0; w < Wp; w++) {
        sincos_1d(row.data(), dt, (double)d);
        sincos_1d(row.data() + dt, dh, (double)h);
        sincos_1d(row.data() + dt + dh, dw, (double)w);
        float* o = out + ((d * Hp + h) * Wp + w) * D;
        for (int64_t c = 0; c < D; c++) o[c] = c < (int64_t)row.size() ? (float)row[(size_t)c] : 0.f;
      }
}

void sincos_2d(float* out, int64_t Hp, int64_t Wp, int64_t D) {
  if (D % 4) fail("sincos2d: D must be a multiple of 4 (D=" + std::to_string(D) + ")");
  std::vector<double> row((size_t)D);
  for (int64_t h = 0; h < Hp; h++)
    for (int64_t w = 0; w < Wp; w++) {
      sincos_1d(row.data(), D / 2, (double)h);
      sincos_1d(row.data() + D / 2, D / 2, (double)w);
      float* o = out + (h * Wp + w) * D;
      for (int64_t c = 0; c < D; c++) o[c] = (float)row[(size_t)c];
    }
}

}  // namespace vj::cpu
