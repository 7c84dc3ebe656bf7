// The V-JEPA encoder (MOD-04, MOD-08, MOD-09): tubelet embed, fixed sincos table added to
// every token, optional per-mask gather, pre-norm blocks, final LayerNorm. Built with one frame
// it is the original's image model (MOD-02): 2D patches and a 2D table; a clip of T frames
// then goes through it as T images (the original's FrameAggregation, MOD-14).
import { Tensor, keep, shapeStr } from '../tensor.js';
import { noGrad, releaseUngraphed } from '../autograd.js';
import { addBroadcast, add, reshape } from '../ops/elementwise.js';
import { gatherTokens } from '../ops/tokens.js';
import { patchEmbed3d } from '../ops/patch_embed.js';
import { layerNorm } from '../ops/layernorm.js';
import { Module } from './module.js';
import { Block } from './block.js';
import { LayerNorm } from './layernorm.js';
import { InitRng, truncNormal, zeros } from './init.js';
import { interpolateTable, interpolateTable2d, sincos2dTable, sincos3dTable } from './posemb.js';

export interface VitConfig {
  imgSize: number;
  patchSize: number;
  /** 1 builds the image model (MOD-02), as the original's `num_frames > 1` test does. */
  numFrames: number;
  /** Ignored by the image model. */
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
    // The image model's Conv2d weight is [D, 3, p, p]: the original's layout, so its state dicts load.
    this.weight = this.param('proj.weight', truncNormal(cfg.numFrames > 1 ? [D, 3, t, p, p] : [D, 3, p, p], 0.02, rng));
    this.bias = this.param('proj.bias', zeros([D]));
  }
}

export class VisionTransformer extends Module {
  readonly cfg: Required<VitConfig>;
  readonly patchEmbed: PatchEmbed3D;
  readonly posEmbed: Tensor;
  readonly blocks: Block[];
  readonly norm: LayerNorm;
  /** The token grid at the build size; [1, G, G] for the image model. */
  readonly grid: [number, number, number];
  /** The image model (MOD-02): built with one frame. */
  readonly isImage: boolean;
  private resized = new Map<string, Tensor>();

  constructor(cfg: VitConfig, rng: InitRng) {
    super();
    if (!(cfg.numFrames >= 1)) throw new Error(`VisionTransformer: num_frames must be at least 1, got ${cfg.numFrames}`);
    this.cfg = { normEps: 1e-6, ...cfg };
    const { imgSize, patchSize, numFrames, tubeletSize, embedDim: D, depth, numHeads, mlpRatio } = this.cfg;
    this.isImage = numFrames === 1;
    const G = Math.floor(imgSize / patchSize);
    this.grid = [this.isImage ? 1 : Math.floor(numFrames / tubeletSize), G, G];
    if (this.grid[0] < 1) throw new Error(`VisionTransformer: ${numFrames} frames give no tubelet of size ${tubeletSize}`);
    this.patchEmbed = this.child('patch_embed', new PatchEmbed3D(this.cfg, rng));
    // MOD-06: the image model's table is 2D, with no uniform_power split (the original passes none).
    const table = this.isImage ? sincos2dTable(G, G, D) : sincos3dTable(...this.grid, D, this.cfg.uniformPower);
    this.posEmbed = this.param('pos_embed', table, false);
    this.blocks = [];
    const blocks = new BlocksContainer();
    for (let i = 0; i < depth; i++) this.blocks.push(blocks.add(String(i), new Block(D, numHeads, Math.floor(D * mlpRatio), this.cfg.normEps, rng)));
    this.child('blocks', blocks);
    this.norm = this.child('norm', new LayerNorm(D, this.cfg.normEps));
  }

  get numTokens(): number {
    return this.grid[0] * this.grid[1] * this.grid[2];
  }

  /** Frames per token along time: the tubelet, or 1 for the image model (each frame an image). */
  get tubelet(): number {
    return this.isImage ? 1 : this.cfg.tubeletSize;
  }

  /** The token grid of a clip of T x H x W (floor division, as the patch embed). */
  tokenGrid(T: number, H: number, W: number): [number, number, number] {
    const p = this.cfg.patchSize;
    return [Math.floor(T / this.tubelet), Math.floor(H / p), Math.floor(W / p)];
  }

