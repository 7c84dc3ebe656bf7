// Multi-block 3D masking (MASK-02). Block *size* is drawn from a private RNG seeded only by this
// config's batch counter k (so, like the original, it ignores meta.seed and every config shares the
// same u1,u2,u3 for a given k); block *positions* come from a caller-supplied RNG, which the collator
// derives from (seed, batch index) so a batch index always yields the same masks.
import { Rng } from '../util/rng.js';
import type { MaskIndices, MaskPair, MaskSpec, TokenGrid } from './types.js';

// Domain tag so block-size streams never coincide with other Rng(k) uses.
const BLOCK_SIZE_STREAM = 0x6d61736b; // 'mask'
const MAX_REDRAWS = 1000;

export interface BlockSize {
  t: number;
  h: number;
  w: number;
}

/** Python's round(): half to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

function checkPair(name: string, v: unknown, lo: number, hi: number, where: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new Error(`${where}.${name}: expected [min, max] numbers, got ${JSON.stringify(v)}`);
  }
  const [a, b] = v as [number, number];
  if (a > b) throw new Error(`${where}.${name}: min ${a} > max ${b}`);
  if (a <= lo || b > hi) throw new Error(`${where}.${name}: values must lie in (${lo}, ${hi}], got [${a}, ${b}]`);
  return [a, b];
}

/** Pack per-sample ascending lists into [B, K] after cutting each to its first K entries. */
export function packTruncated(rows: Int32Array[], K: number): MaskIndices {
  const B = rows.length;
  const data = new Int32Array(B * K);
  for (let b = 0; b < B; b++) data.set(rows[b].subarray(0, K), b * K);
  return { data, B, K };
}

export class MultiBlock3DMaskGenerator {
  readonly grid: TokenGrid;
  readonly spatialScale: [number, number];
  readonly temporalScale: [number, number];
  readonly aspectRatio: [number, number];
  readonly numBlocks: number;
  readonly maxTemporalKeep: number;
  readonly maxKeep: number | null;
  private readonly where: string;
  /** Batch counter; starts at -1 so the first batch uses k = 0 (MASK-02 step 1). */
  counter = -1;

  constructor(spec: MaskSpec, grid: TokenGrid, where = 'mask.0') {
    this.where = where;
    this.grid = { ...grid };
    this.spatialScale = checkPair('spatial_scale', spec.spatial_scale, 0, Infinity, where);
    this.temporalScale = checkPair('temporal_scale', spec.temporal_scale, 0, 1, where);
    this.aspectRatio = checkPair('aspect_ratio', spec.aspect_ratio, 0, Infinity, where);
    if (!Number.isInteger(spec.num_blocks) || spec.num_blocks < 1) {
      throw new Error(`${where}.num_blocks: expected an integer >= 1, got ${JSON.stringify(spec.num_blocks)}`);
    }
    this.numBlocks = spec.num_blocks;
    this.maxTemporalKeep = spec.max_temporal_keep ?? 1.0;
    if (!(this.maxTemporalKeep > 0 && this.maxTemporalKeep <= 1)) {
      throw new Error(`${where}.max_temporal_keep: expected a number in (0, 1], got ${spec.max_temporal_keep}`);
    }
    this.maxKeep = spec.max_keep ?? null;
    if (this.maxKeep !== null && (!Number.isInteger(this.maxKeep) || this.maxKeep < 1)) {
      throw new Error(`${where}.max_keep: expected null or an integer >= 1, got ${spec.max_keep}`);
    }
    const area = Math.trunc(grid.H * grid.W * this.spatialScale[1]);
    if (area < 1) {
      // The original silently yields 0-sized blocks and empty targets here (§8.10); we refuse.
      throw new Error(
        `${where}.spatial_scale: max ${this.spatialScale[1]} of a ${grid.H}x${grid.W} grid is < 1 patch; blocks would be empty`,
      );
    }
  }

  /** Advance the counter without generating masks (resume fast-forward, TRAIN-13). */
  step(n = 1): void {
    this.counter += n;
  }

