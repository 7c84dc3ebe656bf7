// EVAL-02: the encoder is loaded strictly by checkpoint_key and stays bit-identical through a
// probe run (features recomputed every step, the path where an update could leak in).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProbe } from '../../lib/probe/probe.js';
import { buildFrozenEncoder, readEncoderWeights } from '../../lib/probe/encoder.js';
import { readTorchCheckpoint } from '../../lib/io/torch-pickle.js';
import { sincos3dTable } from '../../lib/nn/posemb.js';
import { fileURLToPath } from 'node:url';
import { AttentiveClassifier } from '../../lib/nn/pooler.js';
import { InitRng } from '../../lib/nn/init.js';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors.js';
import { exportStateDict } from '../../lib/nn/state.js';
import { CHECKPOINT_FORMAT } from '../../lib/train/checkpoint.js';
import { TINY, quiet, sameBits, snapshot, tinyConfig, tinyEncoder, tinySetup } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const setup = await tinySetup('vjepa-probe-frozen-');

test('frozen encoder: weights bit-identical before/after probing; the head does train', async () => {
  const { config, ext } = tinyConfig(setup);
  let before: Map<string, Float32Array> | null = null;
  let after: Map<string, Float32Array> | null = null;
  let headBefore: Map<string, Float32Array> | null = null;
  let headAfter: Map<string, Float32Array> | null = null;
  const lines: string[] = [];
  const r = await runProbe(config, ext, {
    log: quiet(lines),
    inspect: {
      loaded: (enc) => (before = snapshot(enc.namedParameters())),
      finished: (enc, clf) => {
        after = snapshot(enc.namedParameters());
        headAfter = snapshot(clf.namedParameters());
      },
    },
  });
  assert.ok(before && after);
  assert.equal(sameBits(before!, after!), [], 'encoder parameters changed');
  // Loaded from target_encoder.* (not the halved encoder.* copy).
  const ck = readSafetensors(setup.checkpoint).tensors;
  const fromFile = new Map([...ck].filter(([k]) => k.startsWith('target_encoder.')).map(([k, v]) => [k.slice(15), v.data as Float32Array]));
  assert.equal(sameBits(fromFile, after!), []);
  // The classifier's saved weights differ from a fresh init: training happened.
  const saved = readSafetensors(r.checkpoint).tensors;
  headBefore = new Map([...saved].filter(([k]) => k.startsWith('classifier.')).map(([k, v]) => [k.slice(11), v.data as Float32Array]));
  assert.equal(sameBits(headBefore, headAfter!), []);
  // ...and differ from the head's initial weights (same seed as runProbe: meta.seed + 1).
  const fresh = new AttentiveClassifier(TINY.embed_dim, TINY.num_heads, 2, new InitRng(config.meta.seed + 1));
  const changed = sameBits(snapshot(fresh.namedParameters()), headAfter!);
  fresh.dispose();
  assert.ok(changed.length >= 10, `only ${changed.length} head tensors changed`);
  assert.is(r.epochs, 2);
  assert.ok(existsSync(r.results) && existsSync(r.csv) && existsSync(r.plot));
  const json = JSON.parse(readFileSync(r.results, 'utf8'));
  assert.ok(json.val_top1 >= 0 && json.val_top1 <= 100 && json.epochs === 2 && typeof json.train_top1 === 'number');
  assert.ok(r.folder.endsWith(join('video_classification_frozen', 'tiny')));
  const csv = readFileSync(r.csv, 'utf8').trim().split('\n');
  assert.is(csv[0], 'epoch,train_loss,train_top1,val_loss,val_top1,val_top1_batch_mean,lr,wd,seconds');
  assert.is(csv.length, 3);
});

test('a missing checkpoint file says to run vjepa-train first', async () => {
  const { config, ext } = tinyConfig(setup, { 'pretrain.checkpoint': 'nope.safetensors', tag: 'missing-ckpt' });
  try {
    await runProbe(config, ext, { log: () => undefined });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match((e as Error).message, /nope\.safetensors not found/);
    assert.match((e as Error).message, /vjepa-train/);
  }
  assert.not.ok(existsSync(join(setup.dir, 'video_classification_frozen', 'missing-ckpt')), 'no run folder was made');
});

test('an unloadable val video is replaced (DATA-02), named at the end of the run and listed in the results', async () => {
  const valCsv = join(setup.dir, 'val-with-missing.csv');
  const missing = join(setup.dir, 'gone.mp4');
  writeFileSync(valCsv, readFileSync(setup.valCsv, 'utf8').trim() + `\n${missing} 1\n`);
  const { config, ext } = tinyConfig({ ...setup, valCsv }, { 'optimization.num_epochs': 1, tag: 'unloadable' });
  const lines: string[] = [];
  const r = await runProbe(config, ext, { log: quiet(lines) });
  assert.equal(r.unloadable, { train: [], val: [missing] });
  assert.ok(
    lines.includes(`warning: 1 val file could not be loaded and was replaced by others (DATA-02), so val top-1 is over a different set: ${missing}`),
    lines.join('\n'),
  );
  assert.equal(JSON.parse(readFileSync(r.results, 'utf8')).unloadable, { train: [], val: [missing] });
});

