// Tensor handles (native/binding.cc): a table slot plus a small JS object; lifetime explicit,
// with lib/tensor.ts's GC backstop for tensors no scope owns.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../lib/native.js';
import { Tensor, tidy, keep, memoryStats } from '../../lib/tensor.js';
import { settledLive } from '../helpers/gc.js';


test('a disposed handle stays invalid after its slot is reused; disposing twice is harmless', () => {
  const a = native.empty([3], 'float32', 'cpu');
  a.write(Float32Array.of(1, 2, 3));
  a.dispose();
  a.dispose();
  assert.ok(a.disposed);
  assert.is(a.device, 'disposed');
  const b = native.zeros([3], 'float32', 'cpu'); // takes a's slot
  assert.throws(() => native.fill(a, 7), /fill: x was used after dispose\(\)/);
  assert.throws(() => a.read(new Float32Array(3)), /read: the tensor was used after dispose\(\)/);
  const out = new Float32Array(3);
  b.read(out);
  assert.equal(Array.from(out), [0, 0, 0], 'a did not write into its successor');
  assert.equal(b.shape, [3]);
  assert.is(b.dtype, 'float32');
  assert.is(b.nbytes, 12);
  assert.ok(b instanceof (native.TensorHandle as new () => object));
  b.dispose();
});

test('only real handles are tensors: a look-alike object or a number is refused', () => {
  const a = native.zeros([2], 'float32', 'cpu');
  const fake = { id: (a as unknown as { id: number }).id };
  assert.throws(() => native.fill(fake as never, 1), /fill: argument 0 \(x\) must be a tensor/);
  assert.throws(() => native.fill(3 as never, 1), /fill: argument 0 \(x\) must be a tensor/);
  // the handle class's own calls take raw ids: out-of-range ones are dead slots, not a crash
  const raw = native as unknown as { tensorDispose(id: number): void; tensorLive(id: number): boolean };
  for (const id of [-1, NaN, Infinity, 1e300, 2 ** 60, 0.5]) {
    raw.tensorDispose(id);
    assert.is(raw.tensorLive(id), false, `id ${id}`);
  }
  assert.not.ok(a.disposed, 'a real handle is untouched');
  // its readable id is not the one that counts: pointing it elsewhere does not retarget the handle
  const b = native.zeros([5], 'float32', 'cpu');
  (a as unknown as { id: number }).id = (b as unknown as { id: number }).id;
  a.dispose();
  assert.not.ok(b.disposed, 'b survives a.dispose()');
  assert.ok(a.disposed);
  b.dispose();
});

test('views keep their storage alive after the base handle is disposed', () => {
  const a = native.empty([2, 3], 'float32', 'cpu');
  a.write(Float32Array.of(1, 2, 3, 4, 5, 6));
  const v = native.reshape(a, [6]);
  const n = native.narrow(a, 1, 1);
  a.dispose();
  const out = new Float32Array(3);
  n.read(out);
  assert.equal(Array.from(out), [4, 5, 6]);
  v.dispose();
  n.dispose();
});

test('the GC backstop frees tensors no scope owns, and only those', async () => {
  const base = await settledLive();
  (() => {
    Tensor.zeros([5]); // made outside any scope, then forgotten
    tidy(() => Tensor.zeros([6])); // returned from the outermost scope, then forgotten
    keep(tidy(() => [Tensor.zeros([7])])); // kept, then forgotten
  })();
  const kept = tidy(() => Tensor.zeros([8])); // still referenced below
  assert.is(memoryStats().liveTensors, base + 4, 'all four are live before a collection');
  assert.is(await settledLive(), base + 1, 'the three forgotten ones were freed');
  assert.equal(Array.from(kept.toFloat32Array()), new Array(8).fill(0));
  kept.dispose();
  assert.is(memoryStats().liveTensors, base);
});

test('a scope frees its temporaries itself, without the GC', () => {
  const base = memoryStats().liveTensors;
  const r = tidy(() => {
    for (let i = 0; i < 100; i++) Tensor.empty([4]);
    return Tensor.zeros([2]);
  });
  assert.is(memoryStats().liveTensors, base + 1);
  r.dispose();
});

test.run();
