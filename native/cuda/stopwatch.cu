// The trainer's gpu-time(ms) column (TRAIN-11): CUDA events on a device's compute stream around an
// iteration, as the original times its step with torch.cuda.Event pairs. The host's wall time
// includes waiting for data and the host's own work; this is what the GPU's stream spent. One
// stopwatch per device: the trainer is its only user, one iteration at a time.
#include <mutex>
#include <string>

#include "cuda/common.cuh"

namespace vj {

namespace {

struct Watch {
  cudaEvent_t start = nullptr, stop = nullptr;
  bool running = false;
};
std::mutex g_mu;
Watch g_watch[cuda::kMaxDevices];

// Makes dev current for the scope: an event is recorded on a stream of its own device.
struct OnDevice {
  int prev = -1;
  explicit OnDevice(int dev) {
    cudaGetDevice(&prev);
    if (prev != dev) cuda::check(cudaSetDevice(dev), "cudaSetDevice");
  }
  ~OnDevice() {
    int cur = -1;
    cudaGetDevice(&cur);
    if (prev >= 0 && cur != prev) cudaSetDevice(prev);
  }
};

Watch& watch_of(int dev, const char* op) {
  std::string why = cuda_unavailable_reason();
  if (!why.empty()) fail(std::string(op) + ": " + why);
  if (dev < 0 || dev >= cuda::kMaxDevices) fail(std::string(op) + ": bad device index " + std::to_string(dev));
  return g_watch[dev];
}

}  // namespace

void cuda_stopwatch_start(int dev) {
  std::lock_guard<std::mutex> lk(g_mu);
  Watch& w = watch_of(dev, "cudaStopwatchStart");
  OnDevice on(dev);
  if (!w.start) cuda::check(cudaEventCreate(&w.start), "cudaEventCreate (stopwatch)");
  if (!w.stop) cuda::check(cudaEventCreate(&w.stop), "cudaEventCreate (stopwatch)");
  cuda::check(cudaEventRecord(w.start, cuda::stream_on(dev)), "cudaEventRecord (stopwatch start)");
  w.running = true;  // a second start restarts
}

double cuda_stopwatch_stop(int dev) {
  std::lock_guard<std::mutex> lk(g_mu);
  Watch& w = watch_of(dev, "cudaStopwatchStop");
  if (!w.running) fail("cudaStopwatchStop: cuda:" + std::to_string(dev) + " has no running stopwatch (cudaStopwatchStart first)");
  OnDevice on(dev);
  w.running = false;
  cuda::check(cudaEventRecord(w.stop, cuda::stream_on(dev)), "cudaEventRecord (stopwatch stop)");
  cuda::check(cudaEventSynchronize(w.stop), "cudaEventSynchronize (stopwatch stop)");
  float ms = 0.f;
  cuda::check(cudaEventElapsedTime(&ms, w.start, w.stop), "cudaEventElapsedTime (stopwatch)");
  return ms;
}

}  // namespace vj
