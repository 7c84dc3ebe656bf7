// One warp-wide bf16 tensor-core product, mma.sync m16n8k16 (fp32 accumulate), with the
// fragment layouts the PTX ISA documents. With g = lane / 4 and t = lane % 4, each 32-bit register
// holds two bf16, the lower index in the low half:
//   A (16x16, row-major): a[0] = A[g][2t, 2t+1], a[1] = A[g+8][2t, 2t+1],
//                         a[2] = A[g][2t+8, 2t+9], a[3] = A[g+8][2t+8, 2t+9]
//   B (16x8, col-major):  b[0] = B[2t, 2t+1][g], b[1] = B[2t+8, 2t+9][g]
//   D (16x8, fp32):       d[0], d[1] = D[g][2t, 2t+1], d[2], d[3] = D[g+8][2t, 2t+1]
// Unlike WMMA's opaque fragments these layouts let a kernel keep scores and outputs in
// registers. Fragments come from shared memory by ldmatrix (m8n8.x4: four 8x8 bf16 matrices;
// lanes 8i..8i+7 give the addresses of matrix i's rows, 16 aligned bytes each, and lane (g, t)
// receives row g, columns 2t, 2t+1 of each, or with .trans column g, rows 2t, 2t+1), so one
// instruction loads an A fragment, two k-steps of a B fragment, or a B fragment read across the
// rows of a row-major tile (P V without a transposed copy of V).
// The CPU emulator (test/native/cuda_emu) computes the same product and loads from the same
// layouts, gathering operands and row addresses with shuffles.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>

#include "cuda/bf16.cuh"

namespace vj::cuda {

// Two floats rounded to nearest even into one register of bf16 (lo in the low half), by the bit
// arithmetic of to_bf16.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  return (uint32_t)to_bf16(lo) | ((uint32_t)to_bf16(hi) << 16);
}
// The same by one cvt.rn.bf16x2 on the GPU: in the attention kernels' inner loops the bit
// arithmetic is a large share of the instructions issued beside the products. The two agree
// except on NaN payloads (the hardware returns the canonical NaN). It changes ptxas's register
// allocation, though: some kernels spill with it (attention_tc_kernels.cuh picks per kernel).
__device__ __forceinline__ uint32_t pack_bf16_hw(float lo, float hi) {
#if !defined(VJ_CUDA_EMU) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low half) = lo
  return *reinterpret_cast<const uint32_t*>(&v);
#else
  return pack_bf16(lo, hi);
#endif
}

// 2^x by the special-function unit alone (ex2.approx.ftz, max error 2 ulp; results below 2^-126
// flush to zero), where exp2f adds range handling around it. Softmax probabilities that small
// are zero at bf16 or fp32 accumulation anyway. -inf gives +0.
__device__ __forceinline__ float fast_exp2(float x) {
#if !defined(VJ_CUDA_EMU) && defined(__CUDA_ARCH__)
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
#else
  return exp2f(x);
#endif
}

#ifdef VJ_CUDA_EMU

