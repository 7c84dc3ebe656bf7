// npm run bench: every figure side by side with its reference, measured in the same run,
// reported as a ratio (> 1 = ours better). `--only gemm,attention,...`, `--threads N`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { native } from '../lib/native.js';
import { ratio, type BenchRow } from './types.js';
import { ROOT } from './torch.js';

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const threads = Number(arg('threads') ?? 2);
const only = arg('only')?.split(',');
const want = (part: string) => !only || only.includes(part);
native.setNumThreads(threads);

const rows: BenchRow[] = [];
const t0 = Date.now();
function section(name: string) {
  process.stderr.write(`bench: ${name}…\n`);
}

if (want('gemm')) {
  section('GEMM');
  const { benchGemm } = await import('./gemm.js');
  rows.push(...(await benchGemm({ threads, torch: null })));
}
if (want('attention')) {
  section('attention');
  const { benchAttention } = await import('./attention.js');
  rows.push(...(await benchAttention({ threads })));
}
if (want('layernorm')) {
  section('layernorm');
  const { benchLayernorm } = await import('./layernorm.js');
  rows.push(...(await benchLayernorm({ threads })));
}
if (want('step')) {
  section('train step');
  const { benchStep } = await import('./step.js');
  rows.push(...(await benchStep({ threads })));
}
if (want('embed')) {
  section('frozen features');
  const { benchEmbed } = await import('./embed.js');
  rows.push(...(await benchEmbed({ threads })));
}
if (want('loader')) {
  section('loader');
  const { benchLoader } = await import('./loader.js');
  for (const r of await benchLoader())
    rows.push({ group: 'loader', name: r.name, unit: r.unit, ours: r.ours, reference: r.reference, referenceName: r.referenceName ?? 'ffmpeg decode ceiling', higherIsBetter: true });
}
if (want('transport')) {
  section('batch transport');
  const { benchTransport } = await import('./transport.js');
  rows.push(...(await benchTransport()));
}
if (want('memory')) {
  section('memory');
  const { benchMemory } = await import('./memory.js');
  rows.push(...(await benchMemory()));
}
if (want('step-memory')) {
  section('step memory');
  const { benchStepMemory } = await import('./step_memory.js');
  rows.push(...benchStepMemory());
}
if (want('checkpoint')) {
  section('checkpoint read');
  const { benchCheckpointRead } = await import('./checkpoint_read.js');
  rows.push(...benchCheckpointRead());
}

// On a CUDA machine the GPU bench follows (kernels against torch, then the ViT-L/16 train step
// against torch bf16 autocast + SDPA); it prints its own tables. Not under the CPU emulator.
const cuda = native.cudaInfo();
if (cuda.available && !cuda.emulated && want('gpu')) {
  section('GPU (test/gpu/bench.mjs, test/gpu/step_bench.mjs)');
  const { spawnSync } = await import('node:child_process');
  const { pathToFileURL } = await import('node:url');
  const gpuBench = await import(pathToFileURL(join(ROOT, 'test/gpu/bench.mjs')).href);
  await gpuBench.bench(native);
  spawnSync(process.execPath, [join(ROOT, 'test/gpu/step_bench.mjs')], { stdio: 'inherit' });
} else if (want('gpu')) {
  process.stderr.write(`bench: no GPU bench (${cuda.emulated ? 'the CUDA backend is the CPU emulator' : cuda.reason})\n`);
}

const fmt = (v: number | null) => (v === null ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const lines = [
  `vjepa bench — ${cpus()[0]?.model ?? 'cpu'}, ${threads} threads, ISA ${native.isa().active}, ${new Date().toISOString().slice(0, 10)}`,
  '',
  '| group | case | unit | vjepa | reference | ref. name | ratio |',
  '|---|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const q = ratio(r);
    return `| ${r.group} | ${r.name} | ${r.unit} | ${fmt(r.ours)} | ${fmt(r.reference)} | ${r.referenceName} | ${q === null ? '—' : q.toFixed(2) + '×'} |`;
  }),
  '',
  `ratio > 1 means vjepa is better (faster, or higher throughput). Took ${((Date.now() - t0) / 1000).toFixed(0)} s.`,
];
console.log(lines.join('\n'));
writeFileSync(join(ROOT, 'bench', 'last-results.md'), lines.join('\n') + '\n');
