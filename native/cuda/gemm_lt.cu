// The forward layers' GEMMs on cuBLASLt: the bias add and the bf16 rounding of the output run in
// the GEMM's own epilogue, so the output is written once, where cuBLAS + our epilogue kernel
// write it in fp32, read it back and write it again. Lt gets only the calls whose result it
// computes exactly as that path does (fp32 accumulator + the bias, one rounding): no batches,
// beta 0, no GELU (Lt's GELU is the tanh approximation, not the exact erf one: gemm.cu runs ours
// on Lt's bf16 pre-activation). A bf16 output takes a bf16 bias (bias16): Lt refuses an fp32 one.
//
// Plans (descriptors, layouts and the heuristic's algorithm) are cached per shape, operand and
// output type and pointer alignment. A call Lt has no algorithm for is remembered and left to
// the cuBLAS path, as are all calls when Lt is missing or VJEPA_CUDA_NO_LT=1.
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "cuda/common.cuh"
#include "device.h"
#include "cuda/cublas_dyn.h"
#include "cuda/gemm_lt.h"

namespace vj::cuda {

namespace {

constexpr size_t kWorkspaceBytes = 32u << 20;  // NVIDIA's recommendation for Hopper

struct Key {
  int64_t M, N, K, lda, ldb, ldc;
  int ta, tb, in, out, bias, compute, dev;
  uint32_t align[4];  // B, A, D, and Lt's C (the residual; D when there is none)
  bool operator==(const Key& o) const { return std::memcmp(this, &o, sizeof(Key)) == 0; }
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(&k);
    size_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof(Key); i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  }
};

struct Plan {
  bool ok = false;
  blas::LtDesc desc = nullptr;
  blas::LtLayout a = nullptr, b = nullptr, d = nullptr;
  blas::LtAlgo algo{};
  size_t workspace = 0;
};

std::mutex g_mu;
std::unordered_map<Key, Plan, KeyHash> g_plans;
uint64_t g_calls = 0;
void* g_workspace[kMaxDevices] = {};

// The largest power of two up to 256 dividing the address: Lt's heuristic assumes 256 unless told.
uint32_t alignment(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && a % al) al >>= 1;
  return al;
}

void set(blas::Status s, const char* what) { blas::check(s, what); }

