import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MaskCollator, maskStats } from '../../lib/masks/collator.js';
import { MultiBlock3DMaskGenerator, roundHalfEven } from '../../lib/masks/multiblock3d.js';
import { TubeMaskGenerator } from '../../lib/masks/tube.js';
import type { MaskIndices, MaskSpec } from '../../lib/masks/types.js';
import { Rng } from '../../lib/util/rng.js';

// The shipped short-range / long-range pair (MASK-03, CFG-02).
const SHIPPED: MaskSpec[] = [
  { aspect_ratio: [0.75, 1.5], num_blocks: 8, spatial_scale: [0.15, 0.15], temporal_scale: [1.0, 1.0], max_temporal_keep: 1.0, max_keep: null },
  { aspect_ratio: [0.75, 1.5], num_blocks: 2, spatial_scale: [0.7, 0.7], temporal_scale: [1.0, 1.0], max_temporal_keep: 1.0, max_keep: null },
];

const within = (got: number, want: number, rel: number) =>
  assert.ok(Math.abs(got - want) <= rel * want, `got ${got.toFixed(2)}, want ${want} +-${(rel * 100).toFixed(0)}%`);

function rows(m: MaskIndices): Int32Array[] {
  return Array.from({ length: m.B }, (_, b) => m.data.subarray(b * m.K, (b + 1) * m.K));
}

test('MASK-03: vitl16 at 224px, 16 frames, B=24 -> K_enc ~364/100, K_pred ~750/1102 (within 3%)', () => {
  const c = new MaskCollator({ masks: SHIPPED, numFrames: 16, tubeletSize: 2, cropSize: 224, patchSize: 16, seed: 234 });
  assert.is(c.numTokens, 1568);
  const s = maskStats(c, 300, 24);
  within(s[0].context.mean, 364, 0.03);
  within(s[0].target.mean, 750, 0.03);
  within(s[1].context.mean, 100, 0.03);
  within(s[1].target.mean, 1102, 0.03);
  assert.ok(s[1].context.min < s[1].context.mean && s[1].context.max > s[1].context.mean);
});

test('MASK-03 / §9: 4x8x8 grid, B=8 -> K_enc ~63/25, K_pred ~136/181 (within 3%)', () => {
  const c = new MaskCollator({ masks: SHIPPED, numFrames: 8, tubeletSize: 2, cropSize: 64, patchSize: 8, seed: 234 });
  assert.is(c.numTokens, 256);
  const s = maskStats(c, 1000, 8);
  within(s[0].context.mean, 63, 0.03);
  within(s[0].target.mean, 136, 0.03);
  within(s[1].context.mean, 25, 0.03);
  within(s[1].target.mean, 181, 0.03);
});

test('MASK-01/02: rows ascending, context and target disjoint, K = batch min, first-K truncation', () => {
  const c = new MaskCollator({ masks: SHIPPED, numFrames: 8, tubeletSize: 2, cropSize: 64, patchSize: 8, seed: 1 });
  for (let bi = 0; bi < 20; bi++) {
    const m = c.sample(bi, 8);
    assert.is(m.ctx.length, 2);
    for (let i = 0; i < 2; i++) {
      assert.is(m.ctx[i].data.length, 8 * m.ctx[i].K);
      assert.is(m.tgt[i].data.length, 8 * m.tgt[i].K);
      const cr = rows(m.ctx[i]);
      const tr = rows(m.tgt[i]);
      for (let b = 0; b < 8; b++) {
        for (const r of [cr[b], tr[b]]) for (let j = 1; j < r.length; j++) assert.ok(r[j] > r[j - 1]);
        const set = new Set(cr[b]);
        for (const t of tr[b]) assert.not.ok(set.has(t), 'context and target overlap');
        assert.ok(cr[b][cr[b].length - 1] < 256 && cr[b][0] >= 0);
      }
      assert.ok(m.ctx[i].K + m.tgt[i].K <= 256);
    }
  }
});

test('MASK-02: one block, B=1 -> target is exactly the t*h*w block, context its complement', () => {
  const spec: MaskSpec = { aspect_ratio: [0.75, 1.5], num_blocks: 1, spatial_scale: [0.3, 0.3], temporal_scale: [0.5, 1.0] };
  const g = new MultiBlock3DMaskGenerator(spec, { T: 4, H: 8, W: 8 });
  for (let k = 0; k < 10; k++) {
    const size = g.blockSize(k);
    const m = g.sampleAt(k, 1, new Rng(3, k));
    assert.is(m.tgt.K, size.t * size.h * size.w);
    assert.is(m.ctx.K, 256 - m.tgt.K);
    assert.ok(size.t >= 2 && size.t <= 4, `t ${size.t}`);
  }
});

test('MASK-02: block size depends only on k and is shared by lockstep configs (same u1,u2,u3)', () => {
  const a = new MultiBlock3DMaskGenerator({ ...SHIPPED[0], spatial_scale: [0.3, 0.3] }, { T: 8, H: 14, W: 14 });
  const b = new MultiBlock3DMaskGenerator({ ...SHIPPED[1], spatial_scale: [0.3, 0.3] }, { T: 8, H: 14, W: 14 });
  const seen = new Set<string>();
  for (let k = 0; k < 30; k++) {
    assert.equal(a.blockSize(k), b.blockSize(k));
    seen.add(JSON.stringify(a.blockSize(k)));
  }
  assert.ok(seen.size > 1, 'aspect ratio should vary with k');
  const s = a.blockSize(0);
  assert.is(s.t, 8); // temporal scale 1 -> full-length tubes
});

