// The shipped probe configs load (CFG-03/04 plus our extensions) and bad extension values are errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadProbeRunConfig } from '../../lib/probe/config.js';
import { probePaths } from '../../lib/probe/probe.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('configs/ssv2.yaml: the default probe of the default pretraining run', () => {
  const { config, ext, warnings } = loadProbeRunConfig(join(root, 'configs/ssv2.yaml'), [], { strict: true });
  assert.equal(warnings, []);
  assert.ok(ext.cacheFeatures);
  assert.is(config.pretrain.folder, 'runs/pretrain');
  assert.is(config.pretrain.checkpoint, 'jepa-latest.safetensors');
  assert.is(config.optimization.num_epochs, 20);
  assert.ok(config.optimization.attend_across_segments);
  assert.ok(probePaths(config).folder.endsWith('runs/pretrain/video_classification_frozen/ssv2-8x2x3'));
  const r = loadProbeRunConfig(join(root, 'configs/ssv2.yaml'), ['pretrain.checkpoint=null', 'optimization.cache_features=false']);
  assert.is(r.config.pretrain.checkpoint, null);
  assert.is(r.ext.cacheFeatures, false);
  assert.ok(probePaths(r.config).folder.endsWith('ssv2-8x2x3-random-init'));
});

test('configs/evals/*.yaml mirror the original evals (CFG-03/04)', () => {
  const files = readdirSync(join(root, 'configs/evals')).sort();
  assert.equal(files, ['vitl16_in1k.yaml', 'vitl16_inat.yaml', 'vitl16_k400_16x8x3.yaml', 'vitl16_places.yaml', 'vitl16_ssv2_16x2x3.yaml']);
  const expect: Record<string, [string, number, number]> = {
    'vitl16_k400_16x8x3.yaml': ['k400-16x8x3', 400, 4],
    'vitl16_ssv2_16x2x3.yaml': ['ssv2-16x2x3', 174, 4],
    'vitl16_in1k.yaml': ['in1k-16f', 1000, 16],
    'vitl16_inat.yaml': ['inat-16f', 10000, 16],
    'vitl16_places.yaml': ['places-16f', 205, 16],
  };
  for (const f of files) {
    const { config, ext } = loadProbeRunConfig(join(root, 'configs/evals', f));
    const [tag, classes, batch] = expect[f];
    assert.is(config.tag, tag, f);
    assert.is(config.data.num_classes, classes, f);
    assert.is(config.optimization.batch_size, batch, f);
    assert.is(config.optimization.weight_decay, batch === 4 ? 0.01 : 0.001, f);
    assert.is(config.pretrain.frames_per_clip, 16, f);
    assert.is(config.optimization.resolution, 224, f);
    assert.not.ok(ext.cacheFeatures);
  }
});

test('extension keys are type-checked with the file and key in the message', () => {
  try {
    loadProbeRunConfig(join(root, 'configs/ssv2.yaml'), ['optimization.cache_features=3']);
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /configs\/ssv2\.yaml: optimization\.cache_features: expected true or false/);
  }
});

test.run();
