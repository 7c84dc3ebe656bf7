// lossFwd / lossBwd (TRAIN-08 d: mean(|p - t|^e) / e) and tokenStdFwd / tokenStdBwd
// (TRAIN-08 e: sqrt(unbiased var over tokens + eps)) in native/cpu/loss.cc.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Rng, close, closeNum, dot, f32, freeAll, lossBwd, lossFwd, native, numGrad, read, sweep, throwsMsg, tokenStdBwd, tokenStdFwd,
} from './reference.js';

const EXPS = [1, 2, 1.5];

test('reference: loss and token-std grads match central differences', () => {
  const rng = new Rng(61);
  const p = rng.normals(7), t = rng.normals(7);
  for (const e of EXPS) {
    const g = 0.7;
    close(lossBwd(p, t, e, g), numGrad((pp) => g * lossFwd(pp, t, e), p), { atol: 1e-8, rtol: 1e-6 }, `loss e=${e}`);
  }
  const [B, K, D, eps] = [2, 3, 4, 1e-4];
  const x = rng.normals(B * K * D), gs = rng.normals(B * D);
  close(tokenStdBwd(x, gs, B, K, D, eps), numGrad((xx) => dot(gs, tokenStdFwd(xx, B, K, D, eps)), x), { atol: 1e-8, rtol: 1e-6 }, 'token std');
});

test('lossFwd / lossBwd for loss_exp 1, 2, 1.5; sign(0) = 0', () => {
  const rng = new Rng(62);
  sweep((label) => {
    for (const n of [1, 3, 17, 1000, 70001])
      for (const e of EXPS) {
        const p = rng.normals(n), t = rng.normals(n);
        for (let i = 0; i < n; i += 5) t[i] = p[i]; // exact ties: gradient 0
        const g = 1.7;
        const ph = f32([n], p), th = f32([n], t), dp = f32([n], new Float32Array(n).fill(NaN));
        closeNum(native.lossFwd(ph, th, e), lossFwd(p, t, e), { rtol: 2e-6 }, `${label} fwd n=${n} e=${e}`);
        native.lossBwd(ph, th, dp, e, g);
        const got = read(dp), want = lossBwd(p, t, e, g);
        close(got, want, { atol: 1e-12, rtol: 2e-6 }, `${label} bwd n=${n} e=${e}`);
        for (let i = 0; i < n; i += 5) assert.is(got[i], 0, `sign(0) = 0 at ${i}`);
        freeAll();
      }
  });
});

test('lossBwd: loss_exp < 1 gives 0 (not NaN) where p == t', () => {
  const dp = f32([3]);
  native.lossBwd(f32([3], [1, 2, 3]), f32([3], [1, 0, 3]), dp, 0.5, 1);
  close(read(dp), [0, lossBwd([2], [0], 0.5, 1)[0] / 3, 0], { rtol: 1e-6 }, 'e=0.5');
  freeAll();
});

test('tokenStdFwd / tokenStdBwd: unbiased variance + eps; grads accumulate into dx', () => {
  const rng = new Rng(63);
  sweep((label) => {
    for (const [B, K, D] of [[1, 2, 1], [3, 5, 7], [2, 205, 96], [8, 17, 33], [1, 99, 192]])
      for (const eps of [1e-4, 1e-6]) {
        const x = rng.normals(B * K * D, 1.5, 0.5), gs = rng.normals(B * D), dx0 = rng.normals(B * K * D);
        const xh = f32([B, K, D], x), s = f32([B, D]);
        native.tokenStdFwd(xh, s, eps);
        close(read(s), tokenStdFwd(x, B, K, D, eps), { rtol: 1e-6 }, `${label} fwd [${B},${K},${D}]`);
        const dx = f32([B, K, D], dx0);
        native.tokenStdBwd(xh, s, f32([B, D], gs), dx);
        const want = tokenStdBwd(x, gs, B, K, D, eps).map((v, i) => v + dx0[i]);
        close(read(dx), want, { atol: 1e-6, rtol: 1e-5 }, `${label} bwd [${B},${K},${D}]`);
        freeAll();
      }
  });
});

test('loss errors name the op and the shapes', () => {
  throwsMsg(() => native.lossFwd(f32([2, 3]), f32([3, 2]), 1), [/lossFwd/, /\[2,3\]/, /\[3,2\]/], 'shape');
  throwsMsg(() => native.lossFwd(f32([2]), f32([2]), 0), [/lossFwd/, /loss_exp/], 'exp');
  throwsMsg(() => native.lossBwd(f32([2]), f32([2]), f32([3]), 1, 1), [/lossBwd/, /dpred/, /\[3\]/], 'dpred');
  throwsMsg(() => native.tokenStdFwd(f32([2, 1, 4]), f32([2, 4]), 1e-4), [/tokenStdFwd/, /at least 2 tokens/, /\[2,1,4\]/], 'K=1');
  throwsMsg(() => native.tokenStdFwd(f32([2, 3, 4]), f32([2, 3]), 1e-4), [/tokenStdFwd/, /std/, /\[2,3\]/, /\[2,4\]/], 'std shape');
  throwsMsg(() => native.tokenStdBwd(f32([2, 3, 4]), f32([2, 4]), f32([2, 4]), f32([2, 3, 5])), [/tokenStdBwd/, /dx/, /\[2,3,5\]/], 'dx shape');
  assert.ok(true);
  freeAll();
});

test.run();
