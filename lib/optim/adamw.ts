// AdamW over named parameter groups (TRAIN-04), with per-group weight decay, the
// "excluded from the wd schedule" flag, and torch's clip_grad_norm_.
import { native, type TensorHandle } from '../native.js';
import { Tensor, keep } from '../tensor.js';
import { assertWeightsMutable } from '../ops/autocast.js';

export interface ParamGroup {
  name: string;
  params: [string, Tensor][];
  /** Excluded groups keep weight decay 0 whatever the schedule says. */
  wdExcluded: boolean;
}

/**
 * TRAIN-04 / EVAL-05: parameters take weight decay unless they are biases or 1-D (the LayerNorms). Splits
 * named parameters (ours, or a checkpoint's tensors) into [decayed, not decayed], order kept; the original's
 * AdamW groups are formed the same way, so its optimizer state maps by this split too.
 */
export function splitByDecay<T extends { shape: readonly number[] }>(named: Iterable<readonly [string, T]>): [[string, T][], [string, T][]] {
  const decay: [string, T][] = [];
  const noDecay: [string, T][] = [];
  for (const [n, t] of named) (n.includes('bias') || t.shape.length === 1 ? noDecay : decay).push([n, t]);
  return [decay, noDecay];
}

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
}

interface Slot {
  m: Tensor;
  v: Tensor;
  step: number;
}

export class AdamW {
  readonly groups: ParamGroup[];
  readonly betas: [number, number];
  readonly eps: number;
  private slots = new Map<Tensor, Slot>();

  constructor(groups: ParamGroup[], opts: AdamWOptions = {}) {
    this.groups = groups;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
  }

  /**
   * One update with this lr and (for non-excluded groups) this weight decay. Params without grad
   * are skipped, as torch does. All parameters go to the addon in one multi-tensor call.
   */
  step(lr: number, wd: number): void {
    assertWeightsMutable('AdamW.step');
    const ps: TensorHandle[] = [], gs: TensorHandle[] = [], ms: TensorHandle[] = [], vs: TensorHandle[] = [];
    const wds: number[] = [], steps: number[] = [];
    for (const g of this.groups) {
      const groupWd = g.wdExcluded ? 0 : wd;
      for (const [, p] of g.params) {
        if (!p.grad) continue;
        let s = this.slots.get(p);
        if (!s) {
          s = { m: keep(Tensor.zeros(p.shape, 'float32', p.device)), v: keep(Tensor.zeros(p.shape, 'float32', p.device)), step: 0 };
          this.slots.set(p, s);
        }
        s.step += 1;
        ps.push(p.handle);
        gs.push(p.grad.handle);
        ms.push(s.m.handle);
        vs.push(s.v.handle);
        wds.push(groupWd);
        steps.push(s.step);
      }
    }
    if (ps.length) native.adamwMany(ps, gs, ms, vs, lr, this.betas[0], this.betas[1], this.eps, wds, steps);
  }

  /** State by parameter name: `<group param name>` -> {m, v, step}. */
  state(): Map<string, Slot> {
    const out = new Map<string, Slot>();
    for (const g of this.groups)
      for (const [name, p] of g.params) {
        const s = this.slots.get(p);
        if (s) out.set(name, s);
      }
    return out;
  }

  loadState(state: Map<string, { m: Float32Array; v: Float32Array; step: number }>): void {
    for (const g of this.groups)
      for (const [name, p] of g.params) {
        const s = state.get(name);
        if (!s) continue;
        if (s.m.length !== p.numel || s.v.length !== p.numel)
          throw new Error(`optimizer state for ${name} has ${s.m.length} values, the parameter has ${p.numel}`);
        const slot = this.slots.get(p) ?? { m: keep(Tensor.zeros(p.shape, 'float32', p.device)), v: keep(Tensor.zeros(p.shape, 'float32', p.device)), step: 0 };
        slot.m.write(s.m);
        slot.v.write(s.v);
        slot.step = s.step;
        this.slots.set(p, slot);
      }
  }

  dispose(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }
}

/** The gradients the params have (params without one are skipped, as torch does). */
function gradHandles(params: Tensor[]): TensorHandle[] {
  return params.flatMap((p) => (p.grad ? [p.grad.handle] : []));
}

/** L2 norm over the tensors, float64 accumulated; one call: on the GPU each per-tensor read would be a synchronisation. */
function normOf(hs: TensorHandle[]): number {
  return Math.sqrt(native.sumSquaresMany(hs));
}

/** Total L2 norm of the gradients (float64 accumulation). */
export function gradNorm(params: Tensor[]): number {
  return normOf(gradHandles(params));
}

/** torch.nn.utils.clip_grad_norm_: scales by min(1, max/(norm+1e-6)); returns the pre-clip norm. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  const hs = gradHandles(params);
  const norm = normOf(hs);
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  if (coef < 1) native.scaleMany(hs, coef);
  return norm;
}
