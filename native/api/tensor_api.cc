// Tensor creation, views, transfers and runtime introspection.
#include <cstring>

#include "api/common.h"
#include "cuda/wgmma_widths.h"
#include "cpu/cpuid.h"
#include "cpu/kernels.h"
#include "cpu/threadpool.h"
#include "device.h"

using namespace vj;

static Device parse_device(const std::string& s, int* index, const char* op) {
  if (s == "cpu") {
    *index = 0;
    return Device::CPU;
  }
  if (s.rfind("cuda", 0) == 0) {
    *index = 0;
    if (s.size() > 5 && s[4] == ':') *index = std::atoi(s.c_str() + 5);
    else if (s.size() != 4) fail(std::string(op) + ": bad device '" + s + "' (use cpu, cuda or cuda:N)");
    return Device::CUDA;
  }
  fail(std::string(op) + ": bad device '" + s + "' (use cpu, cuda or cuda:N)");
}

// empty(shape, dtype, device) -> uninitialised tensor
VJ_BINDING(empty) {
  Args a(info, "empty");
  auto shape = a.shape(0, "shape");
  DType dt = dtype_from_name(a.str(1, "dtype"));
  int idx;
  Device dev = parse_device(a.count() > 2 ? a.str(2, "device") : "cpu", &idx, "empty");
  return wrap_tensor(info.Env(), Tensor::empty(shape, dt, dev, idx));
}

// zeros(shape, dtype, device)
VJ_BINDING(zeros) {
  Args a(info, "zeros");
  auto shape = a.shape(0, "shape");
  DType dt = dtype_from_name(a.str(1, "dtype"));
  int idx;
  Device dev = parse_device(a.count() > 2 ? a.str(2, "device") : "cpu", &idx, "zeros");
  Tensor t = Tensor::empty(shape, dt, dev, idx);
  if (dev == Device::CPU) std::memset(t.raw(), 0, t.nbytes());
  else cuda_memset0(t.raw(), t.nbytes(), idx);
  return wrap_tensor(info.Env(), t);
}

// reshape(t, shape) -> a view sharing storage
VJ_BINDING(reshape) {
  Args a(info, "reshape");
  Tensor& t = a.tensor(0, "tensor");
  auto shape = a.shape(1, "shape");
  Tensor v = t;
  v.shape = shape;
  if (v.numel() != t.numel())
    fail("reshape: cannot view " + t.desc() + " as " + shape_str(shape) + " (" + std::to_string(t.numel()) + " vs " +
         std::to_string(v.numel()) + " elements)");
  return wrap_tensor(info.Env(), v);
}

// narrow(t, start, length) along dim 0 -> a view sharing storage
VJ_BINDING(narrow) {
  Args a(info, "narrow");
  Tensor& t = a.tensor(0, "tensor");
  int64_t start = a.i64(1, "start"), len = a.i64(2, "length");
  if (t.dim() == 0) fail("narrow: cannot narrow a scalar " + t.desc());
  if (start < 0 || len < 0 || start + len > t.shape[0])
    fail("narrow: range [" + std::to_string(start) + ", " + std::to_string(start + len) + ") is outside dim 0 of " + t.desc());
  Tensor v = t;
  int64_t row = t.numel() / std::max<int64_t>(1, t.shape[0]);
  v.offset += (size_t)(start * row) * dtype_size(t.dtype);
  v.shape[0] = len;
  return wrap_tensor(info.Env(), v);
}

// sharesStorage(a, b): whether the two are views of one storage (so an op that writes one while
// reading the other may not run in place).
VJ_BINDING(sharesStorage) {
  Args a(info, "sharesStorage");
  Tensor &x = a.tensor(0, "a"), &y = a.tensor(1, "b");
  return Napi::Boolean::New(info.Env(), x.storage == y.storage);
}

// copy(src, dst): same dtype and element count, any devices
VJ_BINDING(copy) {
  Args a(info, "copy");
  Tensor& s = a.tensor(0, "src");
  Tensor& d = a.tensor(1, "dst");
  if (s.dtype != d.dtype) fail("copy: dtype mismatch " + s.desc() + " -> " + d.desc());
  if (s.numel() != d.numel()) fail("copy: element count mismatch " + s.desc() + " -> " + d.desc());
  size_t n = s.nbytes();
  if (s.device() == Device::CPU && d.device() == Device::CPU) std::memmove(d.raw(), s.raw(), n);
  else if (s.device() == Device::CPU) cuda_copy_h2d(d.raw(), s.raw(), n, d.storage->device_index);
  else if (d.device() == Device::CPU) cuda_copy_d2h(d.raw(), s.raw(), n, s.storage->device_index);
  else cuda_copy_d2d(d.raw(), s.raw(), n, d.storage->device_index);
  return info.Env().Undefined();
}

