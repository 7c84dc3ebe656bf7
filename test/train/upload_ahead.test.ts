// The trainer's upload-ahead loop (PretrainOptions.uploadAhead, on by default for CUDA): batch
// i+1 is fetched, masked and uploaded before step i runs. Forced on here on the CPU, it must
// give the same run bit for bit, checkpoint the mask counters of the batch that was trained
// (not of the one fetched ahead) so that a resume continues exactly, and free every tensor.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { loadPretrainConfig } from '../../lib/config/index.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { pretrain } from '../../lib/train/pretrain.js';
import { CsvLog } from '../../lib/train/log.js';
import { fileURLToPath } from 'node:url';
import { Tensor, memoryStats } from '../../lib/tensor.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { pretrainStep } from '../../lib/train/iteration.js';
import { loadParityFixture } from '../model/parity-fixture.js';
import { tempDir, tinyConfigYaml, tinyDataset, writeConfig } from './helpers.js';

async function run(name: string, uploadAhead: boolean, sets: string[] = [], maxIterations?: number, dir = tempDir(name)) {
  const csv = await tinyDataset();
  const { config } = loadPretrainConfig(writeConfig(dir, tinyConfigYaml(csv, dir)), ['optimization.epochs=2', ...sets]);
  const lines: string[] = [];
  const r = await pretrain(config, { log: (s) => lines.push(s), uploadAhead, maxIterations });
  return { dir, r, lines };
}

function weights(dir: string) {
  return readSafetensors(join(dir, 'jepa-latest.safetensors'));
}

function sameWeights(a: string, b: string, what: string) {
  const wa = weights(a).tensors;
  const wb = weights(b).tensors;
  assert.equal([...wb.keys()].sort(), [...wa.keys()].sort());
  for (const [k, t] of wa) {
    const u = wb.get(k)!;
    assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)), `${what}: ${k} differs`);
  }
}

test('upload-ahead gives the same run, checkpoints and resumes exactly, and frees every tensor', async () => {
  const live = memoryStats().liveTensors;
  // save_every_freq=1 also writes jepa-e0 after iteration 4, while batch 5 is already uploaded.
  const plain = await run('ahead-off', false, ['meta.save_every_freq=1']);
  const ahead = await run('ahead-on', true, ['meta.save_every_freq=1']);
  assert.is(plain.r.iterations, 8);
  assert.is(ahead.r.iterations, 8);
  const a = new CsvLog(plain.r.csv).read();
  const b = new CsvLog(ahead.r.csv).read();
  assert.equal(b['loss'], a['loss'], 'every loss is the same');
  assert.equal(b['encGradNorm'], a['encGradNorm']);
  // The epoch line gives the save its own time; the iteration lines keep per-step times.
  assert.ok(plain.lines.some((l) => /^epoch 1 done: avg loss \d+\.\d{5}; checkpoint \S+jepa-latest\.safetensors \(\d+\.\d\d s\)$/.test(l)), plain.lines.join('\n'));
  sameWeights(plain.dir, ahead.dir, 'upload-ahead');
  const e0 = JSON.parse(readSafetensors(join(ahead.dir, 'jepa-e0.safetensors')).metadata.state);
  assert.is(e0.iteration, 4);
  assert.equal(e0.maskCounters, [3, 3], 'the counters of the 4th batch, not of the 5th fetched ahead');
  assert.equal(e0.maskCounters, JSON.parse(readSafetensors(join(plain.dir, 'jepa-e0.safetensors')).metadata.state).maskCounters);

  // Resumed from that mid-run checkpoint, the run continues exactly.
  const rest = await run('ahead-on', true, ['meta.load_checkpoint=true', 'meta.read_checkpoint=jepa-e0.safetensors'], undefined, ahead.dir);
  assert.is(rest.r.iterations, 4);
  assert.ok(rest.lines.some((l) => /resume: .*jepa-e0\.safetensors at iteration 4/.test(l)), rest.lines.join('\n'));
  assert.equal(new CsvLog(rest.r.csv).read()['loss'], a['loss'], 'the resumed run continues exactly');
  sameWeights(plain.dir, ahead.dir, 'resumed');

  // Stopped by maxIterations: nothing is fetched past the last step, the checkpoint is exact.
  const stopped = await run('ahead-stop', true, [], 3);
  assert.is(stopped.r.iterations, 3);
  assert.equal(JSON.parse(weights(stopped.dir).metadata.state).maskCounters, [2, 2]);
  assert.is(memoryStats().liveTensors, live, 'the loop disposed every batch it uploaded');
});

test('pretrainStep calls the overlap hook once, before the loss is read back', () => {
  const fixture = loadParityFixture(fileURLToPath(new URL('../../../test/fixtures/parity/', import.meta.url)));
  const h = (n: string) => fixture.tensors.get(n)!;
  const model = fixture.buildModel();
  const opt = new AdamW(model.paramGroups(), { betas: [0.9, 0.999], eps: 1e-8 });
  const clips = Tensor.fromHostAsync(h('x').data as Float32Array, h('x').shape);
  const masks = [0, 1].map((i) => ({
    ctx: Tensor.fromHostAsync(h(`mask.ctx_${i}`).data as Int32Array, h(`mask.ctx_${i}`).shape),
    tgt: Tensor.fromHostAsync(h(`mask.tgt_${i}`).data as Int32Array, h(`mask.tgt_${i}`).shape),
  }));
  const events: string[] = [];
  const rec = pretrainStep(model, opt, clips, masks, {
    lossExp: 1,
    regCoeff: 0,
    lr: 1e-3,
    wd: 0.04,
    momentum: 0.99,
    clipGrad: null,
    overlap: () => events.push('overlap'),
    checkLoss: () => events.push('loss'),
  });
  assert.equal(events, ['overlap', 'loss']);
  assert.ok(Number.isFinite(rec.loss));
  for (const t of [clips, ...masks.flatMap((m) => [m.ctx, m.tgt])]) t.dispose();
  model.dispose();
  opt.dispose();
});

test.run();
