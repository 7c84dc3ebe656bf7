import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeTaps, resampleFrame } from '../../lib/data/resample.js';
import { Rng } from '../../lib/data/rng.js';
import { NORM255, evalClipTransform, randomErase, sampleCropBox, trainClipTransform, type ClipFrames } from '../../lib/data/transforms.js';
import { videoRandAugment } from '../../lib/data/augment.js';

const ID = { mean: [0, 0, 0], std: [1, 1, 1] };

/** a [T, H, W, 3] clip where pixel = (x + 10 t, y, 7 * c) encodes its coordinates */
function coordClip(T: number, H: number, W: number): ClipFrames {
  const data = new Uint8Array(T * H * W * 3);
  for (let t = 0; t < T; t++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const o = ((t * H + y) * W + x) * 3;
        data[o] = x + 10 * t;
        data[o + 1] = y;
        data[o + 2] = 7;
      }
  return { data, frameOffsets: Array.from({ length: T }, (_, t) => t * H * W * 3), height: H, width: W };
}

test('bilinear, align_corners=False, no antialias: torch values (upsample 2 -> 4 and downsample 4 -> 2)', () => {
  // torch.nn.functional.interpolate(tensor([[[[0., 10.]]]]), size=(1, 4), mode='bilinear') -> 0, 2.5, 7.5, 10
  const up = computeTaps(0, 2, 4, 'bilinear', false);
  const v = [0, 10];
  const out = [0, 1, 2, 3].map((o) => up.w[2 * o] * v[up.idx[2 * o] - 0] + up.w[2 * o + 1] * v[up.idx[2 * o + 1]]);
  assert.equal(out, [0, 2.5, 7.5, 10]);
  // 4 -> 2 without antialias averages pixel pairs (1,2)? no: src = 0.5 and 2.5 -> mean of (0,1) and (2,3)
  const down = computeTaps(0, 4, 2, 'bilinear', false);
  const w = [0, 10, 20, 30];
  const d = [0, 1].map((o) => down.w[2 * o] * w[down.idx[2 * o]] + down.w[2 * o + 1] * w[down.idx[2 * o + 1]]);
  assert.equal(d, [5, 25]);
  // 3 -> 2: src = 0.25, 1.75 -> 2.5 and 17.5 for [0, 10, 20]
  const t3 = computeTaps(0, 3, 2, 'bilinear', false);
  const z = [0, 10, 20];
  const e = [0, 1].map((o) => t3.w[2 * o] * z[t3.idx[2 * o]] + t3.w[2 * o + 1] * z[t3.idx[2 * o + 1]]);
  assert.ok(Math.abs(e[0] - 2.5) < 1e-5 && Math.abs(e[1] - 17.5) < 1e-5, `${e}`);
});

test('the two-tap bilinear loop gives the bits of the general loop (awkward crops, up and down, flip, clamp)', () => {
  const rng = new Rng(5);
  // the general loop takes the same taps padded with a zero-weight third: it skips zero rows and adds +0
  const pad = (t: ReturnType<typeof computeTaps>) => {
    const n = t.idx.length / 2;
    const idx = new Int32Array(3 * n);
    const w = new Float32Array(3 * n);
    for (let o = 0; o < n; o++) {
      idx.set([t.idx[2 * o], t.idx[2 * o + 1], t.idx[2 * o + 1]], 3 * o);
      w.set([t.w[2 * o], t.w[2 * o + 1], 0], 3 * o);
    }
    return { k: 3, idx, w };
  };
  for (const [H, W, top, left, h, w, S] of [[61, 97, 3, 5, 50, 77, 37], [48, 64, 0, 0, 48, 64, 224], [240, 320, 17, 2, 101, 253, 64], [9, 7, 1, 1, 5, 4, 13]]) {
    const src = new Uint8Array(H * W * 3 + 11);
    for (let i = 0; i < src.length; i++) src[i] = rng.randint(0, 255);
    const ty = computeTaps(top, h, S, 'bilinear', false);
    const tx = computeTaps(left, w, S, 'bilinear', false);
    for (const [flip, clamp] of [[false, false], [true, true]]) {
      const a = new Float32Array(3 * S * S + 3);
      const b = new Float32Array(3 * S * S + 3);
      resampleFrame(src, 11, W, ty, tx, S, S, a, 3, S * S, NORM255, new Float32Array(S * W * 3), flip, clamp);
      resampleFrame(src, 11, W, pad(ty), pad(tx), S, S, b, 3, S * S, NORM255, new Float32Array(S * W * 3), flip, clamp);
      assert.ok(a.every((v, i) => Object.is(v, b[i])), `${H}x${W} crop ${h}x${w} -> ${S} flip ${flip}`);
    }
  }
});

