// vjepa-embed on our own safetensors training checkpoints (TRAIN-12 layout) and on videos
// (--video / --csv: one deterministic eval clip, DATA-03 + DATA-10 centre crop).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad } from '../../lib/autograd.js';
import { encodeFrames } from '../../lib/data/encode.js';
import { decodeVideo } from '../../lib/data/ffmpeg.js';
import { ImageFolderLoader, VideoLoader } from '../../lib/data/loader.js';
import { staticClips } from '../../lib/data/image-folder.js';
import { encodePngRgb } from '../../lib/io/png.js';
import { Rng } from '../../lib/data/rng.js';
import { sampleClipIndices } from '../../lib/data/sampling.js';
import { synthVideoFrames } from '../../lib/data/synth.js';
import { evalClipTransform } from '../../lib/data/transforms.js';
import { meanTokens } from '../../lib/embed/embed.js';
import { runEmbed } from '../../lib/embed/run.js';
import { loadEmbedConfig } from '../../lib/embed/config.js';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { readNpy, writeNpy } from '../../lib/io/npy.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import { loadEncoderCheckpoint } from '../../lib/nn/checkpoint-load.js';
import { InitRng } from '../../lib/nn/init.js';
import { exportStateDict } from '../../lib/nn/state.js';
import type { VisionTransformer } from '../../lib/nn/vit.js';
import { buildEncoder, VJepa, type VJepaModelConfig } from '../../lib/nn/vjepa.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { Tensor, memoryStats, tidy } from '../../lib/tensor.js';
import { native } from '../../lib/native.js';
import { isas } from '../native/kernels/reference.js';
import { saveCheckpoint } from '../../lib/train/checkpoint.js';
import { assertClose } from '../helpers/compare.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/bin/vjepa-embed.js');
const OFFICIAL = join(ROOT, 'test/fixtures/parity/official_tiny.pth.tar');
const dir = mkdtempSync(join(tmpdir(), 'vjepa-embed-test-'));

const CFG: VJepaModelConfig = {
  modelName: 'vit_tiny',
  overrides: { embed_dim: 64, depth: 2, num_heads: 2, mlp_ratio: 4 },
  cropSize: 32,
  patchSize: 8,
  numFrames: 4,
  tubeletSize: 2,
  uniformPower: true,
  predEmbedDim: 32,
  predDepth: 2,
  numMaskTokens: 2,
  zeroInitMaskTokens: true,
  seed: 11,
};
const FRAME_STEP = 2;

const YAML = join(dir, 'tiny.yaml');
writeFileSync(
  YAML,
  `app: vjepa
data:
  dataset_type: VideoDataset
  datasets: [unused.csv]
  batch_size: 2
  num_clips: 1
  num_frames: 4
  tubelet_size: 2
  sampling_rate: ${FRAME_STEP}
  crop_size: 32
  patch_size: 8
model:
  model_name: vit_tiny
  embed_dim: 64
  depth: 2
  num_heads: 2
  pred_depth: 2
  pred_embed_dim: 32
  uniform_power: true
`,
);

function forward(enc: VisionTransformer, x: Float32Array, shape: number[]): Float32Array {
  return tidy(() => noGrad(() => enc.forward(Tensor.from(x, shape))).toFloat32Array());
}

function randomClips(B: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: B * 3 * 4 * 32 * 32 }, () => r.normal());
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A tiny VJepa whose target encoder differs from the online one, saved with saveCheckpoint. */
function ourCheckpoint(): { path: string; model: VJepa } {
  const model = new VJepa(CFG);
  const r = new Rng(99);
  for (const name of ['norm.weight', 'blocks.1.attn.qkv.bias', 'patch_embed.proj.bias']) {
    const t = model.targetEncoder.stateDict().get(name)!;
    model.targetEncoder.setParameter(name, Float32Array.from(t.toFloat32Array(), (v) => v + 0.1 * r.normal()));
  }
  const opt = new AdamW(model.paramGroups());
  const path = join(dir, 'ours.safetensors');
  saveCheckpoint(path, model, opt, {
    epoch: 1, iteration: 3, loss: 0.5, lrStep: 3, wdStep: 3, emaStep: 3, maskCounters: [0, 0], batchSize: 2, lr: 1e-3, config: {},
  });
  return { path, model };
}

