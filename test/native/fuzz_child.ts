// The child of fuzz.test.ts. It records every addon call a tiny training step, its bf16 variant and
// a probe step make, then calls each recorded op again with one argument broken at a time (another
// shape, dtype or rank, a disposed or missing tensor, a bad number, a short array, an argument
// left out). Each call must return or throw a JS Error; a crash ends this process, and the line it
// wrote to the log file just before the call names the culprit.
//   node dist/test/native/fuzz_child.js LOG_FILE [cpu|cuda]
import { closeSync, openSync, writeSync } from 'node:fs';
import { allocHost, type HostDType } from '../../lib/io/host-tensor.js';
import { native, type TensorHandle } from '../../lib/native.js';
import { Tensor, numel, tidy } from '../../lib/tensor.js';
import { backward } from '../../lib/autograd.js';
import { VJepa } from '../../lib/nn/vjepa.js';
import { AttentiveClassifier } from '../../lib/nn/pooler.js';
import { InitRng } from '../../lib/nn/init.js';
import { AdamW, gradNorm } from '../../lib/optim/adamw.js';
import { jepaForward, type MaskPair } from '../../lib/train/iteration.js';
import { autocast, CastPlan } from '../../lib/ops/autocast.js';
import { crossEntropy } from '../../lib/ops/loss.js';
import { classifierParamGroups } from '../../lib/probe/probe.js';
import { Rng } from '../../lib/util/rng.js';

const logFd = openSync(process.argv[2], 'w');
const device = process.argv[3] ?? 'cpu';
const say = (s: string) => void writeSync(logFd, s + '\n');

// Not ops: process-wide settings, statistics, files, CUDA-only entry points.
const SKIP = new Set([
  'TensorHandle', 'setNumThreads', 'numThreads', 'setIsa', 'isa', 'stats', 'emptyCache', 'resetPeak', 'uploadStats',
  'mapFile', 'cudaInfo', 'wgmmaSelfTest', 'wgmmaHeadWidth', 'setAttentionKernels', 'attentionKernels', 'cudaDevice',
  'cudaStopwatchStart', 'cudaStopwatchStop',
  // The handle class's own calls, by id (handles.test.ts covers them).
  'tensorLive', 'tensorDispose', 'tensorShape', 'tensorDtype', 'tensorDevice', 'tensorNbytes', 'tensorRead', 'tensorWrite',
]);

type Arg =
  | { k: 't'; shape: number[]; dtype: string; device: string; data: ArrayBufferView | null }
  | { k: 'alias'; of: number }
  | { k: 'ta'; items: Arg[] }
  | { k: 'n' | 'b' | 's' | 'null' | 'undef'; v: unknown }
  | { k: 'na'; v: number[] }
  | { k: 'shape'; v: number[] }
  | { k: 'typed'; ctor: string; length: number; data: ArrayBufferView };

interface Template {
  op: string;
  args: Arg[];
}

const isHandle = (x: unknown): x is TensorHandle => typeof x === 'object' && x !== null && x instanceof (native.TensorHandle as any);

function describeTensor(h: TensorHandle): Arg {
  // Index tensors keep their values (random ones would only test the range checks); others are refilled.
  let data: ArrayBufferView | null = null;
  if (!h.disposed && h.dtype === 'int32') {
    data = allocHost('int32', numel(h.shape));
    h.read(data);
  }
  return { k: 't', shape: [...h.shape], dtype: h.dtype, device: h.device, data };
}

function describe(args: unknown[]): Arg[] {
  const seen = new Map<object, number>();
  return args.map((a, i): Arg => {
    if (isHandle(a)) {
      const j = seen.get(a);
      if (j !== undefined) return { k: 'alias', of: j };
      seen.set(a, i);
      return describeTensor(a);
    }
    if (Array.isArray(a)) {
      if (a.length > 0 && a.every(isHandle)) return { k: 'ta', items: a.map((h) => describeTensor(h as TensorHandle)) };
      if (a.every((x) => typeof x === 'number')) return { k: i === 0 ? 'shape' : 'na', v: [...a] };
    }
    if (ArrayBuffer.isView(a)) return { k: 'typed', ctor: a.constructor.name, length: (a as any).length, data: (a as any).slice() };
    if (typeof a === 'number') return { k: 'n', v: a };
    if (typeof a === 'boolean') return { k: 'b', v: a };
    if (typeof a === 'string') return { k: 's', v: a };
    if (a === null) return { k: 'null', v: null };
    return { k: 'undef', v: undefined };
  });
}

