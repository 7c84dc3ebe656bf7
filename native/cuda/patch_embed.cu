// Tubelet unfold: video [B,C,T,H,W] -> patches [B,K,C*t*p*p] in conv-weight order (c, dt, dy, dx),
// one thread per output element (coalesced writes; reads are contiguous along dx).
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace vj::cuda {

namespace {
__global__ void unfold_kernel(const float* __restrict__ x, const int32_t* __restrict__ idx, float* __restrict__ out,
                              int64_t B, int64_t C, int64_t T, int64_t H, int64_t W, int64_t t, int64_t p, int64_t K,
                              int* flags) {
  const int64_t Hp = H / p, Wp = W / p, N = (T / t) * Hp * Wp;
  const int64_t row = C * t * p * p;
  const int64_t total = B * K * row;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i / row, col = i % row;
    int64_t b = r / K, kk = r % K;
    int64_t tok = idx ? (int64_t)idx[r] : kk;
    if (tok < 0 || tok >= N) {
      out[i] = 0.f;
      if (col == 0) atomicCAS(&flags[kErrUnfoldIndex], 0, (int)(r + 1));
      continue;
    }
    int64_t d = tok / (Hp * Wp), h = (tok / Wp) % Hp, w = tok % Wp;
    int64_t dx = col % p, dy = (col / p) % p, dt = (col / (p * p)) % t, c = col / (p * p * t);
    out[i] = x[(((b * C + c) * T + d * t + dt) * H + h * p + dy) * W + w * p + dx];
  }
}
}  // namespace

void unfold_tubelets(const float* x, const int32_t* idx, float* out, int64_t B, int64_t C, int64_t T, int64_t H,
                     int64_t W, int64_t t, int64_t p, int64_t K) {
  int64_t total = B * K * C * t * p * p;
  if (total <= 0) return;
  unfold_kernel<<<grid_for(total, 256), 256, 0, stream()>>>(x, idx, out, B, C, T, H, W, t, p, K, error_flags());
  check_launch("unfoldTubelets");
}

}  // namespace vj::cuda
