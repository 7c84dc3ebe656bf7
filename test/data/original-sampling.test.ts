// DATA-02 / DATA-03 clip sampling checked against the ORIGINAL code's choices, recorded by
// reference/original_sampling.py into test/fixtures/original/sampling.json (a fake decord tells the
// original loader a frame count and fps and hands back the indices it asks for).
//   * deterministic cases (random sampling off, or on but no random choice made): our indices must
//     be identical, or the video rejected where the original rejects it;
//   * random cases: the extremes of the random choice must be identical (both sides run with the
//     draw forced to its lowest / highest value), and over N draws the start index must have the
//     same support, mean, spread and CDF (tolerances from N), the same index pattern, and clips
//     must be drawn independently;
//   * where the original returns invalid indices or crashes, we deviate on purpose; each such case
//     is asserted explicitly with the spec item and the README "Known deviations" entry.
// Our side runs through VideoBatchBuilder's own per-sample path (filters, P = 0 check, seeded clip
// RNG), the same one the loader's workers use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sampleClipIndices, type ClipSamplingOptions } from '../../lib/data/sampling.js';
import { VideoBatchBuilder, type VideoDatasetSpec } from '../../lib/data/batch-builder.js';
import type { Rng } from '../../lib/data/rng.js';

interface ClipStats {
  mean: number;
  sd: number;
  min: number;
  max: number;
  distinct: number;
  cdf_x: number[];
  cdf: number[];
  patterns: number[][];
}

interface Case {
  L: number;
  fps: number | null;
  fpc: number;
  fs: number;
  nc: number;
  duration: number | null;
  rand: boolean;
  overlap: boolean;
  filter_short: boolean;
  kind: 'indices' | 'rejected' | 'error' | 'random';
  value?: number[][] | string | null;
  constant?: boolean;
  alt_fs1?: { kind: string; value: number[][] };
  draws?: number;
  low?: number[][];
  high?: number[][];
  clips?: ClipStats[];
  corr01?: number;
}

const fixturePath = fileURLToPath(new URL('../../../test/fixtures/original/sampling.json', import.meta.url));
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as { n_draws: number; cases: Case[] };
const cases = fixture.cases;

const name = (c: Case) =>
  `L=${c.L} fps=${c.fps} fpc=${c.fpc} fs=${c.fs} nc=${c.nc} dur=${c.duration} rand=${c.rand} overlap=${c.overlap} filterShort=${c.filter_short}`;

const samplingOf = (c: Case): ClipSamplingOptions => ({
  framesPerClip: c.fpc,
  frameStep: c.fs,
  numClips: c.nc,
  clipDuration: c.duration,
  randomClipSampling: c.rand,
  allowClipOverlap: c.overlap,
});

function builderFor(c: Case): VideoBatchBuilder {
  const spec: VideoDatasetSpec = {
    paths: ['unused.mp4'],
    labels: new Int32Array(1),
    sampling: samplingOf(c),
    cropSize: 16,
    transform: { kind: 'train' } as VideoDatasetSpec['transform'],
    seed: 1234,
    filterShortVideos: c.filter_short,
    filterLongVideos: 1e9,
    minFileBytes: 1024,
    seek: true,
    decodeShortSide: null,
    wholeDecodeMaxBytes: 0,
    videosPerProcess: 1,
    procsPerWorker: 1,
    maxAttemptsPerSample: 1,
  };
  return new VideoBatchBuilder(spec);
}

type IndicesFor = (batchIndex: number, s: { j: number; index: number; attempt: number }, L: number, fps: number) => Int32Array[];

