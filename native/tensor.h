// Tensors as the addon sees them: a refcounted storage plus a contiguous view
// (byte offset, shape, dtype). Views come from reshape/narrow and share storage.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace vj {

enum class DType : int { F32 = 0, BF16 = 1, I32 = 2, I64 = 3, U8 = 4, F64 = 5 };
enum class Device : int { CPU = 0, CUDA = 1 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
DType dtype_from_name(const std::string& name);
const char* device_name(Device d);

// Every failure inside the addon is one of these (or std::bad_alloc); the binding
// layer turns it into a JS Error, so nothing ever aborts the process.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  size_t block_bytes = 0;  // CPU: the cached host block holding data (its size class, >= nbytes)
  Device device = Device::CPU;
  int device_index = 0;
  // The event of an asynchronous upload into this storage that no op has waited for yet
  // (CUDA only, see cuda_upload_async); Tensor::raw() and the destructor join it.
  std::atomic<void*> pending_upload{nullptr};
  Storage(size_t nbytes, Device device, int device_index);
  ~Storage();
  void join_upload();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// Live storages and their bytes, for leak tests and the memory line in the log.
int64_t live_storages();
int64_t live_bytes(Device d);
int64_t peak_bytes(Device d);
void reset_peak_bytes(Device d);
// Freed host buffers kept for reuse (VJEPA_CPU_CACHE_MB caps them, default 1024).
int64_t cached_host_bytes();
void empty_host_cache();

struct Tensor {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes
  std::vector<int64_t> shape;
  DType dtype = DType::F32;

  int64_t numel() const;
  int64_t dim() const { return (int64_t)shape.size(); }
  int64_t size(int64_t i) const;  // negative i counts from the end
  size_t nbytes() const { return (size_t)numel() * dtype_size(dtype); }
  Device device() const { return storage->device; }
  // Every op reaches the memory through here, so the first one after an asynchronous upload
  // orders the compute stream after the copy.
  void* raw() const {
    if (storage->pending_upload.load(std::memory_order_acquire)) storage->join_upload();
    return static_cast<char*>(storage->data) + offset;
  }
  template <class T>
  T* ptr() const { return reinterpret_cast<T*>(raw()); }
  float* f32() const { return ptr<float>(); }
  std::string desc() const;  // e.g. "f32[8,392,192]@cpu"

  static Tensor empty(const std::vector<int64_t>& shape, DType dtype, Device device, int device_index = 0);
};

std::string shape_str(const std::vector<int64_t>& shape);

// Shape checks used by every op; they throw vj::Error naming the op and argument.
void check_dtype(const char* op, const char* name, const Tensor& t, DType want);
void check_device(const char* op, const char* name, const Tensor& t, Device want);
// Dims with value -1 match anything; the rank must match exactly.
void check_shape(const char* op, const char* name, const Tensor& t, const std::vector<int64_t>& want);
void check_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b);
void check_numel(const char* op, const char* name, const Tensor& t, int64_t want);
[[noreturn]] void fail(const std::string& msg);

}  // namespace vj