  /** Block size for batch counter k (MASK-02 step 2); depends on k only. */
  blockSize(k: number): BlockSize {
    const { T, H, W } = this.grid;
    const rng = new Rng(BLOCK_SIZE_STREAM, k);
    const u1 = rng.uniform();
    const u2 = rng.uniform();
    const u3 = rng.uniform();
    const [tMin, tMax] = this.temporalScale;
    const [sMin, sMax] = this.spatialScale;
    const [aMin, aMax] = this.aspectRatio;
    const t = Math.max(1, Math.trunc(T * (tMin + u1 * (tMax - tMin))));
    const A = Math.trunc(H * W * (sMin + u2 * (sMax - sMin)));
    const r = aMin + u3 * (aMax - aMin);
    const h = Math.min(H, roundHalfEven(Math.sqrt(A * r)));
    const w = Math.min(W, roundHalfEven(Math.sqrt(A / r)));
    if (h < 1 || w < 1) {
      throw new Error(
        `${this.where}: block size (t=${t}, h=${h}, w=${w}) at batch ${k} has a zero side (area ${A} patches, aspect ${r.toFixed(3)}); ` +
          `the original would produce an empty target (MASK-02); raise spatial_scale or narrow aspect_ratio`,
      );
    }
    return { t, h, w };
  }

  /** Keep grid (1 = context) of one sample, redrawn until the context is non-empty (steps 3-4). */
  sampleKeepGrid(size: BlockSize, rng: Rng, out?: Uint8Array): Uint8Array {
    const { T, H, W } = this.grid;
    const HW = H * W;
    const keep = out ?? new Uint8Array(T * HW);
    const tCtx = Math.max(1, Math.trunc(T * this.maxTemporalKeep));
    for (let attempt = 0; attempt < MAX_REDRAWS; attempt++) {
      keep.fill(1);
      for (let b = 0; b < this.numBlocks; b++) {
        const top = rng.randint(0, H - size.h);
        const left = rng.randint(0, W - size.w);
        const start = rng.randint(0, T - size.t);
        for (let d = start; d < start + size.t; d++) {
          for (let y = top; y < top + size.h; y++) {
            const row = d * HW + y * W;
            keep.fill(0, row + left, row + left + size.w);
          }
        }
      }
      if (tCtx < T) keep.fill(0, tCtx * HW);
      let any = false;
      for (let i = 0; i < keep.length; i++) if (keep[i]) { any = true; break; }
      if (any) return keep;
    }
    throw new Error(
      `${this.where}: context still empty after ${MAX_REDRAWS} redraws with blocks (t=${size.t}, h=${size.h}, w=${size.w}) ` +
        `x ${this.numBlocks} on a ${T}x${H}x${W} grid; the blocks cover everything`,
    );
  }

  /** Masks for batch counter k with the given placement RNG; pure in (k, rng state). */
  sampleAt(k: number, batchSize: number, rng: Rng): MaskPair {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`mask: batch size must be >= 1, got ${batchSize}`);
    const size = this.blockSize(k);
    const N = this.grid.T * this.grid.H * this.grid.W;
    const keep = new Uint8Array(N);
    const ctxRows: Int32Array[] = [];
    const tgtRows: Int32Array[] = [];
    let kEnc = Infinity;
    let kPred = Infinity;
    for (let b = 0; b < batchSize; b++) {
      this.sampleKeepGrid(size, rng, keep);
      let nCtx = 0;
      for (let i = 0; i < N; i++) nCtx += keep[i];
      const ctx = new Int32Array(nCtx);
      const tgt = new Int32Array(N - nCtx);
      for (let i = 0, c = 0, t = 0; i < N; i++) {
        if (keep[i]) ctx[c++] = i;
        else tgt[t++] = i;
      }
      ctxRows.push(ctx);
      tgtRows.push(tgt);
      kEnc = Math.min(kEnc, nCtx);
      kPred = Math.min(kPred, N - nCtx);
    }
    if (this.maxKeep !== null) kEnc = Math.min(kEnc, this.maxKeep);
    // Batch-min truncation keeps the first (lowest-index) K entries of each ascending list (step 5).
    return { ctx: packTruncated(ctxRows, kEnc), tgt: packTruncated(tgtRows, kPred) };
  }

  /** Increment the counter and generate this batch's masks. */
  sample(batchSize: number, rng: Rng): MaskPair {
    this.counter += 1;
    return this.sampleAt(this.counter, batchSize, rng);
  }
}
