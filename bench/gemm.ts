// GEMM throughput (native gemm on the CPU) vs torch.mm at the same shapes and thread count.
// The four square-ish shapes are the acceptance bar; the `linear *` rows are one Linear
// layer's forward (y = x Wᵀ) and backward (dX = dY W, dW += dYᵀ X) at ViT-tiny training sizes.
// The bf16 rows (bf16 operands and output, fp32 accumulation: what autocast's projections run)
// set ours against torch.mm on bf16 tensors (oneDNN, with AVX512-BF16 where the CPU has it).
//   node dist/bench/gemm.js [--threads 2] [--no-torch]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, type TensorHandle } from '../lib/native.js';
import { printRows, type BenchRow } from './types.js';
import { torchInline, torchReference } from './torch.js';
import { bestSeconds, filled } from './timing.js';

/** The parsed JSON of `reference/bench_torch.py --json` (only the gemm part is read here). */
export interface TorchRef {
  gemm?: { m: number; n: number; k: number; gflops: number }[] | { error: string };
  [part: string]: unknown;
}

interface Shape {
  name: string;
  M: number; N: number; K: number;
  ta: boolean; tb: boolean; beta: number;
}

const SHAPES: Shape[] = [
  { name: '4096x384x384', M: 4096, N: 384, K: 384, ta: false, tb: false, beta: 0 },
  { name: '4096x1536x384', M: 4096, N: 1536, K: 384, ta: false, tb: false, beta: 0 },
  { name: '4096x384x1536', M: 4096, N: 384, K: 1536, ta: false, tb: false, beta: 0 },
  { name: '2048x2048x2048', M: 2048, N: 2048, K: 2048, ta: false, tb: false, beta: 0 },
  // Linear 192 -> 768 over 3136 tokens
  { name: 'linear fwd x·Wᵀ 3136x768x192', M: 3136, N: 768, K: 192, ta: false, tb: true, beta: 0 },
  { name: 'linear dX=dY·W 3136x192x768', M: 3136, N: 192, K: 768, ta: false, tb: false, beta: 0 },
  { name: 'linear dW+=dYᵀ·X 768x192x3136', M: 768, N: 192, K: 3136, ta: true, tb: false, beta: 1 },
  // smaller widths that also occur (qkv 192->576, proj 192->192, predictor 96->288)
  { name: 'linear fwd x·Wᵀ 3136x576x192', M: 3136, N: 576, K: 192, ta: false, tb: true, beta: 0 },
  { name: 'linear fwd x·Wᵀ 3136x192x192', M: 3136, N: 192, K: 192, ta: false, tb: true, beta: 0 },
  { name: 'linear fwd x·Wᵀ 1600x288x96', M: 1600, N: 288, K: 96, ta: false, tb: true, beta: 0 },
  { name: 'linear dW+=dYᵀ·X 192x192x3136', M: 192, N: 192, K: 3136, ta: true, tb: false, beta: 1 },
];

// bf16: the square shapes, then ViT-L/16's qkv and fc2 over one 16x224² clip (x Wᵀ)
const BF16_SHAPES: Shape[] = [
  ...SHAPES.slice(0, 4),
  { name: 'ViT-L qkv x·Wᵀ 1568x3072x1024', M: 1568, N: 3072, K: 1024, ta: false, tb: true, beta: 0 },
  { name: 'ViT-L fc2 x·Wᵀ 1568x1024x4096', M: 1568, N: 1024, K: 4096, ta: false, tb: true, beta: 0 },
];

const gflops = (s: Shape, sec: number): number => (2 * s.M * s.N * s.K) / sec / 1e9;



/** A bf16 copy of filled(shape, seed). */
function filledBf16(shape: number[], seed: number): TensorHandle {
  const f = filled(shape, seed), h = native.empty(shape, 'bfloat16');
  native.cast(f, h);
  f.dispose();
  return h;
}

function timeOurs(s: Shape, dtype: 'float32' | 'bfloat16' = 'float32'): number {
  const make = dtype === 'float32' ? filled : filledBf16;
  const A = make(s.ta ? [s.K, s.M] : [s.M, s.K], 1);
  const B = make(s.tb ? [s.N, s.K] : [s.K, s.N], 2);
  const C = make([s.M, s.N], 3);
  try {
    // dW accumulation (beta = 1) grows C a little per run; harmless for timing.
    return gflops(s, bestSeconds(() => native.gemm(A, B, C, s.ta, s.tb, 1, s.beta, null), { warmup: 2, minReps: 5, maxReps: 200 }));
  } finally {
    A.dispose();
    B.dispose();
    C.dispose();
  }
}

