#include "cpu/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace vj::cpu {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

thread_local bool t_in_pool = false;

// Each job is split into nthreads parts (tid 0..n-1), and every part runs exactly once.
// A part is run by whichever thread claims it first: its own worker, or the caller once
// it has finished its own part. On a busy machine (the loader's ffmpeg processes, other
// jobs) a descheduled worker then costs nothing instead of stalling every op of a step.
class Pool {
 public:
  Pool() {
    int n = (int)std::thread::hardware_concurrency();
    if (const char* e = std::getenv("VJEPA_THREADS")) n = std::atoi(e);
    resize(n < 1 ? 1 : n);
  }
  ~Pool() { stop_workers(); }

  int size() const { return nthreads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> busy(busy_);
    stop_workers();
    nthreads_ = n;
    stop_ = false;
    slots_.reset(new std::atomic<uint64_t>[n]);
    for (int i = 0; i < n; i++) slots_[i].store(generation_.load());
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i] { worker(i); });
  }

  void run(const std::function<void(int, int)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || t_in_pool || nthreads_ == 1) {
      fn(0, 1);
      return;
    }
    job_ = &fn;
    finished_.store(0, std::memory_order_relaxed);
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lk(m_);
      gen = generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
    }
    cv_.notify_all();
    t_in_pool = true;
    // Own part first, then any part whose worker has not started yet.
    for (int k = 0; k < nthreads_; k++) {
      int tid = k;  // 0 first, then 1..n-1
      if (claim(tid, gen)) execute(tid);
    }
    t_in_pool = false;
    for (int spins = 0; finished_.load(std::memory_order_acquire) != nthreads_; spins++) {
      if (spins < 4000) cpu_relax();
      else std::this_thread::yield();
    }
    job_ = nullptr;
  }

 private:
  bool claim(int tid, uint64_t gen) {
    uint64_t v = slots_[tid].load(std::memory_order_acquire);
    return v < gen && slots_[tid].compare_exchange_strong(v, gen, std::memory_order_acq_rel);
  }

  void execute(int tid) {
    (*job_)(tid, nthreads_);
    finished_.fetch_add(1, std::memory_order_acq_rel);
  }

  void worker(int tid) {
    t_in_pool = true;
    uint64_t seen = slots_[tid].load();
    for (;;) {
      // Spin briefly (a training step issues hundreds of short jobs back to back), then sleep.
      int spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen && !stop_.load() && spins < 2000) {
        cpu_relax();
        spins++;
      }
      if (generation_.load(std::memory_order_acquire) == seen && !stop_.load()) {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_.load() != seen || stop_.load(); });
      }
      if (stop_.load()) return;
      seen = generation_.load(std::memory_order_acquire);
      // The claim fails if the caller already ran this part (or the job is long over);
      // it can only succeed while job `seen` is in flight, so job_ is valid here.
      if (claim(tid, seen)) execute(tid);
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::mutex busy_, m_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> finished_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int, int)>* job_ = nullptr;
  int nthreads_ = 1;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(n < 1 ? 1 : n); }

void parallel_run(const std::function<void(int, int)>& fn) { pool().run(fn); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t max_chunks = (n + grain - 1) / grain;
  if (max_chunks <= 1 || num_threads() == 1) {
    fn(0, n);
    return;
  }
  parallel_run([&](int tid, int nt) {
    int64_t chunks = std::min<int64_t>(nt, max_chunks);
    if (tid >= chunks) return;
    int64_t begin = n * tid / chunks, end = n * (tid + 1) / chunks;
    if (begin < end) fn(begin, end);
  });
}

}  // namespace vj::cpu