test('our safetensors training checkpoint: target_encoder by default, --key encoder, outputs equal the in-memory model', async () => {
  const { path, model } = ourCheckpoint();
  const x = randomClips(3, 1);
  const shape = [3, 3, 4, 32, 32];
  const enc = buildEncoder(CFG, new InitRng(0));
  const r = loadEncoderCheckpoint(path, enc);
  assert.is(r.format, 'safetensors');
  assert.is(r.key, 'target_encoder');
  assert.is(r.loaded.length, 29);
  const want = forward(model.targetEncoder, x, shape);
  assert.equal(Array.from(forward(enc, x, shape)), Array.from(want), 'identical to the in-memory target encoder');
  const wantOnline = forward(model.encoder, x, shape);
  assert.ok(Math.max(...want.map((v, i) => Math.abs(v - wantOnline[i]))) > 1e-3, 'target and online encoders differ');

  // the whole run (batches of 2 over 3 clips) through runEmbed and through the CLI
  const xPath = join(dir, 'x.npy');
  writeNpy(xPath, { dtype: 'float32', shape, data: x });
  const live = memoryStats().liveTensors;
  const res = await runEmbed({ checkpoint: path, key: 'encoder', config: YAML, input: xPath, out: join(dir, 'online.npy'), batchSize: 2 });
  assert.is(memoryStats().liveTensors, live, 'runEmbed frees every tensor it made');
  assert.equal(res.shape, [3, 32, 64]);
  assert.is(res.load.key, 'encoder');
  assert.equal(Array.from(readNpy(join(dir, 'online.npy')).data as Float32Array), Array.from(wantOnline));
  const c = cli(['--checkpoint', path, '--config', YAML, '--input', xPath, '--pool', 'mean', '--out', join(dir, 'target_mean.npy')]);
  assert.is(c.status, 0, c.stderr);
  const pooled = readNpy(join(dir, 'target_mean.npy'));
  assert.equal(pooled.shape, [3, 64]);
  assertClose(pooled.data as Float32Array, meanTokens(want, 3, 32, 64), 1e-6, 'mean-pooled target features');

  // a bare encoder state dict (no section prefix) loads as the whole file
  const bare = join(dir, 'bare.safetensors');
  writeSafetensors(bare, exportStateDict(model.encoder), {});
  const enc2 = buildEncoder(CFG, new InitRng(1));
  assert.is(loadEncoderCheckpoint(bare, enc2).key, null);
  assert.equal(Array.from(forward(enc2, x, shape)), Array.from(wantOnline));
  enc.dispose();
  enc2.dispose();
  model.dispose();
});

// Two tiny videos: one shorter than the clip span (6 < 4 x 2 frames: overlap case C), one longer
// (30 frames: case A, first window with random sampling off); different sizes and aspect ratios.
const VIDEOS: { name: string; frames: number; w: number; h: number }[] = [
  { name: 'short clip.mp4', frames: 6, w: 48, h: 40 },
  { name: 'long.mp4', frames: 30, w: 40, h: 56 },
];

async function makeVideos(): Promise<string[]> {
  const paths: string[] = [];
  for (const [i, v] of VIDEOS.entries()) {
    const p = join(dir, v.name);
    await encodeFrames(synthVideoFrames(i, 4, v.frames, v.w, v.h, new Rng(7, i)), p, { width: v.w, height: v.h, fps: 24 });
    paths.push(p);
  }
  return paths;
}

/** The eval clip rebuilt from the low-level pieces: whole decode, DATA-03 indices, DATA-10 transform. */
async function evalClip(path: string): Promise<Float32Array> {
  const v = await decodeVideo({ path });
  const [idx] = sampleClipIndices(v.count, { framesPerClip: 4, frameStep: FRAME_STEP, numClips: 1, randomClipSampling: false, allowClipOverlap: true }, null);
  const fb = v.width * v.height * 3;
  const out = new Float32Array(3 * 4 * 32 * 32);
  evalClipTransform({ data: v.data, frameOffsets: Array.from(idx, (f) => f * fb), height: v.height, width: v.width }, 32, { kind: 'eval', numViews: 1 }, out, 0, out.length);
  return out;
}