test('crop + resize writes channels-first [3, T, S, S] with normalisation and flip', () => {
  const clip = coordClip(2, 8, 8);
  const S = 4;
  const out = new Float32Array(3 * 2 * S * S);
  const ty = computeTaps(2, 4, 4, 'bilinear', false); // identity over rows 2..5
  const tx = computeTaps(1, 4, 4, 'bilinear', false); // identity over cols 1..4
  const tmp = new Float32Array(S * 8 * 3);
  resampleFrame(clip.data, clip.frameOffsets[1], 8, ty, tx, S, S, out, S * S, 2 * S * S, ID, tmp, false);
  // frame 1, pixel (y=0, x=0) = source (x=1, y=2) -> R = 1 + 10, G = 2, B = 7
  assert.is(out[S * S + 0], 11);
  assert.is(out[2 * S * S + S * S + 0], 2);
  assert.is(out[4 * S * S + S * S + 0], 7);
  resampleFrame(clip.data, clip.frameOffsets[1], 8, ty, tx, S, S, out, S * S, 2 * S * S, NORM255, tmp, true);
  // flipped: x = 0 now holds source x = 4; normalised with ImageNet mean/std (x255)
  assert.ok(Math.abs(out[S * S] - (14 - 0.485 * 255) / (0.229 * 255)) < 1e-5);
});

test('DATA-05 crop box: inside the frame, area and log-uniform aspect (w/h) ranges, centred fallback', () => {
  const rng = new Rng(1);
  let wide = 0;
  for (let i = 0; i < 2000; i++) {
    const b = sampleCropBox(90, 160, [0.3, 1.0], [0.75, 1.35], rng);
    assert.ok(b.top >= 0 && b.left >= 0 && b.top + b.height <= 90 && b.left + b.width <= 160);
    const r = b.width / b.height;
    assert.ok(r > 0.7 && r < 1.42, `ratio ${r}`);
    const a = (b.width * b.height) / (90 * 160);
    assert.ok(a > 0.27 && a < 1.03, `area ${a}`);
    if (r > 1) wide++;
  }
  // log-uniform over (0.75, 1.35): P(r > 1) = ln(1.35) / ln(1.8) = 0.51, but only boxes that fit count
  assert.ok(wide > 800, `wide ${wide}`);
  // impossible ranges fall back to a centred box clipped to the nearest allowed aspect
  const f = sampleCropBox(100, 300, [2, 3], [0.5, 1.0], new Rng(2));
  assert.equal(f, { top: 0, left: 100, height: 100, width: 100 });
  const g = sampleCropBox(100, 120, [2, 3], [0.5, 2.0], new Rng(2));
  assert.equal(g, { top: 0, left: 0, height: 100, width: 120 });
});

test('DATA-04 train transform: one box for all frames, deterministic in the rng, flips ~half the time', () => {
  const clip = coordClip(3, 32, 48);
  const S = 16;
  const run = (seed: number) => {
    const out = new Float32Array(3 * 3 * S * S);
    trainClipTransform(clip, S, { kind: 'train', scale: [0.3, 1], ratio: [0.75, 1.35], flip: true }, new Rng(seed), out, 0);
    return out;
  };
  assert.equal(Array.from(run(4)), Array.from(run(4)));
  let flips = 0;
  for (let s = 0; s < 200; s++) {
    const o = run(s);
    const px = (t: number, x: number) => o[t * S * S + 5 * S + x] * NORM255.std[0] + NORM255.mean[0];
    // same box on every frame: frame t is frame 0 shifted by +10 in R everywhere
    assert.ok(Math.abs(px(2, 3) - px(0, 3) - 20) < 1e-3);
    if (px(0, 0) > px(0, S - 1)) flips++;
  }
  assert.ok(flips > 70 && flips < 130, `flips ${flips}`);
});

