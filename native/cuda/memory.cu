// Device memory for CUDA tensors. The runtime is linked statically, so the addon loads on
// machines without a GPU; the first CUDA call there fails with the driver's reason.
#include <cuda_runtime.h>

#include <string>

#include "backend.h"
#include "device.h"

namespace vj {

static void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(std::string("cuda: ") + what + ": " + cudaGetErrorString(e));
}

bool cuda_compiled() { return true; }

std::string cuda_unavailable_reason() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string("CUDA is unavailable: ") + cudaGetErrorString(e);
  if (n == 0) return "CUDA is unavailable: no CUDA device was found";
  return "";
}

void* cuda_alloc(size_t nbytes, int dev) {
  std::string why = cuda_unavailable_reason();
  if (!why.empty()) fail(why);
  check(cudaSetDevice(dev), "cudaSetDevice");
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, nbytes);
  if (e == cudaErrorMemoryAllocation)
    fail("cuda: out of memory allocating " + std::to_string(nbytes) + " bytes on cuda:" + std::to_string(dev));
  check(e, "cudaMalloc");
  return p;
}

void cuda_free(void* p, int dev) {
  if (p) cudaFree(p);
}

void cuda_copy_h2d(void* dst, const void* src, size_t n, int dev) { check(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice), "copy to device"); }
void cuda_copy_d2h(void* dst, const void* src, size_t n, int dev) { check(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost), "copy to host"); }
void cuda_copy_d2d(void* dst, const void* src, size_t n, int dev) { check(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice), "device copy"); }
void cuda_memset0(void* dst, size_t n, int dev) { check(cudaMemset(dst, 0, n), "memset"); }

const Backend& cuda_backend() {
  std::string why = cuda_unavailable_reason();
  if (!why.empty()) fail(why);
  fail("the CUDA kernels are not implemented yet in this build");
}

}  // namespace vj
