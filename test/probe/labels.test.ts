// A bad label in an index CSV stops the probe with an error naming the file and line (DATA-01).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProbe } from '../../lib/probe/probe.js';
import { tinyConfig, tinySetup } from './helpers.js';

const setup = await tinySetup('vjepa-probe-labels-');
const lines = readFileSync(setup.trainCsv, 'utf8').trim().split('\n');

async function expectError(name: string, line3: string, re: RegExp) {
  const csv = join(setup.dir, name);
  const bad = [...lines];
  bad[2] = line3;
  writeFileSync(csv, bad.join('\n') + '\n');
  const { config, ext } = tinyConfig(setup, { 'data.dataset_train': [csv] });
  try {
    await runProbe(config, ext, { log: () => undefined });
    assert.unreachable('should have thrown');
  } catch (e) {
    const m = (e as Error).message;
    assert.ok(m.includes(`${csv}:3`), m);
    assert.match(m, re);
  }
}

test('label out of range for data.num_classes', async () => {
  const path = lines[2].slice(0, lines[2].lastIndexOf(' '));
  await expectError('range.csv', `${path} 7`, /out of range \[0, 1\]/);
});

test('label that is not an integer', async () => {
  const path = lines[2].slice(0, lines[2].lastIndexOf(' '));
  await expectError('word.csv', `${path} cat`, /not an integer/);
  await expectError('float.csv', `${path} 1.5`, /not an integer/);
});

test.run();
