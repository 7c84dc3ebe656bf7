// Which bf16 attention kernels run, per device and head_dim: VJEPA_CUDA_ATTN_FWD / _BWD where
// set (read at each call, so that a benchmark can time each), else what the tuner chose for this
// GPU after checking the candidates against the default kernels in a child process
// (lib/ops/attention-tuning.ts), else the default: mma.sync, with the deterministic split backward.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cuda/attention_tc.h"
#include "cuda/common.cuh"

namespace vj::cuda {

namespace {

constexpr int kMaxHeadDim = 128;
// 0 where nothing was chosen, else an AttnFwd / AttnBwd value. The JS thread writes them and the
// launches read them; atomics so that a worker thread's call never sees a torn value.
std::atomic<uint8_t> g_fwd[kMaxDevices][kMaxHeadDim + 1];
std::atomic<uint8_t> g_bwd[kMaxDevices][kMaxHeadDim + 1];

const char* const kFwdNames[] = {"", "mma", "wgmma", "wgmma-bn64"};
const char* const kBwdNames[] = {"", "split", "fused", "wgmma"};

uint8_t parse(const char* s, const char* const* names, int n, const std::string& what, const char* expected) {
  for (int i = 1; i < n; i++)
    if (std::strcmp(s, names[i]) == 0) return (uint8_t)i;
  fail(what + ": expected " + expected + ", got '" + s + "'");
}
uint8_t parse_fwd(const char* s, const std::string& what) { return parse(s, kFwdNames, 4, what, "mma, wgmma or wgmma-bn64"); }
uint8_t parse_bwd(const char* s, const std::string& what) { return parse(s, kBwdNames, 4, what, "split, fused or wgmma"); }

const char* env_value(const char* name) {
  const char* e = std::getenv(name);
  return e && *e ? e : nullptr;
}

void check_slot(int dev, int64_t hd, const char* op) {
  if (dev < 0 || dev >= kMaxDevices) fail(std::string(op) + ": device index " + std::to_string(dev) + " out of range");
  if (hd < 1 || hd > kMaxHeadDim)
    fail(std::string(op) + ": headDim must be in [1, " + std::to_string(kMaxHeadDim) + "], got " + std::to_string(hd));
}

struct Resolved {
  uint8_t fwd, bwd;
  const char *fwd_from, *bwd_from;  // "env", "tuned" or "default"
};

Resolved resolve(int dev, int64_t hd) {
  Resolved r{1, 1, "default", "default"};
  if (hd >= 1 && hd <= kMaxHeadDim) {
    if (uint8_t f = g_fwd[dev][hd].load(std::memory_order_relaxed)) r.fwd = f, r.fwd_from = "tuned";
    if (uint8_t b = g_bwd[dev][hd].load(std::memory_order_relaxed)) r.bwd = b, r.bwd_from = "tuned";
  }
  if (const char* e = env_value("VJEPA_CUDA_ATTN_FWD")) r.fwd = parse_fwd(e, "VJEPA_CUDA_ATTN_FWD"), r.fwd_from = "env";
  if (const char* e = env_value("VJEPA_CUDA_ATTN_BWD")) r.bwd = parse_bwd(e, "VJEPA_CUDA_ATTN_BWD"), r.bwd_from = "env";
  return r;
}

}  // namespace

AttnKernels attention_kernels(int64_t hd) {
  const int dev = current_device();
  const Resolved r = resolve(dev, hd);
  // wgmma at head_dim <= 24 is asked for by VJEPA_CUDA_ATTN_WGMMA_HD24=1, or implied where the
  // tuner timed those kernels against the mma.sync ones (24 wide as well) and chose them.
  const bool tuned_wgmma = hd >= 1 && hd <= kMaxHeadDim &&
                           (g_fwd[dev][hd].load(std::memory_order_relaxed) >= (uint8_t)AttnFwd::wgmma ||
                            g_bwd[dev][hd].load(std::memory_order_relaxed) == (uint8_t)AttnBwd::wgmma);
  return {static_cast<AttnFwd>(r.fwd), static_cast<AttnBwd>(r.bwd), env_flag("VJEPA_CUDA_ATTN_WGMMA_HD24") || tuned_wgmma};
}

}  // namespace vj::cuda

namespace vj {

void cuda_set_attention_kernels(int dev, int64_t hd, const std::string& fwd, const std::string& bwd) {
  cuda::check_slot(dev, hd, "setAttentionKernels");
  // Both parsed before either is stored: a bad name changes nothing.
  const uint8_t f = fwd.empty() ? 0 : cuda::parse_fwd(fwd.c_str(), "setAttentionKernels: fwd");
  const uint8_t b = bwd.empty() ? 0 : cuda::parse_bwd(bwd.c_str(), "setAttentionKernels: bwd");
  cuda::g_fwd[dev][hd].store(f, std::memory_order_relaxed);
  cuda::g_bwd[dev][hd].store(b, std::memory_order_relaxed);
}

CudaAttnKernels cuda_attention_kernels(int dev, int64_t hd) {
  cuda::check_slot(dev, hd, "attentionKernels");
  const cuda::Resolved r = cuda::resolve(dev, hd);
  return {cuda::kFwdNames[r.fwd], cuda::kBwdNames[r.bwd], r.fwd_from, r.bwd_from};
}

}  // namespace vj
