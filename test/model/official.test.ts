// The official checkpoint layout (MOD-15, EVAL-02) through loadEncoderCheckpoint and the vjepa-embed
// CLI, against PyTorch outputs written by reference/make_parity_fixture.py (official_tiny_embed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { readNpy, writeNpy } from '../../lib/io/npy.js';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors.js';
import { readTorchCheckpoint } from '../../lib/io/torch-pickle.js';
import { noGrad } from '../../lib/autograd.js';
import { loadEncoderCheckpoint } from '../../lib/nn/checkpoint-load.js';
import { InitRng } from '../../lib/nn/init.js';
import { buildEncoder } from '../../lib/nn/vjepa.js';
import type { VisionTransformer } from '../../lib/nn/vit.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { meanTokens } from '../../lib/embed/embed.js';
import { runEmbed } from '../../lib/embed/run.js';
import { assertClose } from '../helpers/compare.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FX = join(ROOT, 'test/fixtures/parity');
const CKPT = join(FX, 'official_tiny.pth.tar');
const MALICIOUS = join(ROOT, 'test/fixtures/io/malicious.pth');
const CLI = join(ROOT, 'dist/bin/vjepa-embed.js');
const ref = readSafetensors(join(FX, 'official_tiny_embed.safetensors')).tensors;
const C = JSON.parse(readFileSync(join(FX, 'vjepa_tiny.json'), 'utf8')).config;
const TOL = 1e-4;
const dir = mkdtempSync(join(tmpdir(), 'vjepa-official-'));

const get = (k: string): HostTensor => {
  const t = ref.get(k);
  if (!t) throw new Error(`fixture has no ${k}`);
  return t;
};

function encoder(over: { depth?: number; mlp_ratio?: number } = {}): VisionTransformer {
  return buildEncoder(
    {
      modelName: 'vit_tiny',
      overrides: { embed_dim: C.embed_dim, depth: over.depth ?? C.depth, num_heads: C.num_heads, mlp_ratio: over.mlp_ratio ?? C.mlp_ratio },
      cropSize: C.img_size,
      patchSize: C.patch_size,
      numFrames: C.num_frames,
      tubeletSize: C.tubelet_size,
      uniformPower: C.uniform_power,
      predEmbedDim: C.pred_embed_dim,
      predDepth: C.pred_depth,
      numMaskTokens: 2,
      zeroInitMaskTokens: true,
      seed: 0,
    },
    new InitRng(5),
  );
}

/** Tiny pretraining-style YAML (keys as configs/pretrain.yaml; sections other than model/data left out). */
function yaml(name: string, depth = C.depth): string {
  const p = join(dir, name);
  writeFileSync(
    p,
    [
      'app: vjepa',
      'data:',
      `  crop_size: ${C.img_size}`,
      `  patch_size: ${C.patch_size}`,
      `  num_frames: ${C.num_frames}`,
      `  tubelet_size: ${C.tubelet_size}`,
      '  batch_size: 2',
      '  num_clips: 1',
      '  sampling_rate: 2',
      'model:',
      '  model_name: vit_tiny',
      `  embed_dim: ${C.embed_dim}`,
      `  depth: ${depth}`,
      `  num_heads: ${C.num_heads}`,
      `  mlp_ratio: ${C.mlp_ratio}`,
      '  pred_depth: 2',
      '  pred_embed_dim: 32',
      `  uniform_power: ${C.uniform_power}`,
      '',
    ].join('\n'),
  );
  return p;
}
const CFG = yaml('tiny.yaml');

function embed(enc: VisionTransformer, x: HostTensor, idx: HostTensor | null = null): Float32Array {
  return tidy(() => {
    const xt = Tensor.from(x.data as Float32Array, x.shape);
    const it = idx ? Tensor.from(idx.data as Int32Array, idx.shape, 'int32') : null;
    return noGrad(() => enc.forward(xt, it)).toFloat32Array();
  });
}

const w = (m: VisionTransformer, name: string): Float32Array => m.stateDict().get(name)!.toFloat32Array();

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function npy(name: string, t: HostTensor): string {
  const p = join(dir, name);
  writeNpy(p, t);
  return p;
}

async function rejects(p: Promise<unknown>, text: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok((e as Error).message.includes(text), `expected "${text}" in: ${(e as Error).message}`);
    return;
  }
  assert.unreachable(`expected an error containing "${text}"`);
}

