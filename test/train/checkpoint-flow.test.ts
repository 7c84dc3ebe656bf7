// TRAIN-10 / TRAIN-12: meta.skip_batches on a resume, and a checkpoint that cannot be written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadPretrainConfig } from '../../lib/config/index.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { pretrain } from '../../lib/train/pretrain.js';
import { tempDir, tinyConfigYaml, tinyDataset, writeConfig } from './helpers.js';

async function run(dir: string, sets: string[], maxIterations?: number) {
  const csv = await tinyDataset();
  const { config } = loadPretrainConfig(writeConfig(dir, tinyConfigYaml(csv, dir)), ['optimization.epochs=2', ...sets]);
  const lines: string[] = [];
  const r = await pretrain(config, { log: (s) => lines.push(s), maxIterations });
  return { r, lines };
}

const latest = (dir: string) => readSafetensors(join(dir, 'jepa-latest.safetensors'));

function sameTensors(a: string, b: string): string[] {
  const ta = latest(a).tensors, tb = latest(b).tensors;
  const diff = [...ta.keys()].filter((k) => !Buffer.from(ta.get(k)!.data.buffer).equals(Buffer.from(tb.get(k)!.data.buffer)));
  return ta.size === tb.size && ta.size > 0 ? diff : ['(key sets differ)'];
}

test('skip_batches on a resume skips from where the run was, and the checkpoints carry the offset', async () => {
  const dir = tempDir('skip');
  const a = await run(dir, ['meta.skip_batches=1'], 1);
  assert.ok(a.lines.includes('data: skipping 1 batches (meta.skip_batches): iteration 0 trains on batch 1'), a.lines.join('\n'));
  // The original skips on every start: a resume past a bad batch. Here it skips from the exact position.
  const b = await run(dir, ['meta.skip_batches=1', 'meta.load_checkpoint=true'], 2);
  assert.ok(b.lines.includes('data: skipping 1 batches (meta.skip_batches): iteration 1 trains on batch 3'), b.lines.join('\n'));
  assert.is(JSON.parse(latest(dir).metadata.state).dataOffset, 2);
  // Resumed again without skip_batches, the stream keeps its offset.
  const c = await run(dir, ['meta.load_checkpoint=true'], 1);
  assert.ok(c.lines.some((l) => l.endsWith('at iteration 3 (epoch 1, itr 3); data at batch 5 (meta.skip_batches skipped 2 so far)')), c.lines.join('\n'));
  assert.not.ok(c.lines.some((l) => l.startsWith('data: skipping')));
  assert.is(JSON.parse(latest(dir).metadata.state).dataOffset, 2);
  // A run resumed at the same point with the same skips trains on the same batches, bit for bit.
  const again = tempDir('skip-again');
  await run(again, ['meta.skip_batches=1'], 1);
  await run(again, ['meta.skip_batches=1', 'meta.load_checkpoint=true'], 2);
  await run(again, ['meta.load_checkpoint=true'], 1);
  assert.equal(sameTensors(dir, again), []);
});

test('a checkpoint that cannot be written is logged and training goes on; a run whose last save failed ends with that error', async () => {
  const dir = tempDir('save-fails');
  // jepa-latest.safetensors as a directory: every save fails with EISDIR, whoever runs the test.
  mkdirSync(join(dir, 'jepa-latest.safetensors'), { recursive: true });
  let err: Error | null = null;
  const lines: string[] = [];
  const csv = await tinyDataset();
  const { config } = loadPretrainConfig(writeConfig(dir, tinyConfigYaml(csv, dir)), ['optimization.epochs=2']);
  try {
    await pretrain(config, { log: (s) => lines.push(s), overwrite: true });
  } catch (e) {
    err = e as Error;
  }
  const failures = lines.filter((l) => l.startsWith('checkpoint: could not write ') && l.endsWith('training goes on (any earlier jepa-latest.safetensors is intact) and the next save tries again'));
  assert.is(failures.length, 2, lines.join('\n'));
  assert.ok(lines.some((l) => /^epoch 1 done: .* \(not written: see above\)$/.test(l)), 'the first epoch ended and the second ran');
  assert.ok(err && /^checkpoint: could not write .*jepa-latest\.safetensors at iteration 8: .*; the run's last iterations are not saved$/.test(err.message), String(err?.message));
});

test.run();