test('checkpoint_key: another section loads when asked for, a missing one is an error (no silent fallback)', () => {
  const enc = (key: string) => tinyConfig(setup, { 'pretrain.checkpoint_key': key }).config;
  const { tensors, key } = readEncoderWeights(setup.checkpoint, enc('encoder').pretrain.checkpoint_key);
  assert.is(key, 'encoder');
  const ck = readSafetensors(setup.checkpoint).tensors;
  assert.equal(Array.from(tensors.get('pos_embed')!.data as Float32Array), Array.from(ck.get('encoder.pos_embed')!.data as Float32Array));
  assert.throws(
    () => readEncoderWeights(setup.checkpoint, enc('ema').pretrain.checkpoint_key),
    (e: Error) => e.message === `pretrain.checkpoint_key: ${setup.checkpoint}: no "ema" in the checkpoint (it holds: target_encoder, encoder)`,
  );
  assert.is(readEncoderWeights(setup.checkpoint, 'target_encoder').key, 'target_encoder');
});

test("an official .pth.tar built for another frame count: its pos_embed gives way to the model's table (EVAL-02), the rest loads", () => {
  // official_tiny.pth.tar: 4 frames at 32 px, D 64, depth 2 (module.backbone.* names); probed here at 6 frames.
  const file = join(ROOT, 'test/fixtures/parity/official_tiny.pth.tar');
  const { config } = tinyConfig(setup, {
    'pretrain.checkpoint': file, 'pretrain.embed_dim': 64, 'pretrain.depth': 2, 'pretrain.num_heads': 2, 'pretrain.frames_per_clip': 6, 'data.frames_per_clip': 6,
  });
  const lines: string[] = [];
  const { encoder } = buildFrozenEncoder(config, (l) => lines.push(l));
  assert.ok(lines.some((l) => l === "encoder: pos_embed [1,32,64] in the file, [1,48,64] here: keeping the model's table (EVAL-02)"), lines.join('\n'));
  const own = sincos3dTable(3, 4, 4, 64, true);
  assert.equal(Array.from(encoder.posEmbed.toFloat32Array()), Array.from(own.toFloat32Array()));
  own.dispose();
  const sd = readTorchCheckpoint(file).target_encoder;
  const w = encoder.namedParameters().find(([n]) => n === 'blocks.1.mlp.fc2.weight')![1].tensor.toFloat32Array();
  assert.equal(Array.from(w), Array.from(sd['module.backbone.blocks.1.mlp.fc2.weight'].data as Float32Array));
  encoder.dispose();
});

test('§8.35: pretrain.frames_per_clip 1 (the default when absent) builds the image model, which names the key instead of loading a video checkpoint', () => {
  const { config } = tinyConfig(setup, { 'pretrain.frames_per_clip': 1 });
  assert.throws(
    () => buildFrozenEncoder(config, () => undefined),
    (e: Error) =>
      e.message.startsWith(`${setup.checkpoint}: holds a video encoder (patch_embed.proj.weight [32, 3, 2, 8, 8]), but pretrain.frames_per_clip is 1, which builds the image model`) &&
      e.message.includes('set pretrain.frames_per_clip to the frames the encoder was trained on'),
  );
});

test('MOD-02/14: a probe on an image encoder encodes every frame as an image and attends over all their tokens', async () => {
  const enc = tinyEncoder({ ...TINY, frames: 1 }, 5);
  assert.ok(enc.isImage);
  const file = join(setup.dir, 'image-encoder.safetensors');
  writeSafetensors(file, exportStateDict(enc, 'target_encoder.'), { format: CHECKPOINT_FORMAT, state: '{}' });
  const own = snapshot(enc.namedParameters());
  enc.dispose();
  const { config, ext } = tinyConfig(setup, { 'pretrain.checkpoint': file, 'pretrain.frames_per_clip': 1, tag: 'image-encoder' });
  const lines: string[] = [];
  let loaded: Map<string, Float32Array> | null = null;
  const r = await runProbe(config, ext, { log: quiet(lines), inspect: { loaded: (e) => (loaded = snapshot(e.namedParameters())) } });
  assert.equal(sameBits(own, loaded!), [], 'the image encoder loaded bit for bit');
  // 4 frames of 4x4 patches: 16 tokens each, 64 a clip
  assert.ok(lines.some((l) => l.includes(`D=${TINY.embed_dim} 64 tokens/clip`)), lines.join('\n'));
  assert.is(r.epochs, 2);
  const json = JSON.parse(readFileSync(r.results, 'utf8'));
  assert.ok(json.val_top1 >= 0 && json.val_top1 <= 100, JSON.stringify(json));
});

test.run();
