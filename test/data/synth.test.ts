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
