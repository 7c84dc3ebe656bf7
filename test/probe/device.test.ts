// meta.device for the probe: what can be checked without a GPU (the step-level CUDA comparison is
// test/gpu/probe.mjs, run by test/gpu/run.sh on a CUDA machine).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { native } from '../../lib/native.js';
import { isas } from '../native/kernels/reference.js';
import { memoryStats } from '../../lib/tensor.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { probePaths, runProbe } from '../../lib/probe/probe.js';
import { tinyConfig, tinyRaw, tinySetup } from './helpers.js';
import { settle } from '../helpers/gc.js';
import { runNode } from '../helpers/spawn.js';

const cuda = native.cudaInfo();
const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const PROBE_BIN = join(ROOT, 'dist/bin/vjepa-probe.js');

// Paths that do not exist: the device check must come before data, checkpoint or output.
const nowhere = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-probe-device-'));
  return { dir: join(dir, 'out'), trainCsv: join(dir, 'train.csv'), valCsv: join(dir, 'val.csv') };
};

test('without a usable GPU, cuda and cuda:N name meta.device and the reason, before any output', async () => {
  if (cuda.available) return;
  assert.ok(cuda.reason.length > 0, 'cudaInfo gives a reason');
  for (const d of ['cuda', 'cuda:0', 'cuda:1']) {
    const s = nowhere();
    const { config, ext } = tinyConfig(s, { 'meta.device': d });
    const lines: string[] = [];
    try {
      await runProbe(config, ext, { log: (l) => lines.push(l) });
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.is((e as Error).message, `meta.device: '${d}' was asked for, but ${cuda.reason}`);
    }
    assert.equal(lines, []);
    assert.not.ok(existsSync(probePaths(config).folder));
  }
});

test('vjepa-probe with meta.device: cuda on a machine without a GPU exits 1 naming the reason', async () => {
  if (cuda.available) return;
  const s = nowhere();
  const file = join(mkdtempSync(join(tmpdir(), 'vjepa-probe-device-cli-')), 'probe.yaml');
  writeFileSync(file, stringify(tinyRaw(s)));
  const { code, out } = await runNode(PROBE_BIN, [file, '--set', 'meta.device=cuda:0']);
  assert.is(code, 1, out);
  assert.ok(out.includes(`vjepa-probe: meta.device: 'cuda:0' was asked for, but ${cuda.reason}`), out);
  assert.not.ok(existsSync(s.dir));
});

test('a CPU run frees every native tensor it allocates without waiting for the GC', async () => {
  const setup = await tinySetup('vjepa-probe-device-mem-');
  for (const cache of [false, true]) {
    const { config, ext } = tinyConfig(setup, { 'optimization.cache_features': cache, 'pretrain.checkpoint': setup.checkpoint });
    await settle(); // earlier garbage is not ours to count
    const before = memoryStats();
    await runProbe(config, ext, { log: () => undefined, overwrite: true }); // the second run replaces the first
    const after = memoryStats();
    assert.is(after.liveTensors, before.liveTensors, `cache_features ${cache}: live tensors`);
    assert.is(after.cpuBytes, before.cpuBytes, `cache_features ${cache}: live CPU bytes`);
  }
});

test('use_bfloat16 on the CPU: bf16 mixed precision with AVX512-BF16 (within bf16 accuracy of fp32), fp32 without', async () => {
  const setup = await tinySetup('vjepa-probe-device-bf16-');
  const run = async (extra: Record<string, unknown>) => {
    const { config, ext } = tinyConfig(setup, { 'pretrain.checkpoint': setup.checkpoint, ...extra });
    const lines: string[] = [];
    const r = await runProbe(config, ext, { log: (l) => lines.push(l) });
    return { r, lines };
  };
  try {
    // the CPU's two best instruction sets: avx512 and avx512bf16 here
    for (const isa of isas({ bf16Dot: true }).slice(-2)) {
      native.setIsa(isa);
      const fp32 = await run({ 'pretrain.folder': join(setup.dir, `fp32-${isa}`) });
      const bf = await run({ 'optimization.use_bfloat16': true, 'pretrain.folder': join(setup.dir, `bf16-${isa}`) });
      const said = bf.lines.filter((l) => l.startsWith('optimization.use_bfloat16:')).join(' | ');
      if (isa === 'avx512bf16') {
        assert.match(said, /bf16 mixed precision on the CPU \(AVX512-BF16\)/);
        assert.ok(Math.abs(bf.r.train_loss - fp32.r.train_loss) <= 1e-2 * Math.abs(fp32.r.train_loss), `bf16 train loss ${bf.r.train_loss} vs ${fp32.r.train_loss}`);
        assert.ok(Math.abs(bf.r.val_loss - fp32.r.val_loss) <= 1e-2 * Math.abs(fp32.r.val_loss), `bf16 val loss ${bf.r.val_loss} vs ${fp32.r.val_loss}`);
        assert.is.not(bf.r.train_loss, fp32.r.train_loss, 'bf16 was applied');
      } else {
        assert.match(said, new RegExp(`ignored on this CPU \\(${isa}, no AVX512-BF16`));
        assert.is(bf.r.train_loss, fp32.r.train_loss, 'fp32 as asked for nothing');
        assert.is(bf.r.val_loss, fp32.r.val_loss);
      }
    }
  } finally {
    native.setIsa('auto');
  }
});

