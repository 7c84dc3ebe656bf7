// The frozen-feature cache: when the train split has no augmentation (optimization.cache_features),
// every video goes through the frozen encoder once and the head trains on the stored features.
import { tidy } from '../tensor.js';
import { autocast, CastPlan, type MatmulDtype } from '../ops/autocast.js';
import type { VisionTransformer } from '../nn/vit.js';
import { Rng } from '../util/rng.js';
import { encodeBatch, type Layout } from './aggregate.js';
import type { BatchSource } from './data.js';

export interface FeatureBatch {
  /** [S·V·B, N, D] host copy, same order as the encoder input */
  feats: Float32Array;
  layout: Layout;
  labels: Int32Array;
  /** [B] the samples' files, where known (the cached passes; not SampleTable's gathered batches) */
  paths?: string[];
}

export interface FeatureSet {
  batches: FeatureBatch[];
  N: number;
  D: number;
  numSamples: number;
}

/** One pass of `source` through the encoder; the features are kept on the host. */
export async function computeFeatures(
  encoder: VisionTransformer,
  source: BatchSource,
  chunk: number | null,
  progress?: (done: number, total: number) => void,
  matmulDtype: MatmulDtype = 'float32',
): Promise<FeatureSet> {
  const batches: FeatureBatch[] = [];
  let N = 0;
  let D = 0;
  let n = 0;
  const plan = new CastPlan();  // the encoder's weights, rounded in a few launches per batch after the first
  for await (const b of source.iterate()) {
    const feats = tidy(() => {
      const f = autocast(matmulDtype, () => encodeBatch(encoder, b.clips, b.clipShape, b.layout, chunk), plan);
      N = f.shape[1];
      D = f.shape[2];
      return f.toFloat32Array();
    }) as Float32Array;
    batches.push({ feats, layout: b.layout, labels: b.labels, paths: b.paths });
    n += b.layout.B;
    progress?.(batches.length, source.length);
  }
  return { batches, N, D, numSamples: n };
}

/** Per-sample view of a cached train pass with V = 1: sample i's S segment blocks. */
export class SampleTable {
  readonly S: number;
  readonly rowSize: number;
  private readonly rows: { batch: FeatureBatch; b: number }[] = [];

  constructor(readonly set: FeatureSet) {
    this.S = set.batches[0]?.layout.S ?? 1;
    this.rowSize = set.N * set.D;
    for (const batch of set.batches) {
      if (batch.layout.V !== 1 || batch.layout.S !== this.S) throw new Error('SampleTable: expected one view and the same segments in every batch');
      for (let b = 0; b < batch.layout.B; b++) this.rows.push({ batch, b });
    }
  }

  get length(): number {
    return this.rows.length;
  }

  /** Batches per epoch, the last one partial as the training loader's (the original keeps it). */
  batchesPerEpoch(B: number): number {
    return Math.ceil(this.rows.length / B);
  }

  /** The sample order of an epoch: a permutation seeded by (seed, epoch). */
  order(seed: number, epoch: number): Int32Array {
    const rng = new Rng(seed, 0x70726f62, epoch);
    const p = Int32Array.from({ length: this.rows.length }, (_, i) => i);
    for (let i = p.length - 1; i > 0; i--) {
      const j = rng.randint(0, i);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** Features of the given samples in encoder order [S·1·B, N, D], and their labels. */
  gather(ids: ArrayLike<number>): FeatureBatch {
    const B = ids.length;
    const feats = new Float32Array(this.S * B * this.rowSize);
    const labels = new Int32Array(B);
    for (let k = 0; k < B; k++) {
      const { batch, b } = this.rows[ids[k]];
      labels[k] = batch.labels[b];
      for (let s = 0; s < this.S; s++) {
        const src = (s * batch.layout.B + b) * this.rowSize;
        feats.set(batch.feats.subarray(src, src + this.rowSize), (s * B + k) * this.rowSize);
      }
    }
    return { feats, layout: { S: this.S, V: 1, B }, labels };
  }
}
