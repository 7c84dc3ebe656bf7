// The emulator's vector accesses fault as the hardware's do: a float2/uint2 or float4/uint4 load,
// store or RED at an address not aligned to its size aborts (x86 would carry on, and the
// kernel would meet its first misaligned-address error on a GPU); so does a scalar one, through
// UBSan's alignment check, which CMakeLists.txt puts on the emulated kernels as here. Run by
// test/native/cuda_emu.test.ts, one process per case:
//   g++ -std=c++17 -O2 -fno-strict-aliasing -fsanitize=alignment -fno-sanitize-recover=alignment \
//       -Itest/native/cuda_emu/include -Inative test/native/cuda_emu/vector_align_emu.cc
//   ./a.out <case>     # prints "<case>: ok" and exits 0 when the access is legal and right
#include "cuda_emu.h"

#include <cstdio>
#include <string>

namespace {

alignas(16) float g_f[16];
alignas(16) unsigned g_u[16];

// Each case does one access at element offset `off` (0: aligned) and checks what it did.
bool run_case(const std::string& name, int off) {
  for (int i = 0; i < 16; i++) g_f[i] = (float)i, g_u[i] = (unsigned)i;
  if (name == "float4-load") {
    const float4 v = *reinterpret_cast<const float4*>(g_f + off);
    return v.x == off && v.w == off + 3;
  }
  if (name == "float4-store") {
    *reinterpret_cast<float4*>(g_f + off) = make_float4(-1.f, -2.f, -3.f, -4.f);
    return g_f[off] == -1.f && g_f[off + 3] == -4.f;
  }
  if (name == "uint2-load") {
    const uint2 v = *reinterpret_cast<const uint2*>(g_u + off);
    return v.x == (unsigned)off && v.y == (unsigned)off + 1;
  }
  if (name == "uint4-store") {
    *reinterpret_cast<uint4*>(g_u + off) = make_uint4(7, 8, 9, 10);
    return g_u[off] == 7 && g_u[off + 3] == 10;
  }
  if (name == "uint32-load") {  // a bf16 pair read as one word, as the kernels' packing does
    const unsigned v = *reinterpret_cast<const unsigned*>(reinterpret_cast<const uint16_t*>(g_u) + off);
    return v == (unsigned)off / 2;  // word off / 2 of g_u (off even)
  }
  if (name == "float2-red") {
    atomicAdd(reinterpret_cast<float2*>(g_f + off), make_float2(0.5f, 0.25f));
    return g_f[off] == off + 0.5f && g_f[off + 1] == off + 1.25f;
  }
  if (name == "float4-red") {
    atomicAdd(reinterpret_cast<float4*>(g_f + off), make_float4(0.5f, 0.5f, 0.5f, 1.f));
    return g_f[off] == off + 0.5f && g_f[off + 3] == off + 4.f;
  }
  std::fprintf(stderr, "unknown case %s\n", name.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  // "<access>" at an aligned address (two elements in, for the 8-byte ones); "<access>-misaligned" one float off
  std::string name = argc > 1 ? argv[1] : "float4-load";
  const bool mis = name.size() > 11 && name.compare(name.size() - 11, 11, "-misaligned") == 0;
  const std::string access = mis ? name.substr(0, name.size() - 11) : name;
  const int wide = access.rfind("float4", 0) == 0 || access.rfind("uint4", 0) == 0;
  const int off = mis ? (wide ? 2 : 1) : (wide ? 4 : 2);  // uint32-load's counts 16-bit halves
  bool ok = false;
  vj_emu::launch(1, 1, 0, [&] { ok = run_case(access, off); });
  std::printf(ok ? "%s: ok\n" : "%s: wrong result\n", name.c_str());
  return ok ? 0 : 1;
}
