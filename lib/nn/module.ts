// Modules own parameters for their whole life and name them exactly as the original's
// state dicts do (MOD-15), so checkpoints map one-to-one.
import { Tensor, keep, shapeStr } from '../tensor.js';

export class Parameter {
  constructor(
    public tensor: Tensor,
    /** Frozen parameters (the sincos tables) are saved and loaded but never trained. */
    public trainable = true,
  ) {
    tensor.requiresGrad = trainable;
    keep(tensor);
  }
}

// Bumped whenever any module registers a parameter or a child: a parent cannot see its
// children change, so cached parameter lists are checked against this.
let structureVersion = 0;

export abstract class Module {
  private readonly params = new Map<string, Parameter>();
  private readonly children = new Map<string, Module>();
  private named: { version: number; list: readonly [string, Parameter][] } | null = null;

  protected param(name: string, t: Tensor, trainable = true): Tensor {
    t.name = name;
    this.params.set(name, new Parameter(t, trainable));
    structureVersion++;
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    structureVersion++;
    return m;
  }

  /**
   * (name, parameter) pairs in registration order, with dotted state-dict names. Cached: the
   * optimizer, clipping and the EMA ask for them every step, and a ViT-L has ~300 to walk.
   */
  namedParameters(): readonly [string, Parameter][] {
    if (this.named?.version !== structureVersion) this.named = { version: structureVersion, list: this.collect('') };
    return this.named.list;
  }

  private collect(prefix: string): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, c] of this.children) out.push(...c.collect(`${prefix}${n}.`));
    return out;
  }

  trainableParameters(): [string, Tensor][] {
    return this.namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([n, p]) => [n, p.tensor]);
  }

  numParameters(trainableOnly = true): number {
    return this.namedParameters()
      .filter(([, p]) => !trainableOnly || p.trainable)
      .reduce((s, [, p]) => s + p.tensor.numel, 0);
  }

  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters().map(([n, p]) => [n, p.tensor]));
  }

  /** Replaces a parameter's tensor (same shape) — used by loaders and tests. */
  setParameter(name: string, values: Float32Array): void {
    const p = this.namedParameters().find(([n]) => n === name);
    if (!p) throw new Error(`no parameter named ${name}`);
    if (p[1].tensor.numel !== values.length)
      throw new Error(`${name}: expected ${p[1].tensor.numel} values for ${shapeStr(p[1].tensor.shape)}, got ${values.length}`);
    p[1].tensor.write(values);
  }

  zeroGrad(): void {
    for (const [, p] of this.namedParameters()) {
      if (p.tensor.grad) {
        p.tensor.grad.dispose();
        p.tensor.grad = null;
      }
    }
  }

  /** Called after parameters were overwritten in place (a state-dict load): drops derived caches. */
  stateChanged(): void {
    for (const c of this.children.values()) c.stateChanged();
  }

  /** Moves every parameter (frozen tables included) to device in place; derived caches are dropped. */
  to(device: string): this {
    for (const [, p] of this.namedParameters()) p.tensor.moveTo(device);
    this.stateChanged();
    return this;
  }

  /** Frees every parameter and gradient now. */
  dispose(): void {
    for (const [, p] of this.namedParameters()) {
      p.tensor.grad?.dispose();
      p.tensor.grad = null;
      p.tensor.dispose();
    }
  }

  /** Sets requiresGrad on every trainable parameter (false freezes the module). */
  setTrainable(on: boolean): void {
    for (const [, p] of this.namedParameters()) p.tensor.requiresGrad = on && p.trainable;
  }
}
