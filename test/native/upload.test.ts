// native.uploadAsync / Tensor.fromHostAsync / writeAsync: the asynchronous host-to-device copy
// (native/cuda/memory.cu). On the CPU it is a plain copy; what this checks is the API around
// it: exact bytes, the argument errors, no leaked storages, and the CUDA-unavailable error.
// With a GPU the same round trips run on cuda:0 (the race checks are test/gpu/upload.mjs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../lib/native.js';
import { Tensor, memoryStats, type HostArray } from '../../lib/tensor.js';

const cuda = native.cudaInfo();
const devices = cuda.available ? ['cpu', 'cuda:0'] : ['cpu'];

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

// Values whose bits a lossy path would change: NaN payloads, -0, infinities, subnormals.
function awkwardF32(n: number): Float32Array {
  const u = new Uint32Array(n);
  const special = [0x7fc00001, 0xffc12345, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x807fffff, 0x3f800000];
  for (let i = 0; i < n; i++) u[i] = i < special.length ? special[i] : (Math.imul(i, 2654435761) >>> 0);
  return new Float32Array(u.buffer);
}

function samples(): [string, HostArray][] {
  const n = 37;
  const f64 = new Float64Array(n).map((_, i) => (i % 3 ? Math.PI * i : -0));
  f64[1] = NaN;
  return [
    ['float32', awkwardF32(n)],
    ['int32', new Int32Array(n).map((_, i) => (i * 0x9e3779b1) | 0)],
    ['float64', f64],
    ['uint8', new Uint8Array(n).map((_, i) => (i * 37) & 255)],
    ['int64', new BigInt64Array(n).map((_, i) => BigInt(i) * -0x123456789abn)],
    ['bfloat16', new Uint16Array(n).map((_, i) => (i * 0x9e37) & 0xffff)],
  ];
}

test('fromHostAsync round-trips the exact bytes of every dtype', () => {
  for (const device of devices)
    for (const [dtype, src] of samples()) {
      const t = Tensor.fromHostAsync(src, [src.length], undefined, device);
      assert.is(t.dtype, dtype, `${dtype} inferred from the array`);
      assert.is(t.device, device);
      assert.ok(bytes(t.toBytes()).equals(bytes(src)), `${dtype}@${device} bytes`);
      t.dispose();
    }
});

test('the source may be reused at once; writeAsync fills a view in place; subarrays and shared buffers work', () => {
  for (const device of devices) {
    const src = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = Tensor.fromHostAsync(src, [3, 2], 'float32', device);
    src.fill(-1); // staged on return: the tensor keeps the old values
    assert.equal(Array.from(t.toFloat32Array()), [1, 2, 3, 4, 5, 6]);

    const row = new Tensor(native.narrow(t.handle, 1, 1));
    const shared = new Float32Array(new SharedArrayBuffer(4 * 8));
    shared.set([0, 0, 7, 8, 0, 0, 0, 0]);
    row.writeAsync(shared.subarray(2, 4));
    assert.equal(Array.from(t.toFloat32Array()), [1, 2, 7, 8, 5, 6]);
    row.dispose();

    t.writeAsync(new Float32Array([9, 9, 9, 9, 9, 9]));
    t.writeAsync(new Float32Array([6, 5, 4, 3, 2, 1])); // two in flight into one storage: the later wins
    assert.equal(Array.from(t.toFloat32Array()), [6, 5, 4, 3, 2, 1]);
    t.dispose();

    const empty = Tensor.fromHostAsync(new Float32Array(0), [0, 4], undefined, device);
    assert.equal(empty.shape, [0, 4]);
    empty.dispose();
  }
});

test('dtype, element-count and argument errors name the op and leave no storage behind', () => {
  const live = memoryStats().liveTensors;
  const f = Tensor.empty([2, 3], 'float32');
  assert.throws(
    () => native.uploadAsync(new Int32Array(6), f.handle),
    (e: Error) => e.message === 'uploadAsync: src is an Int32Array but dst f32[2,3]@cpu takes a Float32Array (float32)',
  );
  assert.throws(
    () => native.uploadAsync(new Float32Array(5), f.handle),
    (e: Error) => e.message === 'uploadAsync: src has 5 elements but dst f32[2,3]@cpu has 6',
  );
  assert.throws(
    () => native.uploadAsync([1, 2, 3, 4, 5, 6] as unknown as Float32Array, f.handle),
    (e: Error) => e.message === 'uploadAsync: argument 0 (src) must be a typed array',
  );
  assert.throws(
    () => native.uploadAsync(new DataView(new ArrayBuffer(24)), f.handle),
    (e: Error) => e.message === 'uploadAsync: argument 0 (src) must be a typed array',
  );
  assert.throws(() => native.uploadAsync(new Float32Array(6), {} as never), /uploadAsync: argument 1 \(dst\) must be a tensor/);
  assert.throws(() => f.writeAsync(new Float64Array(6)), /uploadAsync: src is a Float64Array but dst f32\[2,3\]@cpu takes a Float32Array/);
  f.dispose();
  assert.throws(() => f.writeAsync(new Float32Array(6)), (e: Error) => e.message === 'uploadAsync: dst was used after dispose()');

  assert.throws(
    () => Tensor.fromHostAsync(new Float32Array(5), [2, 3]),
    (e: Error) => e.message === 'Tensor.fromHostAsync: 5 values do not fill shape [2,3] (6)',
  );
  // An explicit dtype the array does not hold: the tensor made for it is disposed again.
  assert.throws(() => Tensor.fromHostAsync(new Float32Array(6), [2, 3], 'int32'), /uploadAsync: src is a Float32Array but dst i32\[2,3\]@cpu takes an Int32Array \(int32\)/);
  assert.throws(() => Tensor.fromHostAsync(new Uint8Array(6), [6], 'bfloat16'), /takes a Uint16Array \(bfloat16\)/);
  assert.is(memoryStats().liveTensors, live);
});

test('many uploads and disposes leave the live-storage count where it was', () => {
  const live = memoryStats().liveTensors;
  for (const device of devices)
    for (let i = 0; i < 200; i++) {
      const a = Tensor.fromHostAsync(new Float32Array(64 + i).fill(i), [64 + i], undefined, device);
      const b = Tensor.fromHostAsync(new Int32Array(8).fill(i), [2, 4], undefined, device);
      if (i % 50 === 0) assert.is(a.toFloat32Array()[63], i);
      a.dispose();
      b.dispose();
    }
  assert.is(memoryStats().liveTensors, live);
  if (cuda.available) assert.is(native.uploadStats('cuda:0').pendingUploads, 0, 'every upload event was joined or recycled');
});

test('without a usable GPU, a cuda upload throws the CUDA-unavailable reason and leaks nothing', () => {
  if (cuda.available) return;
  const live = memoryStats().liveTensors;
  assert.ok(cuda.reason.length > 0);
  for (const d of ['cuda', 'cuda:0'])
    assert.throws(() => Tensor.fromHostAsync(new Float32Array(4), [4], undefined, d), (e: Error) => e.message.includes(cuda.reason));
  assert.is(memoryStats().liveTensors, live);
  // The counters are readable either way (zeros: nothing was staged).
  assert.equal(native.uploadStats(), { pinnedBytes: 0, pinnedBuffers: 0, pendingUploads: 0, asyncCopies: 0, syncCopies: 0 });
  assert.equal(native.uploadStats('cpu').pinnedBytes, 0);
  assert.throws(() => native.uploadStats('gpu'), /uploadStats: bad device 'gpu'/);
});

test.run();
