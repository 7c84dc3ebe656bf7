import { Purpose, Rng, permutation } from './rng.js';

export interface SamplerOptions {
  numSamples: number;
  batchSize: number;
  seed: number;
  shuffle: boolean;
  dropLast: boolean;
  /** per-file sample counts and weights; when given, passes are weighted draws (see below) */
  perFileCounts?: number[];
  datasetWeights?: number[];
}

/**
 * DATA-12, as a pure function of the global batch index. Pass p (the p-th walk through the
 * data) is a permutation seeded by seed + p. Unlike the original, the first pass after a
 * restart is NOT forced to the epoch-0 order: batch k is the same whether or not the run was
 * restarted (exact resume). With dataset weights, each pass draws numSamples indices WITH
 * replacement, per-sample weight = weight / dataset size (the original's weights have no effect).
 */
export class BatchSampler {
  readonly batchesPerPass: number;
  private cache = new Map<number, Int32Array>();
  private cumWeights: Float64Array | null = null;

  constructor(private readonly o: SamplerOptions) {
    if (!(o.numSamples > 0)) throw new Error('sampler: dataset is empty');
    if (!(o.batchSize > 0) || !Number.isInteger(o.batchSize)) throw new Error(`sampler: bad batchSize ${o.batchSize}`);
    this.batchesPerPass = o.dropLast ? Math.floor(o.numSamples / o.batchSize) : Math.ceil(o.numSamples / o.batchSize);
    if (this.batchesPerPass === 0) {
      throw new Error(`sampler: ${o.numSamples} samples is fewer than one batch of ${o.batchSize} with dropLast`);
    }
    if (o.datasetWeights) {
      const counts = o.perFileCounts ?? [];
      if (o.datasetWeights.length !== counts.length) {
        throw new Error(`datasetWeights has ${o.datasetWeights.length} entries but there are ${counts.length} index files`);
      }
      const cum = new Float64Array(o.numSamples);
      let acc = 0;
      let k = 0;
      counts.forEach((n, f) => {
        const w = o.datasetWeights![f];
        if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`datasetWeights[${f}] = ${w} is not a non-negative number`);
        for (let i = 0; i < n; i++) {
          acc += w / n;
          cum[k++] = acc;
        }
      });
      if (!(acc > 0)) throw new Error('datasetWeights are all zero');
      this.cumWeights = cum;
    }
  }

  /** The order of pass p. */
  passOrder(pass: number): Int32Array {
    let p = this.cache.get(pass);
    if (p) return p;
    const n = this.o.numSamples;
    if (this.cumWeights) {
      const cum = this.cumWeights;
      const total = cum[n - 1];
      const rng = new Rng(this.o.seed + pass, Purpose.weights);
      p = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const u = rng.random() * total;
        let lo = 0;
        let hi = n - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (cum[mid] > u) hi = mid;
          else lo = mid + 1;
        }
        p[i] = lo;
      }
    } else if (this.o.shuffle) {
      p = permutation(n, new Rng(this.o.seed + pass, Purpose.shuffle));
    } else {
      p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
    }
    if (this.cache.size > 4) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(pass, p);
    return p;
  }

  /** Dataset indices of global batch k (0-based). */
  batchIndices(k: number): Int32Array {
    if (!(k >= 0) || !Number.isInteger(k)) throw new Error(`sampler: bad batch index ${k}`);
    const pass = Math.floor(k / this.batchesPerPass);
    const within = k - pass * this.batchesPerPass;
    const order = this.passOrder(pass);
    const start = within * this.o.batchSize;
    const end = Math.min(start + this.o.batchSize, this.o.numSamples);
    return order.slice(start, end);
  }
}
