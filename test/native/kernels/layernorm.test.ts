// layernormFwd / layernormBwd (native/cpu/layernorm*.cc) against a float64 reference.
// LN eps 1e-6 is the encoder/predictor norm (MOD-10), 1e-5 the target norm (TRAIN-08 a).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, bf16, close, throwsMsg, dot, f32, freeAll, layernormBwd, layernormFwd, native, numGrad, read, readU16, sweep } from './reference.js';
import { f32ToBf16 } from '../../../lib/io/host-tensor.js';

test('reference: layernorm analytic grads match central differences (affine and not)', () => {
  const rng = new Rng(11);
  const rows = 2, cols = 5, eps = 1e-5;
  const x = rng.normals(rows * cols, 1.3, 0.4), w = rng.normals(cols), b = rng.normals(cols), dy = rng.normals(rows * cols);
  for (const affine of [true, false]) {
    const W = affine ? w : null, Bv = affine ? b : null;
    const ref = layernormBwd(dy, x, W, rows, cols, eps);
    const fx = (xx: Float64Array) => dot(dy, layernormFwd(xx, W, Bv, rows, cols, eps).y);
    close(ref.dx, numGrad(fx, x), { atol: 1e-8, rtol: 1e-6 }, `dx fd affine=${affine}`);
    if (affine) {
      close(ref.dw, numGrad((ww) => dot(dy, layernormFwd(x, ww, b, rows, cols, eps).y), w), { atol: 1e-8, rtol: 1e-6 }, 'dw fd');
      close(ref.db, numGrad((bb) => dot(dy, layernormFwd(x, w, bb, rows, cols, eps).y), b), { atol: 1e-8, rtol: 1e-6 }, 'db fd');
    }
  }
});

const SHAPES: [number, number][] = [[1, 1], [3, 1], [1, 7], [5, 33], [37, 192], [130, 97], [24, 768], [9, 17]];

test('layernormFwd: y, mean, rstd vs float64, affine / no affine, eps 1e-6 and 1e-5', () => {
  const rng = new Rng(1);
  sweep((label) => {
    for (const [rows, cols] of SHAPES)
      for (const eps of [1e-6, 1e-5])
        for (const affine of [true, false]) {
          const x = rng.normals(rows * cols, 2, rng.u() < 0.5 ? 3 : 0);
          const w = affine ? rng.normals(cols) : null, b = affine ? rng.normals(cols) : null;
          const ref = layernormFwd(x, w, b, rows, cols, eps);
          const y = f32([rows, cols]), mean = f32([rows]), rstd = f32([rows]);
          native.layernormFwd(f32([rows, cols], x), w && f32([cols], w), b && f32([cols], b), y, mean, rstd, eps);
          const at = `${label} [${rows},${cols}] eps ${eps} affine ${affine}`;
          close(read(y), ref.y, { atol: 2e-5, rtol: 2e-5 }, `y ${at}`);
          close(read(mean), ref.mean, { atol: 2e-6, rtol: 1e-6 }, `mean ${at}`);
          close(read(rstd), ref.rstd, { rtol: 2e-5 }, `rstd ${at}`);
          freeAll();
        }
  }, { isa: true });
});

test('layernormFwd into a bfloat16 y: the fp32 result rounded once, bit for bit; mean and rstd unchanged', () => {
  const rng = new Rng(21);
  sweep((label) => {
    for (const [rows, cols] of SHAPES) {
      const x = rng.normals(rows * cols, 2, 1), w = rng.normals(cols), b = rng.normals(cols);
      const y = f32([rows, cols]), mean = f32([rows]), rstd = f32([rows]);
      native.layernormFwd(f32([rows, cols], x), f32([cols], w), f32([cols], b), y, mean, rstd, 1e-6);
      const y16 = bf16([rows, cols]), mean2 = f32([rows]), rstd2 = f32([rows]);
      native.layernormFwd(f32([rows, cols], x), f32([cols], w), f32([cols], b), y16, mean2, rstd2, 1e-6);
      const at = `${label} [${rows},${cols}]`;
      assert.equal(Array.from(readU16(y16)), Array.from(f32ToBf16(read(y))), `y ${at}`);
      assert.equal(Array.from(read(mean2)), Array.from(read(mean)), `mean ${at}`);
      assert.equal(Array.from(read(rstd2)), Array.from(read(rstd)), `rstd ${at}`);
      freeAll();
    }
  }, { isa: true });
  throwsMsg(() => native.layernormFwd(f32([2, 3]), null, null, native.zeros([2, 3], 'int32'), f32([2]), f32([2]), 1e-6), [/layernormFwd/, /y must be float32 or bfloat16/], 'y dtype');
  freeAll();
});

test('layernormFwd: bias without weight, and a 3-D input normalised over the last dim', () => {
  const rng = new Rng(2);
  const x = rng.normals(2 * 3 * 20), b = rng.normals(20);
  const ref = layernormFwd(x, null, b, 6, 20, 1e-6);
  const y = f32([2, 3, 20]);
  native.layernormFwd(f32([2, 3, 20], x), null, f32([20], b), y, f32([6]), f32([6]), 1e-6);
  close(read(y), ref.y, { atol: 1e-5, rtol: 1e-5 }, 'y');
  freeAll();
});

