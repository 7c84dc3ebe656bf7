// A CPU emulation of the CUDA built-ins and launch our kernels use, so their logic (indexing,
// masking, tiling, synchronisation order) is tested on machines without a GPU. Blocks run one at
// a time in a shuffled order; a block's threads are fibers (ucontext) on the calling OS thread,
// switched at __syncthreads / __syncwarp / __shfl_xor_sync / __shfl_sync, so barrier semantics
// are exact and a barrier some threads never reach is reported as a deadlock. Between barriers
// threads run first to last, or last to first in odd blocks, so a read that lacks a barrier
// sees the other order's data in one of the two. The tensor-core
// product and ldmatrix (native/cuda/mma_bf16.cuh) are emulated there from their documented
// fragment layouts, with shuffles; a cp.async copy (cp_async.cuh) lands when its thread waits for
// it. Hopper's wgmma (wgmma.cuh) reads its shared-memory operands through the descriptors'
// swizzled layouts at an emulated shared address that is not 1024-aligned (so a kernel must align
// its tiles), as the last __syncthreads left them (stores since are not seen: the kernels publish
// operands with a barrier), gathers register operands across the warpgroup at a warpgroup
// rendezvous, and its results land in the accumulators only when the thread waits for their
// group. Its fences are checked by rule: a product needs a wgmma.fence since its thread's last
// commit or wait, reads only shared memory its writers fenced into the async proxy before the
// barrier that published it (publish_async), and fails if its A registers or accumulator are
// written while it is in flight, or the shared memory it read changes before its thread waits for
// it (check_operands). Fresh dynamic shared memory is NaN. Faults the hardware raises and x86
// does not are raised here too: vector accesses at misaligned addresses (the vector types below;
// scalar ones by UBSan's alignment check, which CMakeLists.txt adds to the emulated kernels), and
// warp-synchronous calls whose mask names an exited or absent lane (run_block).
// Not emulated: timing, bank conflicts, the hardware's accumulation order, memory races
// between blocks (blocks never overlap here).
#pragma once
#ifndef VJ_CUDA_EMU
#define VJ_CUDA_EMU 1
#endif

#include <setjmp.h>
#include <array>
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) alignas(n)
#define __shared__ static  // blocks run one after another, so one copy serves every block

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

