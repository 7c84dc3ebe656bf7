// The image model (num_frames = 1: MOD-02, MOD-06's 2D table, MOD-07's bicubic resize) and frames as images
// (MOD-14's FrameAggregation), against the ORIGINAL code's outputs: reference/original_image_model.py imported
// facebookresearch/jepa's modules and wrote test/fixtures/original/image_model.safetensors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../lib/io/safetensors.js';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { exportStateDict, loadStateDict, section, toFloat32 } from '../../lib/nn/state.js';
import { VisionTransformer } from '../../lib/nn/vit.js';
import { Predictor } from '../../lib/nn/predictor.js';
import { InitRng } from '../../lib/nn/init.js';
import { interpolateTable2d } from '../../lib/nn/posemb.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { backward, noGrad } from '../../lib/autograd.js';
import { assertClose } from '../helpers/compare.js';
import { native } from '../../lib/native.js';
import { autocast } from '../../lib/ops/autocast.js';

const FX = fileURLToPath(new URL('../../../test/fixtures/original/', import.meta.url));
const st = readSafetensors(join(FX, 'image_model.safetensors')).tensors;
const get = (k: string): HostTensor => {
  const t = st.get(k);
  if (!t) throw new Error(`fixture has no ${k}`);
  return t;
};
const f32 = (k: string) => toFloat32(get(k), k);
const host = (k: string) => Tensor.from(f32(k), [...get(k).shape]);
const idx = (k: string) => Tensor.from(Int32Array.from(get(k).data as BigInt64Array, Number), [...get(k).shape], 'int32');

const VIT = { imgSize: 32, patchSize: 8, numFrames: 1, tubeletSize: 2, embedDim: 32, depth: 2, numHeads: 2, mlpRatio: 4, uniformPower: true };

function encoder(load = true): VisionTransformer {
  const enc = new VisionTransformer(VIT, new InitRng(0));
  if (load) {
    const r = loadStateDict(enc, section(st, 'encoder.'), { what: 'image_model encoder' });
    assert.equal([r.missing, r.unexpected, r.mismatched], [[], [], []]);
  }
  return enc;
}

test('MOD-02/06: the image model has the original layout: a [D,3,p,p] patch weight and its 2D sincos tables', () => {
  const enc = encoder(false);
  assert.ok(enc.isImage);
  assert.equal(enc.grid, [1, 4, 4]);
  assert.equal(enc.patchEmbed.weight.shape, [32, 3, 8, 8]);
  // our own tables, before any load, equal the original's (which ignores uniform_power in 2D)
  assertClose(enc.posEmbed.toFloat32Array(), f32('encoder.pos_embed'), 1e-6, 'encoder pos_embed');
  const prd = new Predictor(
    { imgSize: 32, patchSize: 8, numFrames: 1, tubeletSize: 2, embedDim: 32, predictorEmbedDim: 16, depth: 1, numHeads: 2, uniformPower: true, numMaskTokens: 2, zeroInitMaskTokens: false },
    new InitRng(0),
  );
  assert.equal(prd.posEmbed.shape, [1, 16, 16]);
  assertClose(prd.posEmbed.toFloat32Array(), f32('predictor.predictor_pos_embed'), 1e-6, 'predictor pos_embed');
  const r = loadStateDict(prd, section(st, 'predictor.'), { what: 'image_model predictor' });
  assert.equal([r.missing, r.unexpected, r.mismatched], [[], [], []]);
  // a video encoder's state dict names the frame count as the cause, both ways round
  const video = new VisionTransformer({ ...VIT, numFrames: 2 }, new InitRng(1));
  assert.throws(
    () => loadStateDict(enc, exportStateDict(video), { what: 'video.safetensors' }),
    (e: Error) => e.message.includes('patch_embed.proj.weight: checkpoint [32,3,2,8,8] vs model [32,3,8,8] (the checkpoint holds a video model, this model is the image model (num_frames 1): check num_frames)'),
  );
  assert.throws(() => loadStateDict(video, exportStateDict(enc)), /checkpoint \[32,3,8,8\] vs model \[32,3,2,8,8\] \(the checkpoint holds the image model \(num_frames 1\), this model is a video model: check num_frames\)/);
  video.dispose();
  enc.dispose();
  prd.dispose();
});

