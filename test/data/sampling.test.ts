import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linspace, sampleClipIndices, type ClipSamplingOptions } from '../../lib/data/sampling.js';
import { Rng, roundHalfEven } from '../../lib/data/rng.js';
import { BatchSampler } from '../../lib/data/sampler.js';
import { parseIndexCsv, readVideoIndex } from '../../lib/data/csv.js';

const base = (o: Partial<ClipSamplingOptions>): ClipSamplingOptions => ({
  framesPerClip: 16, frameStep: 4, numClips: 1, clipDuration: null, randomClipSampling: false, allowClipOverlap: false, ...o,
});

test('DATA-03 case A: fpc=16 fs=4 offsets (spacing span/(fpc-1), not fs)', () => {
  const [c] = sampleClipIndices(100, base({}), null);
  assert.equal(Array.from(c), [0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63]);
});

test('DATA-03 case A random: end in [span, P-1], offsets keep their shape, partitions add i*P', () => {
  for (let s = 0; s < 200; s++) {
    const clips = sampleClipIndices(200, base({ randomClipSampling: true, numClips: 2 }), new Rng(7, s));
    const P = 100;
    clips.forEach((c, i) => {
      const start = c[0] - i * P;
      assert.ok(start >= 0 && start <= P - 1 - 64, `start ${start}`);
      const rel = Array.from(c, (v) => v - c[0]);
      assert.equal(rel, [0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63]);
      assert.ok(c[15] <= i * P + P - 2, 'the partition last frame is never used');
    });
  }
});

test('DATA-03 case B: P=40 short video, deterministic, padded with P-1', () => {
  const [c] = sampleClipIndices(40, base({ randomClipSampling: true }), new Rng(1));
  assert.equal(Array.from(c), [0, 4, 8, 13, 17, 22, 26, 31, 35, 39, 39, 39, 39, 39, 39, 39]);
  // two partitions of P=40 each
  const two = sampleClipIndices(81, base({ numClips: 2 }), null);
  assert.equal(two[1][0], 40);
  assert.equal(two[1][15], 79);
});

test('DATA-03 case P == span is case B (not A)', () => {
  const [c] = sampleClipIndices(64, base({}), null);
  // m = 16 points from 0..64, clamped to 63
  assert.equal(c[15], 63);
  assert.equal(Array.from(c), linspace(0, 64, 16).map((v) => Math.trunc(Math.min(v, 63))));
});

test('DATA-03 case C: overlap, q = min(span, L) - 1, shift (L-span)//(n-1)', () => {
  // L = 50 <= span: all segments identical
  const a = sampleClipIndices(50, base({ numClips: 2, allowClipOverlap: true, randomClipSampling: true }), new Rng(3));
  assert.equal(Array.from(a[0]), Array.from(a[1]));
  // q = 49, m = 12 points from 0..49, then 4 copies of 49, clamped to 48
  assert.equal(Array.from(a[0]), [0, 4, 8, 13, 17, 22, 26, 31, 35, 40, 44, 48, 48, 48, 48, 48]);
  // L = 100 > span but P = 50 <= span: q = 63, shift = (100-64)//1 = 36
  const b = sampleClipIndices(100, base({ numClips: 2, allowClipOverlap: true }), null);
  assert.equal(b[1][0] - b[0][0], 36);
  // m = 63//4 = 15 points from 0..63 (step 4.5), one copy of 63, clamped to 62
  assert.equal(Array.from(b[0]), [0, 4, 9, 13, 18, 22, 27, 31, 36, 40, 45, 49, 54, 58, 62, 62]);
});

test('DATA-03 clip duration: fs = int(duration * fps / fpc)', () => {
  const [c] = sampleClipIndices(1000, base({ framesPerClip: 4, clipDuration: 2, frameStep: 99 }), null, 30);
  // fs = int(2*30/4) = 15, span 60 -> linspace(0, 60, 4) = 0, 20, 40, 60 -> clamp 59
  assert.equal(Array.from(c), [0, 20, 40, 59]);
});

test('DATA-03 P = 0 throws instead of giving invalid indices', () => {
  assert.throws(() => sampleClipIndices(1, base({ numClips: 2 }), null), /too short/);
});