const sig = (t: Template) =>
  t.op + JSON.stringify(t.args.map((a) => (a.k === 't' ? [a.shape, a.dtype] : a.k === 'ta' ? a.items.length : a.k === 'n' ? typeof a.v : a.k)));

// --- 1. record a workload's calls ------------------------------------------------------------
const templates = new Map<string, Template>();
const perOp = new Map<string, number>();
const originals = new Map<string, Function>();
for (const [name, fn] of Object.entries(native)) {
  if (typeof fn !== 'function' || SKIP.has(name)) continue;
  originals.set(name, fn);
  (native as any)[name] = function (...args: unknown[]) {
    if ((perOp.get(name) ?? 0) < 4) {
      const t = { op: name, args: describe(args) };
      const key = sig(t);
      if (!templates.has(key)) {
        templates.set(key, t);
        perOp.set(name, (perOp.get(name) ?? 0) + 1);
      }
    }
    return (fn as Function).apply(native, args);
  };
}

function workload(): void {
  const rng = new Rng(3);
  const B = 2;
  const m = { modelName: 'vit_tiny', overrides: { embed_dim: 32, depth: 2, num_heads: 2 }, cropSize: 32, patchSize: 16, numFrames: 4, predEmbedDim: 16, predDepth: 1 };
  const model = new VJepa({ ...m, tubeletSize: 2, uniformPower: true, numMaskTokens: 2, zeroInitMaskTokens: true, seed: 0 }).to(device);
  const opt = new AdamW(model.paramGroups());
  const x = Tensor.from(Float32Array.from({ length: B * 3 * 4 * 32 * 32 }, () => rng.normal()), [B, 3, 4, 32, 32], 'float32', device);
  const N = model.encoder.numTokens;
  const pair = (kc: number, kt: number): MaskPair => {
    const ctx = new Int32Array(B * kc), tgt = new Int32Array(B * kt);
    for (let b = 0; b < B; b++) {
      const p = rng.permutation(N);
      ctx.set(Array.from(p.subarray(0, kc)).sort((u, v) => u - v), b * kc);
      tgt.set(Array.from(p.subarray(kc, kc + kt)).sort((u, v) => u - v), b * kt);
    }
    return { ctx: Tensor.from(ctx, [B, kc], 'int32', device), tgt: Tensor.from(tgt, [B, kt], 'int32', device) };
  };
  const pairs = [pair(3, 4), pair(2, 5)];
  const params = [...model.encoder.trainableParameters(), ...model.predictor.trainableParameters()].map(([, t]) => t);
  const plan = new CastPlan();
  for (const dtype of ['float32', 'bfloat16'] as const) {
    tidy(() => backward(autocast(dtype, () => jepaForward(model, x, pairs, 1, 0), plan).loss));
    gradNorm(params);
    opt.step(1e-3, 0.04);
    model.zeroGrad();
    model.emaUpdate(0.99);
  }
  const clf = new AttentiveClassifier(32, 2, 3, new InitRng(1)).to(device);
  const copt = new AdamW(classifierParamGroups(clf));
  const feats = Tensor.from(Float32Array.from({ length: B * N * 32 }, () => rng.normal()), [B, N, 32], 'float32', device);
  const labels = Tensor.from(Int32Array.from([0, 2]), [B], 'int32', device);
  tidy(() => backward(crossEntropy(clf.forward(feats), labels)));
  copt.step(1e-3, 0.01);
  for (const t of [x, feats, labels, ...pairs.flatMap((p) => [p.ctx, p.tgt])]) t.dispose();
  opt.dispose();
  copt.dispose();
  clf.dispose();
  model.dispose();
}
workload();
for (const [name, fn] of originals) (native as any)[name] = fn;

