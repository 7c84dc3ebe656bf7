// The CUDA Backend table, in the field order of native/cpu/backend.cc.
#include <string>

#include "cuda/kernels.h"
#include "device.h"

namespace vj {

const Backend& cuda_backend() {
  std::string why = cuda_unavailable_reason();
  if (!why.empty()) fail(why);
  static const Backend b = {
      "cuda",
      cuda::gemm,
      cuda::attention_fwd,
      cuda::attention_bwd,
      cuda::layernorm_fwd,
      cuda::layernorm_bwd,
      cuda::gelu_fwd,
      cuda::gelu_bwd,
      cuda::unfold_tubelets,
      cuda::gather_rows,
      cuda::scatter_add_rows,
      cuda::copy_blocks,
      cuda::fill,
      cuda::axpby,
      cuda::add_rowvec,
      cuda::sum_rows,
      cuda::sum_squares,
      cuda::mean_col_std,
      cuda::loss_fwd,
      cuda::loss_bwd,
      cuda::token_std_fwd,
      cuda::token_std_bwd,
      cuda::cross_entropy,
      cuda::softmax,
      cuda::adamw,
      cuda::ema,
      cuda::f32_to_bf16,
      cuda::bf16_to_f32,
  };
  return b;
}

}  // namespace vj
