// vjepa-export: one section of the original's .pth.tar (or of our checkpoint) as a bare safetensors state dict
// that loads strictly where the checkpoint did, bit for bit in float32, rounded to nearest even in bfloat16.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { readTorchCheckpoint } from '../../lib/io/torch-pickle.js';
import { f32ToBf16, type HostTensor } from '../../lib/io/host-tensor.js';
import { exportCheckpointSection } from '../../lib/nn/export.js';
import { loadEncoderCheckpoint } from '../../lib/nn/checkpoint-load.js';
import { loadStateDict, stripPrefixes } from '../../lib/nn/state.js';
import { tinyModel } from '../model/parity-fixture.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PTH = join(ROOT, 'test/fixtures/original/original_tiny.pth.tar');
const C = JSON.parse(readSafetensors(join(ROOT, 'test/fixtures/original/original_tiny.safetensors')).metadata.config);
const dir = mkdtempSync(join(tmpdir(), 'vjepa-export-'));
const original = readTorchCheckpoint(PTH) as Record<string, Record<string, HostTensor>>;
const sectionOf = (key: string) => new Map(Object.entries(original[key]).map(([k, v]) => [stripPrefixes(k), v]));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/bin/vjepa-export.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('float32: the target encoder of the original .pth.tar, bit for bit, loads strictly into an encoder', () => {
  const out = join(dir, 'target.safetensors');
  const c = cli([PTH, '--out', out]);
  assert.is(c.status, 0, c.stderr);
  assert.match(c.stdout, /section target_encoder of .*original_tiny\.pth\.tar, 29 tensors, 0\.13M parameters, 0\.5 MiB float32/);
  const f = readSafetensors(out);
  assert.equal(f.metadata.format, 'vjepa-state-dict');
  assert.equal(f.metadata.key, 'target_encoder');
  const want = sectionOf('target_encoder');
  assert.equal([...f.tensors.keys()].sort(), [...want.keys()].sort());
  for (const [k, t] of f.tensors) {
    assert.equal(t.shape, want.get(k)!.shape, k);
    assert.equal(Array.from(t.data as Float32Array), Array.from(want.get(k)!.data as Float32Array), k);
  }
  // a bare state dict: read as the whole file, strictly, by what vjepa-embed and the probes call
  const model = tinyModel(C);
  const r = loadEncoderCheckpoint(out, model.targetEncoder);
  assert.is(r.key, null);
  assert.is(r.loaded.length, 29);
  model.dispose();
});

test('bfloat16: half the bytes, each value float32 rounded to nearest even; --key predictor', () => {
  const out = join(dir, 'pred-bf16.safetensors');
  const r = exportCheckpointSection(PTH, out, { key: 'predictor', dtype: 'bfloat16' });
  assert.is(r.key, 'predictor');
  const f = readSafetensors(out);
  const want = sectionOf('predictor');
  assert.is(f.tensors.size, want.size);
  for (const [k, t] of f.tensors) {
    assert.is(t.dtype, 'bfloat16', k);
    assert.equal(Array.from(t.data as Uint16Array), Array.from(f32ToBf16(want.get(k)!.data as Float32Array)), k);
  }
  const f32 = exportCheckpointSection(PTH, join(dir, 'pred-f32.safetensors'), { key: 'predictor' });
  assert.is(f32.bytes, 2 * r.bytes);
  assert.ok(statSync(out).size < 0.6 * statSync(join(dir, 'pred-f32.safetensors')).size);
  // loads (widened) into a predictor
  const model = tinyModel(C);
  const rep = loadStateDict(model.predictor, readSafetensors(out).tensors);
  assert.equal([rep.missing, rep.unexpected, rep.mismatched], [[], [], []]);
  model.dispose();
});

test('errors name the file or the flag, and write nothing', () => {
  const before = readFileSync(PTH);
  const e1 = cli([PTH, '--out', join(dir, 'never.safetensors'), '--key', 'nope']);
  assert.is(e1.status, 1);
  assert.match(e1.stderr, /^vjepa-export: .*original_tiny\.pth\.tar: no "nope" in the checkpoint \(it holds: encoder, predictor, target_encoder\)/);
  const e2 = cli([PTH, '--out', PTH]);
  assert.is(e2.status, 1);
  assert.match(e2.stderr, /--out .*original_tiny\.pth\.tar is the checkpoint itself/);
  const e3 = cli([join(dir, 'missing.pth.tar'), '--out', join(dir, 'never.safetensors')]);
  assert.is(e3.status, 1);
  assert.match(e3.stderr, /checkpoint .*missing\.pth\.tar does not exist/);
  const e4 = cli([PTH, '--out', join(dir, 'never.safetensors'), '--dtype', 'float16']);
  assert.is(e4.status, 1);
  assert.match(e4.stderr, /vjepa-export: Invalid values:[^]*float16/);
  assert.not.ok(existsSync(join(dir, 'never.safetensors')));
  assert.ok(readFileSync(PTH).equals(before), 'the input is untouched');
});

test.run();
