// Bad configs and a diverging run fail with messages that name the key or the iteration.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { finish, runTrain, tempDir, tinyConfigYaml, tinyDataset, writeConfig } from './helpers.js';

test('an unknown key warns with its path; --strict makes it an error', async () => {
  const csv = await tinyDataset();
  const dir = tempDir('unknown');
  const cfg = writeConfig(dir, tinyConfigYaml(csv, dir).replace('batch_size: 2', 'batch_size: 2\n  bacth_sise: 3'));
  const strict = await finish(runTrain([cfg, '--strict']));
  assert.is(strict.code, 1);
  assert.match(strict.out, /data\.bacth_sise/);
  const lax = await finish(runTrain([cfg, '--max-iterations', '1']));
  assert.is(lax.code, 0, lax.out);
  assert.match(lax.out, /warning: .*data\.bacth_sise/);
});

test('a wrong type names the key path and the file', async () => {
  const csv = await tinyDataset();
  const dir = tempDir('badtype');
  const cfg = writeConfig(dir, tinyConfigYaml(csv, dir));
  const r = await finish(runTrain([cfg, '--set', 'optimization.lr=abc']));
  assert.is(r.code, 1);
  assert.match(r.out, /optimization\.lr/);
  assert.match(r.out, /config\.yaml/);
});

test('a missing dataset CSV is named', async () => {
  const dir = tempDir('nodata');
  const cfg = writeConfig(dir, tinyConfigYaml(join(dir, 'nope.csv'), dir));
  const r = await finish(runTrain([cfg]));
  assert.is(r.code, 1);
  assert.match(r.out, /nope\.csv/);
});

test('a bad index line is named by file:line, and the run folder gets nothing', async () => {
  const dir = tempDir('badline');
  const csv = join(dir, 'idx.csv');
  writeFileSync(csv, `${join(dir, 'a.mp4')} 0\n${join(dir, 'b.mp4')} x\n`);
  const folder = join(dir, 'run');
  const r = await finish(runTrain([writeConfig(dir, tinyConfigYaml(csv, folder))]));
  assert.is(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`${csv.replace(/[.]/g, '\\.')}:2: label "x" is not an integer`));
  assert.not.ok(existsSync(folder), 'no run folder, no params-pretrain.yaml');
});

test('a NaN loss stops the run, names the iteration and keeps the last good checkpoint', async () => {
  const csv = await tinyDataset();
  const dir = tempDir('nan');
  const cfg = writeConfig(dir, tinyConfigYaml(csv, dir));
  const r = await finish(
    runTrain([cfg, '--set', 'optimization.lr=1e38', '--set', 'optimization.start_lr=1e38', '--set', 'optimization.clip_grad=null', '--set', 'logging.checkpoint_every=1']),
  );
  assert.is(r.code, 1, r.out);
  const m = r.out.match(/loss is (NaN|Infinity|-Infinity) at epoch (\d+), itr (\d+) \(iteration (\d+)\)/);
  assert.ok(m, r.out);
  const bad = Number(m![4]);
  const ckpt = join(dir, 'jepa-latest.safetensors');
  // The first loss comes from the init weights and is finite; the first update blows them up.
  assert.ok(bad > 0, r.out);
  assert.ok(existsSync(ckpt));
  const state = JSON.parse(readSafetensors(ckpt).metadata.state);
  assert.is(state.iteration, bad, 'the checkpoint holds the last finite iteration');
});

test('a finite loss with non-finite gradients stops before the update, and the checkpoint left is finite', async () => {
  const csv = await tinyDataset();
  const dir = tempDir('nangrad');
  const cfg = writeConfig(dir, tinyConfigYaml(csv, dir));
  // lr 1e4 keeps the first losses finite while backward overflows
  const r = await finish(runTrain([cfg, '--set', 'optimization.lr=1e4', '--set', 'optimization.start_lr=1e4', '--set', 'optimization.warmup=0', '--set', 'logging.checkpoint_every=1']));
  assert.is(r.code, 1, r.out);
  assert.match(r.out, /gradient norm is not finite \(encoder NaN, predictor NaN\) at epoch 1, itr 1 \(iteration 1\); stopping without an update\./);
  const st = readSafetensors(join(dir, 'jepa-latest.safetensors'));
  let bad = 0;
  for (const t of st.tensors.values()) if (t.dtype === 'float32') for (const v of t.data as Float32Array) if (!Number.isFinite(v)) bad++;
  assert.ok(st.tensors.size > 10);
  assert.is(bad, 0, 'no NaN reached the saved weights');
});

test('with data.synthetic set, a missing CSV other than the synthetic set\'s own is still an error', async () => {
  const dir = tempDir('typo-csv');
  const syn = join(dir, 'synth');
  const cfg = writeConfig(dir, tinyConfigYaml(join(dir, 'my-data.csv'), dir).replace('  batch_size: 2', `  synthetic: {dir: ${syn}, videos: 4, classes: 2, frames: 8, size: 32}\n  batch_size: 2`));
  const r = await finish(runTrain([cfg]));
  assert.is(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`data\\.datasets: ${join(dir, 'my-data.csv')} not found \\(data\\.synthetic creates only ${join(syn, 'train.csv')} and val\\.csv\\)`));
  assert.not.ok(existsSync(syn), 'no synthetic set was made');
});

test.run();
