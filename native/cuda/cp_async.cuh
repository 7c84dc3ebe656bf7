// Asynchronous global -> shared copies (cp.async, sm_80+): a 16-byte copy is issued without
// passing through registers, so a block can load its next tile while it computes on the current
// one. Copies issued since the last commit form a group; cp_async_wait<N>() returns once at most
// the N most recent groups are still in flight (the caller then __syncthreads before reading).
// The emulator (test/native/cuda_emu/cuda_emu.h) performs a thread's copies only when it waits
// for their group, so a read that forgets to wait sees stale shared memory.
#pragma once

namespace vj::cuda {

#ifdef VJ_CUDA_EMU

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) { vj_emu::async_copy(smem, gmem, 16); }
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem) { vj_emu::async_copy(smem, gmem, 4); }
__device__ __forceinline__ void cp_async_commit() { vj_emu::async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  vj_emu::async_wait(N);
}

#else

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"((unsigned)__cvta_generic_to_shared(smem)),
               "l"(gmem));
#endif
}
// One float (4 bytes; sizes under 16 take the .ca form).
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem) {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"((unsigned)__cvta_generic_to_shared(smem)),
               "l"(gmem));
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

#endif

}  // namespace vj::cuda