test('official_tiny.pth.tar: target_encoder (module.backbone.*) loads strictly into our encoder', () => {
  const enc = encoder();
  const r = loadEncoderCheckpoint(CKPT, enc);
  assert.is(r.format, 'torch');
  assert.is(r.key, 'target_encoder');
  assert.is(r.loaded.length, 29);
  assert.equal([r.missing, r.unexpected, r.mismatched], [[], [], []]);
  const sd = readTorchCheckpoint(CKPT).target_encoder;
  assert.equal(Array.from(w(enc, 'blocks.1.mlp.fc2.weight')), Array.from(sd['module.backbone.blocks.1.mlp.fc2.weight'].data as Float32Array));
  // --key encoder reads the online encoder, which differs after the recorded training step
  const enc2 = encoder();
  assert.is(loadEncoderCheckpoint(CKPT, enc2, { key: 'encoder' }).key, 'encoder');
  assert.not.equal(Array.from(w(enc2, 'norm.weight')), Array.from(w(enc, 'norm.weight')));
  assert.throws(() => loadEncoderCheckpoint(CKPT, encoder(), { key: 'ema' }), (e: Error) => e.message.includes(`${CKPT}: no "ema" in the checkpoint (it holds: encoder, predictor, target_encoder)`));
  enc.dispose();
  enc2.dispose();
});

test('PyTorch parity: full clip, context indices, other clip length and size (MOD-07 trilinear table)', () => {
  const enc = encoder();
  loadEncoderCheckpoint(CKPT, enc);
  const ea = assertClose(embed(enc, get('a.x')), get('a.out').data as Float32Array, TOL, 'a.out');
  const eb = assertClose(embed(enc, get('a.x'), get('b.ctx')), get('b.out').data as Float32Array, TOL, 'b.out');
  const c = get('c.x');
  const ep = assertClose(enc.positionTable(c.shape[2], c.shape[3], c.shape[4]).toFloat32Array(), get('c.pos_embed').data as Float32Array, 1e-5, 'c.pos_embed');
  const ec = assertClose(embed(enc, c), get('c.out').data as Float32Array, TOL, 'c.out');
  console.log(`  rel. errors: a ${ea.toExponential(2)}, b ${eb.toExponential(2)}, c.pos_embed ${ep.toExponential(2)}, c ${ec.toExponential(2)}`);
  enc.dispose();
});

test('vjepa-embed CLI end to end: full clip (batches of 1), int64 context indices, 6x40x40 clip, mean pooling', () => {
  const ax = npy('a_x.npy', get('a.x'));
  const ctx = get('b.ctx');
  const ctx64 = npy('b_ctx.npy', { dtype: 'int64', shape: ctx.shape, data: BigInt64Array.from(ctx.data as Int32Array, (v) => BigInt(v)) });
  const cx = npy('c_x.npy', get('c.x'));
  const runs: [string, string[], string][] = [
    ['a.out', ['--input', ax, '--batch-size', '1'], 'a.npy'],
    ['b.out', ['--input', ax, '--context-idx', ctx64], 'b.npy'],
    ['c.out', ['--input', cx], 'c.npy'],
  ];
  for (const [want, args, out] of runs) {
    const r = cli(['--checkpoint', CKPT, '--config', CFG, ...args, '--out', join(dir, out)]);
    assert.is(r.status, 0, r.stderr);
    const got = readNpy(join(dir, out));
    assert.is(got.dtype, 'float32');
    assert.equal(got.shape, get(want).shape, want);
    assertClose(got.data as Float32Array, get(want).data as Float32Array, TOL, `CLI ${want}`);
  }
  const r = cli(['--checkpoint', CKPT, '--config', CFG, '--input', ax, '--pool', 'mean', '--out', join(dir, 'a_mean.npy')]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /\[2, 64\] float32 from .*official_tiny\.pth\.tar \[target_encoder\]/);
  const pooled = readNpy(join(dir, 'a_mean.npy'));
  assert.equal(pooled.shape, [2, 64]);
  assertClose(pooled.data as Float32Array, meanTokens(get('a.out').data as Float32Array, 2, 32, 64), TOL, 'mean pool');
});

// Writes the official target encoder as a safetensors section, then breaks three keys.
function brokenCheckpoint(): string {
  const sd = readTorchCheckpoint(CKPT).target_encoder as Record<string, HostTensor>;
  const out = new Map<string, HostTensor>();
  for (const [k, v] of Object.entries(sd)) {
    if (k === 'module.backbone.norm.bias') continue; // missing
    if (k === 'module.backbone.norm.weight') {
      out.set(`target_encoder.${k}`, { dtype: 'float32', shape: [65], data: new Float32Array(65).fill(3) }); // mis-shaped
      continue;
    }
    out.set(`target_encoder.${k}`, v);
  }
  out.set('target_encoder.module.backbone.blocks.0.attn.extra', { dtype: 'float32', shape: [2], data: new Float32Array(2) }); // unexpected
  const p = join(dir, 'broken.safetensors');
  writeSafetensors(p, out, {});
  return p;
}

