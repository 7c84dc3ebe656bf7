import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../lib/io/atomic.js';
import {
  bf16ToF32,
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  readSafetensors,
  toFloat32,
  writeSafetensors,
  type HostTensor,
} from '../../lib/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'vjepa-st-'));

const sample = (): Map<string, HostTensor> =>
  new Map<string, HostTensor>([
    ['w', { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) }],
    ['d', { dtype: 'float64', shape: [1], data: Float64Array.from([Math.PI]) }],
    ['bf', { dtype: 'bfloat16', shape: [2], data: Uint16Array.from([0x3f80, 0xc020]) }],
    ['h', { dtype: 'float16', shape: [3], data: Uint16Array.from([0x3c00, 0xc100, 0x0001]) }],
    ['i64', { dtype: 'int64', shape: [2], data: BigInt64Array.from([-1n, 2n ** 40n]) }],
    ['i32', { dtype: 'int32', shape: [2, 1], data: Int32Array.from([7, -7]) }],
    ['u8', { dtype: 'uint8', shape: [3], data: Uint8Array.from([0, 128, 255]) }],
    ['mask', { dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) }],
    ['empty', { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) }],
    ['scalar', { dtype: 'float32', shape: [], data: Float32Array.from([2.5]) }],
  ]);

test('round trip of every dtype, with metadata', () => {
  const p = join(dir, 'a.safetensors');
  writeSafetensors(p, sample(), { format: 'pt', step: '12' });
  const { tensors, metadata } = readSafetensors(p);
  assert.equal(metadata, { format: 'pt', step: '12' });
  assert.equal([...tensors.keys()], [...sample().keys()]);
  for (const [k, t] of sample()) {
    const r = tensors.get(k)!;
    assert.is(r.dtype, t.dtype, k);
    assert.equal(r.shape, t.shape, k);
    assert.equal(Array.from(r.data as any), Array.from(t.data as any), k);
    assert.is(r.data.constructor, t.data.constructor);
  }
});

test('file layout: u64 header length, JSON header padded with spaces to 8 bytes, offsets into the data', () => {
  const p = join(dir, 'b.safetensors');
  writeSafetensors(p, new Map([['x', { dtype: 'float32', shape: [3], data: Float32Array.from([1, 2, 3]) } as HostTensor]]));
  const buf = readFileSync(p);
  const n = Number(buf.readBigUInt64LE(0));
  assert.is(n % 8, 0);
  const header = buf.subarray(8, 8 + n).toString('utf8');
  assert.ok(/^\{.*\} *$/.test(header));
  assert.equal(JSON.parse(header), { x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } });
  assert.is(buf.length, 8 + n + 12);
  assert.equal(Array.from(new Float32Array(buf.buffer.slice(buf.byteOffset + 8 + n, buf.byteOffset + 8 + n + 12))), [1, 2, 3]);
});

test('reads a hand-built file from another writer (unpadded header, reordered offsets)', () => {
  const header = JSON.stringify({ b: { dtype: 'I32', shape: [1], data_offsets: [8, 12] }, a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.alloc(12);
  data.writeDoubleLE(-1.25, 0);
  data.writeInt32LE(42, 8);
  const p = join(dir, 'c.safetensors');
  writeFileSync(p, Buffer.concat([len, Buffer.from(header), data]));
  const { tensors, metadata } = readSafetensors(p);
  assert.equal(metadata, {});
  assert.is((tensors.get('a')!.data as Float64Array)[0], -1.25);
  assert.is((tensors.get('b')!.data as Int32Array)[0], 42);
});

test('bad files and bad tensors give clear errors', () => {
  const p = join(dir, 'bad.safetensors');
  writeFileSync(p, Buffer.from([1, 2, 3]));
  assert.throws(() => readSafetensors(p), /bad\.safetensors: not a safetensors file/);
  const header = JSON.stringify({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(p, Buffer.concat([len, Buffer.from(header), Buffer.alloc(8)]));
  assert.throws(() => readSafetensors(p), /tensor a: 8 bytes for shape \[4\]/);
  const h2 = JSON.stringify({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } });
  len.writeBigUInt64LE(BigInt(h2.length));
  writeFileSync(p, Buffer.concat([len, Buffer.from(h2), Buffer.alloc(8)]));
  assert.throws(() => readSafetensors(p), /unsupported dtype "C64"/);
  assert.throws(() => encodeSafetensors({ x: { dtype: 'float32', shape: [3], data: new Float32Array(2) } }), /needs 3 elements/);
  assert.throws(() => encodeSafetensors({ x: { dtype: 'float32', shape: [2], data: new Float64Array(2) } }), /needs a Float32Array/);
});

test('atomic write: a failure mid-write keeps the previous file and leaves no temp file', () => {
  const p = join(dir, 'atomic.safetensors');
  writeSafetensors(p, sample());
  const before = readFileSync(p);
  function* failing() {
    yield new Uint8Array(100);
    throw new Error('disk on fire');
  }
  assert.throws(() => writeFileAtomic(p, failing()), /cannot write .*atomic\.safetensors: disk on fire/);
  assert.equal(readFileSync(p), before);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
});

test('atomic write: SIGKILL during the write leaves the previous file intact', async () => {
  const p = join(dir, 'killed.safetensors');
  writeSafetensors(p, sample());
  const before = readFileSync(p);
  const atomicJs = fileURLToPath(new URL('../../lib/io/atomic.js', import.meta.url));
  // The child writes one chunk, reports, then blocks forever inside the write loop.
  const script = `
    import { writeFileAtomic } from ${JSON.stringify(atomicJs)};
    function* chunks() { yield new Uint8Array(1 << 20); process.stdout.write('mid\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); yield new Uint8Array(1); }
    writeFileAtomic(${JSON.stringify(p)}, chunks());`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      if (String(d).includes('mid')) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', (code) => (code === 0 ? reject(new Error('child finished')) : resolve()));
  });
  await new Promise((r) => child.on('close', r));
  assert.equal(readFileSync(p), before);
  assert.ok(existsSync(p));
  const { tensors } = readSafetensors(p);
  assert.is(tensors.size, sample().size);
});

test('bf16 / f16 conversion helpers', () => {
  assert.equal(Array.from(bf16ToF32(Uint16Array.from([0x3f80, 0xc020, 0x0000, 0x7f80]))), [1, -2.5, 0, Infinity]);
  assert.equal(Array.from(f16ToF32(Uint16Array.from([0x3c00, 0xc100, 0x7bff, 0x0001, 0xfc00]))), [1, -2.5, 65504, 2 ** -24, -Infinity]);
  assert.ok(Number.isNaN(f16ToF32(Uint16Array.from([0x7e00]))[0]));
  // round to nearest even on the dropped 16 bits
  const rt = f32ToBf16(Float32Array.from([1, 1 + 2 ** -8, 1 + 3 * 2 ** -9, 1 + 2 ** -7 + 2 ** -8, -3.140625, NaN]));
  assert.equal(Array.from(rt.subarray(0, 5)), [0x3f80, 0x3f80, 0x3f81, 0x3f82, 0xc049]);
  assert.ok(Number.isNaN(bf16ToF32(rt.subarray(5))[0]));
  assert.equal(Array.from(toFloat32({ dtype: 'int64', shape: [2], data: BigInt64Array.from([3n, -4n]) })), [3, -4]);
});

test.run();