test('out_layers (MOD-08): the last block is forward(), block 0 is a one-block encoder with the same weights; order, negatives, kept tokens', () => {
  const enc = buildEncoder(CFG, new InitRng(3));
  const one = buildEncoder({ ...CFG, overrides: { ...CFG.overrides, depth: 1 } }, new InitRng(4));
  for (const [name, t] of enc.stateDict()) if (one.stateDict().has(name)) one.setParameter(name, t.toFloat32Array());
  const x = randomClips(2, 5);
  const shape = [2, 3, 4, 32, 32];
  const idx = Int32Array.from([0, 5, 9, 31, 2, 3, 4, 30]);
  const run = (layers: number[], kept: Int32Array | null) =>
    tidy(() => noGrad(() => enc.forwardLayers(Tensor.from(x, shape), layers, kept ? Tensor.from(kept, [2, 4], 'int32') : null).map((t) => Array.from(t.toFloat32Array()))));
  const [last, first, again] = run([-1, 0, 1], null);
  assert.equal(last, Array.from(forward(enc, x, shape)), 'block -1 = the encoder output, bit for bit');
  assert.equal(again, last, 'block 1 = block -1 at depth 2');
  assert.equal(first, Array.from(forward(one, x, shape)), 'block 0 = a one-block encoder, bit for bit');
  assert.ok(Math.max(...first.map((v, i) => Math.abs(v - last[i]))) > 1e-3, 'the two blocks differ');
  const [keptFirst] = run([0], idx);
  const wantKept = tidy(() => noGrad(() => one.forward(Tensor.from(x, shape), Tensor.from(idx, [2, 4], 'int32')).toFloat32Array()));
  assert.equal(keptFirst, Array.from(wantKept), 'with kept tokens');
  assert.throws(() => run([2], null), /out_layers: block 2 does not exist \(the encoder has 2: 0\.\.1, or -2\.\.-1 from the end\)/);
  assert.throws(() => run([], null), /out_layers: no block listed/);
  enc.dispose();
  one.dispose();
});

test('--layers: [B, L, N, D] or [B, L, D], rows in the order listed; a bad list is one usage line', async () => {
  const { path, model } = ourCheckpoint();
  const x = randomClips(3, 2);
  const shape = [3, 3, 4, 32, 32];
  const xPath = join(dir, 'xl.npy');
  writeNpy(xPath, { dtype: 'float32', shape, data: x });
  const per = tidy(() => noGrad(() => model.targetEncoder.forwardLayers(Tensor.from(x, shape), [1, 0]).map((t) => t.toFloat32Array())));
  const live = memoryStats().liveTensors;
  const res = await runEmbed({ checkpoint: path, config: YAML, input: xPath, out: join(dir, 'layers.npy'), batchSize: 2, layers: [-1, 0] });
  assert.is(memoryStats().liveTensors, live, 'runEmbed frees every tensor it made');
  assert.equal(res.shape, [3, 2, 32, 64]);
  const got = readNpy(join(dir, 'layers.npy')).data as Float32Array;
  const row = 32 * 64;
  for (let s = 0; s < 3; s++) {
    for (let l = 0; l < 2; l++) {
      assert.equal(Array.from(got.subarray((2 * s + l) * row, (2 * s + l + 1) * row)), Array.from(per[l].subarray(s * row, (s + 1) * row)), `clip ${s} layer ${l}`);
    }
  }
  const c = cli(['--checkpoint', path, '--config', YAML, '--input', xPath, '--layers', '0, -1', '--pool', 'mean', '--out', join(dir, 'layers_mean.npy')]);
  assert.is(c.status, 0, c.stderr);
  const pooled = readNpy(join(dir, 'layers_mean.npy'));
  assert.equal(pooled.shape, [3, 2, 64]);
  const m0 = meanTokens(per[1], 3, 32, 64);
  const m1 = meanTokens(per[0], 3, 32, 64);
  assertClose((pooled.data as Float32Array).filter((_, i) => Math.floor(i / 64) % 2 === 0), m0, 1e-6, 'block 0, mean');
  assertClose((pooled.data as Float32Array).filter((_, i) => Math.floor(i / 64) % 2 === 1), m1, 1e-6, 'block -1, mean');
  const bad = cli(['--checkpoint', path, '--config', YAML, '--input', xPath, '--layers', '1,x', '--out', join(dir, 'no.npy')]);
  assert.is(bad.status, 1);
  assert.is(bad.stderr, 'vjepa-embed: --layers must be comma-separated block indices such as 11,-1 (got "1,x")\n');
  const deep = cli(['--checkpoint', path, '--config', YAML, '--input', xPath, '--layers', '7', '--out', join(dir, 'no.npy')]);
  assert.is(deep.stderr, 'vjepa-embed: --layers: block 7 does not exist (the encoder has 2: 0..1, or -2..-1 from the end)\n');
  assert.not.ok(existsSync(join(dir, 'no.npy')));
});

