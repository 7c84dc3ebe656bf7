#include "tensor.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

#include "device.h"

namespace vj {

namespace {
std::atomic<int64_t> g_live_storages{0};
std::atomic<int64_t> g_live_bytes[2] = {{0}, {0}};
std::atomic<int64_t> g_peak_bytes[2] = {{0}, {0}};

void note_alloc(Device d, int64_t n) {
  int64_t now = g_live_bytes[(int)d].fetch_add(n) + n;
  int64_t peak = g_peak_bytes[(int)d].load();
  while (now > peak && !g_peak_bytes[(int)d].compare_exchange_weak(peak, now)) {
  }
}
}  // namespace

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
    case DType::F64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::BF16: return "bfloat16";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
    case DType::U8: return "uint8";
    case DType::F64: return "float64";
  }
  return "?";
}

DType dtype_from_name(const std::string& n) {
  if (n == "float32") return DType::F32;
  if (n == "bfloat16") return DType::BF16;
  if (n == "int32") return DType::I32;
  if (n == "int64") return DType::I64;
  if (n == "uint8") return DType::U8;
  if (n == "float64") return DType::F64;
  fail("unknown dtype '" + n + "' (expected float32, bfloat16, int32, int64, uint8 or float64)");
}

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

Storage::Storage(size_t n, Device dev, int idx) : nbytes(n), device(dev), device_index(idx) {
  size_t alloc = n == 0 ? 64 : n;
  if (dev == Device::CPU) {
    // 64-byte alignment: one AVX-512 vector, one cache line.
    size_t rounded = (alloc + 63) & ~size_t(63);
    data = std::aligned_alloc(64, rounded);
    if (!data) throw std::bad_alloc();
  } else {
    data = cuda_alloc(alloc, idx);
  }
  g_live_storages++;
  note_alloc(dev, (int64_t)n);
}

Storage::~Storage() {
  if (device == Device::CPU) std::free(data);
  else cuda_free(data, device_index);
  g_live_storages--;
  g_live_bytes[(int)device] -= (int64_t)nbytes;
}

int64_t live_storages() { return g_live_storages.load(); }
int64_t live_bytes(Device d) { return g_live_bytes[(int)d].load(); }
int64_t peak_bytes(Device d) { return g_peak_bytes[(int)d].load(); }
void reset_peak_bytes(Device d) { g_peak_bytes[(int)d] = g_live_bytes[(int)d].load(); }

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

int64_t Tensor::size(int64_t i) const {
  int64_t d = dim();
  if (i < 0) i += d;
  if (i < 0 || i >= d) fail("dimension " + std::to_string(i) + " out of range for " + desc());
  return shape[(size_t)i];
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < shape.size(); i++) o << (i ? "," : "") << shape[i];
  o << "]";
  return o.str();
}

std::string Tensor::desc() const {
  static const char* short_names[] = {"f32", "bf16", "i32", "i64", "u8", "f64"};
  return std::string(short_names[(int)dtype]) + shape_str(shape) + "@" + device_name(device());
}

Tensor Tensor::empty(const std::vector<int64_t>& shape, DType dtype, Device device, int device_index) {
  int64_t n = 1;
  for (auto s : shape) {
    if (s < 0) fail("empty: negative dimension in shape " + shape_str(shape));
    n *= s;
  }
  Tensor t;
  t.shape = shape;
  t.dtype = dtype;
  t.storage = std::make_shared<Storage>((size_t)n * dtype_size(dtype), device, device_index);
  return t;
}

void fail(const std::string& msg) { throw Error(msg); }

void check_dtype(const char* op, const char* name, const Tensor& t, DType want) {
  if (t.dtype != want)
    fail(std::string(op) + ": " + name + " must be " + dtype_name(want) + ", got " + t.desc());
}

void check_device(const char* op, const char* name, const Tensor& t, Device want) {
  if (t.device() != want)
    fail(std::string(op) + ": " + name + " is on " + device_name(t.device()) + " but the op runs on " +
         device_name(want) + " (" + t.desc() + ")");
}

void check_shape(const char* op, const char* name, const Tensor& t, const std::vector<int64_t>& want) {
  bool ok = t.shape.size() == want.size();
  for (size_t i = 0; ok && i < want.size(); i++)
    if (want[i] >= 0 && want[i] != t.shape[i]) ok = false;
  if (!ok) {
    std::ostringstream o;
    o << op << ": " << name << " has shape " << shape_str(t.shape) << ", expected [";
    for (size_t i = 0; i < want.size(); i++) {
      if (i) o << ",";
      if (want[i] < 0) o << "*";
      else o << want[i];
    }
    o << "]";
    fail(o.str());
  }
}

void check_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  if (a.shape != b.shape)
    fail(std::string(op) + ": " + a_name + " " + a.desc() + " and " + b_name + " " + b.desc() +
         " must have the same shape");
}

void check_numel(const char* op, const char* name, const Tensor& t, int64_t want) {
  if (t.numel() != want)
    fail(std::string(op) + ": " + name + " " + t.desc() + " must have " + std::to_string(want) + " elements");
}

}  // namespace vj