// The typed array that holds each dtype's values (bfloat16 as raw uint16).
static bool array_fits(napi_typedarray_type t, DType d) {
  switch (d) {
    case DType::F32: return t == napi_float32_array;
    case DType::BF16: return t == napi_uint16_array;
    case DType::I32: return t == napi_int32_array;
    case DType::I64: return t == napi_bigint64_array;
    case DType::U8: return t == napi_uint8_array || t == napi_uint8_clamped_array;
    case DType::F64: return t == napi_float64_array;
  }
  return false;
}

static const char* array_for(DType d) {
  switch (d) {
    case DType::F32: return "a Float32Array";
    case DType::BF16: return "a Uint16Array";
    case DType::I32: return "an Int32Array";
    case DType::I64: return "a BigInt64Array";
    case DType::U8: return "a Uint8Array";
    case DType::F64: return "a Float64Array";
  }
  return "?";
}

static const char* array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "an Int8Array";
    case napi_uint8_array: return "a Uint8Array";
    case napi_uint8_clamped_array: return "a Uint8ClampedArray";
    case napi_int16_array: return "an Int16Array";
    case napi_uint16_array: return "a Uint16Array";
    case napi_int32_array: return "an Int32Array";
    case napi_uint32_array: return "a Uint32Array";
    case napi_float32_array: return "a Float32Array";
    case napi_float64_array: return "a Float64Array";
    case napi_bigint64_array: return "a BigInt64Array";
    case napi_biguint64_array: return "a BigUint64Array";
    default: return "a typed array of another kind";
  }
}

// uploadAsync(src, dst): copies a typed array (of dst's dtype and element count) into dst.
// On CUDA the bytes are staged in pinned memory and copied on the device's copy stream: this
// returns once they are staged (src may be reused at once), and the first op that touches dst
// waits, on the GPU, for the copy (Storage::pending_upload). On the CPU it is a plain copy.
VJ_BINDING(uploadAsync) {
  Args a(info, "uploadAsync");
  if (a.count() < 1 || !info[0].IsTypedArray()) fail("uploadAsync: argument 0 (src) must be a typed array");
  napi_typedarray_type type;
  size_t length = 0, byte_offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (napi_get_typedarray_info(info.Env(), info[0], &type, &length, &data, &buffer, &byte_offset) != napi_ok)
    fail("uploadAsync: could not read argument 0 (src)");
  Tensor& d = a.tensor(1, "dst");
  if (!array_fits(type, d.dtype))
    fail(std::string("uploadAsync: src is ") + array_name(type) + " but dst " + d.desc() + " takes " + array_for(d.dtype) +
         " (" + dtype_name(d.dtype) + ")");
  if ((int64_t)length != d.numel())
    fail("uploadAsync: src has " + std::to_string(length) + " elements but dst " + d.desc() + " has " +
         std::to_string(d.numel()));
  size_t n = d.nbytes();
  if (n == 0) return info.Env().Undefined();
  if (d.device() == Device::CPU) {
    std::memcpy(d.raw(), data, n);
    return info.Env().Undefined();
  }
  Storage& s = *d.storage;
  // Not raw(): an earlier upload into this storage need not be joined, the copy stream orders them.
  void* ev = cuda_upload_async(static_cast<char*>(s.data) + d.offset, data, n, s.device_index);
  // ev (or, when null, the completed copy) covers the previous event, so it is just recycled.
  if (void* old = s.pending_upload.exchange(ev)) cuda_upload_drop(old, s.device_index);
  return info.Env().Undefined();
}

// uploadStats(device = 'cuda:0'): the pinned staging memory and upload counters of a device.
VJ_BINDING(uploadStats) {
  Args a(info, "uploadStats");
  int idx = 0;
  Device dev = parse_device(a.count() > 0 ? a.str(0, "device") : "cuda:0", &idx, "uploadStats");
  CudaUploadStats st;
  if (dev == Device::CUDA) st = cuda_upload_stats(idx);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("pinnedBytes", (double)st.pinned_bytes);
  o.Set("pinnedBuffers", (double)st.pinned_buffers);
  o.Set("pendingUploads", (double)st.events_out);
  o.Set("asyncCopies", (double)st.async_copies);
  o.Set("syncCopies", (double)st.sync_copies);
  return o;
}

