// The child side of attention tuning (attention-tuning.ts): on one CUDA device, for each attention
// shape asked for, runs every bf16 kernel candidate on random inputs, checks its outputs against
// the default kernels' (mma.sync forward, split backward) and times it. It runs in a child
// process because a candidate the GPU disagrees with could fault, and a fault poisons the whole
// CUDA context: here it costs this process only.
//
//   node dist/lib/ops/attention-trial.js '{"device":"cuda:0","shapes":[...],"iters":10}'
//
// prints one line `VJEPA_ATTENTION_TRIAL <TrialReport as JSON>` on stdout.
import { pathToFileURL } from 'node:url';
import { native, type AttnBwdKernels, type AttnFwdKernels, type TensorHandle } from '../native.js';
import { withEnv } from '../util/process.js';
import { Rng } from '../util/rng.js';

/** One self-attention call: q, k, v of [batch, tokens, heads * headDim]. */
export interface AttnShape {
  headDim: number;
  heads: number;
  tokens: number;
  batch: number;
}

export interface TrialRequest {
  device: string;
  shapes: AttnShape[];
  /** Timed calls per candidate, after two untimed ones. */
  iters: number;
}

/** err: the largest |candidate - default| over every output, relative to the default's largest |value|. */
export interface Candidate {
  ok: boolean;
  ms?: number;
  err?: number;
  why?: string;
}

export interface TrialResult {
  shape: AttnShape;
  fwd: Partial<Record<AttnFwdKernels, Candidate>>;
  bwd: Partial<Record<AttnBwdKernels, Candidate>>;
}

export interface TrialReport {
  /** Why the wgmma kernels were not tried at all ('' when they were; a head width's own reason is in its candidates). */
  wgmmaSkipped: string;
  results: TrialResult[];
}

export const TRIAL_MARKER = 'VJEPA_ATTENTION_TRIAL';
/** The bf16 tolerance of issue 7's op checks; two bf16 kernels differ by their summation order only. */
export const TRIAL_TOLERANCE = 1e-2;

/** max |got - ref| / max |ref|; a NaN or infinity in got makes it Infinity. */
export function relativeError(got: Float32Array, ref: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i] - ref[i]);
    if (!(e <= d)) d = Number.isFinite(e) ? e : Infinity;
    m = Math.max(m, Math.abs(ref[i]));
  }
  return d / Math.max(m, 1e-30);
}

/** Whether the wgmma kernels take headDim (the trial lets 16 and 24 in): the addon's own rule, native/cuda/wgmma_widths.h. */
export function wgmmaTakes(headDim: number): boolean {
  return native.wgmmaHeadWidth(headDim, true) > 0;
}

/** Whether wgmma-bn64 is a forward of its own at headDim: where the kernels run it 64 wide; elsewhere it is wgmma. */
export function wgmmaBn64Differs(headDim: number): boolean {
  return native.wgmmaHeadWidth(headDim, true) === 64;
}

function readF32(t: TensorHandle): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (t.dtype === 'float32') {
    t.read(out);
    return out;
  }
  const f = native.empty(t.shape, 'float32', t.device);
  try {
    native.cast(t, f);
    f.read(out);
  } finally {
    f.dispose();
  }
  return out;
}

/** Queries of the cross-attention check: a ragged part of one tile, as the probe's pooler (one query) has. */
export const CROSS_QUERIES = 3;

/**
 * One shape's tensors and calls; dispose() frees them. Self-attention reads q, k and v from one
 * [batch, tokens, 3C] tensor, as the blocks do; with `queries`, cross-attention reads q from its
 * own [batch, queries, C] and k, v from a [batch, tokens, 2C], as the attentive pooler does.
 */
class Case {
  private readonly owned: TensorHandle[] = [];
  private readonly q: TensorHandle;
  private readonly kv: TensorHandle;
  private readonly offs: [number, number, number];
  private readonly dout: TensorHandle;
  private readonly oRef: TensorHandle;
  private readonly lseRef: TensorHandle;
  /** Gradient buffers as [dq, dkv] (the same tensor twice for self-attention). */
  private readonly gradRef: TensorHandle[];
  private readonly sync: TensorHandle;
  private readonly C: number;
  private readonly scale: number;
  private refOut: { o: Float32Array; lse: Float32Array; grads: Float32Array[] } | null = null;

