// adamw and ema (native/cpu/adamw.cc): torch.optim.AdamW's single-tensor step, the target EMA (TRAIN-07).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, adamwStep, close, f32, freeAll, native, read, sweep, throwsMsg } from './reference.js';

// torch 2.13 CPU, AdamW(foreach=False, betas=(0.9, 0.95), eps=1e-8), lr/wd changed before each step.
const TORCH = {
  p0: [0.5, -1.25, 2.0, 0.0, -0.03125, 1e-3, -3.0, 0.75, 1.5],
  sched: [[1e-2, 0.05], [3e-3, 0.04], [5e-3, 0.1]],
  grads: [
    [-1.25, 0.5, -0.5, 0.0, 0.25, -0.75, 1.0, 0.0, -1.0],
    [-0.5, 1.25, 0.25, -0.75, 1.0, 0.0, -1.0, 0.75, -0.25],
    [0.25, -0.75, 1.0, 0.0, -1.0, 0.75, -0.25, -1.25, 0.5],
  ],
  p: [0.5150424242019653, -1.2629988193511963, 2.00630521774292, 0.005081137642264366, -0.04405718669295311, 0.012598361819982529, -3.005711555480957, 0.7481938004493713, 1.5123474597930908],
  m: [-0.12124999612569809, 0.07800000160932541, 0.0820000022649765, -0.06750000268220901, 0.010250006802380085, 0.014249998144805431, -0.03400000184774399, -0.05750000476837158, -0.05350000038743019],
  v: [0.08550781011581421, 0.11362500488758087, 0.06424999982118607, 0.026718750596046448, 0.10032030940055847, 0.053507812321186066, 0.09574998915195465, 0.10484375059604645, 0.060593750327825546],
};

test('reference AdamW reproduces torch.optim.AdamW (3 steps, changing lr / wd)', () => {
  const p = Float64Array.from(TORCH.p0), m = new Float64Array(9), v = new Float64Array(9);
  TORCH.sched.forEach(([lr, wd], s) => adamwStep(p, TORCH.grads[s], m, v, lr, 0.9, 0.95, 1e-8, wd, s + 1));
  close(p, TORCH.p, { atol: 1e-7, rtol: 1e-6 }, 'p');
  close(m, TORCH.m, { atol: 1e-8, rtol: 1e-6 }, 'm');
  close(v, TORCH.v, { atol: 1e-8, rtol: 1e-6 }, 'v');
});

test('adamw: native matches torch on the same 3 steps', () => {
  const p = f32([9], TORCH.p0), m = f32([9]), v = f32([9]);
  TORCH.sched.forEach(([lr, wd], s) => native.adamw(p, f32([9], TORCH.grads[s]), m, v, lr, 0.9, 0.95, 1e-8, wd, s + 1));
  close(read(p), TORCH.p, { atol: 1e-7, rtol: 1e-6 }, 'p');
  close(read(m), TORCH.m, { atol: 1e-8, rtol: 1e-6 }, 'm');
  close(read(v), TORCH.v, { atol: 1e-8, rtol: 1e-6 }, 'v');
  freeAll();
});

test('adamw: several steps vs the float64 reference, odd sizes, every ISA, 1 and 2 threads', () => {
  const rng = new Rng(81);
  sweep((label) => {
    for (const n of [1, 5, 17, 100003]) {
      const p = rng.normals(n), m = new Float64Array(n), v = new Float64Array(n);
      const ph = f32([n], p), mh = f32([n]), vh = f32([n]);
      for (let step = 1; step <= 5; step++) {
        const g = rng.normals(n, 0.1 * step);
        if (step === 2) g.fill(0, 0, Math.min(n, 3)); // zero grads: only the decay and momentum move p
        const lr = 1e-3 * step, wd = 0.04 + 0.01 * step, b1 = 0.9, b2 = 0.999;
        // what the kernel sees: float32 hyper-parameters
        const [flr, fb1, fb2, feps, fwd] = [lr, b1, b2, 1e-8, wd].map(Math.fround);
        adamwStep(p, g, m, v, flr, fb1, fb2, feps, fwd, step);
        native.adamw(ph, f32([n], g), mh, vh, lr, b1, b2, 1e-8, wd, step);
      }
      close(read(ph), p, { atol: 2e-7, rtol: 1e-6 }, `${label} p n=${n}`);
      // m is a running mean of grads ~0.5: cancellation leaves absolute, not relative, float error
      close(read(mh), m, { atol: 1e-7, rtol: 1e-5 }, `${label} m n=${n}`);
      close(read(vh), v, { atol: 1e-10, rtol: 1e-5 }, `${label} v n=${n}`);
      freeAll();
    }
  }, { isa: true });
});

test('ema: target = m target + (1 - m) online', () => {
  const rng = new Rng(82);
  sweep((label) => {
    for (const n of [1, 7, 33, 100003])
      for (const mom of [0.998, 1, 0]) {
        const t = rng.normals(n), o = rng.normals(n);
        const th = f32([n], t);
        native.ema(th, f32([n], o), mom);
        const fm = Math.fround(mom);
        close(read(th), t.map((v, i) => fm * v + (1 - fm) * o[i]), { atol: 1e-7, rtol: 1e-6 }, `${label} n=${n} m=${mom}`);
        freeAll();
      }
  }, { isa: true });
});

test('optimizer errors name the op and the shapes', () => {
  throwsMsg(() => native.adamw(f32([4]), f32([4]), f32([4]), f32([4]), 1e-3, 0.9, 0.999, 1e-8, 0, 0), [/adamw/, /step must be >= 1/], 'step 0');
  throwsMsg(() => native.adamw(f32([4]), f32([4]), f32([5]), f32([4]), 1e-3, 0.9, 0.999, 1e-8, 0, 1), [/adamw/, /m/, /\[5\]/, /\[4\]/], 'm shape');
  throwsMsg(() => native.adamw(f32([4]), native.zeros([4], 'bfloat16'), f32([4]), f32([4]), 1e-3, 0.9, 0.999, 1e-8, 0, 1), [/adamw/, /grad/, /float32/, /bf16\[4\]/], 'dtype');
  throwsMsg(() => native.ema(f32([2, 2]), f32([4]), 0.99), [/ema/, /\[2,2\]/, /\[4\]/], 'ema shape');
  assert.ok(true);
  freeAll();
});

test.run();