test('layernormBwd: dx written, dw/db accumulated, vs float64', () => {
  const rng = new Rng(3);
  sweep((label) => {
    for (const [rows, cols] of SHAPES)
      for (const affine of [true, false]) {
        const eps = affine ? 1e-6 : 1e-5;
        const x = rng.normals(rows * cols, 1.5, 1), dy = rng.normals(rows * cols);
        const w = affine ? rng.normals(cols) : null, b = affine ? rng.normals(cols) : null;
        const ref = layernormBwd(dy, x, w, rows, cols, eps);
        const xh = f32([rows, cols], x), wh = w && f32([cols], w);
        const mean = f32([rows]), rstd = f32([rows]);
        native.layernormFwd(xh, wh, b && f32([cols], b), f32([rows, cols]), mean, rstd, eps);
        const dw0 = rng.normals(cols), db0 = rng.normals(cols);
        const dx = f32([rows, cols], new Float32Array(rows * cols).fill(NaN));
        const dw = affine ? f32([cols], dw0) : null, db = affine ? f32([cols], db0) : null;
        native.layernormBwd(f32([rows, cols], dy), xh, wh, mean, rstd, dx, dw, db);
        const at = `${label} [${rows},${cols}] affine ${affine}`;
        // float error of rstd * (g - mean(g) - xhat * mean(g xhat)) scales with rstd and |g|, not |dx|
        // (cols = 1 with eps 1e-6 has rstd 1000 and dx = 0 up to ulps of g)
        const ndx = read(dx), rs = layernormFwd(x, null, null, rows, cols, eps).rstd;
        const tolDx = ref.dx.map((_, i) => {
          const r = Math.floor(i / cols), g = Math.abs(dy[i] * (w ? w[i % cols] : 1));
          return 2e-6 + 4e-7 * rs[r] * (g + 3);
        });
        ndx.forEach((v, i) => {
          if (!(Math.abs(v - ref.dx[i]) <= tolDx[i])) close([v], [ref.dx[i]], { atol: tolDx[i] }, `dx ${at} at ${i}`);
        });
        if (dw && db) {
          const tol = { atol: 2e-5 * Math.sqrt(rows), rtol: 1e-5 };
          close(read(dw), ref.dw.map((v, i) => v + dw0[i]), tol, `dw (+=) ${at}`);
          close(read(db), ref.db.map((v, i) => v + db0[i]), tol, `db (+=) ${at}`);
        }
        freeAll();
      }
  }, { isa: true });
});

test('layernormBwd: dw/db accumulate over two calls (gradient accumulation)', () => {
  const rng = new Rng(4);
  const rows = 19, cols = 40;
  const x = rng.normals(rows * cols), dy = rng.normals(rows * cols), w = rng.normals(cols);
  const ref = layernormBwd(dy, x, w, rows, cols, 1e-6);
  const xh = f32([rows, cols], x), wh = f32([cols], w), mean = f32([rows]), rstd = f32([rows]);
  native.layernormFwd(xh, wh, null, f32([rows, cols]), mean, rstd, 1e-6);
  const dw = f32([cols]), db = f32([cols]), dx = f32([rows, cols]), dyh = f32([rows, cols], dy);
  native.layernormBwd(dyh, xh, wh, mean, rstd, dx, dw, db);
  native.layernormBwd(dyh, xh, wh, mean, rstd, dx, dw, db);
  close(read(dw), ref.dw.map((v) => 2 * v), { atol: 1e-4, rtol: 1e-5 }, 'dw twice');
  close(read(db), ref.db.map((v) => 2 * v), { atol: 1e-4, rtol: 1e-5 }, 'db twice');
  close(read(dx), ref.dx, { atol: 5e-5, rtol: 1e-4 }, 'dx not accumulated');
  assert.ok(true);
  freeAll();
});

