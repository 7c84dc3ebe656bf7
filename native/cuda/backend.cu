// The CUDA Backend table, in the field order of native/cpu/backend.cc.
#include <string>

#include "cuda/kernels.h"
#include "device.h"

namespace vj {

const Backend& cuda_backend() {
  std::string why = cuda_unavailable_reason();
  if (!why.empty()) fail(why);
  static const Backend b = VJ_BACKEND_TABLE("cuda", cuda);
  return b;
}

}  // namespace vj
