import { Tensor } from '../tensor.js';
import { linear, linearGelu } from '../ops/linear.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { InitRng } from './init.js';

/** fc1 -> exact GELU -> fc2 (MOD-03); fc1 and GELU run as one fused GEMM. */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(dim: number, hidden: number, rng: InitRng) {
    super();
    this.fc1 = this.child('fc1', new Linear(dim, hidden, rng));
    this.fc2 = this.child('fc2', new Linear(hidden, dim, rng));
  }
  /**
   * fc2(gelu(fc1(x))), plus residual when given (added by fc2's GEMM: the block's x + mlp(...)).
   * Under autocast('bfloat16') the gradients of h (which feeds fc2 alone) and of x (the block's
   * norm output, which feeds fc1 alone) are written in bf16 for linearGelu's and layernorm's
   * backward to read, as under torch.autocast.
   */
  forward(x: Tensor, residual?: Tensor): Tensor {
    const h = linearGelu(x, this.fc1.weight, this.fc1.bias, { bf16InputGrad: true });
    const out = linear(h, this.fc2.weight, this.fc2.bias, { residual, bf16InputGrad: true });
    h.release(); // fc2 saved its own view (or bf16 copy) of it
    return out;
  }
}