test('layernormBwd with accumulateDx: dx added to what it held, within an ulp of the written dx plus it', () => {
  const rng = new Rng(6);
  sweep((label) => {
    for (const [rows, cols] of SHAPES)
      for (const affine of [true, false]) {
        const x = rng.normals(rows * cols, 1.5, 1), dy = rng.normals(rows * cols), dx0 = rng.normals(rows * cols, 2);
        const w = affine ? rng.normals(cols) : null;
        const xh = f32([rows, cols], x), wh = w && f32([cols], w), dyh = f32([rows, cols], dy);
        const mean = f32([rows]), rstd = f32([rows]);
        native.layernormFwd(xh, wh, null, f32([rows, cols]), mean, rstd, 1e-6);
        const written = f32([rows, cols]), added = f32([rows, cols], dx0);
        native.layernormBwd(dyh, xh, wh, mean, rstd, written, null, null);
        native.layernormBwd(dyh, xh, wh, mean, rstd, added, null, null, true);
        // the kernel's last multiply may fuse with the add (one rounding where write-then-add has two)
        const got = read(added), wr = read(written);
        let bad = -1;
        for (let i = 0; i < got.length && bad < 0; i++) {
          const a = Math.fround(dx0[i]), want = wr[i] + a;
          if (!(Math.abs(got[i] - want) <= 2 ** -23 * (Math.abs(wr[i]) + Math.abs(a)))) bad = i;
        }
        assert.is(bad, -1, `${label} [${rows},${cols}] affine ${affine}: element ${bad} ${got[bad]} vs ${wr[bad]} + ${dx0[bad]}`);
        freeAll();
      }
  }, { isa: true });
  // dx may not be read and written in place over dy or x
  const x = f32([4, 6]), dy = f32([4, 6]), mean = f32([4]), rstd = f32([4]);
  native.layernormFwd(x, null, null, f32([4, 6]), mean, rstd, 1e-6);
  throwsMsg(() => native.layernormBwd(dy, x, null, mean, rstd, native.reshape(dy, [4, 6]), null, null, true), [/layernormBwd/, /shares storage with dy/], 'dx over dy');
  throwsMsg(() => native.layernormBwd(dy, x, null, mean, rstd, x, null, null, true), [/layernormBwd/, /shares storage with x/], 'dx over x');
  assert.is(native.sharesStorage(dy, native.reshape(dy, [24])), true);
  assert.is(native.sharesStorage(dy, x), false);
  freeAll();
});

test('layernormBwd with a bfloat16 dy: the fp32 kernel on the widened values, bit for bit (dx, accumulateDx, dw, db)', () => {
  const rng = new Rng(8);
  sweep((label) => {
    for (const [rows, cols] of SHAPES)
      for (const acc of [false, true]) {
        const x = rng.normals(rows * cols, 1.5, 1), dx0 = rng.normals(rows * cols), w = rng.normals(cols);
        const dyBits = f32ToBf16(Float32Array.from(rng.normals(rows * cols)));
        const dyWide = new Float32Array(new Uint32Array(Array.from(dyBits, (b) => b << 16)).buffer);
        const xh = f32([rows, cols], x), wh = f32([cols], w), mean = f32([rows]), rstd = f32([rows]);
        native.layernormFwd(xh, wh, null, f32([rows, cols]), mean, rstd, 1e-6);
        const want = f32([rows, cols], dx0), wantW = f32([cols]), wantB = f32([cols]);
        native.layernormBwd(f32([rows, cols], dyWide), xh, wh, mean, rstd, want, wantW, wantB, acc);
        const got = f32([rows, cols], dx0), gotW = f32([cols]), gotB = f32([cols]);
        native.layernormBwd(bf16([rows, cols], dyBits), xh, wh, mean, rstd, got, gotW, gotB, acc);
        const at = `${label} [${rows},${cols}] accumulateDx ${acc}`;
        assert.equal(Array.from(read(got)), Array.from(read(want)), `dx ${at}`);
        assert.equal(Array.from(read(gotW)), Array.from(read(wantW)), `dw ${at}`);
        assert.equal(Array.from(read(gotB)), Array.from(read(wantB)), `db ${at}`);
        freeAll();
      }
  }, { isa: true });
  throwsMsg(() => native.layernormBwd(native.zeros([2, 3], 'int32'), f32([2, 3]), null, f32([2]), f32([2]), f32([2, 3]), null, null), [/layernormBwd/, /dy/], 'dy dtype');
  freeAll();
});

test('layernorm errors name the op and the shapes; use after dispose', () => {
  const x = f32([4, 6]);
  throwsMsg(() => native.layernormFwd(x, f32([5]), null, f32([4, 6]), f32([4]), f32([4]), 1e-6), [/layernormFwd/, /weight/, /\[5\]/], 'weight');
  throwsMsg(() => native.layernormFwd(x, null, null, f32([6, 4]), f32([4]), f32([4]), 1e-6), [/layernormFwd/, /\[4,6\]/, /\[6,4\]/], 'y');
  throwsMsg(() => native.layernormFwd(x, null, null, f32([4, 6]), f32([3]), f32([4]), 1e-6), [/layernormFwd/, /mean/, /\[3\]/], 'mean');
  throwsMsg(() => native.layernormFwd(native.zeros([4, 6], 'bfloat16'), null, null, f32([4, 6]), f32([4]), f32([4]), 1e-6), [/layernormFwd/, /x/, /float32/, /bf16\[4,6\]/], 'dtype');
  throwsMsg(() => native.layernormBwd(f32([4, 6]), x, null, f32([4]), f32([4]), f32([4, 6]), f32([7]), null), [/layernormBwd/, /dweight/, /\[7\]/], 'dw');
  throwsMsg(() => native.layernormBwd(f32([4, 5]), x, null, f32([4]), f32([4]), f32([4, 6]), null, null), [/layernormBwd/, /dy/, /\[4,5\]/], 'dy');
  const y = f32([4, 6]);
  y.dispose();
  throwsMsg(() => native.layernormFwd(x, null, null, y, f32([4]), f32([4]), 1e-6), [/layernormFwd/, /y/, /after dispose/], 'disposed');
  assert.ok(true);
  freeAll();
});

test.run();
