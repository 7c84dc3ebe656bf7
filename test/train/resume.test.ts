// TRAIN-13, made exact: a run killed with SIGKILL and resumed from its last checkpoint
// continues bit for bit as the uninterrupted run (same data order, masks, schedules and
// optimizer state); and a kill during checkpoint writes never leaves an unloadable file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { CsvLog } from '../../lib/train/log.js';
import { ROOT, finish, runTrain, tempDir, tinyConfigYaml, tinyDataset, writeConfig } from './helpers.js';

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out waiting');
    await sleep(20);
  }
}

function iterationOf(ckpt: string): number {
  return JSON.parse(readSafetensors(ckpt).metadata.state).iteration;
}

test('kill -9 then resume reproduces the uninterrupted run exactly', async () => {
  const csv = await tinyDataset();
  const fullDir = tempDir('full');
  const full = await finish(runTrain([writeConfig(fullDir, tinyConfigYaml(csv, fullDir))]));
  assert.is(full.code, 0, full.out);

  const dir = tempDir('killed');
  const cfg = writeConfig(dir, tinyConfigYaml(csv, dir));
  const ckpt = join(dir, 'jepa-latest.safetensors');
  const child = runTrain([cfg, '--set', 'logging.checkpoint_every=2']);
  const done = finish(child);
  await waitFor(() => existsSync(ckpt) && iterationOf(ckpt) >= 4, 120_000);
  child.kill('SIGKILL');
  const killed = await done;
  assert.is(killed.signal, 'SIGKILL');
  const at = iterationOf(ckpt);
  assert.ok(at < 12, `the kill came before the end (checkpoint at ${at})`);

  const resumed = await finish(runTrain([cfg, '--set', 'meta.load_checkpoint=true']));
  assert.is(resumed.code, 0, resumed.out);
  assert.match(resumed.out, new RegExp(`resume: .* at iteration ${at}`));

  const a = new CsvLog(join(fullDir, 'jepa_r0.csv')).read();
  const b = new CsvLog(join(dir, 'jepa_r0.csv')).read();
  assert.equal(b['iteration'], a['iteration'], 'the resumed log has every iteration once');
  assert.equal(b['loss'], a['loss'], 'every loss equals the uninterrupted run');
  assert.equal(b['lr'], a['lr']);
  // Weights after the last step: byte-identical.
  const wa = readSafetensors(join(fullDir, 'jepa-latest.safetensors')).tensors;
  const wb = readSafetensors(join(dir, 'jepa-latest.safetensors')).tensors;
  assert.equal([...wb.keys()].sort(), [...wa.keys()].sort());
  for (const [k, t] of wa) {
    const u = wb.get(k)!;
    assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)), `${k} differs after resume`);
  }
});

test('a kill during checkpoint writes leaves the previous checkpoint loadable', async () => {
  const csv = await tinyDataset();
  const dir = tempDir('killwrite');
  const cfg = writeConfig(dir, tinyConfigYaml(csv, dir));
  const ckpt = join(dir, 'jepa-latest.safetensors');
  let kills = 0;
  const stamp = () => (existsSync(ckpt) ? statSync(ckpt).mtimeMs : 0);
  for (const delay of [0, 7, 23, 61]) {
    const before = stamp();
    const child = runTrain([cfg, '--set', 'logging.checkpoint_every=1', '--set', `meta.load_checkpoint=${before > 0}`]);
    const done = finish(child);
    // Wait for this run's first checkpoint write, then kill around the next one.
    await waitFor(() => stamp() > before, 120_000);
    await sleep(delay);
    child.kill('SIGKILL');
    const r = await done;
    if (r.signal === 'SIGKILL') kills++;
    const file = readSafetensors(ckpt);
    assert.ok(file.tensors.size > 0, 'the checkpoint still parses');
    assert.is(file.metadata.format, 'vjepa-pretrain/1');
  }
  assert.ok(kills >= 3, `killed ${kills} runs mid-flight`);
  const rest = await finish(runTrain([cfg, '--set', 'meta.load_checkpoint=true']));
  assert.is(rest.code, 0, rest.out);
});

test("vjepa-train resumes the original's own checkpoint (.pth.tar: weights, AdamW state, epoch)", async () => {
  const csv = await tinyDataset();
  const dir = tempDir('from-original');
  const orig = join(ROOT, 'test/fixtures/original/original_tiny.pth.tar');
  // The architecture of reference/make_original_fixture.py: 6 frames at 32 px, D 64, predictor 32, 2 masks.
  const yaml = tinyConfigYaml(csv, dir, '')
    .replace('num_frames: 4', 'num_frames: 6')
    .replace(/model: \{[^}]*\}/, 'model: {model_name: vit_tiny, embed_dim: 64, depth: 2, num_heads: 2, pred_depth: 2, pred_embed_dim: 32, uniform_power: true}')
    .replace('ipe: 4', 'ipe: 2')
    .replace('meta: {', `meta: {load_checkpoint: true, read_checkpoint: ${orig}, `);
  const r = await finish(runTrain([writeConfig(dir, yaml), '--max-iterations', '1']));
  assert.is(r.code, 0, r.out);
  assert.match(r.out, `resume: ${orig} at iteration 2 (epoch 2, itr 0)`);
  assert.match(r.out, /from the original's checkpoint: AdamW state of \d+ tensors/);
  assert.match(r.out, /warning: .*global batch of 3; this run's is 2/);
  const ckpt = join(dir, 'jepa-latest.safetensors');
  assert.is(iterationOf(ckpt), 3);
  // the saved state goes on from the file's: the step counts of its AdamW state (2) plus this update
  const steps = JSON.parse(readSafetensors(ckpt).metadata.opt_steps) as Record<string, number>;
  assert.equal(new Set(Object.values(steps)), new Set([3]));
});

test.run();
