// Mask collator (MASK-01): one (context, target) index pair per mask config for each batch.
// Placement randomness is a pure function of (seed, batch index, config index); block sizes are a
// pure function of each config's counter (which the trainer keeps equal to the batch index by
// calling step() on resume, TRAIN-13).
import { Rng } from '../util/rng.js';
import { MultiBlock3DMaskGenerator } from './multiblock3d.js';
import { TubeMaskGenerator } from './tube.js';
import { tokenGrid, type MaskIndices, type MaskSpec, type TokenGrid } from './types.js';

const PLACEMENT_STREAM = 0x706c6163; // 'plac'

export interface MaskCollatorOptions {
  masks: MaskSpec[];
  /** 'multiblock3d' (default); anything else selects random tubes (MASK-04), like the original. */
  maskType?: string;
  numFrames: number;
  tubeletSize: number;
  cropSize: number;
  patchSize: number;
  /** meta.seed; only block positions depend on it (MASK-02). */
  seed: number;
}

/** ctx[i] / tgt[i] belong to mask config i; each is [B, K] with ascending rows. */
export interface MaskBatch {
  ctx: MaskIndices[];
  tgt: MaskIndices[];
}

export interface MaskCollatorState {
  counters: number[];
}

type Generator = MultiBlock3DMaskGenerator | TubeMaskGenerator;

export class MaskCollator {
  readonly grid: TokenGrid;
  readonly maskType: string;
  readonly seed: number;
  readonly generators: Generator[];

  constructor(opts: MaskCollatorOptions) {
    if (!Array.isArray(opts.masks) || opts.masks.length === 0) throw new Error('mask: expected a non-empty list of mask configs');
    if (!Number.isSafeInteger(opts.seed)) throw new Error(`mask collator: seed must be an integer, got ${opts.seed}`);
    this.grid = tokenGrid(opts.numFrames, opts.tubeletSize, opts.cropSize, opts.patchSize);
    this.maskType = opts.maskType ?? 'multiblock3d';
    this.seed = opts.seed;
    this.generators = opts.masks.map((m, i) =>
      this.maskType === 'multiblock3d'
        ? new MultiBlock3DMaskGenerator(m, this.grid, `mask.${i}`)
        : new TubeMaskGenerator(m, this.grid, `mask.${i}`),
    );
  }

  get numTokens(): number {
    return this.grid.T * this.grid.H * this.grid.W;
  }

  /** Masks for one batch; advances every config's counter by one (lockstep). */
  sample(batchIndex: number, batchSize: number): MaskBatch {
    if (!Number.isSafeInteger(batchIndex) || batchIndex < 0) throw new Error(`mask collator: bad batch index ${batchIndex}`);
    const out: MaskBatch = { ctx: [], tgt: [] };
    this.generators.forEach((g, i) => {
      const pair = g.sample(batchSize, new Rng(this.seed, PLACEMENT_STREAM, batchIndex, i));
      out.ctx.push(pair.ctx);
      out.tgt.push(pair.tgt);
    });
    return out;
  }

  /** Fast-forward every counter by n batches without generating masks. */
  step(n = 1): void {
    for (const g of this.generators) g.step(n);
  }

  state(): MaskCollatorState {
    return { counters: this.generators.map((g) => g.counter) };
  }

  loadState(s: MaskCollatorState): void {
    if (!s || !Array.isArray(s.counters) || s.counters.length !== this.generators.length) {
      throw new Error(`mask collator: state has ${s?.counters?.length} counters, expected ${this.generators.length}`);
    }
    s.counters.forEach((c, i) => {
      if (!Number.isSafeInteger(c) || c < -1) throw new Error(`mask collator: bad counter ${c}`);
      this.generators[i].counter = c;
    });
  }
}

export interface CountStats {
  mean: number;
  min: number;
  max: number;
}

export interface MaskConfigStats {
  context: CountStats;
  target: CountStats;
}

/** Mean/min/max over batches of K_enc and K_pred (after batch-min truncation), per mask config. */
export function maskStats(collator: MaskCollator, batches: number, batchSize: number, firstBatch = 0): MaskConfigStats[] {
  if (!Number.isInteger(batches) || batches < 1) throw new Error(`maskStats: batches must be >= 1, got ${batches}`);
  const n = collator.generators.length;
  const acc = Array.from({ length: n }, () => ({
    c: { sum: 0, min: Infinity, max: -Infinity },
    t: { sum: 0, min: Infinity, max: -Infinity },
  }));
  for (let b = 0; b < batches; b++) {
    const m = collator.sample(firstBatch + b, batchSize);
    for (let i = 0; i < n; i++) {
      for (const [a, K] of [[acc[i].c, m.ctx[i].K], [acc[i].t, m.tgt[i].K]] as const) {
        a.sum += K;
        a.min = Math.min(a.min, K);
        a.max = Math.max(a.max, K);
      }
    }
  }
  const fin = (a: { sum: number; min: number; max: number }): CountStats => ({ mean: a.sum / batches, min: a.min, max: a.max });
  return acc.map((a) => ({ context: fin(a.c), target: fin(a.t) }));
}
