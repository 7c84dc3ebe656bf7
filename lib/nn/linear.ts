import { Tensor } from '../tensor.js';
import { linear, type LinearOptions } from '../ops/linear.js';
import { Module } from './module.js';
import { InitRng, truncNormal, zeros } from './init.js';

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: InitRng,
    opts: { bias?: boolean; std?: number } = {},
  ) {
    super();
    this.weight = this.param('weight', truncNormal([outFeatures, inFeatures], opts.std ?? 0.02, rng));
    this.bias = opts.bias === false ? null : this.param('bias', zeros([outFeatures]));
  }
  forward(x: Tensor, opts?: LinearOptions): Tensor {
    return linear(x, this.weight, this.bias, opts);
  }
}
