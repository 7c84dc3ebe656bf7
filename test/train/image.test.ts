// Pretraining the image model (data.num_frames 1, MOD-02): every clip is one frame, the token grid
// one image whatever the tubelet, and the checkpoint holds the original's image layout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { sincos2dTable } from '../../lib/nn/posemb.js';
import { finish, runTrain, tempDir, tinyConfigYaml, tinyDataset, writeConfig } from './helpers.js';

test('vjepa-train with data.num_frames 1 trains the image model: [D,3,p,p] patches, 2D tables, 16-token masks', async () => {
  const csv = await tinyDataset();
  const dir = tempDir('image-pretrain');
  // tubelet_size stays 2: the image model has no tubelets (the original's, too, ignores it)
  const cfg = writeConfig(dir, tinyConfigYaml(csv, dir).replace('num_frames: 4', 'num_frames: 1'));
  const r = await finish(runTrain([cfg, '--max-iterations', '3']));
  assert.is(r.code, 0, r.out);
  assert.ok(r.out.includes('16 tokens per clip'), r.out);
  const t = readSafetensors(join(dir, 'jepa-latest.safetensors')).tensors;
  for (const s of ['encoder', 'target_encoder']) {
    assert.equal(t.get(`${s}.patch_embed.proj.weight`)!.shape, [32, 3, 8, 8], s);
    assert.equal(t.get(`${s}.pos_embed`)!.shape, [1, 16, 32], s);
  }
  const own = sincos2dTable(4, 4, 32);
  assert.equal(Array.from(t.get('encoder.pos_embed')!.data as Float32Array), Array.from(own.toFloat32Array()));
  own.dispose();
  assert.equal(t.get('predictor.predictor_pos_embed')!.shape, [1, 16, 16]);
  // every iteration logged with a finite loss that moved
  const rows = readFileSync(join(dir, 'jepa_r0.csv'), 'utf8').trim().split('\n');
  const head = rows[0].split(',');
  const losses = rows.slice(1).map((l) => Number(l.split(',')[head.indexOf('loss')]));
  assert.is(losses.length, 3);
  assert.ok(losses.every(Number.isFinite) && losses[0] !== losses[2], losses.join(' '));
});

test.run();
