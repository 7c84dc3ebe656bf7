// gatherRows / scatterAddRows / copyBlocks (native/cpu/gather.cc): apply_masks, its backward,
// and the block copies behind concat / slice / repeat (MASK-06).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, close, f32, freeAll, i32, native, read, sweep, throwsMsg } from './reference.js';

// [B, xBatch, N, K, D]; K > N means duplicate indices are certain.
const CASES = [
  [1, 1, 1, 1, 1],
  [2, 2, 5, 3, 7],
  [3, 1, 6, 4, 17],
  [4, 4, 9, 20, 33],
  [8, 8, 392, 99, 192],
  [8, 1, 392, 205, 96],
  [2, 1, 3, 7, 1],
];

test('gatherRows: out[b,k] = x[bx, idx[b,k]] (x batch 1 broadcasts)', () => {
  const rng = new Rng(31);
  sweep((label) => {
    for (const [B, Bx, N, K, D] of CASES) {
      const x = rng.normals(Bx * N * D), idx = rng.ints(B * K, N);
      const out = f32([B, K, D]);
      native.gatherRows(f32([Bx, N, D], x), i32([B, K], idx), out);
      const want = new Float64Array(B * K * D);
      for (let b = 0; b < B; b++)
        for (let k = 0; k < K; k++)
          for (let d = 0; d < D; d++) want[(b * K + k) * D + d] = x[((Bx === 1 ? 0 : b) * N + idx[b * K + k]) * D + d];
      close(read(out), want, {}, `${label} ${[B, Bx, N, K, D]}`);
      freeAll();
    }
  });
});

test('scatterAddRows: dx[bx, idx[b,k]] += dout[b,k] (duplicates add; x batch 1 sums over batch)', () => {
  const rng = new Rng(32);
  sweep((label) => {
    for (const [B, Bx, N, K, D] of CASES) {
      const dout = rng.normals(B * K * D), idx = rng.ints(B * K, N), dx0 = rng.normals(Bx * N * D);
      const dx = f32([Bx, N, D], dx0);
      native.scatterAddRows(f32([B, K, D], dout), i32([B, K], idx), dx);
      const want = Float64Array.from(dx0);
      for (let b = 0; b < B; b++)
        for (let k = 0; k < K; k++)
          for (let d = 0; d < D; d++) want[((Bx === 1 ? 0 : b) * N + idx[b * K + k]) * D + d] += dout[(b * K + k) * D + d];
      close(read(dx), want, { atol: 1e-5, rtol: 1e-6 }, `${label} ${[B, Bx, N, K, D]}`);
      freeAll();
    }
  });
});

test('scatterAddRows is the adjoint of gatherRows: <gather(x), g> == <x, scatter(g)>', () => {
  const rng = new Rng(33);
  const [B, Bx, N, K, D] = [3, 1, 10, 12, 5];
  const x = rng.normals(Bx * N * D), g = rng.normals(B * K * D), idx = rng.ints(B * K, N);
  const out = f32([B, K, D]), dx = f32([Bx, N, D]);
  native.gatherRows(f32([Bx, N, D], x), i32([B, K], idx), out);
  native.scatterAddRows(f32([B, K, D], g), i32([B, K], idx), dx);
  let lhs = 0, rhs = 0;
  read(out).forEach((v, i) => (lhs += v * g[i]));
  read(dx).forEach((v, i) => (rhs += v * x[i]));
  close([lhs], [rhs], { rtol: 1e-5 }, 'adjoint');
  freeAll();
});