test('placement is a pure function of (seed, batch index); step() fast-forwards counters (TRAIN-13)', () => {
  const mk = (seed: number) => new MaskCollator({ masks: SHIPPED, numFrames: 8, tubeletSize: 2, cropSize: 64, patchSize: 8, seed });
  const a = mk(234);
  const seq = Array.from({ length: 6 }, (_, i) => a.sample(i, 4));
  assert.equal(a.state(), { counters: [5, 5] });
  const b = mk(234);
  b.step(5);
  assert.equal(b.state(), { counters: [4, 4] });
  assert.equal(b.sample(5, 4), seq[5]);
  const c = mk(234);
  c.loadState({ counters: [2, 2] });
  assert.equal(c.sample(3, 4), seq[3]);
  // another seed moves the blocks
  const d = mk(235);
  d.step(5);
  assert.not.equal(d.sample(5, 4).tgt[0].data, seq[5].tgt[0].data);
  assert.throws(() => c.loadState({ counters: [1] }), /^mask collator: state has 1 counters, expected 2$/);
});

test('max_temporal_keep restricts the context to early time steps; max_keep caps K_enc', () => {
  const spec: MaskSpec = { ...SHIPPED[0], max_temporal_keep: 0.5, max_keep: 20 };
  const g = new MultiBlock3DMaskGenerator(spec, { T: 4, H: 8, W: 8 });
  for (let k = 0; k < 10; k++) {
    const m = g.sample(6, new Rng(0, k));
    assert.ok(m.ctx.K <= 20);
    for (const i of m.ctx.data) assert.ok(i < 2 * 64, `context index ${i} beyond T'_ctx`);
    assert.ok(m.tgt.K >= 128);
  }
});

test('edge cases: 0-sized blocks and full coverage give clear errors', () => {
  assert.throws(
    () => new MultiBlock3DMaskGenerator({ ...SHIPPED[0], spatial_scale: [0.01, 0.01] }, { T: 4, H: 8, W: 8 }, 'mask.1'),
    /mask\.1\.spatial_scale.*< 1 patch/,
  );
  const thin = new MultiBlock3DMaskGenerator({ ...SHIPPED[0], spatial_scale: [0.02, 0.02], aspect_ratio: [0.05, 0.05] }, { T: 4, H: 8, W: 8 });
  assert.throws(() => thin.blockSize(0), /zero side/);
  const full = new MultiBlock3DMaskGenerator({ ...SHIPPED[0], spatial_scale: [1, 1], aspect_ratio: [1, 1] }, { T: 4, H: 8, W: 8 });
  assert.throws(() => full.sample(1, new Rng(0)), /context still empty/);
  assert.throws(() => new MultiBlock3DMaskGenerator({ ...SHIPPED[0], num_blocks: 0 }, { T: 4, H: 8, W: 8 }), /num_blocks/);
  assert.throws(() => new MultiBlock3DMaskGenerator({ ...SHIPPED[0], temporal_scale: [0.5] as any }, { T: 4, H: 8, W: 8 }), /temporal_scale/);
  // A single context index is fine here (the original crashes on it, §8.10).
  const one = new MultiBlock3DMaskGenerator({ ...SHIPPED[0], num_blocks: 1, spatial_scale: [0.5, 0.5], aspect_ratio: [1, 1] }, { T: 1, H: 2, W: 2 });
  const m = one.sample(3, new Rng(1));
  assert.is(m.tgt.K, 1);
  assert.is(m.ctx.K, 3);
});

test('roundHalfEven matches Python round()', () => {
  assert.equal([0.5, 1.5, 2.5, 2.4999, 2.5001, 3.5].map(roundHalfEven), [0, 2, 2, 2, 3, 4]);
});

test('MASK-04: tube masking tiles one spatial pattern over time; ratio is required', () => {
  const grid = { T: 4, H: 8, W: 8 };
  assert.throws(() => new TubeMaskGenerator({}, grid, 'mask.0'), /mask\.0\.ratio: required/);
  assert.throws(() => new TubeMaskGenerator({ ratio: 1 }, grid), /keeps no context/);
  const g = new TubeMaskGenerator({ ratio: 0.9 }, grid);
  assert.is(g.keepPerFrame, 6); // int(64 * 0.1)
  const m = g.sample(3, new Rng(2));
  assert.is(m.ctx.K, 24);
  assert.is(m.tgt.K, 232);
  for (const r of rows(m.ctx)) for (let j = 0; j < 6; j++) for (let d = 1; d < 4; d++) assert.is(r[d * 6 + j], r[j] + d * 64);
  const c = new MaskCollator({ masks: [{ ...SHIPPED[0], ratio: 0.75 }], maskType: 'random_tube', numFrames: 8, tubeletSize: 2, cropSize: 64, patchSize: 8, seed: 0 });
  assert.is(c.sample(0, 2).ctx[0].K, 64);
});

test.run();