test('linspace matches numpy (endpoint exact)', () => {
  assert.equal(linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
  assert.equal(linspace(3, 3, 1), [3]);
  assert.equal(linspace(0, 10, 0), []);
});

test('roundHalfEven is Python round()', () => {
  assert.equal([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});

test('Rng is a pure function of its keys', () => {
  const a = new Rng(1, 2, 3);
  const b = new Rng(1, 2, 3);
  const c = new Rng(1, 2, 4);
  const va = [a.random(), a.random(), a.randint(0, 9)];
  assert.equal(va, [b.random(), b.random(), b.randint(0, 9)]);
  assert.not.equal(va[0], c.random());
  // randint bounds are inclusive and uniform-ish
  const counts = new Array(3).fill(0);
  const r = new Rng(5);
  for (let i = 0; i < 3000; i++) counts[r.randint(0, 2)]++;
  for (const n of counts) assert.ok(n > 900 && n < 1100, `count ${n}`);
});

test('DATA-12 sampler: per-pass permutations seeded by seed+pass, drop_last, pure in the batch index', () => {
  const s = new BatchSampler({ numSamples: 10, batchSize: 3, seed: 5, shuffle: true, dropLast: true });
  assert.is(s.batchesPerPass, 3);
  const pass0 = [0, 1, 2].flatMap((k) => Array.from(s.batchIndices(k)));
  assert.is(new Set(pass0).size, 9);
  const pass1 = [3, 4, 5].flatMap((k) => Array.from(s.batchIndices(k)));
  assert.not.equal(pass0, pass1);
  const fresh = new BatchSampler({ numSamples: 10, batchSize: 3, seed: 5, shuffle: true, dropLast: true });
  assert.equal(Array.from(fresh.batchIndices(4)), Array.from(s.batchIndices(4)));
  // seed + pass: pass 1 of seed 5 is pass 0 of seed 6
  const s6 = new BatchSampler({ numSamples: 10, batchSize: 3, seed: 6, shuffle: true, dropLast: true });
  assert.equal(Array.from(s6.batchIndices(0)), Array.from(s.batchIndices(3)));
  const keep = new BatchSampler({ numSamples: 10, batchSize: 3, seed: 5, shuffle: false, dropLast: false });
  assert.is(keep.batchesPerPass, 4);
  assert.equal(Array.from(keep.batchIndices(3)), [9]);
});

test('dataset weights change sampling frequency', () => {
  const s = new BatchSampler({ numSamples: 100, batchSize: 10, seed: 0, shuffle: true, dropLast: true, perFileCounts: [50, 50], datasetWeights: [9, 1] });
  let first = 0;
  for (let k = 0; k < 50; k++) for (const i of s.batchIndices(k)) if (i < 50) first++;
  assert.ok(first / 500 > 0.82 && first / 500 < 0.97, `fraction ${first / 500}`);
  assert.throws(() => new BatchSampler({ numSamples: 10, batchSize: 2, seed: 0, shuffle: true, dropLast: true, perFileCounts: [10], datasetWeights: [1, 2] }), /^datasetWeights has 2 entries but there are 1 index files$/);
});

test('DATA-01 CSV: single-space "path label", errors name file and 1-based line', () => {
  const ok = parseIndexCsv('/a/b.mp4 3\n/c d/e.mp4 1\n\n', 'x.csv');
  assert.equal(ok.paths, ['/a/b.mp4', '/c d/e.mp4']);
  assert.equal(ok.labels, [3, 1]);
  assert.throws(() => parseIndexCsv('/a.mp4 1\n/b.mp4\n', 'idx.csv'), /idx\.csv:2: expected "path label"/);
  assert.throws(() => parseIndexCsv('/a.mp4 1\n/b.mp4 1.5\n', 'idx.csv'), /idx\.csv:2: label "1\.5" is not an integer/);
  assert.throws(() => parseIndexCsv('/a.mp4 1\n\n/b.mp4 7\n', 'idx.csv', 5), /idx\.csv:3: label 7 is out of range \[0, 4\]/);
  assert.throws(() => parseIndexCsv('/a.mp4 -1\n', 'idx.csv'), /idx\.csv:1: label -1 is out of range/);
});

test('DATA-01 several CSVs concatenate in order; relative paths resolve against the CSV folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-csv-'));
  writeFileSync(join(dir, 'a.csv'), 'v1.mp4 0\n/abs/v2.mp4 1\n');
  writeFileSync(join(dir, 'b.csv'), '/abs/v3.mp4 2\n');
  const idx = readVideoIndex([join(dir, 'a.csv'), join(dir, 'b.csv')]);
  assert.equal(idx.paths, [join(dir, 'v1.mp4'), '/abs/v2.mp4', '/abs/v3.mp4']);
  assert.equal(Array.from(idx.labels), [0, 1, 2]);
  assert.equal(idx.perFileCounts, [2, 1]);
  assert.throws(() => readVideoIndex([join(dir, 'missing.csv')]), /missing\.csv: cannot read index file/);
  assert.throws(() => readVideoIndex([join(dir, 'x.npy')]), /unsupported index file type/);
});

test.run();