const PY_FALLBACK = `
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
out = {}
dtype = getattr(torch, sys.argv[3])
for name, m, n, k, ta, tb, beta in json.loads(sys.argv[2]):
    a = (torch.randn(k, m) if ta else torch.randn(m, k)).to(dtype)
    b = (torch.randn(n, k) if tb else torch.randn(k, n)).to(dtype)
    c = torch.randn(m, n).to(dtype)
    A = a.t() if ta else a
    B = b.t() if tb else b
    f = (lambda: c.addmm_(A, B)) if beta else (lambda: torch.mm(A, B, out=c))
    for _ in range(2): f()
    best, total, reps = 1e9, 0.0, 0
    while reps < 5 or (total < 1.0 and reps < 200):
        t0 = time.perf_counter(); f(); dt = time.perf_counter() - t0
        best = min(best, dt); total += dt; reps += 1
    out[name] = 2.0 * m * n * k / best / 1e9
print(json.dumps(out))
`;

/** torch GFLOP/s for the given shapes by an inline python (null entries when python/torch are missing). */
function torchInlineGemm(shapes: Shape[], threads: number, dtype: 'float32' | 'bfloat16' = 'float32'): Map<string, number> {
  if (shapes.length === 0) return new Map();
  const arg = JSON.stringify(shapes.map((s) => [s.name, s.M, s.N, s.K, s.ta, s.tb, s.beta]));
  return new Map(Object.entries(torchInline(PY_FALLBACK, [String(threads), arg, dtype], 300_000)));
}

/** reference/bench_torch.py's gemm part (null when torch or the script is unavailable). */
export function loadTorchRef(threads: number): TorchRef | null {
  const gemm = torchReference('gemm', threads);
  return gemm ? { gemm } : null;
}

function fromRef(ref: TorchRef | null, s: Shape): number | null {
  if (!ref || !Array.isArray(ref.gemm) || s.ta || s.tb || s.beta !== 0) return null;
  const row = ref.gemm.find((r) => r.m === s.M && r.n === s.N && r.k === s.K);
  return row && typeof row.gflops === 'number' ? row.gflops : null;
}

export async function benchGemm(opts: { threads: number; torch: TorchRef | null }): Promise<BenchRow[]> {
  const t0 = native.numThreads();
  native.setNumThreads(opts.threads);
  try {
    const ours = SHAPES.map((s) => timeOurs(s));
    // Shapes the reference JSON does not cover (the transposed Linear ones) are timed inline.
    const missing = SHAPES.filter((s) => fromRef(opts.torch, s) === null);
    const inline = torchInlineGemm(missing, opts.threads);
    const fp32 = SHAPES.map((s, i): BenchRow => ({
      group: 'gemm',
      name: s.name,
      unit: 'GFLOP/s',
      ours: ours[i],
      reference: fromRef(opts.torch, s) ?? inline.get(s.name) ?? null,
      referenceName: `torch fp32 (${opts.threads} threads)`,
      higherIsBetter: true,
    }));
    const ours16 = BF16_SHAPES.map((s) => timeOurs(s, 'bfloat16'));
    const torch16 = torchInlineGemm(BF16_SHAPES, opts.threads, 'bfloat16');
    const bf16 = BF16_SHAPES.map((s, i): BenchRow => ({
      group: 'gemm',
      name: `bf16 ${s.name} (${native.isa().active})`,
      unit: 'GFLOP/s',
      ours: ours16[i],
      reference: torch16.get(s.name) ?? null,
      referenceName: `torch bf16 (${opts.threads} threads)`,
      higherIsBetter: true,
    }));
    return [...fp32, ...bf16];
  } finally {
    native.setNumThreads(t0);
  }
}


if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--threads');
  const threads = ti >= 0 ? Number(args[ti + 1]) : 2;
  if (!(threads >= 1)) throw new Error(`bench/gemm: --threads must be a positive integer, got ${args[ti + 1]}`);
  const noTorch = args.includes('--no-torch');
  const ref = noTorch ? null : loadTorchRef(threads);
  const rows = await benchGemm({ threads, torch: ref });
  if (noTorch) for (const r of rows) r.reference = null;
  console.log(`isa ${native.isa().active}, ${threads} threads, torch reference: ${ref ? 'reference/bench_torch.py' : 'inline python'}${noTorch ? ' (off)' : ''}`);
  printRows(rows, 'shape (MxNxK)', 1);
}