  constructor(readonly shape: AttnShape, readonly device: string, seed: number, readonly queries?: number) {
    const { headDim, heads, tokens, batch } = shape;
    const C = (this.C = heads * headDim);
    this.scale = 1 / Math.sqrt(headDim);
    const rng = new Rng(seed, headDim, heads, tokens, batch, queries ?? 0);
    const random = (dims: number[], dtype: 'float32' | 'bfloat16') => {
      const host = this.make(dims, 'float32');
      host.write(Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal()));
      if (dtype === 'float32') return host;
      const t = this.make(dims, 'bfloat16');
      native.cast(host, t);
      return t;
    };
    const Nq = queries ?? tokens;
    if (queries === undefined) {
      this.q = this.kv = random([batch, tokens, 3 * C], 'bfloat16');
      this.offs = [0, C, 2 * C];
      this.gradRef = [this.make([batch, tokens, 3 * C], 'float32')];
    } else {
      this.q = random([batch, Nq, C], 'bfloat16');
      this.kv = random([batch, tokens, 2 * C], 'bfloat16');
      this.offs = [0, 0, C];
      this.gradRef = [this.make([batch, Nq, C], 'float32'), this.make([batch, tokens, 2 * C], 'float32')];
    }
    this.dout = random([batch, Nq, C], 'float32');
    this.oRef = this.make([batch, Nq, C], 'bfloat16');
    this.lseRef = this.make([batch, heads, Nq], 'float32');
    this.sync = this.make([1], 'float32');
    native.fill(this.sync, 0);
  }

  private make(dims: number[], dtype: 'float32' | 'bfloat16'): TensorHandle {
    const t = native.empty(dims, dtype, this.device);
    this.owned.push(t);
    return t;
  }

  fwd(o: TensorHandle, lse: TensorHandle): void {
    const { q, kv, offs } = this;
    native.attentionFwd(q, offs[0], kv, offs[1], kv, offs[2], o, lse, this.shape.heads, this.scale, true);
  }

  /** grads: [dq, dkv] for cross-attention, [dqkv] for self-attention. */
  bwd(grads: TensorHandle[]): void {
    const { q, kv, offs, C } = this;
    const [dq, dkv] = grads.length === 1 ? [grads[0], grads[0]] : grads;
    const dOffs = grads.length === 1 ? [0, C, 2 * C] : [0, 0, C];
    native.attentionBwd(q, offs[0], kv, offs[1], kv, offs[2], this.oRef, this.lseRef, this.dout,
      dq, dOffs[0], dkv, dOffs[1], dkv, dOffs[2], this.shape.heads, this.scale, true);
  }

  /** Mean ms of iters calls after two untimed ones; sumSquares returns a host value, so it waits for the stream. */
  time(fn: () => void, iters: number): number {
    fn();
    fn();
    native.sumSquares(this.sync);
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn();
    native.sumSquares(this.sync);
    return (performance.now() - t0) / iters;
  }

  /** The default kernels' outputs, which every candidate is checked against; timed where iters > 0. */
  reference(iters: number): { fwd: Candidate; bwd: Candidate } {
    const fwd = withEnv('VJEPA_CUDA_ATTN_FWD', 'mma', () => {
      this.fwd(this.oRef, this.lseRef);
      return iters > 0 ? this.time(() => this.fwd(this.oRef, this.lseRef), iters) : undefined;
    });
    const bwd = withEnv('VJEPA_CUDA_ATTN_BWD', 'split', () => {
      this.bwd(this.gradRef);
      return iters > 0 ? this.time(() => this.bwd(this.gradRef), iters) : undefined;
    });
    this.refOut = {
      o: readF32(this.oRef),
      lse: readF32(this.lseRef),
      grads: this.gradRef.map((g) => readF32(g)),
    };
    return { fwd: { ok: true, ms: fwd, err: 0 }, bwd: { ok: true, ms: bwd, err: 0 } };
  }

  /** What a cross-attention check adds to a candidate's reason for failing. */
  private get label(): string {
    return this.queries === undefined ? '' : ` (cross-attention, ${this.queries} queries)`;
  }

  /** A forward candidate, timed where iters > 0: its outputs start as NaN, so an element it never writes fails the check. */
  tryFwd(kernels: AttnFwdKernels, iters: number): Candidate {
    return withEnv('VJEPA_CUDA_ATTN_FWD', kernels, () => {
      const o = native.empty(this.oRef.shape, 'bfloat16', this.device);
      const lse = native.empty(this.lseRef.shape, 'float32', this.device);
      const nan = native.empty(this.oRef.shape, 'float32', this.device);
      try {
        native.fill(nan, NaN);
        native.cast(nan, o);  // fill takes float32 only
        native.fill(lse, NaN);
        this.fwd(o, lse);
        const ref = this.refOut!;
        const err = Math.max(relativeError(readF32(o), ref.o), relativeError(readF32(lse), ref.lse));
        if (!(err <= TRIAL_TOLERANCE)) return { ok: false, err, why: `forward outputs${this.label} off by ${err.toExponential(1)} relative` };
        return { ok: true, err, ms: iters > 0 ? this.time(() => this.fwd(o, lse), iters) : undefined };
      } finally {
        o.dispose();
        lse.dispose();
        nan.dispose();
      }
    });
  }

  tryBwd(kernels: AttnBwdKernels, iters: number): Candidate {
    return withEnv('VJEPA_CUDA_ATTN_BWD', kernels, () => {
      const grads = this.gradRef.map((g) => native.empty(g.shape, 'float32', this.device));
      try {
        for (const g of grads) native.fill(g, NaN);
        this.bwd(grads);
        const err = Math.max(...grads.map((g, i) => relativeError(readF32(g), this.refOut!.grads[i])));
        if (!(err <= TRIAL_TOLERANCE)) return { ok: false, err, why: `gradients${this.label} off by ${err.toExponential(1)} relative` };
        return { ok: true, err, ms: iters > 0 ? this.time(() => this.bwd(grads), iters) : undefined };
      } finally {
        for (const g of grads) g.dispose();
      }
    });
  }

  dispose(): void {
    for (const t of this.owned) t.dispose();
  }
}