VJ_BINDING(stats) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveTensors", (double)live_storages());
  o.Set("cpuBytes", (double)live_bytes(Device::CPU));
  o.Set("cudaBytes", (double)live_bytes(Device::CUDA));
  o.Set("cpuPeakBytes", (double)peak_bytes(Device::CPU));
  o.Set("cudaPeakBytes", (double)peak_bytes(Device::CUDA));
  o.Set("cpuCachedBytes", (double)cached_host_bytes());
  CudaCacheStats c = cuda_cache_stats(-1);
  o.Set("cudaReservedBytes", (double)c.reserved_bytes);
  o.Set("cudaCachedBytes", (double)c.cached_bytes);
  return o;
}

// emptyCache(): returns the cached free host buffers and device blocks to the system.
VJ_BINDING(emptyCache) {
  empty_host_cache();
  cuda_empty_cache();
  return info.Env().Undefined();
}

VJ_BINDING(resetPeak) {
  reset_peak_bytes(Device::CPU);
  reset_peak_bytes(Device::CUDA);
  return info.Env().Undefined();
}

VJ_BINDING(setNumThreads) {
  Args a(info, "setNumThreads");
  int64_t n = a.i64(0, "n");
  if (n < 1 || n > 1024) fail("setNumThreads: n must be in [1, 1024], got " + std::to_string(n));
  cpu::set_num_threads((int)n);
  return info.Env().Undefined();
}

VJ_BINDING(numThreads) { return Napi::Number::New(info.Env(), cpu::num_threads()); }

VJ_BINDING(setIsa) {
  Args a(info, "setIsa");
  cpu::set_isa(a.str(0, "isa"));
  return Napi::String::New(info.Env(), cpu::isa_name(cpu::isa()));
}

VJ_BINDING(isa) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("active", cpu::isa_name(cpu::isa()));
  o.Set("best", cpu::isa_name(cpu::best_isa()));
  return o;
}

VJ_BINDING(cudaInfo) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("compiled", cuda_compiled());
  std::string why = cuda_unavailable_reason();
  o.Set("available", why.empty());
  o.Set("reason", why);
  o.Set("ltGemms", (double)cuda_lt_gemms());  // GEMMs run on cuBLASLt so far
  o.Set("wgmmaAttention", (double)cuda_wgmma_attention());  // attention forwards run by the wgmma kernels
  o.Set("launches", (double)cuda_launches());  // kernels launched so far, a GEMM counted as one
#ifdef VJ_CUDA_EMU
  o.Set("emulated", true);  // test build: the CUDA backend runs on the CPU emulator
#else
  o.Set("emulated", false);
#endif
  return o;
}

// wgmmaSelfTest(): [{ layout, maxErr, widths }] for each wgmma operand layout and width the attention
// kernels use (exact: maxErr 0 where the hardware agrees with wgmma.cuh; widths: the head widths,
// as wgmmaHeadWidth gives them, whose kernels use it); [] where the device has no wgmma.
VJ_BINDING(wgmmaSelfTest) {
  const auto rows = cuda_wgmma_selftest();
  Napi::Array out = Napi::Array::New(info.Env(), rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("layout", rows[i].layout);
    o.Set("maxErr", rows[i].max_err);
    Napi::Array widths = Napi::Array::New(info.Env(), rows[i].widths.size());
    for (size_t j = 0; j < rows[i].widths.size(); j++) widths.Set((uint32_t)j, rows[i].widths[j]);
    o.Set("widths", widths);
    out.Set((uint32_t)i, o);
  }
  return out;
}

// wgmmaHeadWidth(headDim, hd24): the width the wgmma attention kernels run headDim at (24, 32, 64,
// 80, 96 or 128), or 0 where they do not take it; hd24 lets 16 (padded to 32) and 24 in. The device aside.
VJ_BINDING(wgmmaHeadWidth) {
  Args a(info, "wgmmaHeadWidth");
  return Napi::Number::New(info.Env(), wgmma_head_width(a.i64(0, "headDim"), a.boolean(1, "hd24")));
}