// Vector types: the hardware faults on a vector load, store or RED at an address not aligned to
// its size (x86 does not), so every copy through memory checks the address it reads or writes.
namespace vj_emu {
inline void check_vec_align(const void* p, unsigned n, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % n) {
    std::fprintf(stderr, "cuda_emu: misaligned address: %s at %p is not %u-byte aligned\n", what, p, n);
    std::abort();
  }
}
}  // namespace vj_emu
#define VJ_EMU_VEC(T, E, A, ...)                                                          \
  struct alignas(A) T {                                                                    \
    E __VA_ARGS__;                                                                         \
    T() = default;                                                                         \
    T(const T& o) { vj_emu::check_vec_align(&o, A, #T " load"), std::memcpy(this, &o, A); }   \
    T& operator=(const T& o) {                                                             \
      vj_emu::check_vec_align(this, A, #T " store"), vj_emu::check_vec_align(&o, A, #T " load"); \
      std::memcpy(this, &o, A);                                                            \
      return *this;                                                                        \
    }                                                                                      \
  };
VJ_EMU_VEC(float2, float, 8, x, y)
VJ_EMU_VEC(float4, float, 16, x, y, z, w)
VJ_EMU_VEC(uint2, unsigned, 8, x, y)
VJ_EMU_VEC(uint4, unsigned, 16, x, y, z, w)
#undef VJ_EMU_VEC
inline float2 make_float2(float x, float y) { float2 r; r.x = x, r.y = y; return r; }
inline float4 make_float4(float x, float y, float z, float w) { float4 r; r.x = x, r.y = y, r.z = z, r.w = w; return r; }
inline uint2 make_uint2(unsigned x, unsigned y) { uint2 r; r.x = x, r.y = y; return r; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { uint4 r; r.x = x, r.y = y, r.z = z, r.w = w; return r; }

namespace vj_emu {

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "cuda_emu: %s\n", what);
  std::abort();
}

struct Fiber {
  ucontext_t ctx;  // the first entry only
  jmp_buf env;     // every later switch: _setjmp/_longjmp skip swapcontext's signal-mask syscall
  bool started = false;
  dim3 tid;
  int wait = 0;  // 0 runnable, 1 at __syncthreads, 2 at __syncwarp, 3 at a warpgroup barrier (wgmma)
  unsigned mask = 0xffffffffu;  // the lanes its __syncwarp / shuffle names
  bool done = false;
};

// A thread's cp.async copies (native/cuda/cp_async.cuh): each waits, with the source bytes read
// at issue, until the thread waits for its group.
struct AsyncCopy {
  unsigned char* dst;
  unsigned char bytes[16];
  int n, group;
};
struct AsyncQueue {
  std::vector<AsyncCopy> copies;
  int group = 0;  // the open (uncommitted) group
};
// A thread's wgmma products in flight: each result (the whole accumulator, n floats) is written to
// d when the thread waits for its group.
struct PendingMma {
  float* d;
  int n, group;
  std::vector<float> v;
  // What the product read from registers, to catch a write to them before its wait: the A
  // fragment (a_src, null for a shared A) and the accumulator as they were at issue.
  const uint32_t* a_src;
  uint32_t a_val[4];
  std::vector<float> d_at_issue;
  // The shared-memory bf16 elements it read (byte offset, bits), which must hold until its wait.
  std::vector<std::pair<uint32_t, uint16_t>> reads;
};
struct MmaQueue {
  std::vector<PendingMma> q;
  int group = 0;
};

// A thread's standing with the two fences wgmma needs: the cp.async copies it landed since its
// last fence.proxy.async, whether it fenced since the last barrier, and whether a wgmma.fence came
// after its last wgmma commit or wait.
struct ProxyState {
  std::vector<std::pair<unsigned char*, int>> unfenced;
  bool fenced = false, wg_fenced = false;
};

struct Block {
  bool direct = false;  // threads run one after another as plain calls (the kernel has no barrier)
  bool reverse = false;  // run threads from the last: a missing barrier shows as a changed result
  int64_t parks = 0;
  std::vector<Fiber> fibers;
  std::vector<uint64_t> shfl;  // one slot per thread
  std::vector<AsyncQueue> async;  // one per thread
  std::vector<MmaQueue> mma;      // one per thread
  std::vector<std::array<uint32_t, 4>> wg_regs;  // a thread's wgmma A registers, for its warpgroup
  // The block's shared memory as the last __syncthreads released it: what wgmma reads.
  std::vector<unsigned char> bar_snap;
  // The async proxy (publish_async): bytes of shared memory cp.async landed since the last barrier,
  // and bytes a barrier published unfenced, which wgmma may not read.
  std::vector<unsigned char> cp_landed, stale;
  std::vector<ProxyState> proxy;  // one per thread
  jmp_buf main;
  int cur = 0;
  unsigned char* smem = nullptr;
  size_t smem_bytes = 0;
  const std::function<void()>* body = nullptr;
};

inline thread_local Block* t_block = nullptr;

inline unsigned char* dyn_smem() { return t_block->smem; }
inline int linear_tid() { return (int)(threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y); }

inline void end_thread(Block& b) {
  if (!b.async[linear_tid()].copies.empty()) die("a thread ended with cp.async copies it never waited for");
  if (!b.mma[linear_tid()].q.empty()) die("a thread ended with wgmma products it never waited for");
}

inline void fiber_entry() {
  Block& b = *t_block;
  (*b.body)();
  end_thread(b);
  b.fibers[b.cur].done = true;
  _longjmp(b.main, 1);
}

inline void park(int kind) {
  Block& b = *t_block;
  if (b.direct) die("a kernel that ran without barriers before reached one (data-dependent __syncthreads?)");
  b.parks++;
  Fiber& me = b.fibers[b.cur];
  me.wait = kind;
  if (!_setjmp(me.env)) _longjmp(b.main, 1);
}

// At a barrier's release, which stores the async proxy (wgmma's operand reads) sees from now on.
// A store reaches it only if its thread ran fence.proxy.async after it and before the barrier.
// cp.async copies are followed per thread, from where they land (at the thread's wait); ordinary
// stores cannot be told apart by thread here, so a changed byte that no copy wrote counts as
// fenced only if every live thread fenced since the last barrier. Stricter than the hardware for
// kernels whose writers alone fence; every kernel here fences in all threads.
inline void publish_async(Block& b) {
  bool all = true;
  for (size_t i = 0; i < b.fibers.size(); i++) all = all && (b.fibers[i].done || b.proxy[i].fenced);
  if (all) std::fill(b.stale.begin(), b.stale.end(), 0);
  for (size_t i = 0; i < b.smem_bytes; i++)
    if (b.cp_landed[i]) b.stale[i] = 0;
    else if (b.smem[i] != b.bar_snap[i]) b.stale[i] = !all;
  for (ProxyState& p : b.proxy) {
    for (const auto& [dst, n] : p.unfenced) std::memset(b.stale.data() + (dst - b.smem), 1, (size_t)n);
    p.unfenced.clear();
    p.fenced = false;
  }
  std::fill(b.cp_landed.begin(), b.cp_landed.end(), 0);
}

// Runs one block to completion, a warp at a time: each warp runs until all its threads have
// ended or wait at __syncthreads (its own __syncwarp / shuffles are released as soon as all its
// live lanes reach them), then the next warp; once every live thread waits at __syncthreads, the
// barrier is released and the round repeats. Letting one warp run ahead of the others is a legal
// schedule that exposes a missing __syncthreads before warp-level work; warps and lanes go last to
// first in odd blocks (Block::reverse).
inline void run_block(Block& b) {
  const int n = (int)b.fibers.size(), nwarps = (n + 31) / 32;
  auto resume = [&b](int i) {
    Fiber& f = b.fibers[i];
    b.cur = i;
    threadIdx = f.tid;
    if (!_setjmp(b.main)) {
      if (f.started) _longjmp(f.env, 1);
      f.started = true;
      setcontext(&f.ctx);
      die("setcontext failed");
    }
  };
  for (;;) {
    for (int kw = 0; kw < nwarps; kw++) {
      const int w = b.reverse ? nwarps - 1 - kw : kw, w0 = 32 * w, w1 = w0 + 32 < n ? w0 + 32 : n;
      for (;;) {
        for (int k = w0; k < w1; k++) {
          const int i = b.reverse ? w1 - 1 - (k - w0) : k;
          if (!b.fibers[i].done && !b.fibers[i].wait) resume(i);
        }
        bool at_syncwarp = false, warp_ready = true;
        for (int i = w0; i < w1; i++) {
          const Fiber& f = b.fibers[i];
          if (f.wait == 2) at_syncwarp = true;
          else if (!f.done) warp_ready = false;  // at __syncthreads: __syncwarp waits for it in vain
        }
        if (!at_syncwarp) break;  // every lane ended or waits at __syncthreads (or a warpgroup barrier)
        if (!warp_ready) die("deadlock: lanes of a warp wait at __syncwarp and __syncthreads at once");
        // The hardware leaves a warp-synchronous call undefined when its mask names a lane that
        // has exited (an early return before a reduction) or does not exist; here every live
        // lane would still meet it, so check the masks.
        for (int i = w0; i < w1; i++) {
          const Fiber& f = b.fibers[i];
          if (f.wait != 2) continue;
          for (int j = 0; j < 32; j++)
            if ((f.mask >> j & 1) && (w0 + j >= w1 || b.fibers[w0 + j].done))
              die(w0 + j >= w1 ? "__syncwarp / shuffle: its mask names a lane the block does not have"
                               : "__syncwarp / shuffle: its mask names a lane that has exited");
        }
        for (int i = w0; i < w1; i++)
          if (b.fibers[i].wait == 2) b.fibers[i].wait = 0;
      }
    }
    bool all_done = true;
    for (const Fiber& f : b.fibers) all_done = all_done && f.done;
    if (all_done) return;
    // Every live thread now waits at __syncthreads or a warpgroup barrier (each warp ran until it
    // did or ended). Warpgroups whose live threads all wait at their barrier go on first.
    bool released = false;
    for (int w0 = 0; w0 < n; w0 += 128) {
      int live = 0, at_group = 0;
      for (int i = w0; i < w0 + 128 && i < n; i++) {
        live += !b.fibers[i].done;
        at_group += b.fibers[i].wait == 3;
      }
      if (at_group == 0) continue;
      if (at_group != live) die("deadlock: threads of a warpgroup wait at a wgmma and at __syncthreads at once");
      for (int i = w0; i < w0 + 128 && i < n; i++) b.fibers[i].wait = 0;
      released = true;
    }
    if (released) continue;
    publish_async(b);
    b.bar_snap.assign(b.smem, b.smem + b.smem_bytes);
    for (Fiber& f : b.fibers) f.wait = 0;
  }
}

struct Stacks {
  std::vector<char> mem;
  char* get(size_t bytes) {
    if (mem.size() < bytes) mem.resize(bytes);
    return mem.data();
  }
};
inline thread_local Stacks t_stacks;
inline thread_local std::vector<unsigned char> t_smem;
constexpr size_t kStack = 64 * 1024;

// Runs body on every thread of every block (shuffled block order), like a kernel launch. With
// *no_barriers set, threads run as plain calls; a launch that finds no barrier in its first block
// sets it, so later blocks and launches of the same kernel skip the fibers.
inline void launch(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body, bool* no_barriers = nullptr) {
  const int nt = (int)(block.x * block.y * block.z);
  const unsigned nb = grid.x * grid.y * grid.z;
  if (nt <= 0 || nt > 1024) die("launch: bad block size");
  if (nb == 0) return;
  Block* outer = t_block;
  dim3 saved[4] = {threadIdx, blockIdx, blockDim, gridDim};
  blockDim = block;
  gridDim = grid;
  if (t_smem.size() < smem + 128) t_smem.resize(smem + 128);
  unsigned char* aligned = t_smem.data() + (128 - (uintptr_t)t_smem.data() % 128) % 128;
  char* stacks = t_stacks.get(kStack * (size_t)nt);
  std::vector<unsigned> order(nb);
  for (unsigned i = 0; i < nb; i++) order[i] = i;
  uint64_t st = 0x9e3779b97f4a7c15ull ^ nb;
  for (unsigned i = nb; i > 1; i--) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(order[i - 1], order[(st >> 33) % i]);
  }
  Block b;
  b.body = &body;
  b.smem = aligned;
  b.smem_bytes = smem;
  t_block = &b;
  for (unsigned o : order) {
    blockIdx = dim3(o % grid.x, (o / grid.x) % grid.y, o / (grid.x * grid.y));
    std::memset(aligned, 0xff, smem);  // uninitialised shared memory reads as NaN
    b.reverse = o % 2 == 1;  // odd blocks run their threads last to first
    b.async.assign(nt, AsyncQueue{});
    b.mma.assign(nt, MmaQueue{});
    b.wg_regs.assign(nt, {});
    b.bar_snap.assign(aligned, aligned + smem);
    b.cp_landed.assign(smem, 0);
    b.stale.assign(smem, 0);
    b.proxy.assign(nt, ProxyState{});
    if (no_barriers && *no_barriers) {
      b.direct = true;
      for (int k = 0; k < nt; k++) {
        const int t = b.reverse ? nt - 1 - k : k;
        threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
        body();
        end_thread(b);
      }
      continue;
    }
    b.direct = false;
    b.parks = 0;
    b.fibers.assign(nt, Fiber{});
    b.shfl.assign(nt, 0);
    for (int t = 0; t < nt; t++) {
      Fiber& f = b.fibers[t];
      f.tid = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = stacks + kStack * t;
      f.ctx.uc_stack.ss_size = kStack;
      f.ctx.uc_link = nullptr;
      makecontext(&f.ctx, (void (*)())fiber_entry, 0);
    }
    run_block(b);
    if (no_barriers && b.parks == 0) *no_barriers = true;
  }
  t_block = outer;
  threadIdx = saved[0], blockIdx = saved[1], blockDim = saved[2], gridDim = saved[3];
}

// Per kernel, the dynamic shared memory cudaFuncSetAttribute allowed beyond the default 48 KB.
inline std::unordered_map<const void*, size_t>& smem_optin() {
  static std::unordered_map<const void*, size_t> m;
  return m;
}
constexpr size_t kDefaultSmem = 48 * 1024;
// A launch the hardware refuses (more dynamic shared memory than allowed): the emulated
// cudaGetLastError reports it as an invalid argument, as the runtime does.
inline thread_local bool t_launch_refused = false;

// kernel<<<grid, block, smem, stream>>>(args...) as rewritten by transform.mjs.
template <class S, class... P, class... A>
inline void launch_kernel(dim3 grid, dim3 block, size_t smem, S, void (*kernel)(P...), A&&... args) {
  if (smem > kDefaultSmem) {
    auto it = smem_optin().find(reinterpret_cast<const void*>(kernel));
    if (it == smem_optin().end() || smem > it->second) {
      t_launch_refused = true;
      return;
    }
  }
  static thread_local std::unordered_map<void*, bool> no_barriers;  // per kernel, learned on first launch
  std::function<void()> body = [&] { kernel(args...); };
  launch(grid, block, smem, body, &no_barriers[reinterpret_cast<void*>(kernel)]);
}

}  // namespace vj_emu

#define VJ_DYNAMIC_SMEM(name) unsigned char* name = vj_emu::dyn_smem()

inline void __syncthreads() { vj_emu::park(1); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  vj_emu::Block& b = *vj_emu::t_block;
  if (!b.direct) b.fibers[b.cur].mask = mask;  // (park refuses direct mode)
  vj_emu::park(2);
}

namespace vj_emu {
// Every lane of the warp publishes v, then reads the value of lane src(lane), which must be in
// the mask (an inactive source lane gives an undefined value on the hardware).
template <class T, class Src>
inline T shuffle(unsigned mask, T v, Src src) {
  static_assert(sizeof(T) <= 8, "shuffle of a wide type");
  Block& b = *t_block;
  const int me = linear_tid(), lane = me & 31, base = me - lane;
  if (!(mask >> (src(lane) & 31) & 1)) die("shuffle: the source lane is not in the mask");
  std::memcpy(&b.shfl[me], &v, sizeof(T));
  __syncwarp(mask);
  T r;
  std::memcpy(&r, &b.shfl[base + (src(lane) & 31)], sizeof(T));
  __syncwarp(mask);
  return r;
}
}  // namespace vj_emu

namespace vj_emu {
// Whether [p, p + n) lies in the block's dynamic shared memory (ldmatrix's and cp.async's
// shared-space operands; static __shared__ arrays are not used with them).
inline bool in_smem(const void* p, size_t n) {
  const unsigned char* c = static_cast<const unsigned char*>(p);
  return c >= t_block->smem && c + n <= t_block->smem + t_block->smem_bytes;
}
inline void async_copy(void* dst, const void* src, int n) {
  if (reinterpret_cast<uintptr_t>(dst) % n || reinterpret_cast<uintptr_t>(src) % n)
    die("cp.async: source or destination not aligned to the copy size");
  if (!in_smem(dst, (size_t)n)) die("cp.async: destination outside the block's shared memory");
  if (in_smem(src, (size_t)n)) die("cp.async: source in shared memory (it must be global)");
  AsyncQueue& q = t_block->async[linear_tid()];
  AsyncCopy c;
  c.dst = static_cast<unsigned char*>(dst);
  std::memcpy(c.bytes, src, (size_t)n);
  c.n = n;
  c.group = q.group;
  q.copies.push_back(c);
}
inline void async_commit() { t_block->async[linear_tid()].group++; }
// Completes the copies of every committed group but the n most recent.
// Lands (land(item)) the items of every committed group but the n most recent, open_group being
// the one still open, and keeps the rest in order: a thread's cp.async copies and wgmma products.
template <class T, class Land>
inline void land_groups(std::vector<T>& items, int open_group, int n, Land land) {
  size_t kept = 0;
  for (size_t i = 0; i < items.size(); i++) {
    if (items[i].group < open_group - n) land(items[i]);
    else if (kept++ != i) items[kept - 1] = std::move(items[i]);  // never onto itself: a self-moved vector empties
  }
  items.resize(kept);
}
inline void async_wait(int n) {
  Block& b = *t_block;
  const int me = linear_tid();
  land_groups(b.async[me].copies, b.async[me].group, n, [&](const AsyncCopy& c) {
    std::memcpy(c.dst, c.bytes, (size_t)c.n);
    std::memset(b.cp_landed.data() + (c.dst - b.smem), 1, (size_t)c.n);
    b.proxy[me].unfenced.emplace_back(c.dst, c.n);
  });
}
// fence.proxy.async.shared::cta: this thread's shared-memory stores so far reach the async proxy
// at the next barrier.
inline void proxy_fence() {
  ProxyState& p = t_block->proxy[linear_tid()];
  p.unfenced.clear();
  p.fenced = true;
}
}  // namespace vj_emu

template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
  return vj_emu::shuffle(mask, v, [=](int lane) { return lane ^ lane_mask; });
}

