// Attention forward + backward (fused CPU kernel) vs torch's F.scaled_dot_product_attention
// fwd + bwd (fp32, same thread count) in the same run. Ours reads q/k/v in place from a fused
// [B, N, 3D] (self) or q [B, Nq, D] + kv [B, Nk, 2D] (cross) buffer, as the model does.
//   node dist/bench/attention.js [--threads 2] [--no-torch]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, type TensorHandle } from '../lib/native.js';
import { printRows, type BenchRow } from './types.js';
import { torchInline, torchReference } from './torch.js';
import { bestSeconds, filled } from './timing.js';

interface Shape {
  name: string;
  B: number; H: number; hd: number; Nq: number; Nk: number;
  self: boolean;
}

const SHAPES: Shape[] = [
  // acceptance: the bench step's encoder attention (reference/bench_torch.py ATTN)
  { name: 'self B8 H3 N392 hd64', B: 8, H: 3, hd: 64, Nq: 392, Nk: 392, self: true },
  // predictor-like (pred_embed_dim 96, 3 heads)
  { name: 'self B8 H3 N200 hd32', B: 8, H: 3, hd: 32, Nq: 200, Nk: 200, self: true },
  { name: 'self B8 H3 N304 hd32', B: 8, H: 3, hd: 32, Nq: 304, Nk: 304, self: true },
  // attentive probe pooler: one query over all tokens
  { name: 'cross B8 H3 Nq1 Nk392 hd64', B: 8, H: 3, hd: 64, Nq: 1, Nk: 392, self: false },
  { name: 'cross B8 H3 Nq1 Nk512 hd64', B: 8, H: 3, hd: 64, Nq: 1, Nk: 512, self: false },
  { name: 'cross B8 H3 Nq1 Nk1568 hd64', B: 8, H: 3, hd: 64, Nq: 1, Nk: 1568, self: false },
  { name: 'cross B1 H3 Nq1 Nk1568 hd64', B: 1, H: 3, hd: 64, Nq: 1, Nk: 1568, self: false },
];
const MAIN = SHAPES[0];



function timeOurs(s: Shape): number {
  const D = s.H * s.hd, scale = 1 / Math.sqrt(s.hd);
  const hs: TensorHandle[] = [];
  const keep = (h: TensorHandle) => (hs.push(h), h);
  let q: TensorHandle, kv: TensorHandle, qo: number, ko: number, vo: number;
  let dq: TensorHandle, dkv: TensorHandle, dqo: number, dko: number, dvo: number;
  if (s.self) {
    q = kv = keep(filled([s.B, s.Nq, 3 * D], 1));
    dq = dkv = keep(filled([s.B, s.Nq, 3 * D], 2));
    [qo, ko, vo, dqo, dko, dvo] = [0, D, 2 * D, 0, D, 2 * D];
  } else {
    q = keep(filled([s.B, s.Nq, D], 1));
    kv = keep(filled([s.B, s.Nk, 2 * D], 3));
    dq = keep(filled([s.B, s.Nq, D], 2));
    dkv = keep(filled([s.B, s.Nk, 2 * D], 4));
    [qo, ko, vo, dqo, dko, dvo] = [0, 0, D, 0, 0, D];
  }
  const out = keep(filled([s.B, s.Nq, D], 5)), lse = keep(filled([s.B, s.H, s.Nq], 6));
  const dout = keep(filled([s.B, s.Nq, D], 7));
  try {
    return 1e3 * bestSeconds(() => {
      native.attentionFwd(q, qo, kv, ko, kv, vo, out, lse, s.H, scale);
      native.attentionBwd(q, qo, kv, ko, kv, vo, out, lse, dout, dq, dqo, dkv, dko, dkv, dvo, s.H, scale);
    }, { warmup: 3, minReps: 20, maxReps: 500 });
  } finally {
    for (const h of hs) h.dispose();
  }
}

