// Fixtures come from reference/make_io_fixtures.py (torch 2.x); CI has no torch, so they are committed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { toFloat32, type HostTensor } from '../../lib/io/host-tensor.js';
import { readTorchCheckpoint } from '../../lib/io/torch-pickle.js';
import { checkpointFormat, readEncoderStateDict } from '../../lib/nn/checkpoint-load.js';
import { stripPrefixes } from '../../lib/nn/state.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import { ZipReader } from '../../lib/io/zip.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/io/', import.meta.url));
const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8'));

function values(t: HostTensor): unknown[] {
  if (t.dtype === 'int64') return Array.from(t.data as BigInt64Array, (v) => v.toString());
  if (t.dtype === 'bool') return Array.from(t.data as Uint8Array, (v) => v !== 0);
  return Array.from(toFloat32(t));
}

function checkTensor(name: string, got: HostTensor, want: { dtype: string; shape: number[]; values: unknown[] }) {
  assert.ok(got && got.data, `${name} missing`);
  assert.is(got.dtype, want.dtype, name);
  assert.equal(got.shape, want.shape, name);
  const g = values(got);
  assert.is(g.length, want.values.length, name);
  want.values.forEach((v, i) => {
    if (typeof v === 'number') assert.ok(Math.abs((g[i] as number) - Math.fround(v)) <= 1e-6 * Math.max(1, Math.abs(v)), `${name}[${i}]: ${g[i]} vs ${v}`);
    else assert.is(g[i], v, `${name}[${i}]`);
  });
}

for (const file of ['tiny_ckpt.pth.tar', 'tiny_ckpt_legacy.pth']) {
  test(`${file}: official layout (MOD-15, TRAIN-12) parses with exact tensors`, () => {
    const ck = readTorchCheckpoint(join(FIX, file));
    assert.equal(Object.keys(ck), ['encoder', 'predictor', 'target_encoder', 'opt', 'scaler', 'epoch', 'loss', 'batch_size', 'world_size', 'lr', 'extra']);
    assert.is(ck.scaler, null);
    assert.is(ck.epoch, 3);
    assert.is(ck.loss, 0.5);
    assert.is(ck.batch_size, 2);
    assert.is(ck.lr, 1e-3);
    for (const part of ['encoder', 'predictor', 'target_encoder']) {
      assert.equal(Object.keys(ck[part]), Object.keys(expected[part]));
      for (const [k, want] of Object.entries<any>(expected[part])) checkTensor(`${part}.${k}`, ck[part][k], want);
    }
    // every view / dtype case, incl. strided and transposed views of a shared storage, f16, bf16, int64
    for (const [k, want] of Object.entries<any>(expected.extra)) checkTensor(`extra.${k}`, ck.extra[k], want);
    assert.equal(ck.extra.size, [2, 3]);
    assert.equal(ck.extra.tuple, [1, 'two', null, true, 2.5]);
    assert.is(ck.extra.np_scalar, 0.25);
    assert.is(ck.extra.big_int, 2n ** 70n);
    assert.is(ck.extra.neg_int, -5);
    assert.equal(Array.from(ck.extra.bytes), [0, 1, 97, 98]);
    assert.equal(Object.keys(ck.extra.module_sd), ['weight', 'bias']);
    assert.equal(Array.from(ck.extra.np_array.data), [0, 1, 2]);
  });

  test(`${file}: optimizer state dict (tensors, ints, nested param_groups)`, () => {
    const ck = readTorchCheckpoint(join(FIX, file));
    assert.equal(ck.opt.param_groups, expected.opt_param_groups);
    assert.equal(Object.keys(ck.opt.state), ['0', '1']);
    for (const [pid, st] of Object.entries<any>(expected.opt_state)) {
      for (const [k, want] of Object.entries<any>(st)) checkTensor(`opt.state.${pid}.${k}`, ck.opt.state[pid][k], want);
    }
  });
}

