// cuBLAS through dlopen: see cublas_dyn.h.
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/cublas_dyn.h"

namespace vj::cuda::blas {

namespace {
std::once_flag g_once;
Api g_api{};
std::string g_error;
bool g_tf32 = false;
bool g_tf32_env_read = false;
Handle g_handles[kMaxDevices] = {};
LtApi g_lt{};
bool g_lt_ok = false;
LtHandle g_lt_handles[kMaxDevices] = {};
bool g_handle_tf32[kMaxDevices] = {};
std::mutex g_mu;

void load() {
  const char* env = std::getenv("VJEPA_CUBLAS");  // an explicit path wins
  const char* names[] = {env, "libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  std::string tried, last;
  void* h = nullptr;
  for (const char* n : names) {
    if (!n || !*n) continue;
    if (!tried.empty()) tried += ", ";
    tried += n;
    h = dlopen(n, RTLD_NOW | RTLD_LOCAL);
    if (h) break;
    const char* e = dlerror();
    last = e ? e : "unknown error";
  }
  if (!h) {
    g_error = "cuBLAS could not be loaded (tried " + tried + "): " + last +
              " (install libcublas or put it on LD_LIBRARY_PATH, or set VJEPA_CUBLAS to its path)";
    return;
  }
  auto sym = [&](const char* name, bool required) -> void* {
    void* p = dlsym(h, name);
    if (!p && required && g_error.empty()) g_error = std::string("cuBLAS was loaded but has no symbol ") + name;
    return p;
  };
  g_api.create = (Status(*)(Handle*))sym("cublasCreate_v2", true);
  g_api.destroy = (Status(*)(Handle))sym("cublasDestroy_v2", true);
  g_api.set_stream = (Status(*)(Handle, cudaStream_t))sym("cublasSetStream_v2", true);
  g_api.set_math_mode = (Status(*)(Handle, int))sym("cublasSetMathMode", true);
  g_api.sgemm_strided_batched = (decltype(g_api.sgemm_strided_batched))sym("cublasSgemmStridedBatched", true);
  g_api.gemm_strided_batched_ex = (decltype(g_api.gemm_strided_batched_ex))sym("cublasGemmStridedBatchedEx", true);
  g_api.status_string = (const char* (*)(Status))sym("cublasGetStatusString", false);

  if (env_flag("VJEPA_CUDA_NO_LT")) return;
  bool all = true;
  auto lt_sym = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
    all = all && fn;
  };
  lt_sym(g_lt.create, "cublasLtCreate");
  lt_sym(g_lt.desc_create, "cublasLtMatmulDescCreate");
  lt_sym(g_lt.desc_destroy, "cublasLtMatmulDescDestroy");
  lt_sym(g_lt.desc_set, "cublasLtMatmulDescSetAttribute");
  lt_sym(g_lt.layout_create, "cublasLtMatrixLayoutCreate");
  lt_sym(g_lt.layout_destroy, "cublasLtMatrixLayoutDestroy");
  lt_sym(g_lt.layout_set, "cublasLtMatrixLayoutSetAttribute");
  lt_sym(g_lt.pref_create, "cublasLtMatmulPreferenceCreate");
  lt_sym(g_lt.pref_destroy, "cublasLtMatmulPreferenceDestroy");
  lt_sym(g_lt.pref_set, "cublasLtMatmulPreferenceSetAttribute");
  lt_sym(g_lt.heuristic, "cublasLtMatmulAlgoGetHeuristic");
  lt_sym(g_lt.matmul, "cublasLtMatmul");
  g_lt_ok = all;
}

const char* status_name(Status s) {
  switch (s) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}
}  // namespace

const Api& api() {
  std::call_once(g_once, load);
  if (!g_error.empty()) fail(g_error);
  return g_api;
}

const LtApi* lt() {
  api();
  return g_lt_ok ? &g_lt : nullptr;
}

LtHandle lt_handle() {
  const LtApi* l = lt();
  if (!l) fail("cuBLASLt is not available");
  int dev = current_device();
  std::lock_guard<std::mutex> lk(g_mu);
  LtHandle& h = g_lt_handles[dev];
  if (!h) check(l->create(&h), "cublasLtCreate");
  return h;
}

void check(Status s, const char* what) {
  if (s == 0) return;
  const Api& a = api();
  std::string msg = std::string("cuda: ") + what + " failed: " + status_name(s) + " (" + std::to_string(s) + ")";
  if (a.status_string) msg += std::string(" ") + a.status_string(s);
  fail(msg);
}

bool tf32() {
  std::lock_guard<std::mutex> lk(g_mu);
  if (!g_tf32_env_read) {
    g_tf32 = env_flag("VJEPA_CUDA_TF32");
    g_tf32_env_read = true;
  }
  return g_tf32;
}

Handle handle() {
  const Api& a = api();
  int dev = current_device();
  bool want_tf32 = tf32();
  std::lock_guard<std::mutex> lk(g_mu);
  Handle& h = g_handles[dev];
  if (!h) {
    check(a.create(&h), "cublasCreate");
    check(a.set_stream(h, stream()), "cublasSetStream");
    g_handle_tf32[dev] = !want_tf32;  // force the math mode below
  }
  if (g_handle_tf32[dev] != want_tf32) {
    check(a.set_math_mode(h, want_tf32 ? kTf32TensorOpMath : kDefaultMath), "cublasSetMathMode");
    g_handle_tf32[dev] = want_tf32;
  }
  return h;
}

}  // namespace vj::cuda::blas