test('test/gpu/probe.mjs runs as a CPU-vs-CPU self-check (so the GPU script stays runnable)', async () => {
  const { code, out } = await runNode(join(ROOT, 'test/gpu/probe.mjs'), [], { ...process.env, VJEPA_GPU_DEVICE: 'cpu' });
  assert.is(code, 0, out);
  assert.match(out, /self-check: the CPU on both sides/);
  assert.match(out, /\n(\d+)\/\1 checks passed/);
});

test('with a GPU: a missing index is refused; the tiny probe on cuda matches the CPU and frees its device memory', async () => {
  if (!cuda.available) return;
  const setup = await tinySetup('vjepa-probe-device-gpu-');
  const bad = tinyConfig(setup, { 'meta.device': 'cuda:63' });
  await runProbe(bad.config, bad.ext, { log: () => undefined }).then(
    () => assert.unreachable('cuda:63 should be refused'),
    (e: Error) => assert.match(e.message, /meta\.device: 'cuda:63' cannot be used: /),
  );
  const run = async (device: string, extra: Record<string, unknown> = {}) => {
    const { config, ext } = tinyConfig(setup, { 'meta.device': device, 'pretrain.folder': join(setup.dir, device.replace(':', '-')), 'pretrain.checkpoint': setup.checkpoint, ...extra });
    const lines: string[] = [];
    const r = await runProbe(config, ext, { log: (l) => lines.push(l), overwrite: true }); // each cache mode reruns in the folder
    return { r, lines, head: new Map([...readSafetensors(r.checkpoint).tensors].filter(([k]) => k.startsWith('classifier.') || k.startsWith('opt.'))) };
  };
  for (const cache of [false, true]) {
    const cpu = await run('cpu', { 'optimization.cache_features': cache });
    await settle();
    const base = memoryStats().cudaBytes;
    const gpu = await run('cuda', { 'optimization.cache_features': cache });
    assert.is(memoryStats().cudaBytes, base, 'device bytes left after the run');
    assert.ok(Math.abs(gpu.r.train_loss - cpu.r.train_loss) <= 2e-4, `train loss ${gpu.r.train_loss} vs ${cpu.r.train_loss}`);
    assert.ok(Math.abs(gpu.r.val_loss - cpu.r.val_loss) <= 2e-4, `val loss ${gpu.r.val_loss} vs ${cpu.r.val_loss}`);
    for (const [k, v] of cpu.head) {
      const a = v.data as Float32Array;
      const b = gpu.head.get(k)!.data as Float32Array;
      let d = 0;
      let m = 0;
      for (let i = 0; i < a.length; i++) {
        d = Math.max(d, Math.abs(a[i] - b[i]));
        m = Math.max(m, Math.abs(a[i]));
      }
      // Parameters to 1e-4; AdamW moments relative to each tensor's max (as test/gpu/step.mjs).
      assert.ok(k.startsWith('opt.') ? d <= 1e-2 * m : d <= 1e-4, `${k}: max |cpu - cuda| ${d} (max |cpu| ${m})`);
    }
  }
  // use_bfloat16: bf16 mixed precision on the GPU, within bf16 accuracy of the fp32 CPU run.
  {
    const cpu = await run('cpu');
    const gpu = await run('cuda', { 'optimization.use_bfloat16': true, 'pretrain.folder': join(setup.dir, 'bf16') });
    assert.ok(gpu.lines.some((l) => l.includes('optimization.use_bfloat16: bf16 mixed precision on cuda:0')), gpu.lines.join('\n'));
    assert.ok(Math.abs(gpu.r.train_loss - cpu.r.train_loss) <= 1e-2 * Math.abs(cpu.r.train_loss), `bf16 train loss ${gpu.r.train_loss} vs ${cpu.r.train_loss}`);
  }
  // Resume on the GPU: stop after epoch 1, resume onto the device, end where the full run ends.
  const common = { 'optimization.cache_features': true, 'optimization.num_epochs': 3 };
  const full = await run('cuda', { ...common, 'pretrain.folder': join(setup.dir, 'full') });
  const part = { ...common, 'pretrain.folder': join(setup.dir, 'part'), resume_checkpoint: true };
  const { config, ext } = tinyConfig(setup, { 'meta.device': 'cuda', 'pretrain.checkpoint': setup.checkpoint, ...part });
  await runProbe(config, ext, { log: () => undefined, maxEpochs: 1 });
  const resumed = await run('cuda', part);
  assert.ok(resumed.lines.some((l) => l.startsWith('resume:') && l.includes('after epoch 1')), resumed.lines.join('\n'));
  for (const [k, v] of full.head) assert.equal(Array.from(resumed.head.get(k)!.data as Float32Array), Array.from(v.data as Float32Array), k);
});

test.run();
