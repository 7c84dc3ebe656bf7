// Tensor creation, views, transfers and runtime introspection.
#include <cstring>

#include "api/common.h"
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
  return TensorHandle::Wrap(info.Env(), Tensor::empty(shape, dt, dev, idx));
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
  return TensorHandle::Wrap(info.Env(), t);
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
  return TensorHandle::Wrap(info.Env(), v);
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
  return TensorHandle::Wrap(info.Env(), v);
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

VJ_BINDING(stats) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveTensors", (double)live_storages());
  o.Set("cpuBytes", (double)live_bytes(Device::CPU));
  o.Set("cudaBytes", (double)live_bytes(Device::CUDA));
  o.Set("cpuPeakBytes", (double)peak_bytes(Device::CPU));
  o.Set("cudaPeakBytes", (double)peak_bytes(Device::CUDA));
  o.Set("cpuCachedBytes", (double)cached_host_bytes());
  return o;
}

// emptyCache(): returns the cached free host buffers to the system.
VJ_BINDING(emptyCache) {
  empty_host_cache();
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
  return o;
}

// sincos3d(out [N,D], T, Hp, Wp, uniformPower) — CPU only, built once per shape.
VJ_BINDING(sincos3d) {
  Args a(info, "sincos3d");
  Tensor& out = a.tensor(0, "out");
  int64_t T = a.i64(1, "T"), Hp = a.i64(2, "Hp"), Wp = a.i64(3, "Wp");
  bool up = a.boolean(4, "uniformPower");
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
  check_dtype("sincos2d", "out", out, DType::F32);
  check_device("sincos2d", "out", out, Device::CPU);
  check_shape("sincos2d", "out", out, {Hp * Wp, -1});
  cpu::sincos_2d(out.f32(), Hp, Wp, out.shape[1]);
  return info.Env().Undefined();
}
