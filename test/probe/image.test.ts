// EVAL-07: the image protocol repeats each image along time to the encoder's frame count; a tiny
// class-per-folder PNG set runs through a cached-feature probe end to end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePngRgb } from '../../lib/io/png.js';
import { validateProbeRun } from '../../lib/probe/config.js';
import { imageSource } from '../../lib/probe/data.js';
import { runProbe, scoreProbe } from '../../lib/probe/probe.js';
import { TINY, tinyEncoder, tinySetup } from './helpers.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import { exportStateDict } from '../../lib/nn/state.js';
import { CHECKPOINT_FORMAT } from '../../lib/train/checkpoint.js';

const setup = await tinySetup('vjepa-probe-image-');
const root = join(setup.dir, 'images');
for (const split of ['train', 'val'])
  for (const cls of ['a', 'b']) {
    mkdirSync(join(root, 'set', split, cls), { recursive: true });
    for (let i = 0; i < 4; i++) {
      const rgb = new Uint8Array(40 * 40 * 3).map((_, j) => (cls === 'a' ? (j * 7 + i) % 256 : 255 - ((j * 13 + i) % 256)));
      writeFileSync(join(root, 'set', split, cls, `${i}.png`), encodePngRgb(40, 40, rgb));
    }
  }

const raw = () => ({
  eval_name: 'image_classification_frozen',
  tag: 'img',
  data: { root_path: root, image_folder: 'set', num_classes: 2, resolution: TINY.res, dataset_name: 'ImageNet' },
  optimization: { num_epochs: 2, batch_size: 4, weight_decay: 0.001, lr: 0.001, start_lr: 0.001, final_lr: 0, warmup: 0, use_bfloat16: false, cache_features: true },
  pretrain: {
    model_name: 'vit_tiny', embed_dim: TINY.embed_dim, depth: TINY.depth, num_heads: TINY.num_heads, frames_per_clip: TINY.frames,
    tubelet_size: 2, uniform_power: true, patch_size: TINY.patch, folder: setup.dir, checkpoint: 'jepa-latest.safetensors', write_tag: 'jepa',
  },
});

test('images become static clips of frames_per_clip frames', async () => {
  const { config } = validateProbeRun(raw() as any, { file: 'img.yaml' });
  const src = imageSource(config, { split: 'val', training: false, evalTransform: true, batchSize: 4, seed: 0, passes: 1, log: () => undefined });
  try {
    const it = src.iterate();
    const b = (await it.next()).value!;
    assert.equal(b.clipShape, [4, 3, TINY.frames, TINY.res, TINY.res]);
    assert.equal(b.layout, { S: 1, V: 1, B: 4 });
    const plane = TINY.res * TINY.res;
    for (let t = 1; t < TINY.frames; t++) {
      const f0 = b.clips.subarray(0, plane);
      const ft = b.clips.subarray(t * plane, (t + 1) * plane);
      assert.equal(Array.from(ft), Array.from(f0));
    }
  } finally {
    await src.close();
  }
});

test('image probe end to end (cached features); --eval-only names every val image with its folder\'s label', async () => {
  const { config, ext } = validateProbeRun(raw() as any, { file: 'img.yaml' });
  const r = await runProbe(config, ext, { log: () => undefined });
  assert.is(r.epochs, 2);
  assert.ok(r.folder.endsWith(join('image_classification_frozen', 'img')));
  assert.ok(r.val_top1 >= 0 && r.val_top1 <= 100);
  const e = await scoreProbe(config, ext, { log: () => undefined });
  assert.is(e.val_top1, r.val_top1);
  const rows = readFileSync(e.predictions, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  // class folders a, b -> labels 0, 1 (sorted), images in path order
  const want = ['a', 'b'].flatMap((c, k) => [0, 1, 2, 3].map((i) => [join(root, 'set', 'val', c, `${i}.png`), String(k)]));
  assert.equal(rows.map((c) => [c[0], c[1]]), want);
  assert.is((100 * rows.filter((c) => c[3] === '1').length) / 8, e.val_top1);
});

test('an image model (pretrain.frames_per_clip 1, MOD-02) takes each image as it is: 1-frame clips, 16 tokens', async () => {
  const enc = tinyEncoder({ ...TINY, frames: 1 }, 3);
  writeSafetensors(join(setup.dir, 'image-model.safetensors'), exportStateDict(enc, 'target_encoder.'), { format: CHECKPOINT_FORMAT, state: '{}' });
  enc.dispose();
  const r0 = raw();
  r0.pretrain = { ...r0.pretrain, frames_per_clip: 1, checkpoint: 'image-model.safetensors' };
  r0.tag = 'img-image-model';
  const { config, ext } = validateProbeRun(r0 as any, { file: 'img.yaml' });
  const src = imageSource(config, { split: 'val', training: false, evalTransform: true, batchSize: 4, seed: 0, passes: 1, log: () => undefined });
  try {
    const b = (await src.iterate().next()).value!;
    assert.equal(b.clipShape, [4, 3, 1, TINY.res, TINY.res]);
  } finally {
    await src.close();
  }
  const lines: string[] = [];
  const r = await runProbe(config, ext, { log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => l.includes(`D=${TINY.embed_dim} 16 tokens/clip`)), lines.join('\n'));
  assert.is(r.epochs, 2);
  assert.ok(r.val_top1 >= 0 && r.val_top1 <= 100);
});

test.run();