test('MOD-02: images [B,3,H,W] at the build size give the original tokens', () => {
  const enc = encoder();
  const y = tidy(() => noGrad(() => enc.forward(host('x32'))).toFloat32Array());
  assertClose(y, f32('y32'), 1e-5, 'y32');
  // a 1-frame clip is the same image
  const x = get('x32');
  const y5 = tidy(() => noGrad(() => enc.forward(Tensor.from(f32('x32'), [x.shape[0], 3, 1, 32, 32]))).toFloat32Array());
  assert.equal(Array.from(y5), Array.from(y));
  enc.dispose();
});

test('MOD-07: other image sizes resize the 2D table bicubically, as the original', () => {
  const enc = encoder();
  for (const [k, n] of [['48', 36], ['40', 25]] as const) {
    const y = tidy(() => noGrad(() => enc.forward(host(`x${k}`))));
    assert.equal(y.shape, [2, n, 32], k);
    assertClose(y.toFloat32Array(), f32(`y${k}`), 1e-5, `y${k}`);
    y.dispose();
  }
  enc.dispose();
});

test('MOD-07: bicubic table resize against torch F.interpolate(mode=bicubic) values', () => {
  const ramp = Float32Array.from([0, 1, 2, 3]);
  assert.equal(Array.from(interpolateTable2d(ramp, [1, 4], [1, 4], 1)), Array.from(ramp), 'same size: identity');
  for (const v of interpolateTable2d(new Float32Array(9).fill(2), [3, 3], [5, 7], 1)) assert.ok(Math.abs(v - 2) < 1e-6, `constant: ${v}`);
  // torch 2.13: F.interpolate(x.view(1, 1, 1, 4), size=(1, n), mode='bicubic', align_corners=False); A = -0.75 bends
  // even a ramp, and the clamped border taps move its ends
  const cases: [number[], number, number[]][] = [
    [[0, 1, 2, 3], 8, [-0.10546875, 0.19140625, 0.66796875, 1.296875, 1.703125, 2.33203125, 2.80859375, 3.10546875]],
    [[0, 0, 1, 1], 8, [0, -0.03515625, -0.10546875, 0.2265625, 0.7734375, 1.10546875, 1.03515625, 1]],
    [[0, 0, 1, 1], 3, [-0.017361164093017578, 0.5, 1.017361044883728]],
  ];
  for (const [src, n, want] of cases) {
    const got = interpolateTable2d(Float32Array.from(src), [1, 4], [1, n], 1);
    assertClose(got, want, 1e-6, `[${src}] -> ${n}`);
    // the same along height, with two channels (D = 2) interleaved
    const two = Float32Array.from(src.flatMap((v) => [v, -v]));
    const col = interpolateTable2d(two, [4, 1], [n, 1], 2);
    assertClose(col, want.flatMap((v) => [v, -v]), 1e-6, `[${src}] -> ${n} along height, D = 2`);
  }
});

test('MOD-09: kept-token indices and the image predictor give the original outputs', () => {
  const enc = encoder();
  const prd = new Predictor(
    { imgSize: 32, patchSize: 8, numFrames: 1, tubeletSize: 2, embedDim: 32, predictorEmbedDim: 16, depth: 1, numHeads: 2, uniformPower: true, numMaskTokens: 2, zeroInitMaskTokens: false },
    new InitRng(0),
  );
  loadStateDict(prd, section(st, 'predictor.'), { what: 'image_model predictor' });
  const [z, p] = tidy(() =>
    noGrad(() => {
      const ctx = idx('ctx');
      const z = enc.forward(host('x32'), ctx);
      return [z.toFloat32Array(), prd.forward(z, ctx, idx('tgt'), 1).toFloat32Array()];
    }),
  );
  assertClose(z, f32('y_ctx'), 1e-5, 'context tokens');
  assertClose(p, f32('pred'), 1e-5, 'predictions');
  enc.dispose();
  prd.dispose();
});