test('strict load lists missing, unexpected and mis-shaped keys; partial load takes what matches', async () => {
  const p = brokenCheckpoint();
  assert.throws(
    () => loadEncoderCheckpoint(p, encoder()),
    (e: Error) =>
      e.message.includes(`${p} [target_encoder]`) &&
      e.message.includes('missing keys (1): norm.bias') &&
      e.message.includes('unexpected keys (1): module.backbone.blocks.0.attn.extra') &&
      e.message.includes('shape mismatches (1): module.backbone.norm.weight: checkpoint [65] vs model [64]'),
  );
  // architecture mismatch against the official pickle: depth 1 + MLP ratio 2
  assert.throws(
    () => loadEncoderCheckpoint(CKPT, encoder({ depth: 1, mlp_ratio: 2 })),
    (e: Error) =>
      /unexpected keys \(12\): module\.backbone\.blocks\.1\./.test(e.message) &&
      e.message.includes('module.backbone.blocks.0.mlp.fc1.weight: checkpoint [256,64] vs model [128,64]'),
  );
  const enc = encoder();
  const before = w(enc, 'norm.weight');
  const r = loadEncoderCheckpoint(p, enc, { strict: false });
  assert.is(r.loaded.length, 27);
  assert.equal(r.missing, ['norm.bias']);
  assert.equal(Array.from(w(enc, 'norm.weight')), Array.from(before), 'mis-shaped key keeps the model value');
  const sd = readTorchCheckpoint(CKPT).target_encoder;
  assert.equal(Array.from(w(enc, 'blocks.0.attn.qkv.weight')), Array.from(sd['module.backbone.blocks.0.attn.qkv.weight'].data as Float32Array));
  enc.dispose();

  const ax = npy('a_x2.npy', get('a.x'));
  await rejects(runEmbed({ checkpoint: p, config: CFG, input: ax, out: join(dir, 'strict.npy') }), 'missing keys (1): norm.bias');
  assert.not.ok(existsSync(join(dir, 'strict.npy')));
  const partial = cli(['--checkpoint', p, '--config', CFG, '--input', ax, '--partial', '--out', join(dir, 'partial.npy')]);
  assert.is(partial.status, 0, partial.stderr);
  assert.match(partial.stderr, /partial load: loaded 27 tensors .*missing \(kept the model's value\): norm\.bias/);
  assert.equal(readNpy(join(dir, 'partial.npy')).shape, [2, 32, 64]);
});

test('a pickle that would call os.system is refused and nothing runs (loader and CLI)', () => {
  const marker = '/tmp/vjepa-pwned';
  const before = existsSync(marker) ? readFileSync(marker, 'utf8') : null;
  assert.throws(
    () => loadEncoderCheckpoint(MALICIOUS, encoder()),
    (e: Error) => e.message === `refusing to load ${MALICIOUS}: the pickle calls posix.system, which is not a tensor or plain container; nothing was executed`,
  );
  const ax = npy('a_x3.npy', get('a.x'));
  const r = cli(['--checkpoint', MALICIOUS, '--config', CFG, '--input', ax, '--out', join(dir, 'pwned.npy')]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /vjepa-embed: refusing to load .*malicious\.pth: the pickle calls posix\.system/);
  assert.not.ok(existsSync(join(dir, 'pwned.npy')));
  const after = existsSync(marker) ? readFileSync(marker, 'utf8') : null;
  assert.is(after, before, 'the marker file was not written');
  assert.not.ok(after?.includes('PWNED-by-vjepa-fixture'));
});

test('bad inputs give errors naming the file', async () => {
  const ax = npy('a_x4.npy', get('a.x'));
  const out = join(dir, 'x.npy');
  const base = { checkpoint: CKPT, config: CFG, input: ax, out, log: () => {} };
  const ctx3 = npy('ctx3.npy', { dtype: 'int32', shape: [3, 2], data: new Int32Array(6) });
  await rejects(runEmbed({ ...base, contextIdx: ctx3 }), `${ctx3}: --context-idx has 3 rows but ${ax} has 2 clips`);
  const far = npy('far.npy', { dtype: 'int64', shape: [2, 1], data: BigInt64Array.from([0n, 32n]) });
  await rejects(runEmbed({ ...base, contextIdx: far }), `${far}: index 32 at [1, 0] is outside the clip's 32 tokens`);
  const gray = npy('gray.npy', { dtype: 'float32', shape: [1, 1, 4, 32, 32], data: new Float32Array(4096) });
  await rejects(runEmbed({ ...base, input: gray }), `${gray}: expected clips [B, 3, T, H, W], got [1, 1, 4, 32, 32]`);
  await rejects(runEmbed({ ...base, checkpoint: join(dir, 'nope.pth.tar') }), `checkpoint ${join(dir, 'nope.pth.tar')} does not exist`);
  await rejects(runEmbed({ ...base, key: 'opt' }), `${CKPT}: no "opt" in the checkpoint`);
  await rejects(runEmbed({ ...base, videos: ['a.mp4'] }), 'give exactly one of --input CLIPS.npy, --video FILE..., --csv FILE');
  const badCfg = join(dir, 'bad.yaml');
  writeFileSync(badCfg, 'model: {model_name: vit_tiny}\ndata: {num_frames: 4, tubelet_size: 2}\n');
  await rejects(runEmbed({ ...base, config: badCfg }), `${badCfg}: data.patch_size: required key is missing`);
  assert.not.ok(existsSync(out));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