// The index N of a device that must be CUDA ("cuda" or "cuda:N").
static int cuda_index(const std::string& s, const char* op) {
  int idx = 0;
  if (parse_device(s, &idx, op) != Device::CUDA) fail(std::string(op) + ": device must be cuda or cuda:N");
  return idx;
}

// setAttentionKernels(device, headDim, fwd, bwd): the bf16 attention kernels for headDim on that
// CUDA device, as the tuner (lib/ops/attention-tuning.ts) chose them; '' forgets a choice.
VJ_BINDING(setAttentionKernels) {
  Args a(info, "setAttentionKernels");
  const int idx = cuda_index(a.str(0, "device"), "setAttentionKernels");
  cuda_set_attention_kernels(idx, a.i64(1, "headDim"), a.str(2, "fwd"), a.str(3, "bwd"));
  return info.Env().Undefined();
}

// attentionKernels(device, headDim): { fwd, bwd, fwdFrom, bwdFrom }, what runs for headDim there
// and why ('env', 'tuned' or 'default').
VJ_BINDING(attentionKernels) {
  Args a(info, "attentionKernels");
  const int idx = cuda_index(a.str(0, "device"), "attentionKernels");
  CudaAttnKernels k = cuda_attention_kernels(idx, a.i64(1, "headDim"));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("fwd", k.fwd);
  o.Set("bwd", k.bwd);
  o.Set("fwdFrom", k.fwd_from);
  o.Set("bwdFrom", k.bwd_from);
  return o;
}

// cudaDevice(index): { name, major, minor, totalBytes } of cuda:index.
VJ_BINDING(cudaDevice) {
  Args a(info, "cudaDevice");
  CudaDeviceInfo d = cuda_device_info((int)a.i64(0, "index"));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("name", d.name);
  o.Set("major", d.major);
  o.Set("minor", d.minor);
  o.Set("totalBytes", (double)d.total_bytes);
  return o;
}

// cudaStopwatchStart(device) / cudaStopwatchStop(device) -> ms: GPU time on the device's compute
// stream between the two calls (CUDA events; the trainer's gpu-time column). Stop waits for it.
VJ_BINDING(cudaStopwatchStart) {
  Args a(info, "cudaStopwatchStart");
  cuda_stopwatch_start(cuda_index(a.str(0, "device"), "cudaStopwatchStart"));
  return info.Env().Undefined();
}

VJ_BINDING(cudaStopwatchStop) {
  Args a(info, "cudaStopwatchStop");
  return Napi::Number::New(info.Env(), cuda_stopwatch_stop(cuda_index(a.str(0, "device"), "cudaStopwatchStop")));
}

// sincos3d(out [N,D], T, Hp, Wp, uniformPower) — CPU only, built once per shape.
VJ_BINDING(sincos3d) {
  Args a(info, "sincos3d");
  Tensor& out = a.tensor(0, "out");
  int64_t T = a.i64(1, "T"), Hp = a.i64(2, "Hp"), Wp = a.i64(3, "Wp");
  bool up = a.boolean(4, "uniformPower");
  if (T < 1 || Hp < 1 || Wp < 1)
    fail("sincos3d: the grid must be at least 1x1x1, got " + std::to_string(T) + "x" + std::to_string(Hp) + "x" + std::to_string(Wp));
  check_dtype("sincos3d", "out", out, DType::F32);
  check_device("sincos3d", "out", out, Device::CPU);
  check_shape("sincos3d", "out", out, {T * Hp * Wp, -1});
  cpu::sincos_3d(out.f32(), T, Hp, Wp, out.shape[1], up);
  return info.Env().Undefined();
}

VJ_BINDING(sincos2d) {
  Args a(info, "sincos2d");
  Tensor& out = a.tensor(0, "out");
  int64_t Hp = a.i64(1, "Hp"), Wp = a.i64(2, "Wp");
  if (Hp < 1 || Wp < 1) fail("sincos2d: the grid must be at least 1x1, got " + std::to_string(Hp) + "x" + std::to_string(Wp));
  check_dtype("sincos2d", "out", out, DType::F32);
  check_device("sincos2d", "out", out, Device::CPU);
  check_shape("sincos2d", "out", out, {Hp * Wp, -1});
  cpu::sincos_2d(out.f32(), Hp, Wp, out.shape[1]);
  return info.Env().Undefined();
}