test('--video / --csv: one eval clip per video, equal to the encoder on the loader eval clip', async () => {
  const paths = await makeVideos();
  const csv = join(dir, 'videos.csv');
  writeFileSync(csv, VIDEOS.map((v, i) => `${v.name} ${i}`).join('\n') + '\n'); // relative to the CSV's folder

  // the loader's eval clips (1 segment, 1 view), checked against the low-level reconstruction
  const loader = new VideoLoader({
    csvPaths: [csv], batchSize: 2, framesPerClip: 4, frameStep: FRAME_STEP, numClips: 1, cropSize: 32, training: false,
    randomClipSampling: false, transform: { kind: 'eval', numViews: 1 }, seed: 0, numWorkers: 1, minFileBytes: 1,
  });
  let clips: Float32Array | null = null;
  for await (const b of loader) {
    assert.equal(b.shape, [1, 1, 2, 3, 4, 32, 32]);
    clips = b.clips;
  }
  await loader.close();
  const n = 3 * 4 * 32 * 32;
  for (let i = 0; i < 2; i++) assert.equal(Array.from(clips!.subarray(i * n, (i + 1) * n)), Array.from(await evalClip(paths[i])), `clip ${i}`);

  const enc = buildEncoder(CFG, new InitRng(0));
  loadEncoderCheckpoint(OFFICIAL, enc);
  const want = forward(enc, clips!, [2, 3, 4, 32, 32]);
  enc.dispose();

  const r = cli(['--checkpoint', OFFICIAL, '--config', YAML, '--video', ...paths, '--batch-size', '1', '--workers', '1', '--out', join(dir, 'v.npy')]);
  assert.is(r.status, 0, r.stderr);
  const got = readNpy(join(dir, 'v.npy'));
  assert.equal(got.shape, [2, 32, 64]);
  assertClose(got.data as Float32Array, want, 1e-6, '--video features');

  const res = await runEmbed({ checkpoint: OFFICIAL, config: YAML, csv: [csv], out: join(dir, 'c.npy'), pool: 'mean', numWorkers: 1 });
  assert.equal(res.paths, paths);
  const pooled = readNpy(join(dir, 'c.npy'));
  assert.equal(pooled.shape, [2, 64]);
  assertClose(pooled.data as Float32Array, meanTokens(want, 2, 32, 64), 1e-6, '--csv mean features');
});

test('--clips: C clips per video spread as the probe\'s segments (DATA-03, sampling off), [B, C, N, D]; --context-idx applies to each', async () => {
  const paths = VIDEOS.map((v) => join(dir, v.name));
  const C = 3;
  // the clips rebuilt from the low-level pieces: long.mp4 (30 frames, span 8) has partitions of 10 and
  // starts 0, 10, 20; the 6-frame video is shorter than the span, so its three clips are the same
  const want: Float32Array[] = [];
  for (const p of paths) {
    const v = await decodeVideo({ path: p });
    const lists = sampleClipIndices(v.count, { framesPerClip: 4, frameStep: FRAME_STEP, numClips: C, randomClipSampling: false, allowClipOverlap: true }, null);
    if (p.endsWith('long.mp4')) assert.equal(lists.map((l) => Array.from(l)), [[0, 2, 5, 7], [10, 12, 15, 17], [20, 22, 25, 27]]);
    const fb = v.width * v.height * 3;
    for (const l of lists) {
      const out = new Float32Array(3 * 4 * 32 * 32);
      evalClipTransform({ data: v.data, frameOffsets: Array.from(l, (f) => f * fb), height: v.height, width: v.width }, 32, { kind: 'eval', numViews: 1 }, out, 0, out.length);
      want.push(out);
    }
  }
  const all = new Float32Array(want.length * want[0].length);
  want.forEach((w, i) => all.set(w, i * w.length));
  const enc = buildEncoder(CFG, new InitRng(0));
  loadEncoderCheckpoint(OFFICIAL, enc);
  const feats = forward(enc, all, [6, 3, 4, 32, 32]);
  const kIdx = Int32Array.from([3, 0, 31, 7, 8, 9]);
  const rowsIdx = Int32Array.from({ length: 6 * 3 }, (_, i) => kIdx[3 * Math.floor(i / 9) + (i % 3)]);
  const keptFeats = tidy(() => noGrad(() => enc.forward(Tensor.from(all, [6, 3, 4, 32, 32]), Tensor.from(rowsIdx, [6, 3], 'int32')).toFloat32Array()));
  enc.dispose();

  const res = await runEmbed({ checkpoint: OFFICIAL, config: YAML, videos: paths, clips: C, batchSize: 1, numWorkers: 1, out: join(dir, 'clips.npy') });
  assert.equal(res.shape, [2, 3, 32, 64]);
  assertClose(readNpy(join(dir, 'clips.npy')).data as Float32Array, feats, 1e-6, '--clips 3 features');
  const idxPath = join(dir, 'clips_idx.npy');
  writeNpy(idxPath, { dtype: 'int32', shape: [2, 3], data: kIdx });
  const r = cli(['--checkpoint', OFFICIAL, '--config', YAML, '--video', ...paths, '--clips', '3', '--context-idx', idxPath, '--layers', '-1', '--workers', '1', '--out', join(dir, 'clips_kept.npy')]);
  assert.is(r.status, 0, r.stderr);
  const kept = readNpy(join(dir, 'clips_kept.npy'));
  assert.equal(kept.shape, [2, 3, 1, 3, 64]);
  assertClose(kept.data as Float32Array, keptFeats, 1e-6, '--clips 3 with kept tokens');
  const bad = cli(['--checkpoint', OFFICIAL, '--config', YAML, '--input', join(dir, 'x.npy'), '--clips', '2', '--out', join(dir, 'no.npy')]);
  assert.is(bad.stderr, 'vjepa-embed: --clips takes clips from videos (--video / --csv); an --input .npy holds its clips already\n');
  const zero = cli(['--checkpoint', OFFICIAL, '--config', YAML, '--video', paths[0], '--clips', '0', '--out', join(dir, 'no.npy')]);
  assert.is(zero.stderr, 'vjepa-embed: --clips must be a positive integer, got 0\n');
});

