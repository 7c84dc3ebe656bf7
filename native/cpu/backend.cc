#include "cpu/kernels.h"
#include "device.h"

namespace vj {

const Backend& cpu_backend() {
  static const Backend b = VJ_BACKEND_TABLE("cpu", cpu);
  return b;
}

const Backend& backend_for(Device d) { return d == Device::CPU ? cpu_backend() : cuda_backend(); }

}  // namespace vj