  /** T, H, W of a clip [B,3,T,H,W] or, for the image model, of images [B,3,H,W] (T = 1); null for another shape. */
  clipDims(shape: readonly number[]): [number, number, number] | null {
    if (shape[1] !== 3) return null;
    if (shape.length === 5) return [shape[2], shape[3], shape[4]];
    return this.isImage && shape.length === 4 ? [1, shape[2], shape[3]] : null;
  }

  /** The token grid of a clip of T x H x W, or an error (after `what: `) when no tubelet fits in it. */
  clipGrid(T: number, H: number, W: number, what: string): [number, number, number] {
    const g = this.tokenGrid(T, H, W);
    if (g[0] < 1 || g[1] < 1 || g[2] < 1)
      throw new Error(`${what}: a clip of ${T}x${H}x${W} (T x H x W) holds no ${this.tubelet}x${this.cfg.patchSize}x${this.cfg.patchSize} tubelet`);
    return g;
  }

  /**
   * The position table for a clip's grid, resized when it differs from the built one (MOD-07). The
   * image model's is the 2D table, resized bicubically, once per frame.
   */
  positionTable(T: number, H: number, W: number): Tensor {
    const D = this.cfg.embedDim;
    const g = this.tokenGrid(T, H, W);
    if (g[0] === this.grid[0] && g[1] === this.grid[1] && g[2] === this.grid[2]) return this.posEmbed;
    const key = g.join('x');
    let cached = this.resized.get(key);
    if (!cached || cached.disposed) {
      const src = this.posEmbed.toFloat32Array();
      let table: Float32Array;
      if (this.isImage) {
        const plane = g[1] === this.grid[1] && g[2] === this.grid[2] ? src : interpolateTable2d(src, [this.grid[1], this.grid[2]], [g[1], g[2]], D);
        table = new Float32Array(g[0] * plane.length);
        for (let t = 0; t < g[0]; t++) table.set(plane, t * plane.length);
      } else {
        table = interpolateTable(src, this.grid, g, D);
      }
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
    const frames = this.framesOf(x);
    if (frames > 1) h = this.toFrames(h, frames);
    for (const b of this.blocks) h = this.step(b, h);
    const out = this.norm.forward(h);
    releaseUngraphed(h, out);
    return frames > 1 ? this.fromFrames(out, frames) : out;
  }

  /** Frames the image model attends over separately (1 for an image or the video model). */
  private framesOf(x: Tensor): number {
    return this.isImage && x.rank === 5 ? x.shape[2] : 1;
  }

  // [B, F·N, D] -> [B·F, N, D]: every frame attends only within itself, as FrameAggregation's images.
  private toFrames(h: Tensor, F: number): Tensor {
    const [B, FN, D] = h.shape;
    const out = reshape(h, [B * F, FN / F, D]);
    releaseUngraphed(h, out);
    return out;
  }

  // [B·F, N, D] -> [B, F·N, D]: the frames' tokens concatenated along time (frame 0 first).
  private fromFrames(h: Tensor, F: number): Tensor {
    const [BF, N, D] = h.shape;
    const out = reshape(h, [BF / F, F * N, D]);
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
    const frames = this.framesOf(x);
    if (frames > 1) h = this.toFrames(h, frames);
    for (let i = 0; i <= deepest; i++) {
      h = this.step(this.blocks[i], h);
      if (at.includes(i)) outs.set(i, this.norm.forward(h));
    }
    releaseUngraphed(h, outs.get(deepest)!);
    return at.map((i) => (frames > 1 ? this.fromFrames(outs.get(i)!, frames) : outs.get(i)!));
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
    const dims = this.clipDims(x.shape);
    if (!dims) throw new Error(`VisionTransformer: expected a clip [B,3,T,H,W]${this.isImage ? ' or images [B,3,H,W]' : ''}, got ${shapeStr(x.shape)}`);
    const [T, H, W] = dims;
    this.clipGrid(T, H, W, 'VisionTransformer');
    // Masks index one image's tokens; frames as separate images have no shared token set to mask.
    if (idx && this.isImage && T > 1) throw new Error(`VisionTransformer: the image model takes token indices for images or 1-frame clips, not for ${T} frames`);
    const pos = this.positionTable(T, H, W);
    const clip = x.rank === 4 ? x.view([x.shape[0], 3, 1, H, W]) : x;
    const e = patchEmbed3d(clip, idx, this.patchEmbed.weight, this.patchEmbed.bias);
    if (clip !== x) clip.dispose();
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
