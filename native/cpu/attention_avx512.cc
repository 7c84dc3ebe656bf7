// AVX-512 instantiation of the attention kernels (compiled with the AVX-512 flags only).
// GCC 12 warns about the undefined-register idiom inside its own AVX-512 headers (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "cpu/attention_impl.h"

VJ_ATTENTION_ENTRY_POINTS(avx512, VecAvx512)