test('EVAL-02: the target encoder read from a .pth.tar (names stripped as the loaders strip them), the online one by key, encoder when no target', () => {
  const path = join(FIX, 'tiny_ckpt.pth.tar');
  const target = readEncoderStateDict(path);
  assert.is(target.key, 'target_encoder');
  assert.equal([...target.tensors.keys()].map(stripPrefixes), ['patch_embed.proj.weight', 'patch_embed.proj.bias', 'pos_embed', 'blocks.0.norm1.weight', 'blocks.0.attn.qkv.weight', 'norm.bias']);
  checkTensor('pos_embed', target.tensors.get('module.backbone.pos_embed')!, expected.target_encoder['module.backbone.pos_embed']);
  const online = readEncoderStateDict(path, 'encoder');
  checkTensor('encoder', online.tensors.get('module.backbone.pos_embed')!, expected.encoder['module.backbone.pos_embed']);
  // a file that holds no target encoder falls back to `encoder`
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-eval02-'));
  const only = join(dir, 'encoder-only.safetensors');
  writeSafetensors(only, new Map([['encoder.pos_embed', online.tensors.get('module.backbone.pos_embed')!]]));
  const fallback = readEncoderStateDict(only);
  assert.is(fallback.key, 'encoder');
  checkTensor('fallback', fallback.tensors.get('pos_embed')!, expected.encoder['module.backbone.pos_embed']);
});

test('a safetensors file whose header length starts with the pickle byte 0x80 is still read as safetensors', () => {
  // Found by test/gpu/cli.mjs: a training checkpoint with a 0xea80-byte header was taken for a
  // legacy torch pickle, so vjepa-embed, vjepa-probe and resume refused it (1 file in 256).
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-sniff-'));
  const t: HostTensor = { dtype: 'float32', shape: [2], data: new Float32Array([1.5, -2]) };
  const lowBytes = new Set<number>();
  for (let pad = 0; pad < 256 * 8; pad += 8) {
    const path = join(dir, `ck${pad}.safetensors`);
    writeSafetensors(path, new Map([['encoder.pos_embed', t]]), { note: 'x'.repeat(pad) });
    const low = readFileSync(path)[0];
    if (lowBytes.has(low)) continue;
    lowBytes.add(low);
    assert.is(checkpointFormat(path), 'safetensors', `header length low byte 0x${low.toString(16)}`);
    assert.equal([...(readEncoderStateDict(path).tensors.get('pos_embed')!.data as Float32Array)], [1.5, -2]);
  }
  assert.ok(lowBytes.has(0x80), 'the case that failed was covered');
  assert.is(checkpointFormat(join(FIX, 'tiny_ckpt.pth.tar')), 'torch');
  // a pickle stream (legacy torch.save) is still torch's, and a truncated safetensors header is neither
  writeFileSync(join(dir, 'legacy.pt'), Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20]));
  assert.is(checkpointFormat(join(dir, 'legacy.pt')), 'torch');
  const cut = readFileSync(join(dir, 'ck0.safetensors')).subarray(0, 40);
  cut[0] = 0x81;
  writeFileSync(join(dir, 'cut.safetensors'), cut);
  assert.throws(() => checkpointFormat(join(dir, 'cut.safetensors')), /not a checkpoint vjepa can read/);
});

test('malicious pickles are refused before anything runs (protocol 2 GLOBAL and protocol 4 STACK_GLOBAL)', () => {
  const marker = '/tmp/vjepa-pwned';
  for (const f of ['malicious.pth', 'malicious_proto4.pkl']) {
    const p = join(FIX, f);
    assert.throws(
      () => readTorchCheckpoint(p),
      (e: Error) =>
        e.message === `refusing to load ${p}: the pickle calls posix.system, which is not a tensor or plain container; nothing was executed`,
    );
  }
  assert.not.ok(existsSync(marker) && readFileSync(marker, 'utf8').includes('PWNED-by-vjepa-fixture'));
});