test('--clips 2 --views 3: the probe\'s eval layout per video, [B, C, V, N, D], equal to the encoder on the loader\'s clips', async () => {
  const paths = VIDEOS.map((v) => join(dir, v.name));
  const csv = join(dir, 'views.csv');
  writeFileSync(csv, paths.map((p, i) => `${p} ${i}`).join('\n') + '\n');
  const loader = new VideoLoader({
    csvPaths: [csv], batchSize: 2, framesPerClip: 4, frameStep: FRAME_STEP, numClips: 2, cropSize: 32, training: false,
    randomClipSampling: false, transform: { kind: 'eval', numViews: 3 }, seed: 0, numWorkers: 1, minFileBytes: 1,
  });
  let clips: Float32Array | null = null;
  for await (const b of loader) {
    assert.equal(b.shape, [2, 3, 2, 3, 4, 32, 32]);
    clips = b.clips;
  }
  await loader.close();
  // [C, V, B, ...] -> [B, C, V, ...]
  const x = 3 * 4 * 32 * 32;
  const rows = new Float32Array(clips!.length);
  for (let c = 0; c < 2; c++) for (let v = 0; v < 3; v++) for (let j = 0; j < 2; j++) rows.set(clips!.subarray(((c * 3 + v) * 2 + j) * x, ((c * 3 + v) * 2 + j + 1) * x), ((j * 2 + c) * 3 + v) * x);
  const enc = buildEncoder(CFG, new InitRng(0));
  loadEncoderCheckpoint(OFFICIAL, enc);
  const want = forward(enc, rows, [12, 3, 4, 32, 32]);
  enc.dispose();
  const res = await runEmbed({ checkpoint: OFFICIAL, config: YAML, csv: [csv], clips: 2, views: 3, batchSize: 1, numWorkers: 1, pool: 'mean', out: join(dir, 'views.npy') });
  assert.equal(res.shape, [2, 2, 3, 64]);
  assertClose(readNpy(join(dir, 'views.npy')).data as Float32Array, meanTokens(want, 12, 32, 64), 1e-6, '--clips 2 --views 3');
  // the long video's three views differ (windows along its long side)
  const m = meanTokens(want, 12, 32, 64);
  assert.ok(Math.abs(m[6 * 64] - m[7 * 64]) > 1e-4, 'views of one clip differ');
  const bad = cli(['--checkpoint', OFFICIAL, '--config', YAML, '--video', paths[0], '--views', '0', '--out', join(dir, 'no.npy')]);
  assert.is(bad.stderr, 'vjepa-embed: --views must be a positive integer, got 0\n');
});