const PY_INLINE = `
import json, sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(int(sys.argv[1]))
out = {}
for name, b, h, d, nq, nk in json.loads(sys.argv[2]):
    q = torch.randn(b, h, nq, d, requires_grad=True)
    k = torch.randn(b, h, nk, d, requires_grad=True)
    v = torch.randn(b, h, nk, d, requires_grad=True)
    go = torch.randn(b, h, nq, d)
    def f():
        q.grad = k.grad = v.grad = None
        F.scaled_dot_product_attention(q, k, v).backward(go)
    for _ in range(3): f()
    best, total, reps = 1e9, 0.0, 0
    while reps < 20 or (total < 1.0 and reps < 500):
        t0 = time.perf_counter(); f(); dt = time.perf_counter() - t0
        best = min(best, dt); total += dt; reps += 1
    out[name] = best * 1e3
print(json.dumps(out))
`;

/** torch fwd+bwd ms per shape by an inline python (missing entries when python/torch are absent). */
function torchInlineAttention(shapes: Shape[], threads: number): Map<string, number> {
  if (shapes.length === 0) return new Map();
  const arg = JSON.stringify(shapes.map((s) => [s.name, s.B, s.H, s.hd, s.Nq, s.Nk]));
  return new Map(Object.entries(torchInline(PY_INLINE, [String(threads), arg])));
}

/**
 * fwd+bwd ms (best of its repeats) from reference/bench_torch.py by shape name: the main self-attention
 * shape and its one-query cross-attention (Nk = N). Empty when the script is missing or fails.
 */
function torchScript(threads: number): Map<string, number> {
  const res = new Map<string, number>();
  const att = torchReference('attention', threads) as Record<string, unknown> | null;
  if (!att) return res;
  try {
    if ( att.batch !== MAIN.B || att.heads !== MAIN.H || att.n !== MAIN.Nq || att.head_dim !== MAIN.hd) return res;
    const self = att.self_fwd_bwd_min_ms ?? att.self_fwd_bwd_ms;
    if (typeof self === 'number') res.set(MAIN.name, self);
    const cross = att.cross_fwd_bwd_min_ms ?? att.cross_fwd_bwd_ms;
    const crossShape = SHAPES.find((s) => !s.self && s.Nq === att.cross_nq && s.Nk === MAIN.Nk && s.B === MAIN.B && s.H === MAIN.H && s.hd === MAIN.hd);
    if (typeof cross === 'number' && crossShape) res.set(crossShape.name, cross);
  } catch {
    // unparseable output: fall back to the inline script
  }
  return res;
}

export async function benchAttention(opts: { threads: number; torch?: boolean }): Promise<BenchRow[]> {
  const t0 = native.numThreads();
  native.setNumThreads(opts.threads);
  let ours: number[];
  try {
    ours = SHAPES.map((s) => timeOurs(s));
  } finally {
    native.setNumThreads(t0);
  }
  const useTorch = opts.torch !== false;
  const script = useTorch ? torchScript(opts.threads) : new Map<string, number>();
  const inline = useTorch ? torchInlineAttention(SHAPES.filter((s) => !script.has(s.name)), opts.threads) : new Map<string, number>();
  return SHAPES.map((s, i) => ({
    group: 'attention',
    name: s.name,
    unit: 'ms',
    ours: ours[i],
    reference: script.get(s.name) ?? inline.get(s.name) ?? null,
    referenceName: `torch F.scaled_dot_product_attention fp32 fwd+bwd (${opts.threads} threads)`,
    higherIsBetter: false,
  }));
}


if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--threads');
  const threads = ti >= 0 ? Number(args[ti + 1]) : 2;
  if (!(threads >= 1)) throw new Error(`bench/attention: --threads must be a positive integer, got ${args[ti + 1]}`);
  const torch = !args.includes('--no-torch');
  const rows = await benchAttention({ threads, torch });
  console.log(`isa ${native.isa().active}, ${threads} threads; ratio = torch ms / ours ms (> 1: we are faster)`);
  printRows(rows, 'fwd+bwd', 3);
}