/** Our clip indices for draw `d` through the builder's per-sample path, or the error it throws. */
function ours(b: VideoBatchBuilder, c: Case, d: number): { ok: true; value: number[][] } | { ok: false; error: string } {
  const fn = (b as unknown as { indicesFor: IndicesFor }).indicesFor.bind(b);
  try {
    return { ok: true, value: fn(d, { j: d % 3, index: 0, attempt: 0 }, c.L, c.fps ?? 0).map((a) => Array.from(a)) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

const isValid = (c: Case, v: number[][]) => v.every((clip) => clip.every((x) => Number.isInteger(x) && x >= 0 && x < c.L));

/** What we must do for a case with a single, deterministic original outcome. */
type Expect =
  | { kind: 'equal'; value: number[][]; why?: string }
  | { kind: 'throws'; re: RegExp; why: string }
  | { kind: 'frameStep'; why: string };

function expectationFor(c: Case): Expect {
  const value = c.value as number[][];
  if (c.kind === 'rejected') return { kind: 'throws', re: /filterShortVideos/, why: 'DATA-02 filter_short_videos rejects, as the original' };
  if (c.L < c.nc && (c.L === 0 || !c.overlap)) {
    // the original returns -1 indices (case B) or crashes (L = 0 with overlap)
    assert.ok(c.kind === 'error' || !isValid(c, value), `${name(c)}: expected the original to fail here`);
    return {
      kind: 'throws',
      re: /too short|no frames/,
      why: 'deviation DATA-03 edge "P = 0 gives invalid indices" (README: fewer frames than numClips without overlap is unloadable)',
    };
  }
  if (c.L < c.nc && c.L >= 2) {
    // Case C (overlap) never uses P: with 2 <= L < num_clips the original returns valid, identical
    // segments, and so do we. (L = 1 is the case C clamp below.)
    assert.ok(isValid(c, value), `${name(c)}: expected valid indices from the original`);
    return { kind: 'equal', value, why: 'DATA-03 P = 0 in case C: P is not used there, sampled as the original' };
  }
  if (c.duration !== null && c.fps === 0) {
    // the original's step becomes 0 and its indices invalid; a rate of 0 is an unknown rate to us, so we
    // keep frame_step, as the original does when decord cannot tell the rate (the next case)
    assert.ok(!isValid(c, value), `${name(c)}: expected the original to give invalid indices`);
    return { kind: 'frameStep', why: 'deviation DATA-03 "fs = int(duration*avg_fps/fpc)" with fps 0: frame_step is kept' };
  }
  if (c.duration !== null && c.fps === null) {
    // decord cannot tell the fps: the original warns and keeps frame_step, and so do we
    return { kind: 'equal', value, why: 'DATA-03 duration with unknown fps: frame_step is kept, as the original' };
  }
  if (c.alt_fs1) {
    assert.ok(c.kind === 'indices' && !isValid(c, value), `${name(c)}: step-0 case expected to give invalid indices in the original`);
    return {
      kind: 'equal',
      value: c.alt_fs1.value,
      why: 'deviation DATA-03 "fs = int(duration*fps/fpc)" truncating to 0 (README: with clipDuration the frame step is at least 1)',
    };
  }
  if (c.kind === 'indices' && c.overlap && c.L === 1) {
    // case C with q = 0: the original clamps to [0, -1] and gets -1
    assert.ok(!isValid(c, value), `${name(c)}: expected the original to give invalid indices`);
    return {
      kind: 'equal',
      value: value.map((clip) => clip.map((x) => Math.max(x, 0))),
      why: 'deviation DATA-03 case C clamp [0, q-1] with q = 0 (README: taken as [0, 0])',
    };
  }
  if (c.kind === 'indices' && isValid(c, value)) return { kind: 'equal', value };
  throw new Error(`${name(c)}: the original gives ${JSON.stringify(c.value)} (${c.kind}) and no deviation covers it`);
}

function checkDeterministic(c: Case, draws: number): string | null {
  const exp = expectationFor(c);
  const b = builderFor(c);
  for (let d = 0; d < draws; d++) {
    const got = ours(b, c, d);
    if (exp.kind === 'frameStep') {
      const plain = ours(builderFor({ ...c, duration: null }), { ...c, duration: null }, d);
      assert.ok(got.ok && plain.ok, `${name(c)}: ${exp.why}`);
      assert.equal((got as { value: number[][] }).value, (plain as { value: number[][] }).value, `${name(c)}: ${exp.why}`);
    } else if (exp.kind === 'throws') {
      assert.ok(!got.ok, `${name(c)}: ${exp.why}: expected a rejection, got ${got.ok ? JSON.stringify(got.value) : ''}`);
      assert.match((got as { error: string }).error, exp.re, `${name(c)}: ${exp.why}`);
    } else {
      assert.ok(got.ok, `${name(c)}: threw ${got.ok ? '' : got.error}; original ${JSON.stringify(exp.value)}`);
      assert.equal((got as { value: number[][] }).value, exp.value, `${name(c)}${exp.why ? ` (${exp.why})` : ''}: ours vs the original`);
    }
  }
  return exp.why ?? null;
}

const det = cases.filter((c) => c.kind !== 'random' && !c.rand);
const constant = cases.filter((c) => c.kind !== 'random' && c.rand);
const random = cases.filter((c) => c.kind === 'random');

test('fixture: present, and covers the grid it claims', () => {
  assert.ok(cases.length > 500, `${cases.length} cases`);
  assert.ok(det.length > 400 && random.length > 40 && constant.length > 10, `${det.length}/${random.length}/${constant.length}`);
  for (const k of ['indices', 'rejected', 'error', 'random']) assert.ok(cases.some((c) => c.kind === k), `no ${k} case`);
  assert.ok(cases.some((c) => c.nc === 8) && cases.some((c) => c.duration !== null && c.rand), 'nc = 8 and random duration cases');
});

test('DATA-03 deterministic (random sampling off): identical indices, or a deliberate, named deviation', () => {
  const deviations = new Map<string, number>();
  let exact = 0;
  for (const c of det) {
    const why = checkDeterministic(c, 1);
    if (why && why.startsWith('deviation')) deviations.set(why, (deviations.get(why) ?? 0) + 1);
    else exact++;
  }
  // most of the grid must be exact agreement, not deviations (about 1 in 7 cases is a too-short video)
  assert.ok(exact > 0.8 * det.length, `${exact} of ${det.length} exact`);
  if (process.env.VJEPA_TEST_VERBOSE) console.log({ exact, of: det.length, deviations });
  // each deliberate deviation actually occurs in the grid (so its assertion is exercised)
  const keys = [...deviations.keys()];
  for (const k of ['edge "P = 0', 'case C clamp', 'truncating to 0', 'with fps 0']) {
    assert.ok(keys.some((x) => x.includes(k)), `no case exercises the deviation "${k}": ${keys.join('; ')}`);
  }
});

test('DATA-03 random sampling on but no random choice (cases B, C, P = span + 1): deterministic and identical', () => {
  for (const c of constant) checkDeterministic(c, 25);
});

test('DATA-03 random window: the extremes of the random choice match exactly', () => {
  const forced = (which: 'low' | 'high') =>
    ({ randint: (lo: number, hi: number) => (which === 'low' ? lo : hi), random: () => { throw new Error('unexpected draw'); } }) as unknown as Rng;
  for (const c of random) {
    for (const which of ['low', 'high'] as const) {
      const got = sampleClipIndices(c.L, samplingOf(c), forced(which), c.fps ?? 0).map((a) => Array.from(a));
      assert.equal(got, c[which], `${name(c)}: indices with the draw forced to its ${which} end`);
    }
  }
});

// two-sample Kolmogorov-Smirnov bound at alpha = 1e-4: c(alpha) * sqrt((n + m) / (n m))
const ksBound = (n: number, m: number) => Math.sqrt(-Math.log(1e-4 / 2) / 2) * Math.sqrt((n + m) / (n * m));

test('DATA-03 random window: same distribution of the start, same pattern, independent clips', () => {
  for (const c of random) {
    const N = c.draws!;
    const b = builderFor(c);
    const draws: number[][][] = [];
    for (let d = 0; d < N; d++) {
      const got = ours(b, c, d);
      assert.ok(got.ok, `${name(c)}: draw ${d} threw`);
      draws.push((got as { value: number[][] }).value);
    }
    c.clips!.forEach((o, i) => {
      const tag = `${name(c)} clip ${i}`;
      const starts = draws.map((d) => d[i][0]);
      const mean = starts.reduce((a, x) => a + x, 0) / N;
      const sd = Math.sqrt(starts.reduce((a, x) => a + (x - mean) ** 2, 0) / N);
      const lo = Math.min(...starts);
      const hi = Math.max(...starts);
      const distinct = new Set(starts).size;
      // support: inside the original's exact extremes; fully covered when both sides must hit every value
      assert.ok(lo >= c.low![i][0] && hi <= c.high![i][0], `${tag}: starts ${lo}..${hi} outside ${c.low![i][0]}..${c.high![i][0]}`);
      const K = c.high![i][0] - c.low![i][0] + 1;
      if (K * Math.exp(-N / K) < 1e-3) {
        assert.is(o.distinct, K, `${tag}: original covers its support`);
        assert.is(distinct, K, `${tag}: we cover the original's support (${o.min}..${o.max})`);
      }
      // mean within 5 standard errors of the difference, spread within 5 (conservative) standard errors
      const seMean = Math.sqrt((o.sd ** 2 + sd ** 2) / N);
      assert.ok(Math.abs(mean - o.mean) <= 5 * seMean + 1e-9, `${tag}: mean ${mean} vs original ${o.mean} (se ${seMean})`);
      assert.ok(Math.abs(sd - o.sd) <= (5 * o.sd) / Math.sqrt(N) + 1e-9, `${tag}: sd ${sd} vs original ${o.sd}`);
      const ks = ksBound(N, N);
      o.cdf_x.forEach((x, k) => {
        const F = starts.filter((s) => s <= x).length / N;
        assert.ok(Math.abs(F - o.cdf[k]) <= ks, `${tag}: CDF at ${x}: ${F} vs original ${o.cdf[k]} (bound ${ks})`);
      });
      const patterns = [...new Set(draws.map((d) => JSON.stringify(d[i].map((x) => x - d[i][0]))))].sort();
      assert.equal(patterns, o.patterns.map((p) => JSON.stringify(p)).sort(), `${tag}: index patterns relative to the start`);
    });
    if (c.nc > 1) {
      const a = draws.map((d) => d[0][0]);
      const z = draws.map((d) => d[1][0]);
      const ma = a.reduce((s, x) => s + x, 0) / N;
      const mz = z.reduce((s, x) => s + x, 0) / N;
      let sab = 0, saa = 0, szz = 0;
      for (let k = 0; k < N; k++) {
        sab += (a[k] - ma) * (z[k] - mz);
        saa += (a[k] - ma) ** 2;
        szz += (z[k] - mz) ** 2;
      }
      const r = sab / Math.sqrt(saa * szz);
      const bound = 5 / Math.sqrt(N);
      assert.ok(Math.abs(c.corr01!) <= bound, `${name(c)}: original clips correlated? r=${c.corr01}`);
      assert.ok(Math.abs(r) <= bound, `${name(c)}: our clip 0 and clip 1 starts correlate, r=${r}`);
    }
  }
});

test.run();