template <class T>
inline T __shfl_sync(unsigned mask, T v, int src_lane) {
  return vj_emu::shuffle(mask, v, [=](int) { return src_lane; });
}

// Fibers never run concurrently, so read-modify-write is atomic here.
template <class T>
inline T atomicAdd(T* p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}

// sm_90's vector REDs (atomicAdd on float2 / float4): elementwise, at an aligned address.
inline float2 atomicAdd(float2* p, float2 v) {
  vj_emu::check_vec_align(p, 8, "float2 atomicAdd");
  float2 old = *p;
  p->x += v.x, p->y += v.y;
  return old;
}
inline float4 atomicAdd(float4* p, float4 v) {
  vj_emu::check_vec_align(p, 16, "float4 atomicAdd");
  float4 old = *p;
  p->x += v.x, p->y += v.y, p->z += v.z, p->w += v.w;
  return old;
}

template <class T>
inline T atomicCAS(T* p, T compare, T v) {
  T old = *p;
  if (old == compare) *p = v;
  return old;
}

inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline int64_t min(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max(int64_t a, int64_t b) { return a > b ? a : b; }

// bfloat16 storage with round-to-nearest-even conversion (as __float2bfloat16_rn).
struct __nv_bfloat16 {
  uint16_t bits;
};
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {(uint16_t)((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return {(uint16_t)(u >> 16)};
}
inline float vj_bf16_to_float(__nv_bfloat16 h) {
  uint32_t u = (uint32_t)h.bits << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}


namespace vj_emu {

// Shared-memory addresses (__cvta_generic_to_shared) of the block's dynamic shared memory. The
// window starts at 0x80, not at a multiple of 1024, as a kernel may not assume more.
constexpr uint32_t kSmemBase = 0x80;
inline uint32_t smem_addr(const void* p) {
  if (!in_smem(p, 1)) die("a shared address of a pointer outside the block's shared memory");
  return kSmemBase + (uint32_t)(static_cast<const unsigned char*>(p) - t_block->smem);
}

// The warpgroup's threads (128 consecutive) wait for one another.
inline void wg_sync() {
  if ((blockDim.x * blockDim.y * blockDim.z) % 128) die("wgmma: the block is not whole warpgroups");
  park(3);
}

// Where bf16_at records what the product being computed reads (PendingMma::reads).
inline thread_local std::vector<std::pair<uint32_t, uint16_t>>* t_reads = nullptr;

// A bf16 element of shared memory as the last __syncthreads left it.
inline float bf16_at(uint32_t addr) {
  const unsigned char* p = t_block->smem + (addr - kSmemBase);
  if (addr < kSmemBase || addr % 2 || !in_smem(p, 2)) die("wgmma: a descriptor reaches outside the block's shared memory");
  const size_t off = (size_t)(p - t_block->smem);
  if (t_block->stale[off] || t_block->stale[off + 1])
    die("wgmma: an operand in shared memory was published by a barrier without fence.proxy.async before it");
  uint16_t h;
  std::memcpy(&h, t_block->bar_snap.data() + off, 2);
  if (t_reads) t_reads->emplace_back((uint32_t)off, h);
  return vj_bf16_to_float(__nv_bfloat16{h});
}

// Element (mn, k) of one 16-deep k-step of a shared-memory operand, by its descriptor (wgmma.cuh
// gives the layouts): tnsp 0 for K-major, 1 for MN-major.
inline float desc_at(uint64_t desc, int mn, int k, int tnsp) {
  const uint32_t start = (uint32_t)(desc & 0x3fff) << 4, lbo = (uint32_t)((desc >> 16) & 0x3fff) << 4;
  const uint32_t sbo = (uint32_t)((desc >> 32) & 0x3fff) << 4, mode = (uint32_t)(desc >> 62);
  if (mode == 0) die("wgmma: the interleaved (unswizzled) layout is not emulated");
  const uint32_t sw = mode == 1 ? 128 : mode == 2 ? 64 : 32, aw = sw / 2;
  if ((desc >> 46) & 0xffff) die("wgmma: descriptor bits 46-61 (base offset) are not emulated");
  uint32_t addr = tnsp ? start + 2 * (mn % aw) + (mn / aw) * lbo + (k % 8) * sw + (k / 8) * sbo
                       : start + (mn % 8) * sw + (mn / 8) * sbo + 2 * k;
  const uint32_t mask = sw == 128 ? 0x70u : sw == 64 ? 0x30u : 0x10u;
  return bf16_at(addr ^ ((addr >> 3) & mask));
}

// A product's registers (its A fragment, its accumulator) belong to it until its wait: a write
// to them before then is undefined (the hardware may not have read them yet, or may overwrite).
inline void check_in_flight(const MmaQueue& q) {
  for (const PendingMma& p : q.q) {
    if (p.a_src && std::memcmp(p.a_src, p.a_val, 16))
      die("wgmma: the A registers of a product in flight were written before its wait");
    if (std::memcmp(p.d, p.d_at_issue.data(), sizeof(float) * (size_t)p.n))
      die("wgmma: the accumulator of a product in flight was written before its wait");
  }
}

// A product reads shared memory asynchronously, and each warp of the group reads B (and its A
// rows) for its own share: bytes a product read must not change (by a store, or a cp.async
// landing) before the thread's wait for it, so rewriting an operand takes every thread of the
// warpgroup waiting first, then a barrier. Checked at each of the thread's waits, against what its
// products in flight read; a byte changed before the product's issue but after the barrier that
// published it is the same race, and fails here too.
inline void check_operands(const MmaQueue& q) {
  const unsigned char* live = t_block->smem;
  for (const PendingMma& p : q.q)
    for (const auto& [off, bits] : p.reads) {
      uint16_t now;
      std::memcpy(&now, live + off, 2);
      if (now != bits) die("wgmma: shared memory a product reads changed between the barrier that published it and the thread's wait for the product");
    }
}

// One wgmma.mma_async m64nNk16 bf16 -> fp32 product for the calling thread's share: d (n / 2
// floats) gets (acc ? d : 0) + A B, A from the warpgroup's registers (a) or from descriptor da,
// B from db. The result waits in the thread's queue until wgmma_wait; a product on the same
// accumulator issued before then chains on the queued value, as the hardware's do.
inline void wgmma(float* d, int n, const uint32_t* a, uint64_t da, uint64_t db, int acc, int ta, int tb) {
  Block& b = *t_block;
  const int me = linear_tid(), wg0 = me & ~127, w = (me - wg0) >> 5, lane = me & 31, g = lane >> 2, t = lane & 3;
  if (n % 8 || n < 8 || n > 256) die("wgmma: N must be a multiple of 8 in [8, 256]");
  if (!b.proxy[me].wg_fenced) die("wgmma: no wgmma.fence since this thread's last wgmma commit or wait");
  if (a) std::memcpy(b.wg_regs[me].data(), a, 16);
  // Shared operands are read as the last __syncthreads left them (bar_snap): the instruction
  // orders no thread's stores before it, even those of its own warpgroup, so a store that no
  // barrier published is not seen, and a missing __syncthreads fails.
  wg_sync();
  std::vector<std::pair<uint32_t, uint16_t>> reads;
  t_reads = &reads;
  float A[2][16];  // this thread's rows 16w + g and 16w + g + 8
  for (int r = 0; r < 2; r++)
    for (int k = 0; k < 16; k++) {
      const int row = 16 * w + g + 8 * r;
      if (a) {
        const uint32_t v = b.wg_regs[wg0 + 32 * w + 4 * g + (k % 8) / 2][(k / 8) * 2 + r];
        A[r][k] = vj_bf16_to_float(__nv_bfloat16{(uint16_t)(k % 2 ? v >> 16 : v & 0xffffu)});
      } else {
        A[r][k] = desc_at(da, row, k, ta);
      }
    }
  MmaQueue& q = b.mma[me];
  check_in_flight(q);
  const float* base = d;
  for (auto it = q.q.rbegin(); it != q.q.rend(); ++it)
    if (it->d == d) {
      if (it->n != n / 2) die("wgmma: products of different N on one accumulator in flight");
      base = it->v.data();
      break;
    }
  PendingMma p{d, n / 2, q.group, std::vector<float>(n / 2), a, {}, std::vector<float>(d, d + n / 2), {}};
  if (a) std::memcpy(p.a_val, a, 16);
  // d[4j + 2r + e] is row r's element of column 8j + 2t + e: each B column is read once for both rows
  for (int j = 0; j < n / 8; j++)
    for (int e = 0; e < 2; e++) {
      float B[16];
      for (int k = 0; k < 16; k++) B[k] = desc_at(db, 8 * j + 2 * t + e, k, tb);
      for (int r = 0; r < 2; r++) {
        const int i = 4 * j + 2 * r + e;
        float s = acc ? base[i] : 0.f;
        for (int k = 0; k < 16; k++) s += A[r][k] * B[k];
        p.v[i] = s;
      }
    }
  t_reads = nullptr;
  p.reads = std::move(reads);
  q.q.push_back(std::move(p));
  wg_sync();  // the warpgroup has read every thread's registers before any thread publishes again
}
// wgmma.fence orders the thread's register accesses before the products that follow. The ISA asks
// for it before the first product and between other accesses to a product's registers and the
// product; here, as CUTLASS's warpgroup_arrive, once per group: commit and wait end its reach.
inline void wgmma_fence() { t_block->proxy[linear_tid()].wg_fenced = true; }
inline void wgmma_commit() {
  t_block->mma[linear_tid()].group++;
  t_block->proxy[linear_tid()].wg_fenced = false;
}
// Lands the products of every committed group but the n most recent.
inline void wgmma_wait(int n) {
  t_block->proxy[linear_tid()].wg_fenced = false;
  MmaQueue& q = t_block->mma[linear_tid()];
  check_in_flight(q);
  check_operands(q);
  land_groups(q.q, q.group, n, [](const PendingMma& p) { std::memcpy(p.d, p.v.data(), sizeof(float) * (size_t)p.n); });
}

}  // namespace vj_emu