// --- 2. replay each template with one argument broken -----------------------------------------
const r = new Rng(11);
const fill = (h: TensorHandle) => {
  const n = numel(h.shape);
  const a = allocHost(h.dtype as HostDType, n);
  if (a instanceof Float32Array) for (let i = 0; i < n; i++) a[i] = r.normal();
  else if (a instanceof Uint16Array) for (let i = 0; i < n; i++) a[i] = 0x3f80 + (i % 64);
  h.write(a);
};

function make(a: Arg & { k: 't' }, live: TensorHandle[]): TensorHandle {
  const h = native.empty(a.shape, a.dtype as any, a.device);
  live.push(h);
  const n = numel(a.shape);
  if (a.data && (a.data as Int32Array).length === n) h.write(a.data);
  else fill(h);
  return h;
}

function materialize(args: Arg[], live: TensorHandle[]): unknown[] {
  const out: unknown[] = [];
  args.forEach((a, i) => {
    switch (a.k) {
      case 't': out[i] = make(a, live); break;
      case 'alias': out[i] = out[a.of]; break;
      case 'ta': out[i] = a.items.map((t) => make(t as Arg & { k: 't' }, live)); break;
      case 'na': case 'shape': out[i] = [...a.v]; break;
      case 'typed': out[i] = (a.data as any).slice(); break;
      default: out[i] = a.v;
    }
  });
  return out;
}

const otherDtype: Record<string, string> = { float32: 'bfloat16', bfloat16: 'float32', int32: 'float32', int64: 'int32', uint8: 'float32', float64: 'float32' };

/** Ways to break argument i of a template, each a description and the template's new arguments. */
function mutants(args: Arg[], i: number): [string, Arg[]][] {
  const a = args[i];
  const out: [string, Arg[]][] = [];
  const withArg = (what: string, b: Arg | undefined) => {
    const c = args.map((x) => x);
    if (b === undefined) c.splice(i, 1);
    else c[i] = b;
    // An alias of the broken tensor keeps pointing at it; aliases after a removed argument shift.
    out.push([`arg ${i}: ${what}`, c.map((x, j) => (x.k === 'alias' && b === undefined && x.of > i ? { k: 'alias', of: x.of - 1 } : x.k === 'alias' && b === undefined && x.of === i ? args[i] : x))]);
  };
  if (a.k === 't' || a.k === 'alias') {
    const t = (a.k === 't' ? a : args[a.of]) as Arg & { k: 't' };
    const shapes: [string, number[]][] = [
      ['last dim + 1', [...t.shape.slice(0, -1), (t.shape.at(-1) ?? 1) + 1]],
      ['first dim + 1', t.shape.length ? [t.shape[0] + 1, ...t.shape.slice(1)] : [2]],
      ['rank + 1', [2, ...t.shape]],
    ];
    if ((t.shape.at(-1) ?? 0) > 1) shapes.push(['last dim - 1', [...t.shape.slice(0, -1), t.shape.at(-1)! - 1]]);
    if (t.shape.length > 1) shapes.push(['rank - 1', [t.shape[0] * t.shape[1], ...t.shape.slice(2)]]);
    if (t.shape.length > 0) shapes.push(['empty', [0, ...t.shape.slice(1)]]);
    for (const [what, shape] of shapes) withArg(`${t.dtype}[${t.shape}] -> [${shape}]`, { ...t, shape, data: null });
    withArg(`${t.dtype} -> ${otherDtype[t.dtype]}`, { ...t, dtype: otherDtype[t.dtype], data: null });
    // Another tensor left on the device makes this a mix of devices.
    const onDevice = args.filter((x, j) => j !== i && ((x.k === 't' && x.device !== 'cpu') || (x.k === 'ta' && x.items.some((y) => (y as Arg & { k: 't' }).device !== 'cpu'))));
    if (t.device !== 'cpu' && onDevice.length > 0) withArg('on the cpu', { ...t, device: 'cpu' });
    if (t.dtype === 'int32' && t.data) {
      for (const bad of [-1, 1 << 30]) {
        const d = (t.data as Int32Array).slice();
        if (d.length) d[d.length - 1] = bad;
        withArg(`index ${bad}`, { ...t, data: d });
      }
    }
    withArg('a number', { k: 'n', v: 7 });
    withArg('null', { k: 'null', v: null });
    withArg('a disposed tensor', { k: 's', v: '\u0000disposed' });
  } else if (a.k === 'n') {
    for (const v of [-1, 0, 0.5, NaN, Infinity, 1e15]) if (v !== a.v) withArg(`${a.v} -> ${v}`, { k: 'n', v });
    withArg('a string', { k: 's', v: '3' });
  } else if (a.k === 'shape' || a.k === 'na') {
    if (a.v.length) withArg('one entry short', { k: a.k, v: a.v.slice(0, -1) });
    withArg('one entry more', { k: a.k, v: [...a.v, 3] });
    if (a.v.length) for (const v of [-1, NaN, 1e15]) withArg(`an entry ${v}`, { k: a.k, v: [v, ...a.v.slice(1)] });
  } else if (a.k === 'ta') {
    if (a.items.length > 1) withArg('one tensor short', { k: 'ta', items: a.items.slice(0, -1) });
    withArg('one tensor more', { k: 'ta', items: [...a.items, a.items[0]] });
    const t0 = a.items[0] as Arg & { k: 't' };
    withArg('first tensor reshaped', { k: 'ta', items: [{ ...t0, shape: [...t0.shape, 2] }, ...a.items.slice(1)] });
    withArg('first tensor in another dtype', { k: 'ta', items: [{ ...t0, dtype: otherDtype[t0.dtype] }, ...a.items.slice(1)] });
  } else if (a.k === 'typed') {
    withArg('half as long', { ...a, data: (a.data as any).slice(0, Math.floor(a.length / 2)), length: Math.floor(a.length / 2) });
    withArg('a Float64Array', { ...a, data: new Float64Array(a.length) });
  } else if (a.k === 's') {
    withArg('an unknown name', { k: 's', v: 'bogus' });
  }
  withArg('left out', undefined);
  return out;
}

