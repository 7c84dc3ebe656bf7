// Every config we ship loads, and the GPU ones say clearly why they cannot run here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPretrainConfig, loadProbeConfig, readYamlFile } from '../../lib/config/index.js';
import { native } from '../../lib/native.js';
import { selectDevice } from '../../lib/device.js';

const configs = resolve(fileURLToPath(new URL('../../../configs', import.meta.url)));

test('pretraining configs load with the original values', () => {
  for (const [file, model, crop, batch] of [['vitl16.yaml', 'vit_large', 224, 24], ['vith16.yaml', 'vit_huge', 224, 24], ['vith16_384.yaml', 'vit_huge', 384, 10]] as const) {
    const { config, warnings } = loadPretrainConfig(join(configs, file));
    assert.is(config.model.model_name, model);
    assert.is(config.data.crop_size, crop);
    assert.is(config.data.batch_size, batch);
    assert.equal(config.optimization.ema, [0.998, 1.0]);
    assert.is(config.optimization.lr, 0.000625);
    assert.is(config.mask.length, 2);
    // Only the original's own ignored keys warn (nodes, tasks_per_node, decode_one_clip, eval_freq, use_sdpa).
    assert.is(warnings.length, 5, warnings.join('\n'));
  }
  const { config, warnings } = loadPretrainConfig(join(configs, 'pretrain.yaml'));
  assert.is(warnings.length, 0, warnings.join('\n'));
  assert.is(config.meta.device, 'cpu');
  assert.ok(config.data.synthetic, 'the default config makes its own data');
});

test('every YAML under configs/ loads as a pretraining or probe config without an error or an unknown key', () => {
  const files = readdirSync(configs, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 10, files.join(' '));
  let probes = 0;
  for (const f of files) {
    const path = join(configs, f);
    // A probe config names its eval; everything else is a pretraining config.
    const isProbe = 'eval_name' in readYamlFile(path);
    const { warnings } = isProbe ? loadProbeConfig(path) : loadPretrainConfig(path);
    probes += Number(isProbe);
    assert.not.ok(warnings.some((w) => /unknown key/.test(w)), `${f}: ${warnings.join('\n')}`);
  }
  assert.is(probes, 6, 'ssv2.yaml and the five under evals/');
});

test('asking for CUDA without a GPU names the reason', () => {
  if (native.cudaInfo().available) return;
  assert.throws(() => selectDevice('cuda:0'), /meta\.device: 'cuda:0' was asked for, but .*(CUDA|cuda)/);
});

test.run();
