// LayerNorm forward + backward throughput against torch's F.layer_norm in the same run.
// Bytes model (shared with reference/bench_torch.py): 5 * rows * dim * 4 (fwd reads x, writes y;
// bwd reads x and dy, writes dx), so the two GB/s figures are directly comparable.
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { native } from '../lib/native.js';
import { ratio, type BenchRow } from './types.js';
import { torchInline, torchReference } from './torch.js';

const SHAPES: [number, number][] = [
  [8 * 392, 192], // vit_tiny bench step: 8 clips x 392 tokens
  [3136, 768], // ViT-B width
];
const EPS = 1e-6;
const REF_NAME = 'torch F.layer_norm fp32 fwd+bwd';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const gbps = (rows: number, dim: number, sec: number) => (5 * rows * dim * 4) / sec / 1e9;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function oursSeconds(rows: number, dim: number): number {
  const mk = (shape: number[], fill?: (i: number) => number) => {
    const h = native.empty(shape, 'float32');
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (fill) for (let i = 0; i < n; i++) a[i] = fill(i);
    h.write(a);
    return h;
  };
  const x = mk([rows, dim], (i) => Math.sin(i * 0.37) * 2 + 0.1);
  const dy = mk([rows, dim], (i) => Math.cos(i * 0.11));
  const w = mk([dim], () => 1), b = mk([dim]);
  const y = mk([rows, dim]), dx = mk([rows, dim]), mean = mk([rows]), rstd = mk([rows]), dw = mk([dim]), db = mk([dim]);
  const step = () => {
    native.layernormFwd(x, w, b, y, mean, rstd, EPS);
    native.layernormBwd(dy, x, w, mean, rstd, dx, dw, db);
  };
  for (let i = 0; i < 10; i++) step();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < 30 || (performance.now() - t0 < 300 && times.length < 2000)) {
    const s = performance.now();
    step();
    times.push((performance.now() - s) / 1e3);
  }
  for (const h of [x, dy, w, b, y, dx, mean, rstd, dw, db]) h.dispose();
  return median(times);
}

// Same method as reference/bench_torch.py's bench_layernorm, for the shapes it does not cover.
const INLINE = `
import json, statistics, sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(int(sys.argv[1]))
out = {}
for spec in sys.argv[2:]:
    rows, dim = map(int, spec.split('x'))
    x = torch.randn(rows, dim, requires_grad=True)
    w = torch.ones(dim, requires_grad=True)
    b = torch.zeros(dim, requires_grad=True)
    go = torch.randn(rows, dim)
    def fb():
        x.grad = w.grad = b.grad = None
        F.layer_norm(x, (dim,), w, b, 1e-6).backward(go)
    for _ in range(5): fb()
    ts = []
    for _ in range(30):
        t0 = time.perf_counter(); fb(); ts.append(time.perf_counter() - t0)
    out[spec] = statistics.median(ts)
print(json.dumps(out))
`;

/** Median seconds of torch's fwd+bwd per shape ('RxD'); missing entries when torch cannot run. */
function torchSeconds(threads: number): Map<string, number> {
  const res = new Map<string, number>();
  const ln = torchReference('layernorm', threads);
  if (ln && typeof ln.fwd_bwd_ms === 'number') res.set(`${ln.rows}x${ln.dim}`, ln.fwd_bwd_ms / 1e3);
  const missing = SHAPES.map(([r, d]) => `${r}x${d}`).filter((k) => !res.has(k));
  if (missing.length) for (const [k, v] of Object.entries(torchInline(INLINE, [String(threads), ...missing], 120_000))) res.set(k, v as number);
  return res;
}

export async function benchLayernorm(opts: { threads: number }): Promise<BenchRow[]> {
  const before = native.numThreads();
  native.setNumThreads(opts.threads);
  let ours: number[];
  try {
    ours = SHAPES.map(([r, d]) => oursSeconds(r, d));
  } finally {
    native.setNumThreads(before);
  }
  const ref = torchSeconds(opts.threads);
  return SHAPES.map(([rows, dim], i) => {
    const t = ref.get(`${rows}x${dim}`);
    return {
      group: 'layernorm',
      name: `${rows}x${dim} fwd+bwd`,
      unit: 'GB/s',
      ours: gbps(rows, dim, ours[i]),
      reference: t === undefined ? null : gbps(rows, dim, t),
      referenceName: REF_NAME,
      higherIsBetter: true,
    };
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const ti = process.argv.indexOf('--threads');
  const threads = ti > 0 ? Number(process.argv[ti + 1]) : 2;
  const rows = await benchLayernorm({ threads });
  console.log(`layernorm fwd+bwd, ${threads} thread(s), isa ${native.isa().active}`);
  for (const r of rows) {
    const q = ratio(r);
    console.log(
      `${r.name.padEnd(22)} ours ${r.ours.toFixed(1).padStart(6)} ${r.unit}   ${r.referenceName}: ` +
        `${r.reference === null ? 'n/a' : `${r.reference.toFixed(1)} ${r.unit}`}   ratio ${q === null ? 'n/a' : q.toFixed(2)}`,
    );
  }
}
