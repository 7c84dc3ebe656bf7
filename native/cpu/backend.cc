#include "cpu/kernels.h"
#include "device.h"

namespace vj {

const Backend& cpu_backend() {
  static const Backend b = {
      "cpu",
      cpu::gemm,
      cpu::attention_fwd,
      cpu::attention_bwd,
      cpu::layernorm_fwd,
      cpu::layernorm_bwd,
      cpu::gelu_fwd,
      cpu::gelu_bwd,
      cpu::unfold_tubelets,
      cpu::gather_rows,
      cpu::scatter_add_rows,
      cpu::copy_blocks,
      cpu::fill,
      cpu::axpby,
      cpu::add_rowvec,
      cpu::sum_rows,
      cpu::sum_squares,
      cpu::mean_col_std,
      cpu::loss_fwd,
      cpu::loss_bwd,
      cpu::token_std_fwd,
      cpu::token_std_bwd,
      cpu::cross_entropy,
      cpu::softmax,
      cpu::adamw,
      cpu::ema,
      cpu::f32_to_bf16,
      cpu::bf16_to_f32,
  };
  return b;
}

const Backend& backend_for(Device d) { return d == Device::CPU ? cpu_backend() : cuda_backend(); }

}  // namespace vj
