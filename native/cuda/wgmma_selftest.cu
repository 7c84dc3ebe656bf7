// One wgmma product per operand layout and width the attention kernels use, on small integer
// matrices whose products are exact in fp32, against the host: if a kernel in
// attention_wgmma_kernels.cuh fails on a GPU, this says which layout assumption (wgmma.cuh) the
// hardware does not share, and at which head widths. The tiles are laid out by the kernels' own
// geometry (attention_wgmma_geometry.cuh: wg_tile_width, WgGeo), partial swizzle atoms included: the products 24 wide read 24 of
// a 32-column atom, and those 80 wide two and a half atoms of 32. Compiled for sm_90a with
// attention_wgmma.cu (CMakeLists.txt); ops.mjs runs it first, and the attention tuner's trial asks
// it before trying the wgmma kernels at a head width.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/attention_tc.h"
#include "cuda/common.cuh"
#include "cuda/attention_wgmma_geometry.cuh"
#include "cuda/wgmma.cuh"
#include "device.h"

#ifndef VJ_DYNAMIC_SMEM
#define VJ_DYNAMIC_SMEM(name) extern __shared__ __align__(128) unsigned char name[]
#endif

namespace vj::cuda {

namespace {

// D [64][N] = A [64][64] B [64][N], B's columns up to 128 (the widest tile).
constexpr int kM = 64, kK = 64, kNB = 128;

// What the product stands for in the kernels.
enum Kind {
  kScores,  // S = Q Kᵀ, Sᵀ = K Qᵀ, dPᵀ = V dOᵀ: A and B K-major (N = 64 here; 128 reads the same way)
  kOutput,  // O += P V, dV += Pᵀ dO, dK += dSᵀ Q: A in registers, B MN-major, N = the head width
  kDq,      // dQ += dS K: A MN-major (dSᵀ, one 128-byte atom wide), B MN-major, N = the head width
};

// Stores M (row-major, ld columns) into a tile of 64 rows laid out as the kernels' (wg_tile_offset):
// tile (row, col) = M[row][col], or M[col][row] with transpose; cols columns.
template <int SW>
__device__ void store_tile(unsigned char* tile, const uint16_t* M, int ld, int cols, bool transpose) {
  for (int i = threadIdx.x; i < 64 * cols; i += blockDim.x) {
    const int row = i / cols, col = i % cols;
    *reinterpret_cast<uint16_t*>(tile + wg_tile_offset<SW, 64>(row, col)) = transpose ? M[col * ld + row] : M[row * ld + col];
  }
}

// N: the product's width; SW: B's swizzle span, as WgGeo gives it for the tile width. The kind is a
// template argument: a product on a runtime branch makes ptxas inject fences around it (C7519).
template <Kind kind, int N, int SW>
__global__ void wgmma_selftest_kernel(const uint16_t* __restrict__ A, const uint16_t* __restrict__ B, float* __restrict__ D) {
#if defined(VJ_CUDA_EMU) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
  VJ_DYNAMIC_SMEM(raw);
  unsigned char* const smem = wg_aligned_smem(raw);
  unsigned char *at = smem, *bt = smem + kM * kK * 2;
  const uint32_t aa = smem_addr(at), ba = smem_addr(bt);
  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  // A is M x K (A[m][k]); B is K x N (B[k][n]). K-major: rows m (or n), K along them.
  if constexpr (kind == kScores) store_tile<SW>(at, A, kK, kK, false), store_tile<SW>(bt, B, kNB, kK, true);
  else store_tile<SW>(bt, B, kNB, wg_tile_width(N), false);
  if constexpr (kind == kDq) store_tile<128>(at, A, kK, kM, true);
  proxy_fence();
  __syncthreads();
  float d[N / 2];
#pragma unroll
  for (int i = 0; i < N / 2; i++) d[i] = 0.f;
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
    // the descriptors the attention kernels build (wgmma.cuh), over 64-row tiles
    if constexpr (kind == kScores) wgmma_ss<0, 0>(d, wg_kmajor_desc<SW, 64>(aa, k0), wg_kmajor_desc<SW, 64>(ba, k0), 1);
    else if constexpr (kind == kOutput) wgmma_rs<1>(d, af[kk], wg_mnmajor_desc<SW, 64>(ba, k0), 1);
    else wgmma_ss<1, 1>(d, wg_mnmajor_desc<128, 64>(aa, k0), wg_mnmajor_desc<SW, 64>(ba, k0), 1);
  }
  wgmma_commit();
  wgmma_wait<0>();
  fence_operand(d);
#pragma unroll
  for (int i = 0; i < N / 2; i++) D[(16 * w + g + 8 * ((i >> 1) & 1)) * N + 8 * (i / 4) + 2 * t + (i & 1)] = d[i];
#endif
}

struct Row {
  Kind kind;
  int n, sw;
  std::vector<int> widths;
  void (*launch)(const uint16_t* A, const uint16_t* B, float* D);
};

template <Kind kind, int N, int SW>
void launch(const uint16_t* A, const uint16_t* B, float* D) {
  constexpr size_t smem = 1024 + kM * kK * 2 + kK * kNB * 2;
  wgmma_selftest_kernel<kind, N, SW><<<1, 128, smem, stream()>>>(A, B, D);
  check_launch("wgmma self-test");
}

// Calls f(N, SW) as compile-time constants for a product width n (one wg_head_width dispatches to:
// it maps each width to itself) and B's swizzle, that of WgGeo's tiles at that width.
template <class F>
void with_width(int n, F&& f) {
  wg_head_width(n, [&](auto N) { f(N, std::integral_constant<int, WgGeo<wg_tile_width(N.value)>::SW>{}); });
}

std::string describe(const Row& r) {
  const std::string sw = std::to_string(r.sw) + "-byte swizzle";
  if (r.kind == kScores) return "scores: A, B K-major, " + sw;
  const std::string b = "B MN-major (" + sw + ", " + std::to_string(wg_tile_width(r.n)) + "-column tile)";
  return (r.kind == kOutput ? "P V, dV, dK " : "dQ ") + std::to_string(r.n) + " wide: " +
         (r.kind == kOutput ? "A registers, " : "A MN-major (128-byte swizzle), ") + b;
}

}  // namespace

}  // namespace vj::cuda

