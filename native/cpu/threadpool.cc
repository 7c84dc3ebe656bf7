#include "cpu/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
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
    // Workers start from the generation current now: one read inside the new thread could
    // already see the first job's increment and then wait for it forever.
    uint64_t gen = generation_.load();
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i, gen] { worker(i, gen); });
  }

  void run(const std::function<void(int, int)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || t_in_pool || nthreads_ == 1) {
      fn(0, 1);
      return;
    }
    job_ = &fn;
    pending_.store(nthreads_ - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(m_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    t_in_pool = true;
    fn(0, nthreads_);
    t_in_pool = false;
    // Spin, then yield: on an oversubscribed machine the worker may be descheduled.
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; spins++) {
      if (spins < 4000) cpu_relax();
      else std::this_thread::yield();
    }
    job_ = nullptr;
  }

 private:
  void worker(int tid, uint64_t seen) {
    t_in_pool = true;
    for (;;) {
      // Spin briefly: a training step issues hundreds of short jobs back to back.
      int spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen && !stop_.load() && spins < 4000) {
        cpu_relax();
        spins++;
      }
      if (generation_.load(std::memory_order_acquire) == seen && !stop_.load()) {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_.load() != seen || stop_.load(); });
      }
      if (stop_.load()) return;
      seen = generation_.load(std::memory_order_acquire);
      (*job_)(tid, nthreads_);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
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
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
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
