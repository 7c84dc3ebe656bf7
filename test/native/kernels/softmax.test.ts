// softmax and crossEntropy (native/cpu/softmax.cc), the probe head's loss (EVAL-04).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, close, closeNum, crossEntropy, f32, freeAll, i32, native, numGrad, read, softmax, sweep, throwsMsg } from './reference.js';

const SHAPES = [[1, 1], [4, 1], [1, 9], [7, 17], [64, 400], [3, 1000]];

test('reference: cross-entropy dlogits match central differences', () => {
  const rng = new Rng(71);
  const [rows, cols, g] = [3, 5, 1.3];
  const x = rng.normals(rows * cols), labels = [4, 0, 2];
  const ref = crossEntropy(x, labels, rows, cols, g);
  close(ref.dlogits, numGrad((xx) => g * crossEntropy(xx, labels, rows, cols, g).loss, x), { atol: 1e-9, rtol: 1e-6 }, 'fd');
});

test('softmax: rows sum to 1, vs float64, large logits stay finite', () => {
  const rng = new Rng(72);
  sweep((label) => {
    for (const [rows, cols] of SHAPES) {
      const x = rng.normals(rows * cols, 4);
      x[0] = 80; // exp overflow without the max shift
      const y = f32([rows, cols]);
      native.softmax(f32([rows, cols], x), y);
      close(read(y), softmax(x, rows, cols), { atol: 1e-7, rtol: 1e-5 }, `${label} [${rows},${cols}]`);
      freeAll();
    }
  });
});

test('crossEntropy: mean loss and dlogits = g * (softmax - onehot) / rows', () => {
  const rng = new Rng(73);
  sweep((label) => {
    for (const [rows, cols] of SHAPES) {
      const x = rng.normals(rows * cols, 3), labels = rng.ints(rows, cols), g = 0.6;
      const ref = crossEntropy(x, labels, rows, cols, g);
      const xh = f32([rows, cols], x), lh = i32([rows], labels), d = f32([rows, cols]);
      closeNum(native.crossEntropy(xh, lh, d, g), ref.loss, { atol: 1e-6, rtol: 1e-6 }, `${label} loss [${rows},${cols}]`);
      close(read(d), ref.dlogits, { atol: 1e-8, rtol: 1e-5 }, `${label} dlogits [${rows},${cols}]`);
      closeNum(native.crossEntropy(xh, lh, null, g), ref.loss, { atol: 1e-6, rtol: 1e-6 }, `${label} loss, no grad`);
      freeAll();
    }
  });
});

test('crossEntropy / softmax errors: label out of range, shapes, dtypes', () => {
  const x = f32([3, 4]);
  throwsMsg(() => native.crossEntropy(x, i32([3], [0, 4, 1]), null, 1), [/crossEntropy/, /label 4/, /row 1/, /\[0, 4\)/], 'label high');
  throwsMsg(() => native.crossEntropy(x, i32([3], [0, 1, -2]), f32([3, 4]), 1), [/crossEntropy/, /label -2/, /row 2/], 'label negative');
  throwsMsg(() => native.crossEntropy(x, i32([2], [0, 1]), null, 1), [/crossEntropy/, /labels/, /\[2\]/, /\[3\]/], 'labels shape');
  throwsMsg(() => native.crossEntropy(x, f32([3]), null, 1), [/crossEntropy/, /labels/, /int32/], 'labels dtype');
  throwsMsg(() => native.crossEntropy(x, i32([3], [0, 1, 2]), f32([4, 3]), 1), [/crossEntropy/, /dlogits/, /\[4,3\]/], 'dlogits shape');
  throwsMsg(() => native.crossEntropy(f32([12]), i32([3], [0, 1, 2]), null, 1), [/crossEntropy/, /\[12\]/], 'rank');
  throwsMsg(() => native.softmax(x, f32([4, 3])), [/softmax/, /\[3,4\]/, /\[4,3\]/], 'softmax shape');
  assert.ok(true);
  freeAll();
});

test.run();
