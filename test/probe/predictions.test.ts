// Per-sample predictions of a scoring pass: EVAL-04's averaged-softmax rule per sample, top 5, per-class
// tallies, and a CSV whose path field survives commas and quotes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Predictions, csvField, topK } from '../../lib/probe/predictions.js';

test('two calls: the prediction is the argmax of the averaged softmax, not of either call; top 5 in order', () => {
  const C = 7;
  const p = new Predictions(C);
  // sample 0: call 0 is sure of class 1, call 1 leans to class 2 twice as strongly on average -> class 2 wins
  // sample 1: both calls put class 6 first, then 5, 4, 3, 2
  const call0 = [0, 3, 2.9, 0, 0, 0, 0, /* s1 */ 0, 0, 1, 2, 3, 4, 5];
  const call1 = [0, -4, 2.9, 0, 0, 0, 0, /* s1 */ 0, 0, 1, 2, 3, 4, 5];
  p.add(Float32Array.from([...call0, ...call1]), Int32Array.from([1, 6]), ['a.mp4', 'dir, with comma/"q".mp4']);
  const rows = (() => {
    const f = join(mkdtempSync(join(tmpdir(), 'vjepa-pred-')), 'p.csv');
    p.write(f);
    return readFileSync(f, 'utf8').trim().split('\n');
  })();
  assert.is(rows.length, 3);
  const r0 = rows[1].split(',');
  assert.equal([r0[0], r0[1], r0[2], r0[3]], ['a.mp4', '1', '2', '0']);
  // averaged softmax by hand
  const sm = (l: number[]) => {
    const m = Math.max(...l);
    const e = l.map((v) => Math.exp(v - m));
    const z = e.reduce((a, b) => a + b);
    return e.map((v) => v / z);
  };
  const a = sm(call0.slice(0, 7)), b = sm(call1.slice(0, 7));
  const avg = a.map((v, i) => (v + b[i]) / 2);
  assert.ok(Math.abs(Number(r0[4]) - avg[2]) < 1e-5 && Math.abs(Number(r0[5]) - avg[1]) < 1e-5, rows[1]);
  assert.is(r0[6].split(' ').slice(0, 2).join(' '), '2 1');
  // the quoted path, then label 6 predicted with top 5 = 6 5 4 3 2
  assert.ok(rows[2].startsWith('"dir, with comma/""q"".mp4",6,6,1,'), rows[2]);
  assert.ok(rows[2].endsWith(',6 5 4 3 2'), rows[2]);
  const s = p.summary();
  assert.is(s.top5, 100);
  assert.equal(s.perClass, [
    { label: 1, samples: 1, correct: 0, top1: 0 },
    { label: 6, samples: 1, correct: 1, top1: 100 },
  ]);
});

test('top 5 misses a label ranked sixth; ties keep the lower class first, as argmax; bad logit counts are an error', () => {
  const p = new Predictions(6);
  // label 0 has the lowest logit of six: outside the top 5
  p.add(Float32Array.from([0, 1, 2, 3, 4, 5]), Int32Array.from([0]), undefined);
  // all equal: prediction 0, top 5 = 0 1 2 3 4
  p.add(new Float32Array(6), Int32Array.from([5]), ['x']);
  const s = p.summary();
  assert.is(s.top5, 0);
  assert.equal(s.perClass.map((t) => [t.label, t.correct]), [[0, 0], [5, 0]]);
  assert.throws(() => p.add(new Float32Array(7), Int32Array.from([0]), ['y']), /Predictions: 7 logits for 1 samples of 6 classes/);
  assert.is(csvField('plain/path.mp4'), 'plain/path.mp4');
  assert.is(csvField('line\nbreak'), '"line\nbreak"');
});

test('the top 5 by selection (not a sort of all classes per sample: 12 s over ImageNet val) matches the stable sort, ties included', () => {
  const C = 1000;
  const B = 100;
  // rows with ties (values on a coarse grid) and distinct values, against the stable sort
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let r = 0; r < 200; r++) {
    const row = Float64Array.from({ length: r % 2 ? C : 9 }, () => (r % 4 < 2 ? Math.floor(rnd() * 5) : rnd()));
    const sorted = Array.from(row, (_, c) => c).sort((x, y) => row[y] - row[x] || x - y).slice(0, 5);
    assert.equal(topK(row, 5), sorted, `row ${r}`);
  }
  const p = new Predictions(C);
  const logits = Float32Array.from({ length: B * C }, () => rnd() * 4);
  const labels = Int32Array.from({ length: B }, (_, b) => (b * 37) % C);
  for (let k = 0; k < 3; k++) p.add(logits, labels, undefined);
  assert.is(p.length, 3 * B);
  const row0 = Array.from(logits.subarray(0, C));
  const want = row0.map((_, c) => c).sort((x, y) => row0[y] - row0[x] || x - y).slice(0, 5);
  const dir = mkdtempSync(join(tmpdir(), 'pred-big-'));
  p.write(join(dir, 'p.csv'));
  const first = readFileSync(join(dir, 'p.csv'), 'utf8').split('\n')[1].split(',');
  assert.equal([first[1], first[2], first[6]], ['0', String(want[0]), want.join(' ')]);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