test('DATA-06 motion shift: boxes move between first and last frame', () => {
  const clip = coordClip(4, 32, 48);
  const S = 8;
  let moved = 0;
  for (let s = 0; s < 20; s++) {
    const out = new Float32Array(3 * 4 * S * S);
    trainClipTransform(clip, S, { kind: 'train', motionShift: true, flip: false }, new Rng(s), out, 0);
    const g = (t: number) => out[(1 * 4 + t) * S * S] * NORM255.std[1] + NORM255.mean[1];
    if (Math.abs(g(0) - g(3)) > 0.5) moved++;
  }
  assert.ok(moved > 10, `moved ${moved}`);
});

test('DATA-10 eval: 1 view = short side int(S*256/224) + centre crop; 3 views = windows along the long side', () => {
  const S = 14;
  const clip = coordClip(1, 14, 42); // short side already S: the 3-view resize is the identity
  const out = new Float32Array(3 * 3 * S * S);
  evalClipTransform(clip, S, { kind: 'eval', numViews: 3 }, out, 0, 3 * S * S);
  const r = (v: number, x: number) => Math.round(out[v * 3 * S * S + x] * NORM255.std[0] + NORM255.mean[0]);
  // offsets j * ((42 - 14) // 2) = 0, 14, 28
  assert.equal([r(0, 0), r(1, 0), r(2, 0)], [0, 14, 28]);
  const one = new Float32Array(3 * S * S);
  const big = coordClip(1, 28, 56);
  evalClipTransform(big, S, { kind: 'eval', numViews: 1 }, one, 0, 0);
  // resize 28x56 -> 16x32 (int(14*256/224) = 16), centre crop 14 -> offsets (1, 9)
  const g = Math.round((one[S * S] * NORM255.std[1] + NORM255.mean[1]) * 1000) / 1000;
  // source row for output row 1 of the resized image: (1 + 0.5) * 28/16 - 0.5 = 2.125
  assert.is(g, 2.125);
});

test('DATA-09 erasing: one rectangle, same on every frame, fresh noise per frame', () => {
  const T = 3, S = 20;
  const out = new Float32Array(3 * T * S * S).fill(100);
  randomErase(out, 0, T, S, 1, new Rng(9));
  const mask = (t: number) => Array.from({ length: S * S }, (_, i) => out[t * S * S + i] !== 100);
  assert.equal(mask(0), mask(2));
  const n = mask(0).filter(Boolean).length;
  assert.ok(n >= 0.02 * S * S * 0.5 && n <= (S * S) / 3 + 2 * S, `erased ${n}`);
  const firstErased = mask(0).indexOf(true);
  assert.not.equal(out[firstErased], out[2 * S * S + firstErased]);
  const untouched = new Float32Array(10).fill(1);
  randomErase(untouched, 0, 1, 1, 0, new Rng(1));
  assert.ok(untouched.every((v) => v === 1));
});

test('DATA-08 RandAugment: same ops and arguments on every frame, deterministic', () => {
  // identical frames must stay identical after augmentation (arguments drawn once per clip)
  const one = coordClip(1, 16, 16);
  const data = new Uint8Array(3 * one.data.length);
  for (let t = 0; t < 3; t++) data.set(one.data, t * one.data.length);
  const clip: ClipFrames = { data, frameOffsets: [0, 1, 2].map((t) => t * one.data.length), height: 16, width: 16 };
  let changed = 0;
  for (let s = 0; s < 30; s++) {
    const a = videoRandAugment(clip, new Rng(s));
    const fb = 16 * 16 * 3;
    const f0 = Array.from(a.data.subarray(a.frameOffsets[0], a.frameOffsets[0] + fb));
    assert.equal(Array.from(a.data.subarray(a.frameOffsets[2], a.frameOffsets[2] + fb)), f0);
    assert.equal(Array.from(videoRandAugment(clip, new Rng(s)).data.subarray(0, fb)), Array.from(a.data.subarray(a.frameOffsets[0], a.frameOffsets[0] + fb)));
    if (f0.some((v, i) => v !== one.data[i])) changed++;
  }
  assert.ok(changed > 15, `changed ${changed}`);
});

test.run();
