// adamwMany, emaMany, scaleMany (native/cpu/adamw.cc, elementwise.cc): torch.optim.AdamW's step and the
// target EMA (TRAIN-07) over tensor lists, and clip_grad_norm_'s multiply.
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
  TORCH.sched.forEach(([lr, wd], s) => native.adamwMany([p], [f32([9], TORCH.grads[s])], [m], [v], lr, 0.9, 0.95, 1e-8, [wd], [s + 1]));
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
        native.adamwMany([ph], [f32([n], g)], [mh], [vh], lr, b1, b2, 1e-8, [wd], [step]);
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
        native.emaMany([th], [f32([n], o)], mom);
        const fm = Math.fround(mom);
        close(read(th), t.map((v, i) => fm * v + (1 - fm) * o[i]), { atol: 1e-7, rtol: 1e-6 }, `${label} n=${n} m=${mom}`);
        freeAll();
      }
  }, { isa: true });
});

// Sizes around the CPU pool's split points and CUDA's 16384-element chunks, with empty tensors,
// more tensors than one CUDA launch takes (48), and the step counts of params that joined late.
const LIST = [1, 0, 5, 16384, 16385, 3, 0, 100003, ...Array.from({ length: 52 }, (_, i) => 1 + ((i * 977) % 3001))];

test('adamwMany on a list: the same bits as one tensor at a time, each with its own wd and step', () => {
  const rng = new Rng(83);
  sweep((label) => {
    const init = LIST.map((n) => [rng.normals(n), rng.normals(n, 0.1), rng.normals(n, 0.01), rng.normals(n, 1e-3).map((x) => x * x)]);
    const wds = LIST.map((_, k) => (k % 3 === 0 ? 0 : 0.05 * k));
    const steps = LIST.map((_, k) => 1 + (k % 4));
    const one = init.map(([p, g, m, v]) => [f32([p.length], p), f32([p.length], g), f32([p.length], m), f32([p.length], v)]);
    const many = init.map(([p, g, m, v]) => [f32([p.length], p), f32([p.length], g), f32([p.length], m), f32([p.length], v)]);
    one.forEach(([p, g, m, v], k) => native.adamwMany([p], [g], [m], [v], 3e-3, 0.9, 0.999, 1e-8, [wds[k]], [steps[k]]));
    native.adamwMany(many.map((t) => t[0]), many.map((t) => t[1]), many.map((t) => t[2]), many.map((t) => t[3]), 3e-3, 0.9, 0.999, 1e-8, wds, steps);
    let moved = 0;
    one.forEach((ts, k) => {
      for (const i of [0, 2, 3]) assert.equal(read(many[k][i]), read(ts[i]), `${label} tensor ${k} (${LIST[k]}) slot ${i}`);
      if (LIST[k]) moved += Number(read(ts[0])[0] !== Math.fround(init[k][0][0]));
    });
    assert.ok(moved >= 55, `${label}: the update changed the parameters (${moved})`);
    // and against the float64 reference for one tensor past a chunk boundary
    const k = LIST.indexOf(16385);
    const [p, g, m, v] = init[k].map((a) => Float64Array.from(a, Math.fround));
    adamwStep(p, g, m, v, Math.fround(3e-3), Math.fround(0.9), Math.fround(0.999), Math.fround(1e-8), Math.fround(wds[k]), steps[k]);
    close(read(many[k][0]), p, { atol: 2e-7, rtol: 1e-6 }, `${label} vs float64`);
    freeAll();
  }, { isa: true });
});

test('emaMany and scaleMany on a list: the same bits as one tensor at a time', () => {
  const rng = new Rng(84);
  sweep((label) => {
    const t = LIST.map((n) => rng.normals(n)), o = LIST.map((n) => rng.normals(n));
    const one = t.map((a) => f32([a.length], a)), many = t.map((a) => f32([a.length], a));
    const on = o.map((a) => f32([a.length], a));
    one.forEach((x, k) => native.emaMany([x], [on[k]], 0.996));
    native.emaMany(many, on, 0.996);
    one.forEach((x, k) => assert.equal(read(many[k]), read(x), `${label} ema tensor ${k}`));
    const fm = Math.fround(0.996);
    close(read(many[3]), t[3].map((v, i) => fm * v + (1 - fm) * o[3][i]), { atol: 1e-7, rtol: 1e-6 }, `${label} ema vs float64`);
    native.scaleMany(many, 0.37);
    const c = Math.fround(0.37);
    many.forEach((x, k) => assert.equal(read(x), read(one[k]).map((v) => Math.fround(c * v)), `${label} scale tensor ${k}`));
    freeAll();
  }, { isa: true });
});

test('optimizer errors name the op, the list element and the shapes', () => {
  const adamw = (p: unknown[], g: unknown[], m: unknown[], v: unknown[], wds = [0], steps = [1]) =>
    native.adamwMany(p as never, g as never, m as never, v as never, 1e-3, 0.9, 0.999, 1e-8, wds, steps);
  throwsMsg(() => adamw([f32([4])], [f32([4])], [f32([4])], [f32([4])], [0], [0]), [/adamwMany/, /steps\[0\]/, />= 1/], 'step 0');
  throwsMsg(() => adamw([f32([4]), f32([3])], [f32([4]), f32([3])], [f32([4]), f32([5])], [f32([4]), f32([3])], [0, 0], [1, 1]),
    [/adamwMany/, /ms\[1\]/, /\[5\]/, /\[3\]/], 'm shape');
  throwsMsg(() => adamw([f32([4])], [native.zeros([4], 'bfloat16')], [f32([4])], [f32([4])]), [/adamwMany/, /grads\[0\]/, /float32/, /bf16\[4\]/], 'dtype');
  throwsMsg(() => adamw([f32([4])], [f32([4]), f32([4])], [f32([4])], [f32([4])]), [/adamwMany/, /grads has 2 tensors, params has 1/], 'list lengths');
  throwsMsg(() => adamw([f32([4])], [f32([4])], [f32([4])], [f32([4])], [0, 0], [1]), [/adamwMany/, /1 params but 2 weight decays/], 'wd count');
  throwsMsg(() => adamw([f32([4])], [5], [f32([4])], [f32([4])]), [/adamwMany/, /grads\[0\] must be a tensor/], 'element');
  throwsMsg(() => native.emaMany([f32([2, 2])], [f32([4])], 0.99), [/emaMany/, /\[2,2\]/, /\[4\]/], 'ema shape');
  throwsMsg(() => native.scaleMany(f32([3]) as never, 2), [/scaleMany/, /must be an array of tensors/], 'scale arg');
  assert.ok(true);
  freeAll();
});

test.run();