test('an image model (data.num_frames 1, MOD-02): --input takes images [B, 3, H, W] or clips, whose frames it encodes as images', async () => {
  const enc = buildEncoder({ ...CFG, numFrames: 1 }, new InitRng(3));
  assert.ok(enc.isImage);
  const ckpt = join(dir, 'image.safetensors');
  writeSafetensors(ckpt, exportStateDict(enc), {});
  const yaml = join(dir, 'image.yaml');
  writeFileSync(yaml, readFileSync(YAML, 'utf8').replace('num_frames: 4', 'num_frames: 1'));
  const r = new Rng(5);
  const images = Float32Array.from({ length: 3 * 3 * 32 * 32 }, () => r.normal());
  const imgPath = join(dir, 'images.npy');
  writeNpy(imgPath, { dtype: 'float32', shape: [3, 3, 32, 32], data: images });
  const res = await runEmbed({ checkpoint: ckpt, config: yaml, input: imgPath, out: join(dir, 'image-tokens.npy'), batchSize: 2 });
  assert.equal(res.shape, [3, 16, 64]);
  const want = forward(enc, images, [3, 3, 32, 32]);
  assert.equal(Array.from(readNpy(join(dir, 'image-tokens.npy')).data as Float32Array), Array.from(want));
  // a 2-frame clip of two of those images: their tokens side by side, frame 0 first
  const clip = new Float32Array(3 * 2 * 32 * 32);
  for (let c = 0; c < 3; c++)
    for (let t = 0; t < 2; t++) clip.set(images.subarray((t * 3 + c) * 1024, (t * 3 + c + 1) * 1024), (c * 2 + t) * 1024);
  const clipPath = join(dir, 'image-clip.npy');
  writeNpy(clipPath, { dtype: 'float32', shape: [1, 3, 2, 32, 32], data: clip });
  const c = cli(['--checkpoint', ckpt, '--config', yaml, '--input', clipPath, '--out', join(dir, 'clip-tokens.npy')]);
  assert.is(c.status, 0, c.stderr);
  const got = readNpy(join(dir, 'clip-tokens.npy'));
  assert.equal(got.shape, [1, 32, 64]);
  assertClose(got.data as Float32Array, want.subarray(0, 2 * 16 * 64), 1e-6, 'frames as images');
  const bad = cli(['--checkpoint', ckpt, '--config', yaml, '--input', join(dir, 'x.npy').replace('x.npy', 'image-tokens.npy'), '--out', join(dir, 'never.npy')]);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /expected clips \[B, 3, T, H, W\] or images \[B, 3, H, W\], got \[3, 16, 64\]/);
  enc.dispose();
});