// Builds a one-entry zip (deflated) holding <dir>/data.pkl, like torch.save but compressed.
function zipWith(name: string, payload: Buffer, deflate: boolean): Buffer {
  const body = deflate ? deflateRawSync(payload) : payload;
  const nameB = Buffer.from(name);
  const crc32 = crc32Of;
  const lh = Buffer.alloc(30);
  lh.writeUInt32LE(0x04034b50, 0);
  lh.writeUInt16LE(20, 4);
  lh.writeUInt16LE(deflate ? 8 : 0, 8);
  lh.writeUInt32LE(crc32(payload), 14);
  lh.writeUInt32LE(body.length, 18);
  lh.writeUInt32LE(payload.length, 22);
  lh.writeUInt16LE(nameB.length, 26);
  const cd = Buffer.alloc(46);
  cd.writeUInt32LE(0x02014b50, 0);
  cd.writeUInt16LE(deflate ? 8 : 0, 10);
  cd.writeUInt32LE(crc32(payload), 16);
  cd.writeUInt32LE(body.length, 20);
  cd.writeUInt32LE(payload.length, 24);
  cd.writeUInt16LE(nameB.length, 28);
  cd.writeUInt32LE(0, 42);
  const cdOff = 30 + nameB.length + body.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(46 + nameB.length, 12);
  eocd.writeUInt32LE(cdOff, 16);
  return Buffer.concat([lh, nameB, body, cd, nameB, eocd]);
}
function crc32Of(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

test('deflated zip entries, odd folder names, and hand-written pickles with refused opcodes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-pk-'));
  // {'a': [1, 2.5, 'x'], 'b': (True, None)} in protocol 2
  const pk = Buffer.from('80027d71002858010000006171015d7102284b014740040000000000005801000000787103655801000000627104884e867105752e', 'hex');
  const p = join(dir, 'plain.pt');
  writeFileSync(p, zipWith('weird-name_v2/data.pkl', pk, true));
  assert.equal(readTorchCheckpoint(p), { a: [1, 2.5, 'x'], b: [true, null] });
  // protocol 2: GLOBAL __builtin__.eval (python 3 builtins under its py2 name), REDUCE
  const evil = Buffer.from('8002635f5f6275696c74696e5f5f0a6576616c0a71005805000000312b312b3171018571025271032e', 'hex');
  const q = join(dir, 'eval.pt');
  writeFileSync(q, zipWith('x/data.pkl', evil, false));
  assert.throws(() => readTorchCheckpoint(q), /refusing to load .*eval\.pt: the pickle calls __builtin__\.eval, which is not a tensor/);
  const r = join(dir, 'notckpt.pt');
  writeFileSync(r, Buffer.from('hello'));
  assert.throws(() => readTorchCheckpoint(r), /not a PyTorch checkpoint/);
  const z = join(dir, 'nopkl.pt');
  writeFileSync(z, zipWith('x/other.bin', Buffer.from('abc'), false));
  assert.throws(() => readTorchCheckpoint(z), /without data\.pkl/);
});

test('select: only the chosen entries are read (their storages alone leave the zip); scalars stay, the rest is undefined', () => {
  const file = fileURLToPath(new URL('../../../test/fixtures/original/original_tiny.pth.tar', import.meta.url));
  const orig = ZipReader.prototype.read;
  const reads: string[] = [];
  ZipReader.prototype.read = function (this: ZipReader, name: string) {
    reads.push(name);
    return orig.call(this, name);
  };
  let full: any, some: any, seen: [string[], string[]] | null = null;
  try {
    full = readTorchCheckpoint(file);
    const all = reads.length;
    reads.length = 0;
    some = readTorchCheckpoint(file, (sections, keys) => {
      seen = [sections, keys];
      return ['target_encoder'];
    });
    const storages = reads.filter((n) => n.includes('/data/')).length;
    assert.is(storages, Object.keys(full.target_encoder).length, 'one storage per target-encoder tensor, nothing else');
    assert.ok(reads.length < all / 3, `${reads.length} of ${all} entries read`);
  } finally {
    ZipReader.prototype.read = orig;
  }
  assert.equal(seen, [['encoder', 'predictor', 'target_encoder'], ['encoder', 'predictor', 'target_encoder', 'opt', 'scaler', 'epoch', 'loss', 'batch_size', 'world_size', 'lr']]);
  assert.equal(Object.keys(some), Object.keys(full));
  for (const k of ['encoder', 'predictor', 'opt']) assert.is(some[k], undefined, k);
  assert.equal([some.epoch, some.batch_size, some.lr], [full.epoch, full.batch_size, full.lr]);
  for (const [k, v] of Object.entries(full.target_encoder as Record<string, HostTensor>))
    assert.equal(Array.from(toFloat32(some.target_encoder[k])), Array.from(toFloat32(v)), k);
});

test.run();