// Column-major view, as for cuBLAS (gemm.cu): D (N x M) = op(B) (N x K) op(A) (K x M).
Plan make_plan(const blas::LtApi& lt, const LtCall& c, const Key& k) {
  Plan p;
  set(lt.desc_create(&p.desc, k.compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
  int32_t opa = c.tb ? blas::kOpT : blas::kOpN, opb = c.ta ? blas::kOpT : blas::kOpN;
  set(lt.desc_set(p.desc, blas::kLtTransA, &opa, sizeof opa), "cublasLtMatmulDescSetAttribute");
  set(lt.desc_set(p.desc, blas::kLtTransB, &opb, sizeof opb), "cublasLtMatmulDescSetAttribute");
  uint32_t epi = c.bias || c.bias16 ? blas::kLtEpilogueBias : blas::kLtEpilogueDefault;
  set(lt.desc_set(p.desc, blas::kLtEpilogue, &epi, sizeof epi), "cublasLtMatmulDescSetAttribute");
  if (c.bias || c.bias16) {
    // fp32 biases (fp32 outputs) or the bf16 copies of a bf16 output's bias (backend.h); Lt adds
    // them to the fp32 accumulator before rounding.
    int32_t bt = c.bias16 ? CUDA_R_16BF : CUDA_R_32F;
    if (lt.desc_set(p.desc, blas::kLtBiasDataType, &bt, sizeof bt) != 0) return p;
  }
  cudaDataType_t in = (cudaDataType_t)k.in, out = (cudaDataType_t)k.out;
  set(lt.layout_create(&p.a, in, c.tb ? c.K : c.N, c.tb ? c.N : c.K, c.ldb), "cublasLtMatrixLayoutCreate");
  set(lt.layout_create(&p.b, in, c.ta ? c.M : c.K, c.ta ? c.K : c.M, c.lda), "cublasLtMatrixLayoutCreate");
  set(lt.layout_create(&p.d, out, c.N, c.M, c.ldc), "cublasLtMatrixLayoutCreate");
  blas::LtPref pref = nullptr;
  set(lt.pref_create(&pref), "cublasLtMatmulPreferenceCreate");
  uint64_t ws = kWorkspaceBytes;
  lt.pref_set(pref, blas::kLtMaxWorkspace, &ws, sizeof ws);
  lt.pref_set(pref, blas::kLtAlignA, &k.align[0], sizeof(uint32_t));
  lt.pref_set(pref, blas::kLtAlignB, &k.align[1], sizeof(uint32_t));
  lt.pref_set(pref, blas::kLtAlignC, &k.align[3], sizeof(uint32_t));
  lt.pref_set(pref, blas::kLtAlignD, &k.align[2], sizeof(uint32_t));
  blas::LtHeuristic h{};
  int n = 0;
  blas::Status s = lt.heuristic(blas::lt_handle(), p.desc, p.a, p.b, p.d, p.d, pref, 1, &h, &n);
  lt.pref_destroy(pref);
  if (s == 0 && n > 0 && h.state == 0 && h.workspace_size <= kWorkspaceBytes) {
    p.ok = true;
    p.algo = h.algo;
    p.workspace = h.workspace_size;
  }
  return p;
}

void* workspace(int dev) {
  if (!g_workspace[dev]) check(cudaMalloc(&g_workspace[dev], kWorkspaceBytes), "cudaMalloc (cuBLASLt workspace)");
  return g_workspace[dev];
}

}  // namespace

bool gemm_lt(const LtCall& c) {
  const blas::LtApi* lt = blas::lt();
  if (!lt) return false;
  const void* D = c.C16 ? static_cast<const void*>(c.C16) : static_cast<const void*>(c.C);
  Key k{};
  k.M = c.M, k.N = c.N, k.K = c.K, k.lda = c.lda, k.ldb = c.ldb, k.ldc = c.ldc;
  k.ta = c.ta, k.tb = c.tb, k.in = c.in_type, k.out = c.C16 ? CUDA_R_16BF : CUDA_R_32F, k.bias = c.bias16 ? 2 : c.bias ? 1 : 0;
  k.compute = c.in_type == CUDA_R_32F && blas::tf32() ? blas::kCompute32FFastTf32 : blas::kCompute32F;
  k.dev = current_device();
  k.align[0] = alignment(c.B), k.align[1] = alignment(c.A), k.align[2] = alignment(D);
  k.align[3] = c.R ? alignment(c.R) : k.align[2];
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_plans.find(k);
  if (it == g_plans.end()) it = g_plans.emplace(k, make_plan(*lt, c, k)).first;
  const Plan& p = it->second;
  if (!p.ok) return false;
  if (c.bias || c.bias16) {
    const void* bias = c.bias16 ? static_cast<const void*>(c.bias16) : static_cast<const void*>(c.bias);
    set(lt->desc_set(p.desc, blas::kLtBiasPointer, &bias, sizeof bias), "cublasLtMatmulDescSetAttribute");
  }
  const float alpha = c.alpha, beta = c.R ? 1.f : 0.f;
  void* out = const_cast<void*>(D);
  const void* cin = c.R ? static_cast<const void*>(c.R) : out;
  set(lt->matmul(blas::lt_handle(), p.desc, &alpha, c.B, p.a, c.A, p.b, &beta, cin, p.d, out, p.d, &p.algo,
                 workspace(k.dev), p.workspace, stream()),
      "cublasLtMatmul");
  g_calls++;
  return true;
}

}  // namespace vj::cuda

namespace vj {

uint64_t cuda_lt_gemms() {
  std::lock_guard<std::mutex> lk(cuda::g_mu);
  return cuda::g_calls;
}

}  // namespace vj