test('--image: DATA-11 val crops equal the probe loader\'s, repeated to num_frames for a video model (EVAL-07), as they are for the image model', async () => {
  // images of several shapes, in one class folder so the probe's loader reads them in the same order
  const folder = join(dir, 'images', 'val', 'only');
  mkdirSync(folder, { recursive: true });
  const sizes = [[40, 40], [48, 36], [36, 52], [33, 45], [64, 40]];
  const files = sizes.map(([w, h], i) => {
    const rgb = new Uint8Array(w * h * 3).map((_, j) => (j * (7 + i) + 31 * i) % 256);
    const f = join(folder, `${i}.png`);
    writeFileSync(f, encodePngRgb(w, h, rgb));
    return f;
  });
  const loader = new ImageFolderLoader({ root: join(dir, 'images', 'val'), batchSize: 5, cropSize: 32, training: false, seed: 0, shuffle: false, dropLast: false, passes: 1, log: () => undefined });
  let images: Float32Array | null = null;
  for await (const b of loader) images = b.images;
  await loader.close();
  assert.ok(images && images.length === 5 * 3 * 32 * 32);
  const { path } = ourCheckpoint();
  const video = buildEncoder(CFG, new InitRng(0));
  loadEncoderCheckpoint(path, video);
  const res = await runEmbed({ checkpoint: path, config: YAML, images: files, out: join(dir, 'img-video.npy'), batchSize: 2, log: () => undefined });
  assert.equal(res.shape, [5, 32, 64]);
  assert.equal(res.paths, files);
  const want = forward(video, staticClips(images!, 5, 3, 32, 32, 4), [5, 3, 4, 32, 32]);
  assertClose(readNpy(join(dir, 'img-video.npy')).data as Float32Array, want, 1e-6, 'video model on static clips');
  video.dispose();

  const image = buildEncoder({ ...CFG, numFrames: 1 }, new InitRng(4));
  const ckpt = join(dir, 'image-model.safetensors');
  writeSafetensors(ckpt, exportStateDict(image), {});
  writeFileSync(join(dir, 'image-model.yaml'), readFileSync(YAML, 'utf8').replace('num_frames: 4', 'num_frames: 1'));
  const c = cli(['--checkpoint', ckpt, '--config', join(dir, 'image-model.yaml'), '--image', ...files, '--pool', 'mean', '--out', join(dir, 'img-image.npy')]);
  assert.is(c.status, 0, c.stderr);
  const got = readNpy(join(dir, 'img-image.npy'));
  assert.equal(got.shape, [5, 64]);
  assertClose(got.data as Float32Array, meanTokens(forward(image, images!, [5, 3, 32, 32]), 5, 16, 64), 1e-6, 'image model, mean-pooled');
  image.dispose();

  // progress: a line per batch but the last with progressEveryMs 0 (2 of 3 batches of 2), none by default
  const said: string[] = [];
  await runEmbed({ checkpoint: path, config: YAML, images: files, out: join(dir, 'img-progress.npy'), batchSize: 2, log: () => undefined, progress: (m) => said.push(m), progressEveryMs: 0 });
  assert.is(said.length, 2, said.join('\n'));
  assert.match(said[0], /^embed: 2\/5 images, [\d.]+\/s, about \d+ s left$/);
  assert.match(said[1], /^embed: 4\/5 images, /);
  // a folder gives the images under it, sorted by path (the class folder above holds 0.png..4.png)
  const viaDir = await runEmbed({ checkpoint: ckpt, config: join(dir, 'image-model.yaml'), images: [join(dir, 'images')], out: join(dir, 'img-dir.npy'), pool: 'mean', log: () => undefined });
  assert.equal(viaDir.paths, files);
  assert.equal(Array.from(readNpy(join(dir, 'img-dir.npy')).data as Float32Array), Array.from(got.data as Float32Array));
  const empty = mkdtempSync(join(dir, 'no-images-'));
  let err = '';
  try {
    await runEmbed({ checkpoint: ckpt, config: join(dir, 'image-model.yaml'), images: [empty], out: join(dir, 'never.npy'), log: () => undefined });
  } catch (e) {
    err = (e as Error).message;
  }
  assert.match(err, new RegExp(`^--image: ${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds no image files`));
  // an undecodable image is named; --clips has no meaning for an image
  const bad = join(dir, 'broken.png');
  writeFileSync(bad, 'not a png');
  const e1 = cli(['--checkpoint', path, '--config', YAML, '--image', files[0], bad, '--out', join(dir, 'never.npy')]);
  assert.is(e1.status, 1);
  assert.match(e1.stderr, new RegExp(`vjepa-embed: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot decode the image: `));
  assert.not.ok(existsSync(join(dir, 'never.npy')), 'no partial output');
  const e2 = cli(['--checkpoint', path, '--config', YAML, '--image', files[0], '--clips', '2', '--out', join(dir, 'never.npy')]);
  assert.is(e2.status, 1);
  assert.match(e2.stderr, /--clips takes clips from videos \(--video \/ --csv\); an image is one centre crop \(DATA-11\)/);
});

test('--video: an undecodable file is an error naming it (no silent replacement)', async () => {
  const bad = join(dir, 'broken.mp4');
  writeFileSync(bad, 'this is not a video '.repeat(100));
  const good = join(dir, 'long.mp4');
  let err: Error | null = null;
  try {
    await runEmbed({ checkpoint: OFFICIAL, config: YAML, videos: [good, bad], out: join(dir, 'bad.npy'), numWorkers: 1, log: () => {} });
  } catch (e) {
    err = e as Error;
  }
  assert.is(err?.message, `cannot read video ${bad} (ffmpeg exit 1: Invalid data found when processing input)`);
  assert.not.ok(err!.message.includes('replaced'), `says only why: ${err!.message}`);
  assert.is(err!.message.split(bad).length, 2, 'names the file once');
});