__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  const int lane = (int)(threadIdx.x & 31), g = lane >> 2, t = lane & 3;
  float A0[16], A1[16], B0[16], B1[16];  // rows g and g+8 of A; columns 2t and 2t+1 of B
  auto lo = [](uint32_t v) { return from_bf16((uint16_t)(v & 0xffffu)); };
  auto hi = [](uint32_t v) { return from_bf16((uint16_t)(v >> 16)); };
  for (int s = 0; s < 4; s++) {
    const int src = g * 4 + s;  // the lanes holding rows g, g+8
    uint32_t r0 = __shfl_sync(0xffffffffu, a[0], src), r1 = __shfl_sync(0xffffffffu, a[1], src);
    uint32_t r2 = __shfl_sync(0xffffffffu, a[2], src), r3 = __shfl_sync(0xffffffffu, a[3], src);
    A0[2 * s] = lo(r0), A0[2 * s + 1] = hi(r0), A0[2 * s + 8] = lo(r2), A0[2 * s + 9] = hi(r2);
    A1[2 * s] = lo(r1), A1[2 * s + 1] = hi(r1), A1[2 * s + 8] = lo(r3), A1[2 * s + 9] = hi(r3);
    for (int j = 0; j < 2; j++) {
      const int col = (2 * t + j) * 4 + s;  // the lanes holding column 2t + j
      uint32_t c0 = __shfl_sync(0xffffffffu, b[0], col), c1 = __shfl_sync(0xffffffffu, b[1], col);
      float* B = j ? B1 : B0;
      B[2 * s] = lo(c0), B[2 * s + 1] = hi(c0), B[2 * s + 8] = lo(c1), B[2 * s + 9] = hi(c1);
    }
  }
  for (int k = 0; k < 16; k++) {
    d[0] += A0[k] * B0[k];
    d[1] += A0[k] * B1[k];
    d[2] += A1[k] * B0[k];
    d[3] += A1[k] * B1[k];
  }
}

// m16n8k8: A's first two registers and B's first, as in the k16 layouts above.
__device__ __forceinline__ void mma_bf16_1688(float (&d)[4], const uint32_t (&a)[2], uint32_t b) {
  const uint32_t a4[4] = {a[0], a[1], 0u, 0u}, b2[2] = {b, 0u};  // zeros: k 8..15 add nothing
  mma_bf16_16816(d, a4, b2);
}

// Matrix i of an xN load is rows lanes 8i..8i+7 point at; lane (g, t) receives two elements of it.
// Only the first 8N lanes' addresses are read (and checked), as on the hardware.
template <bool Trans, int N = 4>
__device__ __forceinline__ void ldmatrix_emu(uint32_t (&r)[N], const void* row) {
  const int lane = (int)(threadIdx.x & 31), g = lane >> 2, t = lane & 3;
  if (lane < 8 * N) {
    if (reinterpret_cast<uintptr_t>(row) % 16) vj_emu::die("ldmatrix: a row address is not 16-byte aligned");
    if (!vj_emu::in_smem(row, 16)) vj_emu::die("ldmatrix: a row outside the block's shared memory");
  }
  for (int i = 0; i < N; i++) {
    uint32_t v = 0;
    for (int j = 0; j < 2; j++) {
      const int src = 8 * i + (Trans ? 2 * t + j : g);
      const uint16_t* p = static_cast<const uint16_t*>(__shfl_sync(0xffffffffu, row, src));
      v |= (uint32_t)p[Trans ? g : 2 * t + j] << (16 * j);
    }
    r[i] = v;
  }
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) { ldmatrix_emu<false>(r, row); }
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) { ldmatrix_emu<true>(r, row); }
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t (&r)[2], const void* row) { ldmatrix_emu<true, 2>(r, row); }
__device__ __forceinline__ void ldmatrix_x2(uint32_t (&r)[2], const void* row) { ldmatrix_emu<false, 2>(r, row); }

#else

__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#if __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// m16n8k8: A's first two registers and B's first, as in the k16 layouts above.
__device__ __forceinline__ void mma_bf16_1688(float (&d)[4], const uint32_t (&a)[2], uint32_t b) {
#if __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(b));
#endif
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
#if __CUDA_ARCH__ >= 800
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"((unsigned)__cvta_generic_to_shared(row)));
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
#if __CUDA_ARCH__ >= 800
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"((unsigned)__cvta_generic_to_shared(row)));
#endif
}
// Two matrices (lanes 0-15 give the row addresses).
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t (&r)[2], const void* row) {
#if __CUDA_ARCH__ >= 800
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"((unsigned)__cvta_generic_to_shared(row)));
#endif
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t (&r)[2], const void* row) {
#if __CUDA_ARCH__ >= 800
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"((unsigned)__cvta_generic_to_shared(row)));
#endif
}

#endif

}  // namespace vj::cuda
