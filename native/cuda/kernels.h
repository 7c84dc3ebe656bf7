// CUDA kernel entry points (device pointers); native/cuda/backend.cu puts them in the Backend table.
#pragma once
#include "backend.h"

namespace vj::cuda {
void gemm(const GemmArgs& a);
void attention_fwd(const AttnArgs& a);
void attention_bwd(const AttnArgs& a);
void layernorm_fwd(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t rows,
                   int64_t cols, float eps);
void layernorm_bwd(const float* dy, const float* x, const float* w, const float* mean, const float* rstd, float* dx,
                   float* dw, float* db, int64_t rows, int64_t cols);
void gelu_fwd(const float* x, float* y, int64_t n);
void gelu_bwd(const float* x, const float* dy, float* dx, int64_t n);
void unfold_tubelets(const float* x, const int32_t* idx, float* out, int64_t B, int64_t C, int64_t T, int64_t H,
                     int64_t W, int64_t t, int64_t p, int64_t K);
void gather_rows(const float* x, const int32_t* idx, float* out, int64_t B, int64_t x_batch, int64_t N, int64_t K,
                 int64_t D);
void scatter_add_rows(const float* dout, const int32_t* idx, float* dx, int64_t B, int64_t x_batch, int64_t N,
                      int64_t K, int64_t D);
void copy_blocks(const float* src, float* dst, int64_t outer, int64_t inner, int64_t src_stride, int64_t dst_stride,
                 bool accumulate);
void fill(float* x, int64_t n, float v);
void axpby(const float* x, const float* y, float* out, int64_t n, float a, float b);
void add_rowvec(const float* x, const float* v, float* out, int64_t rows, int64_t cols);
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, bool accumulate);
double sum_squares(const float* x, int64_t n);
double mean_col_std(const float* x, int64_t rows, int64_t cols);
double loss_fwd(const float* p, const float* t, int64_t n, float e);
void loss_bwd(const float* p, const float* t, float* dp, int64_t n, float e, float g);
void token_std_fwd(const float* x, float* std, int64_t B, int64_t K, int64_t D, float eps);
void token_std_bwd(const float* x, const float* std, const float* gstd, float* dx, int64_t B, int64_t K, int64_t D);
double cross_entropy(const float* logits, const int32_t* labels, float* dlogits, int64_t rows, int64_t cols, float g);
void softmax(const float* x, float* y, int64_t rows, int64_t cols);
void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float wd, int64_t step);
void ema(float* target, const float* online, int64_t n, float m);
void f32_to_bf16(const float* x, uint16_t* y, int64_t n);
void bf16_to_f32(const uint16_t* x, float* y, int64_t n);

}  // namespace vj::cuda
