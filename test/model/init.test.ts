// Weight initialisation (MOD-05): InitRng's sequence is part of every seeded result (the default
// run's losses, the tests' models), so it is pinned to values recorded from the first (BigInt)
// implementation; and the EMA target encoder is a copy that draws nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../lib/native.js';
import { InitRng, truncNormal } from '../../lib/nn/init.js';
import { Tensor } from '../../lib/tensor.js';
import { VJepa, buildEncoder } from '../../lib/nn/vjepa.js';

test('InitRng reproduces the sequence of the BigInt xorshift128+ it replaced, bit for bit', () => {
  const r = new InitRng(12345);
  const u: number[] = [];
  for (let i = 0; i < 200000; i++) u.push(r.uniform());
  assert.equal([u[0], u[1], u[2], u[199999]], [0.4635234858272492, 0.9409870502130852, 0.8034978894287732, 0.6065159302763994]);
  // Box-Muller normals continue the same stream (the second of each pair is kept for the next call)
  const n = [r.normal(), r.normal()];
  assert.equal(n, [0.6699752938035597, 1.7420944595573211]);
  const z = new InitRng(0);
  const zu: number[] = [];
  for (let i = 0; i < 1000; i++) zu.push(z.uniform());
  assert.equal([zu[0], zu[999]], [0.39331909590312564, 0.38270872984138327]);
  // a seed above 2^31 (the state words' high bits set)
  const h = new InitRng(2 ** 31 + 7);
  const hn: number[] = [];
  for (let i = 0; i < 1000; i++) hn.push(h.normal());
  assert.equal([hn[0], hn[999]], [-0.7946591889297604, -0.933380181790674]);
});

/** truncNormal as it was drawn in JS before the addon took it over: the stream the weights must keep. */
function jsTruncNormal(n: number, std: number, rng: InitRng, bound: number): Float32Array {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = rng.normal() * std;
    while (v < -bound || v > bound);
    data[i] = v;
  }
  return data;
}

function firstDifference(a: Float32Array, b: Float32Array): string {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `element ${i}: ${a[i]} vs ${b[i]}`;
  return 'none';
}

test('truncNormal (drawn by the addon) equals the JS loop bit for bit, and leaves the stream where it would', () => {
  // odd lengths (the Box-Muller spare carried across calls), a tight bound that rejects draws, uniforms between
  for (const seed of [0, 5, 2 ** 31 + 7]) {
    const a = new InitRng(seed), b = new InitRng(seed);
    for (const [n, std, bound] of [[1, 0.02, 2], [7, 1, 2], [4096 * 3 + 1, 0.02, 2], [20001, 1, 0.6], [3, 0.5, 1e9], [0, 1, 2], [200000, 1, 2]]) {
      const t = truncNormal([n], std, a, bound), got = t.toFloat32Array();
      t.dispose();
      const want = jsTruncNormal(n, std, b, bound);
      assert.is(firstDifference(got, want), 'none', `seed ${seed}, n ${n}, std ${std}, bound ${bound}`);
      if (bound < 1) assert.ok(got.every((v) => Math.abs(v) <= bound), 'draws outside the bound were redrawn');
      assert.is(a.uniform(), b.uniform(), `the streams go on together after n ${n}`);
      assert.is(a.normal(), b.normal(), `and so do the spares after n ${n}`);
    }
  }
  // a ViT-L's patch weight, pinned: the addon's libm and V8's agree on these draws
  const w = truncNormal([1024, 3, 2, 16, 16], 0.02, new InitRng(0));
  assert.is(firstDifference(w.toFloat32Array(), jsTruncNormal(w.numel, 0.02, new InitRng(0), 2)), 'none', 'ViT-L patch weight');
  w.dispose();
  const f32 = Tensor.empty([2]), b16 = Tensor.empty([2], 'bfloat16');
  try {
    assert.throws(() => native.initTruncNormal(f32.handle, new Uint32Array(3), null, 1, 2), /state\) must be a Uint32Array of 4/);
    assert.throws(() => native.initTruncNormal(b16.handle, new Uint32Array(4), null, 1, 2), /initTruncNormal: tensor/);
    assert.throws(() => native.initTruncNormal(f32.handle, new Uint32Array(4), null, 1, 0.1), /bound must be at least std \/ 2/);
  } finally {
    f32.dispose();
    b16.dispose();
  }
});

test('InitRng normals have mean 0 and variance 1 (100k draws)', () => {
  const r = new InitRng(7);
  let s = 0, s2 = 0;
  const n = 100000;
  for (let i = 0; i < n; i++) {
    const v = r.normal();
    s += v;
    s2 += v * v;
  }
  const mean = s / n, variance = s2 / n - mean * mean;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.02, `variance ${variance}`);
});

test('truncNormal with InitRng.uninitialised() draws nothing; VJepa target encoder equals the context encoder', () => {
  const skip = InitRng.uninitialised();
  const t = truncNormal([3, 5], 0.02, skip);
  assert.equal(t.shape, [3, 5]);
  t.dispose();

  const cfg = {
    modelName: 'vit_tiny', overrides: { depth: 2 }, cropSize: 32, patchSize: 16, numFrames: 4, tubeletSize: 2,
    uniformPower: false, predEmbedDim: 48, predDepth: 1, numMaskTokens: 2, zeroInitMaskTokens: true, seed: 3,
  };
  const model = new VJepa(cfg);
  const alone = buildEncoder(cfg, new InitRng(3));  // the encoder is the first draw of the seed
  try {
    const enc = model.encoder.namedParameters(), tgt = model.targetEncoder.namedParameters(), ref = alone.namedParameters();
    assert.is(tgt.length, enc.length);
    // index of the first element that differs, -1 if none (uvu's diff of large arrays is slow)
    const firstDiff = (a: Float32Array, b: Float32Array) => (a.length !== b.length ? 0 : a.findIndex((v, i) => !Object.is(v, b[i])));
    for (let i = 0; i < enc.length; i++) {
      const e = enc[i][1].tensor.toFloat32Array();
      assert.is(tgt[i][0], enc[i][0]);
      assert.is(firstDiff(tgt[i][1].tensor.toFloat32Array(), e), -1, `target ${tgt[i][0]}`);
      assert.is(firstDiff(ref[i][1].tensor.toFloat32Array(), e), -1, `encoder ${enc[i][0]}`);
    }
    // a real draw, not zeros: the patch embedding's weights have the init's spread
    const w = enc.find(([name]) => name === 'patch_embed.proj.weight')![1].tensor.toFloat32Array();
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    assert.ok(std > 0.015 && std < 0.025, `patch_embed std ${std}`);
  } finally {
    model.dispose();
    alone.dispose();
  }
});

test.run();