namespace vj {

std::vector<WgmmaSelfTestRow> cuda_wgmma_selftest() {
  using namespace cuda;
  std::vector<WgmmaSelfTestRow> out;
  if (const std::string why = cuda_unavailable_reason(); !why.empty()) fail("wgmmaSelfTest: " + why);
  if (!wgmma_available()) return out;
  // Pseudo-random small integers, exact in bf16, whose 64-term sums are exact in fp32. (They must
  // vary along k: a layout error that permutes k the same way in A and B leaves A B unchanged only
  // where each row is constant.)
  std::vector<uint16_t> A(kM * kK), B(kK * kNB);
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
  Scratch dA(A.size() * 2), dB(B.size() * 2), dD(sizeof(float) * kM * kNB);
  check(cudaMemcpyAsync(dA.as<uint16_t>(), A.data(), A.size() * 2, cudaMemcpyHostToDevice, stream()), "wgmma self-test");
  check(cudaMemcpyAsync(dB.as<uint16_t>(), B.data(), B.size() * 2, cudaMemcpyHostToDevice, stream()), "wgmma self-test");

  // The score products at both swizzles (each row naming the widths whose tiles have that swizzle),
  // then the output and dQ products at every head width.
  std::vector<Row> rows = {{kScores, 64, 128, {}, launch<kScores, 64, 128>}, {kScores, 64, 64, {}, launch<kScores, 64, 64>}};
  for (Kind kind : {kOutput, kDq})
    for (int n : {24, 32, 64, 80, 96, 128})
      with_width(n, [&](auto N, auto SW) {
        rows.push_back({kind, N.value, SW.value, {n},
                        kind == kOutput ? launch<kOutput, N.value, SW.value> : launch<kDq, N.value, SW.value>});
        if (kind == kOutput) rows[SW.value == 128 ? 0 : 1].widths.push_back(n);
      });
  std::vector<float> D(kM * kNB);
  for (const Row& row : rows) {
    check(cudaMemsetAsync(dD.as<float>(), 0xff, sizeof(float) * kM * kNB, stream()), "wgmma self-test");  // NaN
    row.launch(dA.as<uint16_t>(), dB.as<uint16_t>(), dD.as<float>());
    check(cudaMemcpyAsync(D.data(), dD.as<float>(), sizeof(float) * kM * row.n, cudaMemcpyDeviceToHost, stream()), "wgmma self-test");
    check(cudaStreamSynchronize(stream()), "wgmma self-test");
    double err = 0;
    for (int m = 0; m < kM; m++)
      for (int n = 0; n < row.n; n++) {
        double ref = 0;
        for (int k = 0; k < kK; k++) ref += (double)Af[m * kK + k] * Bf[k * kNB + n];
        const double e = std::fabs(D[m * row.n + n] - ref);
        err = std::isnan(e) ? INFINITY : std::fmax(err, e);
      }
    out.push_back({describe(row), err, row.widths});
  }
  return out;
}

}  // namespace vj
