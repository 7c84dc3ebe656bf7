// The V-JEPA video encoder (MOD-04, MOD-08, MOD-09): tubelet embed, fixed sincos table
// added to every token, optional per-mask gather, pre-norm blocks, final LayerNorm.
import { Tensor, keep, shapeStr } from '../tensor.js';
import { noGrad, releaseUngraphed } from '../autograd.js';
import { addBroadcast, add } from '../ops/elementwise.js';
import { gatherTokens } from '../ops/tokens.js';
import { patchEmbed3d } from '../ops/patch_embed.js';
import { layerNorm } from '../ops/layernorm.js';
import { Module } from './module.js';
import { Block } from './block.js';
import { LayerNorm } from './layernorm.js';
import { InitRng, truncNormal, zeros } from './init.js';
import { interpolateTable, sincos3dTable } from './posemb.js';

export interface VitConfig {
  imgSize: number;
  patchSize: number;
  numFrames: number;
  tubeletSize: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  uniformPower: boolean;
  normEps?: number; // 1e-6 in every variant
}

class PatchEmbed3D extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(cfg: VitConfig, rng: InitRng) {
    super();
    const { embedDim: D, tubeletSize: t, patchSize: p } = cfg;
    this.weight = this.param('proj.weight', truncNormal([D, 3, t, p, p], 0.02, rng));
    this.bias = this.param('proj.bias', zeros([D]));
  }
}

export class VisionTransformer extends Module {
  readonly cfg: Required<VitConfig>;
  readonly patchEmbed: PatchEmbed3D;
  readonly posEmbed: Tensor;
  readonly blocks: Block[];
  readonly norm: LayerNorm;
  readonly grid: [number, number, number];
  private resized = new Map<string, Tensor>();

  constructor(cfg: VitConfig, rng: InitRng) {
    super();
    if (cfg.numFrames <= 1) throw new Error('VisionTransformer: image mode (num_frames = 1) is not supported; use the video model (EVAL-07)');
    this.cfg = { normEps: 1e-6, ...cfg };
    const { imgSize, patchSize, numFrames, tubeletSize, embedDim: D, depth, numHeads, mlpRatio } = this.cfg;
    this.grid = [Math.floor(numFrames / tubeletSize), Math.floor(imgSize / patchSize), Math.floor(imgSize / patchSize)];
    this.patchEmbed = this.child('patch_embed', new PatchEmbed3D(this.cfg, rng));
    this.posEmbed = this.param('pos_embed', sincos3dTable(...this.grid, D, this.cfg.uniformPower), false);
    this.blocks = [];
    const blocks = new BlocksContainer();
    for (let i = 0; i < depth; i++) this.blocks.push(blocks.add(String(i), new Block(D, numHeads, Math.floor(D * mlpRatio), this.cfg.normEps, rng)));
    this.child('blocks', blocks);
    this.norm = this.child('norm', new LayerNorm(D, this.cfg.normEps));
  }

  get numTokens(): number {
    return this.grid[0] * this.grid[1] * this.grid[2];
  }

  /** The position table for a clip's grid, resized when it differs from the built one (MOD-07). */
  positionTable(T: number, H: number, W: number): Tensor {
    const { tubeletSize: t, patchSize: p, embedDim: D } = this.cfg;
    const g: [number, number, number] = [Math.floor(T / t), Math.floor(H / p), Math.floor(W / p)];
    if (g[0] === this.grid[0] && g[1] === this.grid[1] && g[2] === this.grid[2]) return this.posEmbed;
    const key = g.join('x');
    let cached = this.resized.get(key);
    if (!cached || cached.disposed) {
      const table = interpolateTable(this.posEmbed.toFloat32Array(), this.grid, g, D);
      cached = keep(Tensor.from(table, [1, g[0] * g[1] * g[2], D], 'float32', this.posEmbed.device));
      this.resized.set(key, cached);
    }
    return cached;
  }

  /** Resized position tables derive from pos_embed: a load that overwrites it drops them. */
  override stateChanged(): void {
    for (const t of this.resized.values()) t.dispose();
    this.resized.clear();
    super.stateChanged();
  }

  /** Tokens after the blocks and the final norm: [B, N, D], or [B, K, D] for kept indices idx [B, K]. */
  forward(x: Tensor, idx: Tensor | null = null): Tensor {
    let h = this.embed(x, idx);
    for (const b of this.blocks) h = this.step(b, h);
    const out = this.norm.forward(h);
    releaseUngraphed(h, out);
    return out;
  }

  /**
   * MOD-08's `out_layers`: the tokens after each listed block (0-based; negative counts from the
   * end, as Python's lists do), each through the final norm, in the order listed. Blocks past the
   * deepest one listed are not run. `forwardLayers(x, [depth - 1])` is `[forward(x)]`.
   */
  forwardLayers(x: Tensor, layers: readonly number[], idx: Tensor | null = null): Tensor[] {
    const at = this.layerIndices(layers);
    const deepest = Math.max(...at);
    const outs = new Map<number, Tensor>();
    let h = this.embed(x, idx);
    for (let i = 0; i <= deepest; i++) {
      h = this.step(this.blocks[i], h);
      if (at.includes(i)) outs.set(i, this.norm.forward(h));
    }
    releaseUngraphed(h, outs.get(deepest)!);
    return at.map((i) => outs.get(i)!);
  }

  /** `layers` as block indices in [0, depth), or an error naming the bad one. */
  layerIndices(layers: readonly number[], what = 'out_layers'): number[] {
    const depth = this.blocks.length;
    if (layers.length === 0) throw new Error(`${what}: no block listed`);
    return layers.map((l) => {
      if (!Number.isInteger(l) || l < -depth || l >= depth) throw new Error(`${what}: block ${l} does not exist (the encoder has ${depth}: 0..${depth - 1}, or -${depth}..-1 from the end)`);
      return l < 0 ? depth + l : l;
    });
  }

  /** Tubelet embedding plus the position table (MOD-01, MOD-08); only the kept tokens for idx. */
  private embed(x: Tensor, idx: Tensor | null): Tensor {
    if (x.rank !== 5 || x.shape[1] !== 3) throw new Error(`VisionTransformer: expected a clip [B,3,T,H,W], got ${shapeStr(x.shape)}`);
    const [, , T, H, W] = x.shape;
    const pos = this.positionTable(T, H, W);
    const e = patchEmbed3d(x, idx, this.patchEmbed.weight, this.patchEmbed.bias);
    let h: Tensor;
    if (idx) {
      // Embedding the kept tubelets only equals embedding all then gathering (MOD-01).
      const posKept = noGrad(() => gatherTokens(pos, idx));
      h = add(e, posKept);
      posKept.release();
    } else {
      h = addBroadcast(e, pos);
    }
    releaseUngraphed(e, h);
    return h;
  }

  private step(b: Block, h: Tensor): Tensor {
    const next = b.forward(h);
    releaseUngraphed(h, next);
    return next;
  }

  /** MOD-09: one pass per mask set. */
  forwardMasks(x: Tensor, masks: Tensor[]): Tensor[] {
    return masks.map((m) => this.forward(x, m));
  }

  override dispose(): void {
    this.stateChanged();
    super.dispose();
  }
}

/** Holds numbered children so their names come out as blocks.{i}.* */
export class BlocksContainer extends Module {
  add<M extends Module>(name: string, m: M): M {
    return this.child(name, m);
  }
}

/** The target normalisation of TRAIN-08 a: LayerNorm without affine, eps 1e-5. */
export function targetNorm(h: Tensor): Tensor {
  return layerNorm(h, null, null, 1e-5);
}
