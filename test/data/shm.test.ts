// Batch files between data workers and the trainer (lib/data/shm.ts, native mapFile).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../lib/native.js';
import { ShmWriter, discard, shmDir, sweep, unpack } from '../../lib/data/shm.js';
import { tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('shm');

test('a batch round-trips through one file, which unpack removes', () => {
  const clips = Float32Array.from({ length: 50_001 }, (_, i) => Math.sin(i));
  const idx = Int32Array.from({ length: 20_000 }, (_, i) => i * 7 - 3);
  const labels = Int32Array.of(4, 5);
  const msg = new ShmWriter(dir, 12345).pack({ batchIndex: 9, clips, idx, labels, paths: ['a', 'b'] });
  assert.ok(msg.shm, 'large arrays moved');
  assert.is(msg.clips, null);
  assert.is(msg.idx, null);
  assert.is(msg.labels, labels, 'a small array stays in the message');
  assert.equal(readdirSync(dir), [`vjepa-batch-12345-${process.pid}-0`]);
  const b = unpack<{ batchIndex: number; clips: Float32Array; idx: Int32Array; labels: Int32Array; paths: string[] }>(msg, native.mapFile);
  assert.equal(readdirSync(dir), [], 'unlinked once mapped');
  assert.ok(b.clips instanceof Float32Array && b.idx instanceof Int32Array);
  assert.equal(Array.from(b.clips.subarray(49_990)), Array.from(clips.subarray(49_990)));
  assert.ok(b.clips.every((v, i) => v === clips[i]), 'clips bit for bit');
  assert.is(b.idx.length, idx.length);
  assert.ok(b.idx.every((v, i) => v === idx[i]), 'int32 field bit for bit');
  assert.equal(b.paths, ['a', 'b']);
  assert.is(b.batchIndex, 9);
  assert.not.ok('shm' in b);
});

test('small batches and failed writes travel whole, leaving no file', () => {
  const w = new ShmWriter(dir, 1);
  const small = { clips: new Float32Array(100) };
  assert.is(w.pack(small), small);
  const big = { clips: new Float32Array(1 << 16) };
  const told: string[] = [];
  const later = join(dir, 'later');
  const lw = new ShmWriter(later, 1, (m) => told.push(m));
  assert.is(lw.pack(big), big, 'an unwritable folder falls back to the channel');
  mkdirSync(later);
  assert.is(lw.pack(big), big, 'and later batches do not try again');
  assert.equal(readdirSync(later), []);
  assert.equal(told, [`data: cannot write batches to ${later} (ENOENT: no such file or directory, open '${join(later, `vjepa-batch-1-${process.pid}-0`)}'); they go through the IPC channel instead, which is slower (Docker: --shm-size)`]);
  rmdirSync(later);
  assert.equal(readdirSync(dir), []);
});

test('mapFile: the bytes without a copy, private to the caller, outliving the file; errors name the file', () => {
  const p = join(dir, 'm.bin');
  writeFileSync(p, Buffer.from(Float32Array.of(1.5, -2, 3).buffer));
  const buf = native.mapFile(p);
  assert.equal(Array.from(new Float32Array(buf)), [1.5, -2, 3]);
  new Float32Array(buf)[0] = 9;
  assert.equal(Array.from(new Float32Array(new Uint8Array(readFileSync(p)).buffer)), [1.5, -2, 3], 'writes stay in the mapping');
  discard({ shm: { path: p, fields: [] } });
  assert.not.ok(existsSync(p));
  assert.is(new Float32Array(buf)[1], -2, 'still readable after the unlink');
  writeFileSync(p, '');
  assert.is(native.mapFile(p).byteLength, 0);
  discard({ shm: { path: p, fields: [] } });
  assert.throws(() => native.mapFile(join(dir, 'missing.bin')), /^mapFile: cannot open .*missing\.bin: No such file or directory$/);
  assert.throws(() => unpack({ shm: { path: join(dir, 'gone'), fields: [] } }, native.mapFile), /cannot open .*gone/);
});

test("sweep removes files of trainers that are gone, and of this trainer's exited workers only when asked", () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  const names = [`vjepa-batch-${deadPid}-5-0`, `vjepa-batch-${process.pid}-77-0`, `vjepa-batch-${process.pid}-78-0`, `vjepa-batch-${process.ppid}-5-0`, 'other-file'];
  for (const n of names) writeFileSync(join(dir, n), 'x');
  sweep(dir);
  assert.equal(readdirSync(dir).sort(), names.slice(1).sort(), "only the dead trainer's file went");
  sweep(dir, [77]);
  assert.equal(readdirSync(dir).sort(), [`vjepa-batch-${process.pid}-78-0`, `vjepa-batch-${process.ppid}-5-0`, 'other-file'].sort());
  for (const n of readdirSync(dir)) discard({ shm: { path: join(dir, n), fields: [] } });
});

test('a worker removes the files its trainer never took', () => {
  const w = new ShmWriter(dir, 2);
  for (let k = 0; k < 3; k++) w.pack({ clips: new Float32Array(1 << 15) });
  assert.is(readdirSync(dir).length, 3);
  w.cleanup();
  assert.equal(readdirSync(dir), []);
});

test('VJEPA_SHM_DIR picks the folder, empty turns files off, a bad one is an error naming it', () => {
  const old = process.env.VJEPA_SHM_DIR;
  try {
    process.env.VJEPA_SHM_DIR = dir;
    assert.is(shmDir(), dir);
    process.env.VJEPA_SHM_DIR = '';
    assert.is(shmDir(), null);
    process.env.VJEPA_SHM_DIR = join(dir, 'nope');
    assert.throws(() => shmDir(), /^VJEPA_SHM_DIR=.*nope: cannot write batches there/);
  } finally {
    if (old === undefined) delete process.env.VJEPA_SHM_DIR;
    else process.env.VJEPA_SHM_DIR = old;
  }
});

test.after(() => cleanup());
test.run();
