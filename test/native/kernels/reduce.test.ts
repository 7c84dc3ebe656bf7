// sumRows / sumSquares / meanColStd (native/cpu/reduce.cc).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, close, closeNum, f32, freeAll, native, read, sweep, throwsMsg } from './reference.js';

const SHAPES = [[1, 1], [5, 1], [1, 7], [13, 17], [3136, 192], [33, 1000]];

test('sumRows: out[c] (+)= sum_r x[r,c]', () => {
  const rng = new Rng(51);
  sweep((label) => {
    for (const [rows, cols] of SHAPES)
      for (const acc of [false, true]) {
        const x = rng.normals(rows * cols), o0 = rng.normals(cols);
        const want = new Float64Array(cols);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want[c] += x[r * cols + c];
        if (acc) for (let c = 0; c < cols; c++) want[c] += o0[c];
        const out = f32([cols], o0);
        native.sumRows(f32([rows, cols], x), out, acc);
        close(read(out), want, { atol: 2e-6 * Math.sqrt(rows), rtol: 1e-6 }, `${label} [${rows},${cols}] acc ${acc}`);
        freeAll();
      }
  });
});

test('sumSquares: double-accumulated sum of squares', () => {
  const rng = new Rng(52);
  sweep((label) => {
    for (const n of [1, 2, 17, 100003]) {
      const x = rng.normals(n, 3);
      let want = 0;
      for (const v of x) want += v * v;
      closeNum(native.sumSquares(f32([n], x)), want, { rtol: 1e-12 }, `${label} n=${n}`);
      freeAll();
    }
  });
});

test('sumSquaresMany: the sum of sumSquares over the tensors, in order, bit for bit; empty lists are 0', () => {
  const rng = new Rng(54);
  sweep((label) => {
    const sizes = [1, 100003, 0, 17, 4096];
    const xs = sizes.map((n) => f32([n], rng.normals(n, 2)));
    let want = 0;
    for (const x of xs) want += native.sumSquares(x);
    assert.is(native.sumSquaresMany(xs), want, `${label}: equals the per-tensor sum`);
    let ref = 0;
    for (const x of xs) for (const v of read(x)) ref += v * v;
    closeNum(native.sumSquaresMany(xs), ref, { rtol: 1e-12 }, `${label}: vs float64`);
    assert.is(native.sumSquaresMany([]), 0);
    freeAll();
  });
});

test('meanColStd: mean over columns of the biased std over rows', () => {
  const rng = new Rng(53);
  sweep((label) => {
    for (const [rows, cols] of SHAPES) {
      const x = rng.normals(rows * cols, 0.5, 2);
      let total = 0;
      for (let c = 0; c < cols; c++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += x[r * cols + c];
        const mu = s / rows;
        let v = 0;
        for (let r = 0; r < rows; r++) v += (x[r * cols + c] - mu) ** 2;
        total += Math.sqrt(v / rows);
      }
      closeNum(native.meanColStd(f32([rows, cols], x)), total / cols, { atol: 1e-9, rtol: 1e-9 }, `${label} [${rows},${cols}]`);
      freeAll();
    }
  });
  // |mean| >> std: the one-pass E[x^2] - mean^2 loses every digit here
  {
    const rows = 500, cols = 3, x = new Float64Array(rows * cols);
    for (let i = 0; i < x.length; i++) x[i] = Math.fround(1000 + ((i * 37) % 11) * 1e-3);
    let total = 0;
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += x[r * cols + c];
      let v = 0;
      for (let r = 0; r < rows; r++) v += (x[r * cols + c] - s / rows) ** 2;
      total += Math.sqrt(v / rows);
    }
    closeNum(native.meanColStd(f32([rows, cols], x)), total / cols, { rtol: 1e-9 }, 'mean 1000, std 3e-3');
  }
  // a 3-D input is viewed as [B*K, D]
  const x = Float64Array.from({ length: 24 }, (_, i) => (i % 4) * (i < 12 ? 1 : -1));
  closeNum(native.meanColStd(f32([2, 3, 4], x)), 1.5, { rtol: 1e-12 }, '3-D');
  freeAll();
});

test('reduce errors name the op and the shapes', () => {
  throwsMsg(() => native.sumRows(f32([4, 3]), f32([5]), false), [/sumRows/, /\[4,3\]/, /\[5\]/], 'sumRows');
  throwsMsg(() => native.sumSquares(native.zeros([2], 'bfloat16')), [/sumSquares/, /float32/, /bf16\[2\]/], 'sumSquares dtype');
  throwsMsg(() => native.sumSquaresMany([f32([3]), native.zeros([2], 'bfloat16')]), [/sumSquaresMany/, /xs\[1\]/, /float32/], 'sumSquaresMany dtype');
  throwsMsg(() => native.sumSquaresMany([f32([3]), 5 as never]), [/sumSquaresMany/, /xs\[1\] must be a tensor/], 'sumSquaresMany element');
  throwsMsg(() => native.sumSquaresMany(f32([3]) as never), [/sumSquaresMany: argument 0 \(xs\) must be an array of tensors/], 'sumSquaresMany arg');
  assert.ok(true);
  freeAll();
});

test.run();
