// DATA-11: the image probe's AutoAugment is timm's "original" policy (the published ImageNet one),
// with what rotate and shear uncover filled by the ImageNet mean, as timm's img_mean gives it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IMAGENET_FILL, ORIGINAL_OPS, ORIGINAL_POLICY, imageAutoAugment } from '../../lib/data/augment.js';
import type { Rng } from '../../lib/data/rng.js';

/** An rng whose random() returns the given values in turn. */
const scripted = (values: number[]) => ({ random: () => values.shift() ?? 0 }) as unknown as Rng;

function image(h: number, w: number): Uint8Array {
  const img = new Uint8Array(h * w * 3);
  for (let i = 0; i < img.length; i++) img[i] = (i * 37 + 11) % 256;
  return img;
}

test('the policy is the published ImageNet one: 25 pairs, its first, Contrast and Sharpness, every op defined', () => {
  assert.is(ORIGINAL_POLICY.length, 25);
  assert.equal(ORIGINAL_POLICY[0], [['PosterizeOriginal', 0.4, 8], ['Rotate', 0.6, 9]]);
  assert.equal(ORIGINAL_POLICY[17], [['Sharpness', 0.4, 7], ['Invert', 0.6, 8]]);
  const names = new Set(ORIGINAL_POLICY.flat().map(([n]) => n));
  assert.equal([...names].sort(), ['AutoContrast', 'Color', 'Contrast', 'Equalize', 'Invert', 'PosterizeOriginal', 'Rotate', 'Sharpness', 'ShearX', 'Solarize']);
  for (const n of names) assert.type(ORIGINAL_OPS[n]?.op, 'function', n);
  // None of the TPU policy's (v0) ops that the original policy lacks.
  for (const n of ['ShearY', 'TranslateYRel', 'SolarizeAdd']) assert.not.ok(names.has(n), n);
});

test('a sub-policy applies its ops in order at their magnitudes (Color 4, then Contrast 8)', () => {
  const h = 6, w = 5, img = image(h, w);
  // sub-policy 14 of 25, then both probabilities pass
  const got = imageAutoAugment(img, h, w, scripted([14.5 / 25, 0, 0]));
  const enh = (m: number) => (m / 10) * 1.8 + 0.1;
  const want = ORIGINAL_OPS.Contrast.op(ORIGINAL_OPS.Color.op(img, h, w, enh(4)), h, w, enh(8));
  assert.equal(Array.from(got), Array.from(want));
  assert.not.equal(Array.from(got), Array.from(img));
  // A probability that fails leaves the image alone: sub-policy 12 is (Equalize p 0, Equalize p 0.8).
  assert.equal(Array.from(imageAutoAugment(img, h, w, scripted([12.5 / 25, 0.5, 0.9]))), Array.from(img));
});

test('rotate fills the uncovered corners with the ImageNet mean (124, 116, 104), not grey', () => {
  const h = 8, w = 8, img = new Uint8Array(h * w * 3).fill(200);
  // sub-policy 0, its Posterize skipped (p 0.4), Rotate at magnitude 9 = 27 degrees (sign from the rng)
  const out = imageAutoAugment(img, h, w, scripted([0.5 / 25, 0.9, 0, 0.9]));
  assert.equal(Array.from(out.subarray(0, 3)), [...IMAGENET_FILL], 'the top-left corner is uncovered');
  assert.equal(Array.from(out.subarray(((h / 2) * w + w / 2) * 3, ((h / 2) * w + w / 2) * 3 + 3)), [200, 200, 200], 'the centre keeps its pixel');
});

test.run();
