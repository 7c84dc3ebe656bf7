// meta.init_checkpoint (a vjepa extension): a run starts from a file's weights with a fresh optimizer,
// schedules and data stream. With lr 0 and EMA momentum 1 one iteration changes no weight, so the saved
// checkpoint must hold exactly what the file held.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors.js';
import { readTorchCheckpoint } from '../../lib/io/torch-pickle.js';
import { stripPrefixes } from '../../lib/nn/state.js';
import { ROOT, finish, runTrain, tempDir, tinyConfigYaml, tinyDataset, writeConfig } from './helpers.js';

const ORIGINAL = join(ROOT, 'test/fixtures/original/original_tiny.pth.tar');

/** The tiny config with the original fixture's architecture, frozen weights (lr 0, EMA 1), one iteration. */
async function frozenRun(dir: string, init: string, frames = 6) {
  const yaml = tinyConfigYaml(await tinyDataset(), dir, '')
    .replace('num_frames: 4', `num_frames: ${frames}`)
    .replace(/model: \{[^}]*\}/, 'model: {model_name: vit_tiny, embed_dim: 64, depth: 2, num_heads: 2, pred_depth: 2, pred_embed_dim: 32, uniform_power: true}')
    .replace(/start_lr: [^\n]*/, 'start_lr: 0.0')
    .replace(/\n {2}lr: [^\n]*/, '\n  lr: 0.0')
    .replace(/final_lr: [^\n]*/, 'final_lr: 0.0')
    .replace('ema: [0.99, 1.0]', 'ema: [1.0, 1.0]')
    .replace('meta: {', `meta: {init_checkpoint: '${init}', `);
  return finish(runTrain([writeConfig(dir, yaml), '--max-iterations', '1']));
}

function saved(dir: string, prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of readSafetensors(join(dir, 'jepa-latest.safetensors')).tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

function assertSame(got: Map<string, HostTensor>, want: Map<string, HostTensor>, what: string) {
  assert.equal([...got.keys()].sort(), [...want.keys()].sort(), `${what}: names`);
  for (const [k, v] of want) assert.equal(Array.from(got.get(k)!.data as Float32Array), Array.from(v.data as Float32Array), `${what}: ${k}`);
}

test("from the original's .pth.tar: encoder, predictor and target encoder as stored; everything else fresh", async () => {
  const dir = tempDir('init-original');
  const r = await frozenRun(dir, ORIGINAL);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, `init: weights from ${ORIGINAL}: encoder [encoder], target encoder [target_encoder], predictor [predictor]`);
  const ckpt = readTorchCheckpoint(ORIGINAL);
  for (const sec of ['encoder', 'predictor', 'target_encoder']) {
    const want = new Map(Object.entries(ckpt[sec] as Record<string, HostTensor>).map(([k, v]) => [stripPrefixes(k), v]));
    assertSame(saved(dir, `${sec}.`), want, sec);
  }
  const file = readSafetensors(join(dir, 'jepa-latest.safetensors'));
  assert.is(JSON.parse(file.metadata.state).iteration, 1, 'a fresh run: iteration 1, not the file epoch');
  assert.equal(new Set(Object.values(JSON.parse(file.metadata.opt_steps) as Record<string, number>)), new Set([1]), 'fresh AdamW state');
});

test('from encoder weights alone (a bare state dict): both encoders start from them, the predictor from its init', async () => {
  const dir = tempDir('init-bare');
  const ckpt = readTorchCheckpoint(ORIGINAL);
  const bare = new Map(Object.entries(ckpt.target_encoder as Record<string, HostTensor>).map(([k, v]) => [stripPrefixes(k), v]));
  const path = join(dir, 'encoder.safetensors');
  writeSafetensors(path, bare, {});
  const r = await frozenRun(dir, path);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, 'encoder (bare state dict), target encoder (bare state dict), predictor fresh init');
  assertSame(saved(dir, 'encoder.'), bare, 'encoder');
  assertSame(saved(dir, 'target_encoder.'), bare, 'target encoder');
});

test("weights trained for another frame count: the fixed sincos tables give way to the model's, the rest loads", async () => {
  const dir = tempDir('init-frames');
  const r = await frozenRun(dir, ORIGINAL, 4);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, "pos_embed [1,48,64] in the file, [1,32,64] here: keeping the model's table");
  assert.match(r.out, "predictor_pos_embed [1,48,32] in the file, [1,32,32] here: keeping the model's table");
  const ckpt = readTorchCheckpoint(ORIGINAL);
  const want = new Map(Object.entries(ckpt.encoder as Record<string, HostTensor>).map(([k, v]) => [stripPrefixes(k), v]));
  const got = saved(dir, 'encoder.');
  for (const k of ['patch_embed.proj.weight', 'blocks.1.attn.qkv.weight', 'norm.bias'])
    assert.equal(Array.from(got.get(k)!.data as Float32Array), Array.from(want.get(k)!.data as Float32Array), k);
  assert.equal(got.get('pos_embed')!.shape, [1, 32, 64]);
});

test('errors name the key and the file', async () => {
  const dir = tempDir('init-errors');
  const missing = join(dir, 'nope.pth.tar');
  const a = await frozenRun(dir, missing);
  assert.is(a.code, 1);
  assert.match(a.out, `meta.init_checkpoint: ${missing} not found`);
  const probe = join(ROOT, 'test/fixtures/original/original_probe.pth.tar');
  const b = await frozenRun(dir, probe);
  assert.is(b.code, 1);
  assert.match(b.out, `meta.init_checkpoint: ${probe} holds no encoder weights`);
  const ours = join(dir, 'probe.safetensors');
  writeSafetensors(ours, new Map([['classifier.linear.bias', { dtype: 'float32', shape: [2], data: new Float32Array(2) }]]), { format: 'vjepa-probe/1', state: '{}' });
  const c = await frozenRun(dir, ours);
  assert.is(c.code, 1);
  assert.match(c.out, `meta.init_checkpoint: ${ours} holds no encoder weights (it is a probe checkpoint)`);
});

test.run();
