// vjepa-probe, like vjepa-train, does not write over a probe run already in its folder unless asked
// (--overwrite) or resuming (resume_checkpoint); the original replaces it without a word.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { probePaths } from '../../lib/probe/probe.js';
import { tinyConfig, tinyRaw, tinySetup } from './helpers.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const PROBE_BIN = join(ROOT, 'dist/bin/vjepa-probe.js');
const setup = await tinySetup('vjepa-probe-overwrite-');

test('a second run in the same folder is refused, the first run intact; --overwrite and resume_checkpoint go ahead', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'vjepa-probe-ow-')), 'probe.yaml');
  writeFileSync(file, stringify(tinyRaw(setup, { 'pretrain.checkpoint': setup.checkpoint })));
  const cli = (...args: string[]) => spawnSync(process.execPath, [PROBE_BIN, file, '--max-epochs', '1', ...args], { encoding: 'utf8', timeout: 120_000 });
  const first = cli();
  assert.is(first.status, 0, first.stderr);
  const p = probePaths(tinyConfig(setup, { 'pretrain.checkpoint': setup.checkpoint }).config);
  const csv = readFileSync(p.csv, 'utf8');
  const again = cli();
  assert.is(again.status, 1);
  assert.is(again.stderr.trim(), `vjepa-probe: ${p.folder} already holds a probe run (jepa-latest.safetensors, jepa_r0.csv). Resume it with --set resume_checkpoint=true, replace it with --overwrite, or give it another --set tag=...`);
  assert.is(readFileSync(p.csv, 'utf8'), csv, 'the first run is untouched');
  assert.is(cli('--set', 'resume_checkpoint=true').status, 0);
  assert.is(cli('--overwrite').status, 0);
});

test.run();
