#include "tensor.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <sstream>
#include <vector>

#include <sys/mman.h>

#include "block_cache.h"
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
// Host buffers are recycled by size class (1/8 steps within each power of two), best fit
// (block_cache.h). A training step allocates much the same activations every iteration;
// without reuse each large buffer is a fresh mmap whose pages the kernel zero-fills on first
// touch.
//
// Large buffers are also marked MADV_DONTFORK: the loader spawns ffmpeg processes, and
// every fork would otherwise make all tensor pages copy-on-write, so the next write to each
// page of every activation faults (measured: 80% of a step in the kernel on a small model).
class HostCache {
 public:
  static size_t size_class(size_t n) {
    if (n <= 4096) return (n + 63) & ~size_t(63);
    size_t p = size_t(1) << (63 - __builtin_clzll(n));  // highest power of two <= n
    size_t step = p >> 3;
    return (n + step - 1) / step * step;
  }

  // A block of at least `bytes` (a size class); *block receives the block's own class.
  void* get(size_t bytes, size_t* block) {
    {
      std::lock_guard<std::mutex> lk(m_);
      BlockCache::Block b = free_.take(bytes);
      if (b.p) {
        *block = b.bytes;
        return b.p;
      }
    }
    void* p = raw_alloc(bytes);
    if (!p) {
      release_all();
      p = raw_alloc(bytes);
      if (!p) throw std::bad_alloc();
    }
    *block = bytes;
    return p;
  }

  void put(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lk(m_);
      if (free_.bytes() + bytes <= limit()) {
        free_.put(p, bytes);
        return;
      }
    }
    raw_free(p, bytes);
  }

  void release_all() {
    std::vector<BlockCache::Block> drop;  // freed outside the lock
    {
      std::lock_guard<std::mutex> lk(m_);
      free_.drain([&](void* p, size_t bytes) { drop.push_back({p, bytes}); });
    }
    for (const BlockCache::Block& b : drop) raw_free(b.p, b.bytes);
  }

  size_t cached() {
    std::lock_guard<std::mutex> lk(m_);
    return free_.bytes();
  }

 private:
  static constexpr size_t kPage = 4096;
  static constexpr size_t kNoForkMin = 256 * 1024;

  static void* raw_alloc(size_t bytes) {
    if (bytes < kNoForkMin) return std::aligned_alloc(64, bytes);
    size_t rounded = (bytes + kPage - 1) & ~(kPage - 1);
    void* p = std::aligned_alloc(kPage, rounded);
#ifdef MADV_DONTFORK
    if (p) madvise(p, rounded, MADV_DONTFORK);
#endif
    return p;
  }

  static void raw_free(void* p, size_t bytes) {
#ifdef MADV_DOFORK
    if (bytes >= kNoForkMin) madvise(p, (bytes + kPage - 1) & ~(kPage - 1), MADV_DOFORK);
#endif
    std::free(p);
  }

  static size_t limit() {
    static size_t l = [] {
      const char* e = std::getenv("VJEPA_CPU_CACHE_MB");
      return (size_t)(e ? std::atoll(e) : 1024) << 20;
    }();
    return l;
  }

  std::mutex m_;
  BlockCache free_;
};

HostCache& host_cache() {
  static HostCache* c = new HostCache();  // never destroyed: storages may outlive static teardown
  return *c;
}

inline size_t host_bytes(size_t n) { return HostCache::size_class(n == 0 ? 64 : n); }
}  // namespace

int64_t cached_host_bytes() { return (int64_t)host_cache().cached(); }
void empty_host_cache() { host_cache().release_all(); }

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
  if (dev == Device::CPU) {
    // 64-byte alignment: one AVX-512 vector, one cache line.
    data = host_cache().get(host_bytes(n), &block_bytes);
  } else {
    data = cuda_alloc(n == 0 ? 64 : n, idx);
  }
  g_live_storages++;
  note_alloc(dev, (int64_t)n);
}

Storage::~Storage() {
  // Before the block can be handed out again, the compute stream must be past the copy.
  if (void* ev = pending_upload.exchange(nullptr)) cuda_upload_join(ev, device_index, false);
  if (device == Device::CPU) host_cache().put(data, block_bytes);
  else cuda_free(data, device_index);
  g_live_storages--;
  g_live_bytes[(int)device] -= (int64_t)nbytes;
}

void Storage::join_upload() {
  if (void* ev = pending_upload.exchange(nullptr)) cuda_upload_join(ev, device_index, true);
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
