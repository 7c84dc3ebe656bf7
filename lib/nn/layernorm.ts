import { Tensor } from '../tensor.js';
import { layerNorm } from '../ops/layernorm.js';
import { Module } from './module.js';
import { ones, zeros } from './init.js';

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly dim: number,
    readonly eps: number,
  ) {
    super();
    this.weight = this.param('weight', ones([dim]));
    this.bias = this.param('bias', zeros([dim]));
  }
  forward(x: Tensor, opts?: { productOperand?: boolean }): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps, opts);
  }
}
