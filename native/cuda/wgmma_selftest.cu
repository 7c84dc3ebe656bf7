// One wgmma product per operand layout the attention kernels use, on small integer matrices whose
// products are exact in fp32, against the host: if a kernel in attention_wgmma_kernels.cuh fails
// on a GPU, this says which layout assumption (wgmma.cuh) the hardware does not share. Compiled
// for sm_90a with attention_wgmma.cu (CMakeLists.txt); ops.mjs runs it first.
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cuda/attention_tc.h"
#include "cuda/common.cuh"
#include "cuda/cp_async.cuh"
#include "cuda/wgmma.cuh"
#include "device.h"

#ifndef VJ_DYNAMIC_SMEM
#define VJ_DYNAMIC_SMEM(name) extern __shared__ __align__(128) unsigned char name[]
#endif

namespace vj::cuda {

namespace {

constexpr int kM = 64, kN = 64, kK = 64;  // D [64][64] = A [64][64] B [64][64]

// The layouts, as the attention kernels use them.
enum Layout {
  kKmajor128,    // A and B K-major, 128-byte swizzle (S = Q Kᵀ at head_dim 64)
  kRegsMn128,    // A in registers, B MN-major, 128-byte swizzle (P V at head_dim 64)
  kKmajor64,     // A and B K-major in two 64-byte-swizzled atoms (S = Q Kᵀ at head_dim 32, 96)
  kRegsMn64,     // A in registers, B MN-major in two 64-byte-swizzled atoms (P V at head_dim 96)
  kMnMn128,      // A and B both MN-major, 128-byte swizzle (dQ = dS K)
  kLayouts
};
const char* const kNames[kLayouts] = {"A, B K-major, 128-byte swizzle", "A registers, B MN-major, 128-byte swizzle",
                                      "A, B K-major, two 64-byte atoms", "A registers, B MN-major, two 64-byte atoms",
                                      "A, B MN-major, 128-byte swizzle"};

// Stores M[r][c] (row-major 64 x 64 bf16 in global memory) into a tile laid out as the kernels'
// (wg_tile_offset, 64 rows); transpose: the tile's rows are M's columns.
template <int SW>
__device__ void store_tile(unsigned char* tile, const uint16_t* M, bool transpose) {
  for (int i = threadIdx.x; i < 64 * 64; i += blockDim.x) {
    const int r = i / 64, c = i % 64;
    const int row = transpose ? c : r, col = transpose ? r : c;
    *reinterpret_cast<uint16_t*>(tile + wg_tile_offset<SW, 64>(row, col)) = M[i];
  }
}

__global__ void wgmma_selftest_kernel(const uint16_t* __restrict__ A, const uint16_t* __restrict__ B, float* __restrict__ D,
                                      int layout) {
#if defined(VJ_CUDA_EMU) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
  VJ_DYNAMIC_SMEM(raw);
  unsigned char* const smem = wg_aligned_smem(raw);
  unsigned char *at = smem, *bt = smem + 8192;
  const uint32_t aa = smem_addr(at), ba = smem_addr(bt);
  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  // A is M x K (A[m][k]); B is K x N (B[k][n]). K-major: rows m (or n), K along them.
  switch (layout) {
    case kKmajor128: store_tile<128>(at, A, false), store_tile<128>(bt, B, true); break;
    case kRegsMn128: store_tile<128>(bt, B, false); break;
    case kKmajor64: store_tile<64>(at, A, false), store_tile<64>(bt, B, true); break;
    case kRegsMn64: store_tile<64>(bt, B, false); break;
    case kMnMn128: store_tile<128>(at, A, true), store_tile<128>(bt, B, false); break;
  }
  proxy_fence();
  __syncthreads();
  float d[kN / 2];
#pragma unroll
  for (int i = 0; i < kN / 2; i++) d[i] = 0.f;
  // The m16n8k16 A fragments of rows 16w..16w+15, every k-step's before the fence: a product
  // owns its registers until its wait, so the next step's may not reuse them.
  uint32_t af[kK / 16][4];
#pragma unroll
  for (int kk = 0; kk < kK / 16; kk++)
    for (int r = 0; r < 4; r++) {
      const int m = 16 * w + g + 8 * (r & 1), k = 16 * kk + 8 * (r >> 1) + 2 * t;
      af[kk][r] = (uint32_t)A[m * kK + k] | (uint32_t)A[m * kK + k + 1] << 16;
    }
  wgmma_fence();
#pragma unroll
  for (int kk = 0; kk < kK / 16; kk++) {
    const int k0 = 16 * kk;
    const uint32_t(&a)[4] = af[kk];
    // the descriptors the attention kernels build (wgmma.cuh), over 64-row tiles
    switch (layout) {
      case kKmajor128: wgmma_ss<0, 0>(d, wg_kmajor_desc<128, 64>(aa, k0), wg_kmajor_desc<128, 64>(ba, k0), 1); break;
      case kRegsMn128: wgmma_rs<1>(d, a, wg_mnmajor_desc<128, 64>(ba, k0), 1); break;
      case kKmajor64: wgmma_ss<0, 0>(d, wg_kmajor_desc<64, 64>(aa, k0), wg_kmajor_desc<64, 64>(ba, k0), 1); break;
      case kRegsMn64: wgmma_rs<1>(d, a, wg_mnmajor_desc<64, 64>(ba, k0), 1); break;
      case kMnMn128: wgmma_ss<1, 1>(d, wg_mnmajor_desc<128, 64>(aa, k0), wg_mnmajor_desc<128, 64>(ba, k0), 1); break;
    }
  }
  wgmma_commit();
  wgmma_wait<0>();
  fence_operand(d);
#pragma unroll
  for (int i = 0; i < kN / 2; i++) D[(16 * w + g + 8 * ((i >> 1) & 1)) * kN + 8 * (i / 4) + 2 * t + (i & 1)] = d[i];
#endif
}

}  // namespace

}  // namespace vj::cuda

