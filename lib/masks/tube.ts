// Random tube masking (MASK-04): one random spatial keep pattern per sample, tiled over all T'.
import { Rng } from '../util/rng.js';
import { packTruncated } from './multiblock3d.js';
import type { MaskPair, MaskSpec, TokenGrid } from './types.js';

export class TubeMaskGenerator {
  readonly grid: TokenGrid;
  readonly ratio: number;
  /** Spatial keep count k = int(H'*W'*(1 - ratio)). */
  readonly keepPerFrame: number;
  /** Exists for lockstep with multiblock configs; unused by the draw (as in the original). */
  counter = -1;

  constructor(spec: Pick<MaskSpec, 'ratio'>, grid: TokenGrid, where = 'mask.0') {
    this.grid = { ...grid };
    const ratio = spec.ratio;
    if (ratio === undefined || ratio === null) {
      throw new Error(`${where}.ratio: required for tube masking (data.mask_type other than multiblock3d), but it is missing`);
    }
    if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) {
      throw new Error(`${where}.ratio: expected a number in [0, 1], got ${JSON.stringify(ratio)}`);
    }
    this.ratio = ratio;
    const HW = grid.H * grid.W;
    this.keepPerFrame = Math.trunc(HW * (1 - ratio));
    if (this.keepPerFrame < 1) throw new Error(`${where}.ratio: ${ratio} keeps no context token on a ${grid.H}x${grid.W} grid`);
    if (this.keepPerFrame >= HW) throw new Error(`${where}.ratio: ${ratio} leaves no target token on a ${grid.H}x${grid.W} grid`);
  }

  step(n = 1): void {
    this.counter += n;
  }

  sample(batchSize: number, rng: Rng): MaskPair {
    this.counter += 1;
    return this.sampleAt(batchSize, rng);
  }

  sampleAt(batchSize: number, rng: Rng): MaskPair {
    const { T, H, W } = this.grid;
    const HW = H * W;
    const k = this.keepPerFrame;
    const pattern = new Uint8Array(HW);
    const ctxRows: Int32Array[] = [];
    const tgtRows: Int32Array[] = [];
    for (let b = 0; b < batchSize; b++) {
      pattern.fill(0, 0, HW - k);
      pattern.fill(1, HW - k);
      rng.shuffle(pattern);
      const ctx = new Int32Array(k * T);
      const tgt = new Int32Array((HW - k) * T);
      let c = 0;
      let t = 0;
      for (let d = 0; d < T; d++) {
        for (let i = 0; i < HW; i++) {
          if (pattern[i]) ctx[c++] = d * HW + i;
          else tgt[t++] = d * HW + i;
        }
      }
      ctxRows.push(ctx);
      tgtRows.push(tgt);
    }
    return { ctx: packTruncated(ctxRows, k * T), tgt: packTruncated(tgtRows, (HW - k) * T) };
  }
}
