import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { parseNpy, readNpy, writeNpy } from '../../lib/io/npy.js';

// Written by numpy in reference/make_io_fixtures.py.
const FIX = fileURLToPath(new URL('../../../test/fixtures/io/', import.meta.url));

test('reads numpy-written files in every supported dtype', () => {
  const f4 = readNpy(join(FIX, 'f4.npy'));
  assert.is(f4.dtype, 'float32');
  assert.equal(f4.shape, [2, 3]);
  assert.equal(Array.from(f4.data as Float32Array), [0, 0.25, 0.5, 0.75, 1, 1.25]);
  const f8 = readNpy(join(FIX, 'f8.npy'));
  assert.equal([f8.dtype, f8.shape, Array.from(f8.data as Float64Array)], ['float64', [2, 1], [1.5, -2]]);
  const i8 = readNpy(join(FIX, 'i8.npy'));
  assert.equal([i8.dtype, Array.from(i8.data as BigInt64Array)], ['int64', [-(2n ** 40n), 1n, 2n]]);
  const i4 = readNpy(join(FIX, 'i4.npy'));
  assert.equal([i4.dtype, i4.shape, Array.from(i4.data as Int32Array)], ['int32', [1, 1, 2], [1, -2]]);
  const u1 = readNpy(join(FIX, 'u1.npy'));
  assert.equal([u1.dtype, Array.from(u1.data as Uint8Array)], ['uint8', [0, 7, 255]]);
  const sc = readNpy(join(FIX, 'scalar.npy'));
  assert.equal([sc.shape, Array.from(sc.data as Float32Array)], [[], [2.5]]);
});

test('Fortran order, bad magic and truncation are clear errors', () => {
  assert.throws(() => readNpy(join(FIX, 'fortran.npy')), /fortran\.npy: Fortran-order arrays are not supported/);
  assert.throws(() => parseNpy(Buffer.from('nope'), 'x.npy'), /x\.npy: not a \.npy file/);
  const good = readFileSync(join(FIX, 'f4.npy'));
  assert.throws(() => parseNpy(good.subarray(0, good.length - 4), 't.npy'), /t\.npy: \.npy data is truncated/);
});

test('write -> read round trip; header is 64-byte aligned and numpy-compatible', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-npy-'));
  const cases: HostTensor[] = [
    { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
    { dtype: 'float64', shape: [3], data: Float64Array.from([1e-300, 0, -1]) },
    { dtype: 'int64', shape: [1], data: BigInt64Array.from([-5n]) },
    { dtype: 'int32', shape: [], data: Int32Array.from([9]) },
    { dtype: 'uint8', shape: [0], data: new Uint8Array(0) },
  ];
  cases.forEach((t, i) => {
    const p = join(dir, `${i}.npy`);
    writeNpy(p, t);
    const buf = readFileSync(p);
    const hlen = buf.readUInt16LE(8);
    assert.is((10 + hlen) % 64, 0);
    assert.is(buf[10 + hlen - 1], 0x0a);
    const r = readNpy(p);
    assert.equal([r.dtype, r.shape, Array.from(r.data as any)], [t.dtype, t.shape, Array.from(t.data as any)]);
  });
  assert.match(readFileSync(join(dir, '1.npy')).toString('latin1', 10, 80), "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }");
  assert.throws(() => writeNpy(join(dir, 'bf.npy'), { dtype: 'bfloat16', shape: [1], data: new Uint16Array(1) }), /no \.npy equivalent/);
});

test.run();