const syncProbe = native.zeros([1], 'float32', device);
let calls = 0, threw = 0, returned = 0, baselineFailed = 0;
const accepted: string[] = [];
for (const t of templates.values()) {
  const fn = (native as any)[t.op] as Function;
  // The recorded call itself must still work, or its mutants say nothing.
  {
    const live: TensorHandle[] = [];
    try {
      fn.apply(native, materialize(t.args, live));
    } catch (e) {
      baselineFailed++;
      say(`baseline ${t.op} threw: ${(e as Error).message}`);
      continue;
    } finally {
      for (const h of live) if (!h.disposed) h.dispose();
    }
  }
  for (let i = 0; i < t.args.length; i++) {
    for (const [what, args] of mutants(t.args, i)) {
      const live: TensorHandle[] = [];
      let values: unknown[];
      try {
        values = materialize(args.map((x) => (x.k === 's' && x.v === '\u0000disposed' ? { k: 'null', v: null } : x)), live);
      } catch (e) {
        continue; // the broken shape itself cannot be made (e.g. a negative size): nothing to call
      }
      args.forEach((x, j) => {
        if (x.k === 's' && x.v === '\u0000disposed') {
          const h = native.empty([2], 'float32', device);
          h.dispose();
          values[j] = h;
        }
      });
      say(`${t.op} ${what}`);
      calls++;
      try {
        fn.apply(native, values);
        // On CUDA an index or label out of range is found by the kernel and raised at the next
        // synchronisation: make it this call's.
        if (device !== 'cpu') native.sumSquares(syncProbe);
        returned++;
        accepted.push(`${t.op} ${what}`);
      } catch (e) {
        if (!(e instanceof Error) || !e.message) throw new Error(`${t.op} ${what}: threw a non-Error ${String(e)}`);
        threw++;
      } finally {
        for (const h of live) if (!h.disposed) h.dispose();
      }
    }
  }
}
say('done');
closeSync(logFd);
const ops = new Set([...templates.values()].map((t) => t.op));
console.log(JSON.stringify({ device, ops: [...ops].sort(), templates: templates.size, baselineFailed, calls, threw, returned, accepted }));