test('copyBlocks: strided copy and accumulate, overlapping-free layouts, offsets', () => {
  const rng = new Rng(34);
  sweep((label) => {
    for (const [outer, inner, ss, ds, so, dOff] of [
      [1, 1, 1, 1, 0, 0],
      [3, 5, 7, 6, 2, 1],
      [17, 33, 33, 40, 0, 3],
      [2000, 12, 24, 12, 12, 0], // e.g. the second half of each row of a [2000, 24] tensor
      [5, 0, 3, 3, 0, 0],
      [4, 3, 0, 3, 0, 0], // srcStride 0 repeats one block (repeat along the batch)
    ])
      for (const acc of [false, true]) {
        const sn = so + Math.max(0, outer - 1) * ss + inner + 2, dn = dOff + Math.max(0, outer - 1) * ds + inner + 3;
        const src = rng.normals(sn), dst0 = rng.normals(dn);
        const dst = f32([dn], dst0);
        native.copyBlocks(f32([sn], src), so, dst, dOff, outer, inner, ss, ds, acc);
        const want = Float64Array.from(dst0);
        for (let o = 0; o < outer; o++)
          for (let i = 0; i < inner; i++) {
            const v = src[so + o * ss + i];
            want[dOff + o * ds + i] = acc ? want[dOff + o * ds + i] + v : v;
          }
        close(read(dst), want, { atol: 1e-6, rtol: 1e-6 }, `${label} ${[outer, inner, ss, ds, so, dOff]} acc ${acc}`);
        freeAll();
      }
  });
});

test('gather / scatter / copyBlocks: errors name the op, the shapes and the bad index', () => {
  const x = f32([2, 5, 3]);
  throwsMsg(() => native.gatherRows(x, i32([2, 2], [0, 5, 1, 1]), f32([2, 2, 3])), [/gatherRows/, /index 5/, /\[0, 5\)/], 'gather idx high');
  throwsMsg(() => native.gatherRows(x, i32([2, 2], [0, -1, 1, 1]), f32([2, 2, 3])), [/gatherRows/, /index -1/], 'gather idx neg');
  throwsMsg(() => native.gatherRows(x, i32([2, 2], [0, 1, 1, 1]), f32([2, 2, 4])), [/gatherRows/, /\[2,5,3\]/, /\[2,5,4\]/], 'gather D');
  throwsMsg(() => native.gatherRows(f32([3, 5, 3]), i32([2, 2], [0, 1, 1, 1]), f32([2, 2, 3])), [/gatherRows/, /\[3,5,3\]/, /batch must be 2 or 1/], 'gather batch');
  throwsMsg(() => native.gatherRows(x, i32([2, 3], [0, 1, 1, 1, 0, 0]), f32([2, 2, 3])), [/gatherRows/, /idx/, /\[2,3\]/], 'gather K');
  throwsMsg(() => native.gatherRows(x, f32([2, 2]), f32([2, 2, 3])), [/gatherRows/, /idx/, /int32/, /f32\[2,2\]/], 'gather idx dtype');
  throwsMsg(() => native.gatherRows(f32([10, 3]), i32([2, 2], [0, 1, 1, 1]), f32([2, 2, 3])), [/gatherRows/, /3-D/, /\[10,3\]/], 'gather rank');
  throwsMsg(() => native.scatterAddRows(f32([2, 2, 3]), i32([2, 2], [0, 1, 9, 1]), x), [/scatterAddRows/, /index 9/, /position 2/], 'scatter idx');
  throwsMsg(() => native.scatterAddRows(f32([2, 2, 3]), i32([2, 2], [0, 1, 1, 1]), f32([2, 5, 2])), [/scatterAddRows/, /dx/, /\[2,5,2\]/], 'scatter D');
  const s = f32([10]), d = f32([10]);
  throwsMsg(() => native.copyBlocks(s, 0, d, 0, 3, 4, 4, 3, false), [/copyBlocks/, /reads past the end of src/, /f32\[10\]/], 'src bounds');
  throwsMsg(() => native.copyBlocks(s, 0, d, 2, 3, 3, 3, 3, false), [/copyBlocks/, /writes past the end of dst/], 'dst bounds');
  throwsMsg(() => native.copyBlocks(s, -1, d, 0, 1, 1, 1, 1, false), [/copyBlocks/, /negative/], 'negative');
  throwsMsg(() => native.copyBlocks(i32([10], new Array(10).fill(0)), 0, d, 0, 1, 1, 1, 1, false), [/copyBlocks/, /src/, /float32/, /i32\[10\]/], 'dtype');
  assert.ok(true);
  freeAll();
});

test.run();
