// The emulator refuses the warp-synchronous calls the hardware leaves undefined: a shuffle or
// __syncwarp whose mask names a lane that has exited (an early return before a warp reduction)
// or that the block does not have, and a shuffle from a lane outside its mask. On a CPU every
// live lane would still meet such a call and the result would look right. Run by
// test/native/cuda_emu.test.ts, one process per case:
//   g++ -std=c++17 -O2 -fno-strict-aliasing -Itest/native/cuda_emu/include -Inative test/native/cuda_emu/warp_sync_emu.cc
//   ./a.out <case>     # prints "<case>: ok" and exits 0 when the reduction is right
#include "cuda_emu.h"

#include <cstdio>
#include <string>

namespace {

float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "ok";
  int threads = 64;
  if (name == "lane-missing") threads = 48;  // the second warp has 16 lanes
  else if (name != "ok" && name != "exited-lane" && name != "source-outside-mask" && name != "ok-partial-mask") {
    std::fprintf(stderr, "unknown case %s\n", name.c_str());
    return 2;
  }
  float out[2] = {0.f, 0.f};
  vj_emu::launch(1, threads, 0, [&] {
    const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
    if (name == "exited-lane" && lane == 31) return;  // rows past the end, say
    if (name == "ok-partial-mask" || name == "source-outside-mask") {
      // lanes 0-15 reduce among themselves, under a mask that names just them
      if (lane >= 16) return;
      float v = (float)lane;
      for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0x0000ffffu, v, name == "ok-partial-mask" ? o : 16);
      if (lane == 0) out[warp] = v;
      return;
    }
    const float v = warp_sum((float)lane);
    if (lane == 0) out[warp] = v;
  });
  const float want = name == "ok-partial-mask" ? 120.f : 496.f;  // sum of lanes 0..15, 0..31
  const bool ok = out[0] == want && out[1] == want;
  std::printf(ok ? "%s: ok\n" : "%s: wrong result\n", name.c_str());
  return ok ? 0 : 1;
}