namespace vj {

std::vector<std::pair<std::string, double>> cuda_wgmma_selftest() {
  using namespace cuda;
  std::vector<std::pair<std::string, double>> out;
  if (const std::string why = cuda_unavailable_reason(); !why.empty()) fail("wgmmaSelfTest: " + why);
  if (!wgmma_available()) return out;
  // Pseudo-random small integers, exact in bf16, whose 64-term sums are exact in fp32. (They must
  // vary along k: a layout error that permutes k the same way in A and B leaves A B unchanged only
  // where each row is constant.)
  std::vector<uint16_t> A(kM * kK), B(kK * kN);
  std::vector<float> Af(A.size()), Bf(B.size());
  uint32_t state = 12345;
  auto next = [&state](int span) {
    state = state * 1664525u + 1013904223u;
    return (int)((state >> 16) % (uint32_t)span) - span / 2;
  };
  auto bf = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
  };
  for (size_t i = 0; i < A.size(); i++) Af[i] = (float)next(7), A[i] = bf(Af[i]);
  for (size_t i = 0; i < B.size(); i++) Bf[i] = (float)next(9), B[i] = bf(Bf[i]);
  Scratch dA(A.size() * 2), dB(B.size() * 2), dD(sizeof(float) * kM * kN);
  check(cudaMemcpyAsync(dA.as<uint16_t>(), A.data(), A.size() * 2, cudaMemcpyHostToDevice, stream()), "wgmma self-test");
  check(cudaMemcpyAsync(dB.as<uint16_t>(), B.data(), B.size() * 2, cudaMemcpyHostToDevice, stream()), "wgmma self-test");
  constexpr size_t smem = 1024 + 2 * 8192;
  std::vector<float> D(kM * kN);
  for (int l = 0; l < kLayouts; l++) {
    check(cudaMemsetAsync(dD.as<float>(), 0xff, sizeof(float) * kM * kN, stream()), "wgmma self-test");  // NaN
    wgmma_selftest_kernel<<<1, 128, smem, stream()>>>(dA.as<uint16_t>(), dB.as<uint16_t>(), dD.as<float>(), l);
    check_launch("wgmma self-test");
    check(cudaMemcpyAsync(D.data(), dD.as<float>(), sizeof(float) * kM * kN, cudaMemcpyDeviceToHost, stream()), "wgmma self-test");
    check(cudaStreamSynchronize(stream()), "wgmma self-test");
    double err = 0;
    for (int m = 0; m < kM; m++)
      for (int n = 0; n < kN; n++) {
        double ref = 0;
        for (int k = 0; k < kK; k++) ref += (double)Af[m * kK + k] * Bf[k * kN + n];
        const double e = std::fabs(D[m * kN + n] - ref);
        err = std::isnan(e) ? INFINITY : std::fmax(err, e);
      }
    out.emplace_back(kNames[l], err);
  }
  return out;
}

}  // namespace vj
