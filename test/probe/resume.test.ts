// EVAL-06: stop after epoch 1, resume from the probe checkpoint, and end exactly where an
// uninterrupted run ends (cached features; schedules fast-forwarded by start_epoch · ipe).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { runProbe } from '../../lib/probe/probe.js';
import { tinyConfig, tinySetup } from './helpers.js';

const setup = await tinySetup('vjepa-probe-resume-');
const headOf = (path: string) => new Map([...readSafetensors(path).tensors].filter(([k]) => k.startsWith('classifier.')));

test('stop after epoch 1 + resume == uninterrupted (weights, optimizer, CSV, results)', async () => {
  const common = { 'optimization.cache_features': true, 'optimization.num_epochs': 3 };
  const full = tinyConfig(setup, { ...common, 'pretrain.folder': join(setup.dir, 'full'), 'pretrain.checkpoint': setup.checkpoint });
  const a = await runProbe(full.config, full.ext, { log: () => undefined });

  const part = tinyConfig(setup, { ...common, 'pretrain.folder': join(setup.dir, 'part'), 'pretrain.checkpoint': setup.checkpoint, resume_checkpoint: true });
  const first = await runProbe(part.config, part.ext, { log: () => undefined, maxEpochs: 1 });
  assert.is(first.epochs, 1);
  assert.ok(first.stopped_early);
  const lines: string[] = [];
  const b = await runProbe(part.config, part.ext, { log: (s) => lines.push(s) });
  assert.ok(lines.some((l) => l.startsWith('resume:') && l.includes('after epoch 1')), lines.join('\n'));
  assert.is(b.epochs, 3);

  const ha = headOf(a.checkpoint);
  const hb = headOf(b.checkpoint);
  assert.is(ha.size, 17);
  for (const [k, v] of ha) assert.equal(Array.from(hb.get(k)!.data as Float32Array), Array.from(v.data as Float32Array), k);
  const oa = readSafetensors(a.checkpoint).tensors.get('opt.exp_avg_sq.pooler.query_tokens')!.data as Float32Array;
  const ob = readSafetensors(b.checkpoint).tensors.get('opt.exp_avg_sq.pooler.query_tokens')!.data as Float32Array;
  assert.equal(Array.from(ob), Array.from(oa));
  assert.is(b.val_top1, a.val_top1);
  assert.is(b.train_top1, a.train_top1);
  const rows = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 8).join(','));
  assert.equal(rows(b.csv), rows(a.csv));
  assert.is(JSON.parse(readFileSync(b.results, 'utf8')).val_top1, a.val_top1);
});

test.run();