/** A candidate checked on the self-attention case and timed, then checked untimed on the cross-attention one. */
export function both(self: Candidate, cross: () => Candidate): Candidate {
  if (!self.ok) return self;
  const c = cross();
  return c.ok ? self : { ...c, ms: undefined };
}

/** A candidate that threw: the error is its result, and the trial goes on. */
function guarded(fn: () => Candidate): Candidate {
  try {
    return fn();
  } catch (e) {
    return { ok: false, why: (e as Error).message.split('\n')[0] };
  }
}

type SelfTestRow = ReturnType<typeof native.wgmmaSelfTest>[number];

/**
 * The wgmma self-test's rows, or why wgmma is not tried on this device at all (no sm_90a code
 * here, or the self-test could not run).
 */
function wgmmaSelfTest(): { skipped: string; rows: SelfTestRow[] } {
  try {
    const rows = native.wgmmaSelfTest();
    return { skipped: rows.length === 0 ? 'this device has no wgmma (compute capability 9.0 only)' : '', rows };
  } catch (e) {
    return { skipped: `wgmma self-test failed: ${(e as Error).message.split('\n')[0]}`, rows: [] };
  }
}

/** Why wgmma is not tried at headDim ('' when it is): a layout its kernels use that the hardware reads otherwise. */
export function wgmmaLayoutVerdict(rows: SelfTestRow[], headDim: number): string {
  const width = native.wgmmaHeadWidth(headDim, true);
  const bad = rows.find((r) => r.maxErr !== 0 && r.widths.includes(width));
  return bad ? `wgmma self-test: layout "${bad.layout}" off by ${bad.maxErr}` : '';
}

export function runTrial(req: TrialRequest): TrialReport {
  // The wgmma kernels for head_dim <= 24 are a candidate too (the tuner's choice implies VJEPA_CUDA_ATTN_WGMMA_HD24).
  process.env.VJEPA_CUDA_ATTN_WGMMA_HD24 = '1';
  // Per shape, the model's self-attention (checked and timed) and a cross-attention of the same
  // head_dim (checked only): a choice holds for every call of that head_dim, the pooler's too.
  const cases = req.shapes.map((s, i) => ({
    self: new Case(s, req.device, 7 + i),
    cross: new Case({ ...s, batch: Math.min(s.batch, 2) }, req.device, 1007 + i, CROSS_QUERIES),
  }));
  try {
    // Everything that can only fail politely first: the defaults and the mma.sync one-pass backward.
    const results: TrialResult[] = cases.map(({ self, cross }) => {
      const ref = self.reference(req.iters);
      cross.reference(0);
      const fused = guarded(() => both(self.tryBwd('fused', req.iters), () => cross.tryBwd('fused', 0)));
      return { shape: self.shape, fwd: { mma: ref.fwd }, bwd: { split: ref.bwd, fused } };
    });
    // Then wgmma, where a fault would end every later call of this process.
    const { skipped: wgmmaSkipped, rows } = wgmmaSelfTest();
    if (!wgmmaSkipped) {
      cases.forEach(({ self, cross }, i) => {
        const r = results[i];
        const hd = self.shape.headDim;
        // A layout the self-test found off rules out the head widths that use it, not the others.
        const why = !wgmmaTakes(hd) ? `head_dim ${hd} is not a multiple of 8 in [16, 128]` : wgmmaLayoutVerdict(rows, hd);
        if (why) {
          r.fwd.wgmma = { ok: false, why };
          r.bwd.wgmma = { ok: false, why };
          return;
        }
        const ran = () => native.cudaInfo().wgmmaAttention;
        const counted = (fn: () => Candidate): Candidate => {
          const before = ran();
          const out = fn();
          return out.ok && ran() === before ? { ok: false, why: 'the call did not run the wgmma kernels' } : out;
        };
        r.fwd.wgmma = guarded(() => both(counted(() => self.tryFwd('wgmma', req.iters)), () => counted(() => cross.tryFwd('wgmma', 0))));
        if (wgmmaBn64Differs(self.shape.headDim))
          r.fwd['wgmma-bn64'] = guarded(() => both(counted(() => self.tryFwd('wgmma-bn64', req.iters)), () => counted(() => cross.tryFwd('wgmma-bn64', 0))));
        r.bwd.wgmma = guarded(() => both(counted(() => self.tryBwd('wgmma', req.iters)), () => counted(() => cross.tryBwd('wgmma', 0))));
      });
    }
    return { wgmmaSkipped, results };
  } finally {
    for (const c of cases) {
      c.self.dispose();
      c.cross.dispose();
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const req = JSON.parse(process.argv[2] ?? '') as TrialRequest;
  process.stdout.write(`${TRIAL_MARKER} ${JSON.stringify(runTrial(req))}\n`);
}
