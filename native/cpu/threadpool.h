// A small persistent thread pool: the calling thread takes part, workers sleep between jobs.
#pragma once
#include <cstdint>
#include <functional>

namespace vj::cpu {

int num_threads();
void set_num_threads(int n);  // n >= 1; the default is all cores (or VJEPA_THREADS)

// fn(tid, nthreads) on every thread of the pool (tid 0 is the caller).
// Nested calls, and calls while another thread holds the pool, run serially.
void parallel_run(const std::function<void(int tid, int nthreads)>& fn);

// Splits [0, n) into contiguous chunks of at least `grain` items, one per thread at most.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace vj::cpu
