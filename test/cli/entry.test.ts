// The package's entry point: what `import ... from 'vjepa'` resolves to (package.json main and
// types) exists after the build and carries the API the README names.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

test('package.json main and types point at built files', () => {
  assert.ok(existsSync(join(ROOT, pkg.main)), pkg.main);
  assert.ok(existsSync(join(ROOT, pkg.types)), pkg.types);
});

test("the entry point's API works through it: tensors, variants, configs, data, masks", async () => {
  const v = await import(pathToFileURL(join(ROOT, pkg.main)).href);
  const t = v.tidy(() => v.Tensor.from([1, 2, 3, 4], [2, 2]));
  assert.equal(Array.from(t.toFloat32Array()), [1, 2, 3, 4]);
  t.dispose();
  assert.equal([v.resolveVariant('vit_large').embedDim, v.resolveVariant('vit_large').numHeads], [1024, 16]);
  // relative paths resolve against the CSV's folder (a vjepa extension: the original needs absolute ones)
  const csv = v.data.parseIndexCsv('a.mp4 3\n/v/b.mp4 1\n', '/data/x.csv');
  assert.equal([csv.paths, csv.labels], [['/data/a.mp4', '/v/b.mp4'], [3, 1]]);
  assert.throws(() => v.data.parseIndexCsv('a.mp4 three\n', 'bad.csv'), /^bad\.csv:1: label "three" is not an integer$/);
  for (const [area, name] of [['config', 'loadPretrainConfig'], ['config', 'loadProbeConfig'], ['probe', 'runProbe'], ['embed', 'runEmbed'], ['masks', 'MaskCollator']])
    assert.type(v[area][name], 'function', `${area}.${name}`);
  for (const name of ['pretrain', 'pretrainStep', 'buildModel', 'AdamW', 'loadEncoderCheckpoint', 'tuneAttention', 'readSafetensors'])
    assert.type(v[name], 'function', name);
});

test.run();
