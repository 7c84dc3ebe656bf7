// The library as a consumer imports it (lib/index.ts, package.json main): building an encoder,
// naming the types its signatures use, scopes that free on a throw, and clear errors from the
// embed helpers. The type-only imports below fail the build if the entry stops exporting them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import {
  InitRng, buildEncoder, VisionTransformer, AttentiveClassifier, Tensor, tidy, tidyAsync, noGrad, native, config, embed, data, masks,
  type HostTensor, type MatmulDtype, type EncoderCheckpointReport, type StepMaskPair, type ModelOverrides,
} from '../../lib/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const live = () => native.stats().liveTensors;

test('an encoder built from the entry alone: InitRng, forward shape, embedBatch, nothing left live', () => {
  const before = live();
  const overrides: ModelOverrides = { depth: 1 };
  const enc: VisionTransformer = buildEncoder(
    { modelName: 'vit_tiny', overrides, cropSize: 16, patchSize: 8, numFrames: 4, tubeletSize: 2, uniformPower: true,
      predEmbedDim: 1, predDepth: 1, numMaskTokens: 1, zeroInitMaskTokens: true, seed: 0 },
    new InitRng(0),
  );
  try {
    const x = new Float32Array(2 * 3 * 4 * 16 * 16).map((_, i) => Math.sin(i));
    const shape = tidy(() => noGrad(() => enc.forward(Tensor.from(x, [2, 3, 4, 16, 16])).shape));
    assert.equal(shape, [2, 8, 192]);
    const clips: HostTensor = { dtype: 'float32', shape: [2, 3, 4, 16, 16], data: x };
    const dtype: MatmulDtype = 'float32';
    const pooled = embed.embedBatch(enc, clips, null, 'mean', 'clips', dtype);
    assert.is(pooled.length, 2 * 192);
    assert.ok(pooled.every(Number.isFinite));
    // two clips with different pixels give different features
    assert.ok(pooled.slice(0, 192).some((v, i) => v !== pooled[192 + i]));
  } finally {
    enc.dispose();
  }
  assert.is(live(), before);
  // the probe head is constructible too (probe.probeTrainStep takes one)
  const head = new AttentiveClassifier(192, 3, 4, new InitRng(1));
  assert.ok(head.numParameters() > 0);
  head.dispose();
  assert.is(live(), before);
});

test('tidyAsync frees what its scope made when the callback throws, as tidy does', async () => {
  const before = live();
  let err: unknown = null;
  try {
    await tidyAsync(async () => {
      Tensor.zeros([8]);
      await new Promise((r) => setTimeout(r, 1));
      Tensor.zeros([8]);
      throw new Error('boom');
    });
  } catch (e) {
    err = e;
  }
  assert.is((err as Error).message, 'boom');
  assert.is(live(), before);
  // the normal path still hands the result to the caller
  const kept = await tidyAsync(async () => {
    Tensor.zeros([2]);
    return Tensor.from([1, 2], [2]);
  });
  assert.is(live(), before + 1);
  assert.equal(Array.from(kept.toFloat32Array()), [1, 2]);
  kept.dispose();
  assert.is(live(), before);
});

test('evalClipSource names a missing video at once, also when it is the only one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-api-'));
  try {
    const missing = join(dir, 'nope.mp4');
    const other = join(dir, 'also-nope.mp4');
    const open = () => embed.evalClipSource({ videos: [missing], framesPerClip: 4, frameStep: 2, cropSize: 16, batchSize: 1, numWorkers: 1 });
    assert.throws(open, (e: Error) => e.message === `cannot read video ${missing} (file not found)`);
    const csv = join(dir, 'list.csv');
    writeFileSync(csv, `nope.mp4 0\nalso-nope.mp4 1\n`);
    assert.throws(
      () => embed.evalClipSource({ csvPaths: [csv], framesPerClip: 4, frameStep: 2, cropSize: 16, batchSize: 1, numWorkers: 1 }),
      (e: Error) => e.message === `cannot read videos ${missing} (file not found), ${other} (file not found)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('evalClipSource names a corrupt video when it is the only one (no replacement to fall back on)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-api-'));
  try {
    const bad = join(dir, 'bad.mp4');
    writeFileSync(bad, Buffer.alloc(4096, 7));  // not a video
    const src = embed.evalClipSource({ videos: [bad], framesPerClip: 4, frameStep: 2, cropSize: 16, batchSize: 1, numWorkers: 1 });
    let err: Error | null = null;
    try {
      for await (const _ of src.batches()) assert.unreachable('a batch from a corrupt video');
    } catch (e) {
      err = e as Error;
    } finally {
      await src.close();
    }
    assert.ok(err, 'no error');
    assert.match(err!.message, new RegExp(`^cannot read video ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(.+\\)$`));
    assert.not.match(err!.message, /consecutive samples|replaced/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a pretraining config written back with its defaults (params-pretrain.yaml) loads without warnings; a set value still warns", () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-api-'));
  try {
    // what pretrain() writes into its run folder: the loaded config, defaults filled in
    const { config: cfg, warnings } = config.loadPretrainConfig(join(ROOT, 'configs/pretrain.yaml'));
    assert.equal(warnings, []);
    assert.is(cfg.data.datasets_weights, null);
    const file = join(dir, 'params-pretrain.yaml');
    writeFileSync(file, stringify(cfg));
    assert.equal(config.loadPretrainConfig(file).warnings, []);
    const w = config.loadPretrainConfig(file, ['data.datasets_weights=[1.0]']).warnings;
    assert.is(w.length, 1);
    assert.match(w[0], /data\.datasets_weights: has no effect in the original/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Rng classes the data and mask helpers take are reachable from their areas', () => {
  const opts = { framesPerClip: 4, frameStep: 2, numClips: 1, randomClipSampling: true, allowClipOverlap: false };
  const idx = data.sampleClipIndices(100, opts, new data.Rng(0, 1));
  assert.is(idx.length, 1);
  assert.is(idx[0].length, 4);
  assert.equal(Array.from(idx[0]), Array.from(data.sampleClipIndices(100, opts, new data.Rng(0, 1))[0]), 'same keys, same clip');
  const grid = masks.tokenGrid(4, 2, 16, 8);
  const gen = new masks.MultiBlock3DMaskGenerator({ spatial_scale: [0.5, 0.5], temporal_scale: [1, 1], aspect_ratio: [1, 1], num_blocks: 1 }, grid);
  const pair = gen.sample(2, new masks.Rng(0, 1, 2, 3));
  assert.is(pair.ctx.B, 2);
  assert.ok(pair.ctx.K + pair.tgt.K <= 8 + 8);
});

// type-level only: pretrainStep's masks are int32 tensors, distinct from masks.MaskPair's host indices
const _typeCheck = (p: StepMaskPair, r: EncoderCheckpointReport): [Tensor, string | null] => [p.ctx, r.key];
void _typeCheck;

test.run();
