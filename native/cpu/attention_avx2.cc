// AVX2 + FMA instantiation of the attention kernels (compiled with the AVX2 flags only).
#include "cpu/attention_impl.h"

VJ_ATTENTION_ENTRY_POINTS(avx2, VecAvx2)
