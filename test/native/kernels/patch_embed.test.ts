// unfoldTubelets (native/cpu/patch_embed.cc): MOD-01 patch embedding = unfold + matmul.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, close, conv3dTubelets, f32, freeAll, i32, native, read, sweep, throwsMsg } from './reference.js';

interface Case { B: number; C: number; T: number; H: number; W: number; t: number; p: number }
// Leftover frames / pixels (T % t, H % p, W % p != 0) must be ignored, as Conv3d with stride == kernel does.
const CASES: Case[] = [
  { B: 1, C: 1, T: 1, H: 1, W: 1, t: 1, p: 1 },
  { B: 2, C: 3, T: 4, H: 8, W: 8, t: 2, p: 4 },
  { B: 3, C: 3, T: 5, H: 11, W: 9, t: 2, p: 3 },
  { B: 1, C: 2, T: 3, H: 7, W: 13, t: 3, p: 2 },
  { B: 2, C: 3, T: 16, H: 35, W: 33, t: 2, p: 16 },
];

function video(rng: Rng, c: Case) {
  return rng.normals(c.B * c.C * c.T * c.H * c.W);
}

test('unfoldTubelets (all tokens) @ weight + bias == Conv3d by definition', () => {
  const rng = new Rng(21);
  sweep((label) => {
    for (const c of CASES) {
      const D = 5, row = c.C * c.t * c.p * c.p;
      const x = video(rng, c), wt = rng.normals(D * row), bias = rng.normals(D);
      const ref = conv3dTubelets(x, wt, bias, c.B, c.C, c.T, c.H, c.W, c.t, c.p, D);
      const out = f32([c.B, ref.N, row]);
      native.unfoldTubelets(f32([c.B, c.C, c.T, c.H, c.W], x), null, out, c.t, c.p);
      const pt = read(out);
      const emb = new Float64Array(c.B * ref.N * D);
      for (let r = 0; r < c.B * ref.N; r++)
        for (let o = 0; o < D; o++) {
          let s = bias[o];
          for (let j = 0; j < row; j++) s += pt[r * row + j] * wt[o * row + j];
          emb[r * D + o] = s;
        }
      close(emb, ref.out, { atol: 1e-9, rtol: 1e-12 }, `${label} ${JSON.stringify(c)}`);
      freeAll();
    }
  });
});

test('unfoldTubelets: patch layout is (c, dt, dy, dx) and token k = d*Hp*Wp + h*Wp + w, exactly', () => {
  const rng = new Rng(22);
  sweep((label) => {
    for (const c of CASES) {
      const x = video(rng, c), row = c.C * c.t * c.p * c.p;
      const Tp = Math.floor(c.T / c.t), Hp = Math.floor(c.H / c.p), Wp = Math.floor(c.W / c.p), N = Tp * Hp * Wp;
      // K > N and K < N both allowed: indices may repeat and come in any order
      const K = Math.max(1, Math.floor(N * 0.6) + (N > 2 ? 1 : 0));
      const idx = rng.ints(c.B * K, N);
      const out = f32([c.B, K, row]);
      const xh = f32([c.B, c.C, c.T, c.H, c.W], x);
      native.unfoldTubelets(xh, i32([c.B, K], idx), out, c.t, c.p);
      const want = new Float64Array(c.B * K * row);
      for (let b = 0; b < c.B; b++)
        for (let k = 0; k < K; k++) {
          const tok = idx[b * K + k], d = Math.floor(tok / (Hp * Wp)), h = Math.floor(tok / Wp) % Hp, w = tok % Wp;
          let j = 0;
          for (let ch = 0; ch < c.C; ch++)
            for (let dt = 0; dt < c.t; dt++)
              for (let dy = 0; dy < c.p; dy++)
                for (let dx = 0; dx < c.p; dx++)
                  want[(b * K + k) * row + j++] = x[(((b * c.C + ch) * c.T + d * c.t + dt) * c.H + h * c.p + dy) * c.W + w * c.p + dx];
        }
      close(read(out), want, {}, `${label} idx ${JSON.stringify(c)}`);
      // with idx == the full range, the result equals the unindexed unfold
      const all = Int32Array.from({ length: c.B * N }, (_, i) => i % N);
      const o1 = f32([c.B, N, row]), o2 = f32([c.B, N, row]);
      native.unfoldTubelets(xh, i32([c.B, N], all), o1, c.t, c.p);
      native.unfoldTubelets(xh, null, o2, c.t, c.p);
      close(read(o1), read(o2), {}, `${label} full idx == no idx`);
      freeAll();
    }
  });
});

test('unfoldTubelets: errors name the op and the shapes', () => {
  const x = f32([1, 3, 4, 8, 8]);
  throwsMsg(() => native.unfoldTubelets(x, null, f32([1, 8, 48]), 2, 4), [/unfoldTubelets/, /out/, /\[1,8,48\]/, /\[1,8,96\]/], 'wrong out');
  throwsMsg(() => native.unfoldTubelets(x, i32([1, 2], [0, 8]), f32([1, 2, 96]), 2, 4), [/unfoldTubelets/, /index 8/, /\[0, 8\)/], 'idx range');
  throwsMsg(() => native.unfoldTubelets(x, i32([1, 2], [0, -1]), f32([1, 2, 96]), 2, 4), [/unfoldTubelets/, /-1/], 'idx negative');
  throwsMsg(() => native.unfoldTubelets(x, i32([2, 2], [0, 1, 2, 3]), f32([1, 2, 96]), 2, 4), [/unfoldTubelets/, /idx/, /\[2,2\]/], 'idx batch');
  throwsMsg(() => native.unfoldTubelets(f32([1, 3, 8, 8]), null, f32([1, 8, 96]), 2, 4), [/unfoldTubelets/, /\[1,3,8,8\]/], 'rank');
  throwsMsg(() => native.unfoldTubelets(f32([1, 3, 1, 8, 8]), null, f32([1, 8, 96]), 2, 4), [/unfoldTubelets/, /smaller than one tubelet/], 'too small');
  throwsMsg(() => native.unfoldTubelets(x, f32([1, 2]), f32([1, 2, 96]), 2, 4), [/unfoldTubelets/, /idx/, /int32/], 'idx dtype');
  throwsMsg(() => native.unfoldTubelets(x, null, f32([1, 8, 96]), 0, 4), [/unfoldTubelets/, />= 1/], 'tubelet 0');
  assert.ok(true);
  freeAll();
});

test.run();
