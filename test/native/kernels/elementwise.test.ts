// fill / axpby / addRowvec (native/cpu/elementwise.cc).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, close, f32, freeAll, native, read, sweep, throwsMsg } from './reference.js';

const SIZES = [1, 2, 15, 17, 1000, 100003];

test('fill: every element, odd sizes', () => {
  sweep((label) => {
    for (const n of SIZES) {
      const x = f32([n], new Float32Array(n).fill(NaN));
      native.fill(x, -2.5);
      close(read(x), new Float64Array(n).fill(-2.5), {}, `${label} n=${n}`);
      freeAll();
    }
  });
});

test('axpby: out = a x + b y, y null, out aliasing x or y', () => {
  const rng = new Rng(41);
  sweep((label) => {
    for (const n of SIZES) {
      const x = rng.normals(n), y = rng.normals(n);
      const a = 0.75, b = -1.25;
      const want = x.map((v, i) => a * v + b * y[i]);
      const tol = { atol: 1e-6, rtol: 1e-6 };
      const out = f32([n]);
      native.axpby(f32([n], x), f32([n], y), out, a, b);
      close(read(out), want, tol, `${label} n=${n}`);
      native.axpby(f32([n], x), null, out, a, b);
      close(read(out), x.map((v) => a * v), tol, `${label} y=null n=${n}`);
      const xa = f32([n], x);
      native.axpby(xa, f32([n], y), xa, a, b);
      close(read(xa), want, tol, `${label} out==x n=${n}`);
      const ya = f32([n], y);
      native.axpby(f32([n], x), ya, ya, a, b);
      close(read(ya), want, tol, `${label} out==y n=${n}`);
      freeAll();
    }
  });
});

test('addRowvec: out[r,c] = x[r,c] + v[c], in place too', () => {
  const rng = new Rng(42);
  sweep((label) => {
    for (const [rows, cols] of [[1, 1], [3, 1], [1, 9], [7, 17], [3136, 192], [5, 3000]]) {
      const x = rng.normals(rows * cols), v = rng.normals(cols);
      const want = x.map((e, i) => e + v[i % cols]);
      const out = f32([rows, cols]);
      native.addRowvec(f32([rows, cols], x), f32([cols], v), out);
      close(read(out), want, { atol: 1e-6, rtol: 1e-6 }, `${label} [${rows},${cols}]`);
      const xa = f32([rows, cols], x);
      native.addRowvec(xa, f32([cols], v), xa);
      close(read(xa), want, { atol: 1e-6, rtol: 1e-6 }, `${label} in place [${rows},${cols}]`);
      freeAll();
    }
  });
});

test('elementwise errors name the op and the shapes', () => {
  throwsMsg(() => native.axpby(f32([4]), f32([5]), f32([4]), 1, 1), [/axpby/, /y/, /\[5\]/], 'axpby y');
  throwsMsg(() => native.axpby(f32([4]), null, f32([2, 3]), 1, 1), [/axpby/, /out/, /\[2,3\]/], 'axpby out');
  throwsMsg(() => native.addRowvec(f32([4, 3]), f32([5]), f32([4, 3])), [/addRowvec/, /\[4,3\]/, /\[5\]/], 'addRowvec');
  throwsMsg(() => native.fill(native.zeros([3], 'int32'), 1), [/fill/, /float32/, /i32\[3\]/], 'fill dtype');
  const h = f32([3]);
  h.dispose();
  throwsMsg(() => native.fill(h, 1), [/fill/, /after dispose/], 'disposed');
  throwsMsg(() => native.axpby(f32([3]), h, f32([3]), 1, 1), [/axpby/, /y/, /after dispose/], 'disposed y');
  assert.ok(true);
  freeAll();
});

test.run();
