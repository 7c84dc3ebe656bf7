// meta.device for the trainer. Without CUDA: the refusals. With it (a GPU, or the CPU emulator of
// test/native/cuda_emu.test.ts): vjepa-train on cuda against the CPU. The step-level comparison
// is test/gpu/step.mjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../lib/native.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { add } from '../../lib/ops/elementwise.js';
import { Linear } from '../../lib/nn/linear.js';
import { InitRng } from '../../lib/nn/init.js';
import { selectDevice } from '../../lib/device.js';
import { finish, runTrain, tempDir, tinyConfigYaml, tinyDataset, writeConfig } from './helpers.js';

const cuda = native.cudaInfo();

test('cpu selects the CPU; a malformed device names meta.device and the accepted forms', () => {
  assert.is(selectDevice('cpu'), 'cpu');
  assert.is(selectDevice('cpu', { cudaSupported: true }), 'cpu');
  for (const bad of ['gpu', 'cuda:', 'cuda:x', 'CUDA'])
    assert.throws(() => selectDevice(bad, { cudaSupported: true }), (e: Error) => e.message === `meta.device: expected 'cpu', 'cuda' or 'cuda:N', got '${bad}'`);
});

test('without a usable GPU, cuda and cuda:N name meta.device and the reason', () => {
  if (cuda.available) return;
  assert.ok(cuda.reason.length > 0, 'cudaInfo gives a reason');
  for (const d of ['cuda', 'cuda:0', 'cuda:1'])
    for (const cudaSupported of [true, false])
      assert.throws(() => selectDevice(d, { cudaSupported }), (e: Error) => e.message === `meta.device: '${d}' was asked for, but ${cuda.reason}`);
});

test('with a GPU: cuda resolves to cuda:0, a missing index is refused, callers without a CUDA path refuse', () => {
  if (!cuda.available) return;
  assert.is(selectDevice('cuda', { cudaSupported: true }), 'cuda:0');
  assert.is(selectDevice('cuda:0', { cudaSupported: true }), 'cuda:0');
  assert.throws(() => selectDevice('cuda:63', { cudaSupported: true }), /meta\.device: 'cuda:63' cannot be used: /);
  assert.throws(() => selectDevice('cuda'), /meta\.device: 'cuda': this command has no CUDA path/);
});

test('vjepa-train with meta.device: cuda on a machine without a GPU stops before training, naming the reason', async () => {
  if (cuda.available) return;
  const csv = await tinyDataset();
  const dir = tempDir('cuda');
  const r = await finish(runTrain([writeConfig(dir, tinyConfigYaml(csv, dir)), '--set', 'meta.device=cuda:0']));
  assert.is(r.code, 1, r.out);
  assert.ok(r.out.includes(`vjepa-train: meta.device: 'cuda:0' was asked for, but ${cuda.reason}`), r.out);
  assert.not.ok(existsSync(join(dir, 'jepa-latest.safetensors')));
});

function csvColumn(dir: string, name: string): number[] {
  const [head, ...rows] = readFileSync(join(dir, 'jepa_r0.csv'), 'utf8').trim().split('\n');
  const col = head.split(',').indexOf(name);
  assert.ok(col >= 0, `no column ${name}`);
  return rows.map((r) => Number(r.split(',')[col]));
}
const csvLosses = (dir: string) => csvColumn(dir, 'loss');

test('with a GPU: vjepa-train on cuda logs the CPU run\'s losses (fp32), and bf16 mixed precision stays within 1e-2', async () => {
  if (!cuda.available) return;
  const csv = await tinyDataset();
  const run = async (device: string, dtype = 'float32') => {
    const dir = tempDir(`train-${device.replace(':', '')}-${dtype}`);
    const r = await finish(runTrain([writeConfig(dir, tinyConfigYaml(csv, dir)), '--set', `meta.device=${device}`, '--set', `meta.dtype=${dtype}`, '--set', 'optimization.epochs=1']));
    assert.is(r.code, 0, r.out);
    return { losses: csvLosses(dir), gpuMs: csvColumn(dir, 'gpu-time(ms)'), wallMs: csvColumn(dir, 'wall-time(ms)'), out: r.out };
  };
  const cpu = await run('cpu');
  const gpu = await run('cuda');
  assert.is(gpu.losses.length, 4);
  // TRAIN-11: gpu-time(ms) is -1 without CUDA; on it, the step's time on the stream (CUDA events), within the wall time
  assert.equal(cpu.gpuMs, [-1, -1, -1, -1]);
  gpu.gpuMs.forEach((g, i) => assert.ok(g >= 0 && g <= gpu.wallMs[i] + 1, `iteration ${i}: gpu ${g} ms, wall ${gpu.wallMs[i]} ms`));
  assert.ok(gpu.gpuMs.some((g) => g > 0), `gpu-time all 0: ${gpu.gpuMs}`);
  assert.match(gpu.out, /ms\/it \(data \d+, gpu \d+\)/);
  gpu.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.losses[i]) <= 1e-4 * Math.abs(cpu.losses[i]), `iteration ${i}: ${l} on cuda vs ${cpu.losses[i]}`));
  const bf16 = await run('cuda:0', 'bfloat16');
  assert.match(bf16.out, /meta\.dtype: bfloat16 mixed precision/);
  // the attention tuner chose for the encoder's and the predictor's head_dim, or the environment did
  assert.match(bf16.out, /attention kernels, head_dim \d+ \(\d+ heads, \d+ tokens, batch \d+\): forward (mma|wgmma), backward (split|fused|wgmma)|attention kernels: from the environment/);
  bf16.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.losses[i]) <= 1e-2 * Math.abs(cpu.losses[i]), `bf16 iteration ${i}: ${l} vs ${cpu.losses[i]}`));
  assert.not.equal(bf16.losses, gpu.losses, 'bf16 losses equal fp32: the bf16 path did not run');
});

test('moveTo keeps the object; to the same device it is a no-op', () => {
  const t = Tensor.from([1, 2, 3], [3]);
  const h = t.handle;
  assert.is(t.moveTo('cpu'), t);
  assert.is(t.handle, h);
  t.dispose();
  const lin = new Linear(4, 3, new InitRng(1));
  const w = lin.weight;
  const before = w.toFloat32Array();
  assert.is(lin.to('cpu'), lin);
  assert.is(lin.weight, w);
  assert.equal(w.toFloat32Array(), before);
  lin.dispose();
});

test('a failed move leaves the tensor as it was; recorded outputs cannot move', () => {
  const t = Tensor.from([1, 2, 3], [3]);
  if (!cuda.available) {
    assert.throws(() => t.moveTo('cuda:0'), (e: Error) => e.message.includes(cuda.reason));
    assert.is(t.device, 'cpu');
    assert.equal(Array.from(t.toFloat32Array()), [1, 2, 3]);
  }
  t.requiresGrad = true;
  tidy(() => {
    const y = add(t, t);
    assert.throws(() => y.moveTo('cpu'), /moveTo: .* only leaves can move/);
  });
  t.dispose();
});

test.run();
