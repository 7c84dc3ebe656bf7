// geluFwd / geluBwd (native/cpu/gelu*.cc): exact erf GELU (nn.GELU(approximate='none')).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, close, throwsMsg, closeNum, erf, erfc, f32, freeAll, geluFwd, geluGrad, native, numGrad, read, sweep } from './reference.js';

test('reference erf / erfc agree with 20-digit values', () => {
  // mpmath, 30 digits
  const table: [number, number, number][] = [
    [0.1, 0.1124629160182848984, 0.8875370839817151016],
    [0.5, 0.52049987781304653768, 0.47950012218695346232],
    [1, 0.84270079294971486934, 0.15729920705028513066],
    [1.7, 0.98379045859077456084, 0.016209541409225439159],
    [2.4, 0.99931148610335492111, 0.00068851389664507888555],
    [2.5, 0.99959304798255504106, 0.00040695201744495893956],
    [3, 0.99997790950300141456, 0.000022090496998585441373],
    [4.5, 0.99999999980338395585, 1.9661604415428874763e-10],
    [-0.8, -0.74210096470766051259, 1.7421009647076605126],
  ];
  for (const [x, e, ec] of table) {
    closeNum(erf(x), e, { rtol: 2e-15 }, `erf(${x})`);
    closeNum(erfc(x), ec, { rtol: x >= 2.5 || x < 0 ? 2e-14 : 2e-12 }, `erfc(${x})`);
  }
});

test('reference: gelu grad matches central differences', () => {
  const xs = Float64Array.from([-6, -3.3, -1, -0.2, 0, 0.3, 1.1, 2.7, 5]);
  const fd = xs.map((x) => numGrad((v) => geluFwd(v[0]), Float64Array.from([x]))[0]);
  close(xs.map(geluGrad), fd, { atol: 1e-9, rtol: 1e-8 }, 'gelu grad fd');
});

function inputs(rng: Rng, n: number): Float64Array {
  const x = rng.normals(n, 3);
  const special = [0, -0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 3.9, -3.9, 4.1, -4.1, 6, -6, 9, -9, 12, -12, 30, -30, 1e4, -1e4];
  for (let i = 0; i < special.length && i < n; i++) x[(i * 7919) % n] = special[i];
  return x;
}

test('geluFwd / geluBwd vs float64 erf, odd sizes, every ISA, 1 and 2 threads', () => {
  const rng = new Rng(5);
  sweep((label) => {
    for (const n of [1, 3, 15, 16, 17, 33, 1000, 70001]) {
      const x = inputs(rng, n), dy = rng.normals(n);
      const y = f32([n]), dx = f32([n], new Float32Array(n).fill(NaN));
      const xh = f32([n], x);
      native.geluFwd(xh, y);
      native.geluBwd(xh, f32([n], dy), dx);
      const gy = read(y), gdx = read(dx);
      for (let i = 0; i < n; i++) {
        const wy = geluFwd(x[i]), wdx = dy[i] * geluGrad(x[i]);
        // the absolute part: 1 + erf(x/sqrt2) cancels for x << 0 in torch's formula too
        const ay = 3e-7 * Math.abs(wy) + 1.2e-7 * Math.abs(x[i]) + 1e-30;
        if (!(Math.abs(gy[i] - wy) <= ay)) close([gy[i]], [wy], { atol: ay }, `gelu(${x[i]}) ${label} n=${n}`);
        const adx = 4e-7 * Math.abs(wdx) + 2e-7 * Math.abs(dy[i]) * (1 + x[i] * x[i]) * Math.exp(-0.5 * x[i] * x[i]) + 1.2e-7 * Math.abs(dy[i]);
        if (!(Math.abs(gdx[i] - wdx) <= adx)) close([gdx[i]], [wdx], { atol: adx }, `gelu'(${x[i]}) ${label} n=${n}`);
      }
      freeAll();
    }
  }, { isa: true });
});

test('gelu: in place (y aliases x); NaN propagates (Inf is unspecified, as in torch)', () => {
  const xs = [NaN, 2, -2, -40, 40];
  const x = f32([5], xs);
  const dx = f32([5]);
  native.geluBwd(x, f32([5], [1, 1, 1, 1, 1]), dx);
  native.geluFwd(x, x);
  close(read(x), [NaN, geluFwd(2), geluFwd(-2), 0, 40], { atol: 1e-6 }, 'gelu specials');
  close(read(dx), [NaN, geluGrad(2), geluGrad(-2), 0, 1], { atol: 1e-6 }, 'gelu grad specials');
  freeAll();
});

test('gelu errors name the op and the shapes', () => {
  throwsMsg(() => native.geluFwd(f32([3, 4]), f32([4, 3])), [/geluFwd/, /\[3,4\]/, /\[4,3\]/], 'fwd shape');
  throwsMsg(() => native.geluBwd(f32([5]), f32([5]), f32([6])), [/geluBwd/, /dx/, /\[6\]/], 'bwd shape');
  throwsMsg(() => native.geluFwd(native.zeros([3], 'int32'), f32([3])), [/geluFwd/, /float32/, /i32\[3\]/], 'dtype');
  const x = f32([3]);
  x.dispose();
  throwsMsg(() => native.geluBwd(x, f32([3]), f32([3])), [/geluBwd/, /x/, /after dispose/], 'disposed');
  assert.ok(true);
  freeAll();
});

test.run();
