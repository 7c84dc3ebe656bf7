import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSynthDataset, synthVideoFrames } from '../../lib/data/synth.js';
import { prepareVideos } from '../../lib/data/prepare.js';
import { probeVideoFull } from '../../lib/data/ffmpeg.js';
import { Rng } from '../../lib/data/rng.js';
import { tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('synth');

/** centre of the white-bordered square in frame f, or null if it straddles an edge (wrap-around) */
function squareCentre(frames: Uint8Array, f: number, w: number, h: number): [number, number] | null {
  const fb = w * h * 3;
  let sx = 0, sy = 0, n = 0, x0 = w, x1 = 0, y0 = h, y1 = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = f * fb + (y * w + x) * 3;
      if (frames[o] === 250 && frames[o + 1] === 250 && frames[o + 2] === 250) {
        sx += x;
        sy += y;
        n++;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
  if (n === 0 || x1 - x0 > w / 2 || y1 - y0 > h / 2) return null;
  return [sx / n, sy / n];
}

test('synthetic motion: the label is the direction of motion', () => {
  for (let label = 0; label < 4; label++) {
    let checked = 0;
    for (let seed = 0; seed < 20 && checked < 2; seed++) {
      const frames = synthVideoFrames(label, 4, 3, 120, 120, new Rng(label, seed));
      const a = squareCentre(frames, 0, 120, 120);
      const b = squareCentre(frames, 2, 120, 120);
      if (!a || !b) continue;
      const dx = b[0] - a[0], dy = b[1] - a[1];
      const want = [[1, 0], [0, 1], [-1, 0], [0, -1]][label];
      assert.ok(dx * want[0] + dy * want[1] > 2, `label ${label}: moved (${dx}, ${dy})`);
      checked++;
    }
    assert.is(checked, 2);
  }
});

/** integer (dx, dy) with |d| <= r minimising the squared difference between frame b and frame a shifted by d */
function bestShift(frames: Uint8Array, a: number, b: number, w: number, h: number, r: number): [number, number] {
  const fb = w * h * 3;
  let best = Infinity;
  let arg: [number, number] = [0, 0];
  for (let dy = -r; dy <= r; dy++)
    for (let dx = -r; dx <= r; dx++) {
      let e = 0;
      for (let y = r; y < h - r; y++)
        for (let x = r; x < w - r; x++)
          for (let c = 0; c < 3; c++) {
            const d = frames[b * fb + (y * w + x) * 3 + c] - frames[a * fb + ((y + dy) * w + x + dx) * 3 + c];
            e += d * d;
          }
      if (e < best) [best, arg] = [e, [dx, dy]];
    }
  return arg;
}

test('synthetic pan: the content moves against the label direction; frames look alike whatever the label', () => {
  const w = 64;
  const means: number[] = [];
  for (let label = 0; label < 4; label++) {
    for (let seed = 0; seed < 2; seed++) {
      const frames = synthVideoFrames(label, 4, 9, w, w, new Rng(label, seed), 'pan');
      // the camera moves by (cos, sin) * speed per frame, so content shifts the other way
      const [dx, dy] = bestShift(frames, 0, 8, w, w, 8);
      const want = [[1, 0], [0, 1], [-1, 0], [0, -1]][label];
      assert.ok(dx * want[0] + dy * want[1] >= 3, `label ${label} seed ${seed}: content shifted by (${dx}, ${dy})`);
      assert.ok(Math.abs(dx * want[1] - dy * want[0]) <= 3, `label ${label} seed ${seed}: off-axis shift (${dx}, ${dy})`);
      let m = 0;
      for (let i = 0; i < w * w * 3; i++) m += frames[i];
      means.push(m / (w * w * 3));
    }
  }
  // no low-frequency colour: every clip's mean brightness sits near mid-grey
  for (const m of means) assert.ok(Math.abs(m - 128) < 20, `clip mean ${m}`);
  assert.throws(() => synthVideoFrames(0, 4, 2, 16, 16, new Rng(0), 'spin' as never), /unknown scene 'spin'/);
});

test('ensureSynthDataset writes CSVs once; prepare re-encodes to a short side', async () => {
  const o = { videos: 4, valVideos: 2, classes: 2, frames: 8, width: 32, height: 24, seed: 1 };
  const ds = await ensureSynthDataset(dir, o);
  const lines = readFileSync(ds.trainCsv, 'utf8').trim().split('\n');
  assert.is(lines.length, 4);
  assert.equal(lines.map((l) => Number(l.split(' ')[1])), [0, 1, 0, 1]);
  assert.is(readFileSync(ds.valCsv, 'utf8').trim().split('\n').length, 2);
  const first = lines[0].split(' ')[0];
  const info = await probeVideoFull(first);
  assert.equal([info.width, info.height, info.frameCount], [32, 24, 8]);
  const mtime = statSync(first).mtimeMs;
  await ensureSynthDataset(dir, o);
  assert.is(statSync(first).mtimeMs, mtime, 'regenerated an existing dataset');
  const p = await prepareVideos({ csv: ds.trainCsv, outDir: join(dir, 'small'), shortSide: 16 });
  assert.is(p.written, 4);
  const small = readFileSync(p.csv, 'utf8').trim().split('\n');
  const pinfo = await probeVideoFull(small[1].split(' ')[0]);
  assert.equal([pinfo.height, pinfo.frameCount], [16, 8]);
  assert.is(small[1].split(' ')[1], '1');
});

test('teardown', () => cleanup());

test.run();