test('backward through the [D,3,p,p] patch weight matches the original gradients', () => {
  const enc = encoder();
  tidy(() => {
    backward(enc.forward(host('x32')), host('R')); // d sum(y * R)
  });
  for (const [name, t] of [['patch_embed.proj.weight', enc.patchEmbed.weight], ['patch_embed.proj.bias', enc.patchEmbed.bias], ['blocks.0.attn.qkv.weight', enc.blocks[0].attn.qkv.weight]] as const) {
    assert.ok(t.grad, name);
    assertClose(t.grad!.toFloat32Array(), f32(`grad.${name}`), 1e-4, name);
  }
  enc.zeroGrad();
  enc.dispose();
});

test('MOD-14: a clip through the image model is its frames as images, tokens concatenated in time (FrameAggregation)', () => {
  const enc = encoder();
  const y = tidy(() => noGrad(() => enc.forward(host('clip'))));
  assert.equal(y.shape, [2, 48, 32]);
  assertClose(y.toFloat32Array(), f32('y_frames'), 1e-5, 'frames');
  // and forwardLayers gives the same last layer
  const [last] = tidy(() => noGrad(() => enc.forwardLayers(host('clip'), [-1])));
  assert.equal(Array.from(last.toFloat32Array()), Array.from(y.toFloat32Array()));
  y.dispose();
  last.dispose();
  // frames as images have no shared token set to mask
  assert.throws(() => tidy(() => noGrad(() => enc.forward(host('clip'), idx('ctx')))), /image model takes token indices for images or 1-frame clips, not for 3 frames/);
  assert.throws(() => tidy(() => enc.forward(Tensor.zeros([2, 3, 32]))), /expected a clip \[B,3,T,H,W\] or images \[B,3,H,W\], got \[2,3,32\]/);
  enc.dispose();
});

// Runs where CUDA is usable: on a GPU, and in `npm test` on the emulated addon (test/native/cuda_emu.test.ts).
test('on CUDA: images, resized images, frames, kept tokens and the patch-weight gradient equal the original', () => {
  if (!native.cudaInfo().available) return;
  const enc = encoder().to('cuda');
  const on = (k: string) => Tensor.from(f32(k), [...get(k).shape], 'float32', 'cuda');
  for (const [x, y] of [['x32', 'y32'], ['x40', 'y40'], ['clip', 'y_frames']]) {
    assertClose(tidy(() => noGrad(() => enc.forward(on(x))).toFloat32Array()), f32(y), 1e-5, `cuda ${y}`);
  }
  const ctx = Tensor.from(Int32Array.from(get('ctx').data as BigInt64Array, Number), [...get('ctx').shape], 'int32', 'cuda');
  assertClose(tidy(() => noGrad(() => enc.forward(on('x32'), ctx)).toFloat32Array()), f32('y_ctx'), 1e-5, 'cuda y_ctx');
  ctx.dispose();
  tidy(() => backward(enc.forward(on('x32')), on('R')));
  assertClose(enc.patchEmbed.weight.grad!.toFloat32Array(), f32('grad.patch_embed.proj.weight'), 1e-4, 'cuda patch weight grad');
  enc.zeroGrad();
  // bf16 mixed precision (the [D,3,p,p] weight as a bf16 GEMM operand) tracks the fp32 result to bf16 accuracy
  const want = f32('y_frames');
  const got = tidy(() => noGrad(() => autocast('bfloat16', () => enc.forward(on('clip')))).toFloat32Array());
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) (num += (got[i] - want[i]) ** 2), (den += want[i] ** 2);
  assert.ok(Math.sqrt(num / den) < 2e-2 && Math.sqrt(num / den) > 0, `bf16 rel. Frobenius ${Math.sqrt(num / den)}`);
  enc.dispose();
});

test.run();