test('--device: cpu is the default, a malformed device or (here) cuda without a GPU is refused before any output; bf16 on the CPU', async () => {
  const input = join(dir, 'dev-clips.npy');
  writeNpy(input, { dtype: 'float32', shape: [1, 3, 4, 32, 32], data: randomClips(1, 5) });
  const cpuOut = join(dir, 'dev-cpu.npy');
  await runEmbed({ checkpoint: OFFICIAL, config: YAML, input, out: cpuOut, device: 'cpu', log: () => {} });
  assert.equal(readNpy(cpuOut).shape, [1, 32, 64]);
  const fail = async (device: string) => {
    try {
      await runEmbed({ checkpoint: OFFICIAL, config: YAML, input, out: join(dir, `dev-${device}.npy`), device, log: () => {} });
    } catch (e) {
      return (e as Error).message;
    }
    return 'did not throw';
  };
  assert.is(await fail('gpu'), "--device: expected 'cpu', 'cuda' or 'cuda:N', got 'gpu'");
  // bf16 on the CPU, by the dot-product kernel where the CPU has it and by widening otherwise:
  // within bf16 rounding of the fp32 features, not the fp32 path itself, and said when no faster
  const bfCpu: Float32Array[] = [];
  try {
    for (const isa of isas({ bf16Dot: true }).slice(-2)) {
      native.setIsa(isa);
      const out = join(dir, `dev-bf16-cpu-${isa}.npy`), lines: string[] = [];
      await runEmbed({ checkpoint: OFFICIAL, config: YAML, input, out, dtype: 'bfloat16', log: (s) => lines.push(s) });
      const f = readNpy(out).data as Float32Array;
      const e = assertClose(f, readNpy(cpuOut).data as Float32Array, 1e-2, `--dtype bfloat16 features on the CPU (${isa})`);
      assert.ok(e > 1e-4, `bf16 features (${isa}) differ from fp32 by only ${e}: was autocast applied?`);
      assert.is(lines.some((l) => /no AVX512-BF16.*no faster than --dtype float32/.test(l)), isa !== 'avx512bf16', `${isa}: ${lines.join(' | ')}`);
      bfCpu.push(f);
    }
  } finally {
    native.setIsa('auto');
  }
  // where the CPU has it, the second is vdpbf16ps (whose attention also rounds P to bf16) against widened products
  if (bfCpu.length === 2) assertClose(bfCpu[1], bfCpu[0], 1e-3, 'two instruction sets\' bf16 features');
  const info = native.cudaInfo();
  if (info.available) {
    // the same features from the encoder on the GPU
    const gpuOut = join(dir, 'dev-gpu.npy');
    await runEmbed({ checkpoint: OFFICIAL, config: YAML, input, out: gpuOut, device: 'cuda', log: () => {} });
    assertClose(readNpy(gpuOut).data as Float32Array, readNpy(cpuOut).data as Float32Array, 1e-5, '--device cuda features');
    // bf16 mixed precision: within bf16 rounding of the fp32 features, and not the fp32 path itself
    const bfOut = join(dir, 'dev-gpu-bf16.npy');
    await runEmbed({ checkpoint: OFFICIAL, config: YAML, input, out: bfOut, device: 'cuda', dtype: 'bfloat16', log: () => {} });
    const e = assertClose(readNpy(bfOut).data as Float32Array, readNpy(cpuOut).data as Float32Array, 1e-2, '--dtype bfloat16 features');
    assert.ok(e > 1e-4, `bf16 features differ from fp32 by only ${e}: was autocast applied?`);
  } else {
    assert.is(await fail('cuda:0'), `--device: 'cuda:0' was asked for, but ${info.reason}`);
    const r = cli(['--checkpoint', OFFICIAL, '--config', YAML, '--input', input, '--out', join(dir, 'dev-cli.npy'), '--device', 'cuda']);
    assert.is(r.status, 1);
    assert.match(r.stderr, /vjepa-embed: --device: 'cuda' was asked for, but /);
    assert.not.ok(existsSync(join(dir, 'dev-cli.npy')), 'no output written');
  }
});

test('config errors: a misspelt section is pointed at, and unknown keys are listed under the errors', () => {
  const f = join(dir, 'typo.yaml');
  writeFileSync(f, 'modle: {model_name: vit_tiny}\ndata: {crop_size: 32, patch_size: 8, num_frames: 4, tubelet_size: 2, sampling_rat: 2}\n');
  let msg = '';
  try {
    loadEmbedConfig(f);
  } catch (e) {
    msg = (e as Error).message;
  }
  const lines = msg.split('\n');
  assert.is(lines[0], `invalid config ${f} (1 problem):`);
  assert.is(lines[1], `  ${f}: model: missing section (is modle a typo?) (vjepa-embed reads the architecture from the pretraining YAML's model and data sections)`);
  assert.match(lines[3], `${f}: data.sampling_rat: unknown key (did you mean data.sampling_rate?)`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
