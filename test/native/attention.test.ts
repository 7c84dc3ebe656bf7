// CPU attention forward/backward against a float64 reference (itself checked by finite
// differences), on awkward shapes, fused in-place operands, every ISA path and 1 and 2 threads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native, type TensorHandle } from '../../lib/native.js';
import { isas } from './kernels/reference.js';
import { bf16ToF32, f32ToBf16 } from '../../lib/io/host-tensor.js';
import { mulberry32 as rng } from '../helpers/random.js';

// ---- float64 reference on compact [B, N, H*hd] arrays -------------------------------------------

interface Fwd64 {
  o: Float64Array;
  lse: Float64Array; // [B, H, Nq]
}

function refForward(q: Float64Array, k: Float64Array, v: Float64Array, B: number, Nq: number, Nk: number, H: number,
  hd: number, scale: number): Fwd64 {
  const C = H * hd;
  const o = new Float64Array(B * Nq * C), lse = new Float64Array(B * H * Nq), s = new Float64Array(Nk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Nq; i++) {
        const qi = (b * Nq + i) * C + h * hd;
        let m = -Infinity;
        for (let j = 0; j < Nk; j++) {
          const kj = (b * Nk + j) * C + h * hd;
          let d = 0;
          for (let c = 0; c < hd; c++) d += q[qi + c] * k[kj + c];
          s[j] = d * scale;
          if (s[j] > m) m = s[j];
        }
        let l = 0;
        for (let j = 0; j < Nk; j++) {
          const p = Math.exp(s[j] - m);
          l += p;
          const vj = (b * Nk + j) * C + h * hd;
          for (let c = 0; c < hd; c++) o[qi + c] += p * v[vj + c];
        }
        for (let c = 0; c < hd; c++) o[qi + c] /= l;
        lse[(b * H + h) * Nq + i] = m + Math.log(l);
      }
  return { o, lse };
}

function refBackward(q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array, B: number, Nq: number,
  Nk: number, H: number, hd: number, scale: number) {
  const C = H * hd;
  const { o, lse } = refForward(q, k, v, B, Nq, Nk, H, hd, scale);
  const dq = new Float64Array(B * Nq * C), dk = new Float64Array(B * Nk * C), dv = new Float64Array(B * Nk * C);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Nq; i++) {
        const qi = (b * Nq + i) * C + h * hd;
        let D = 0;
        for (let c = 0; c < hd; c++) D += dout[qi + c] * o[qi + c];
        for (let j = 0; j < Nk; j++) {
          const kj = (b * Nk + j) * C + h * hd;
          let s = 0, dp = 0;
          for (let c = 0; c < hd; c++) {
            s += q[qi + c] * k[kj + c];
            dp += dout[qi + c] * v[kj + c];
          }
          const p = Math.exp(s * scale - lse[(b * H + h) * Nq + i]);
          const ds = p * (dp - D) * scale;
          for (let c = 0; c < hd; c++) {
            dv[kj + c] += p * dout[qi + c];
            dk[kj + c] += ds * q[qi + c];
            dq[qi + c] += ds * k[kj + c];
          }
        }
      }
  return { o, lse, dq, dk, dv };
}

test('float64 reference: backward matches finite differences of sum(dout * out)', () => {
  const r = rng(11);
  const B = 2, Nq = 3, Nk = 4, H = 2, hd = 3, C = H * hd, scale = 0.7;
  const mk = (n: number) => Float64Array.from({ length: n }, () => 2 * r() - 1);
  const q = mk(B * Nq * C), k = mk(B * Nk * C), v = mk(B * Nk * C), dout = mk(B * Nq * C);
  const loss = () => {
    const { o } = refForward(q, k, v, B, Nq, Nk, H, hd, scale);
    let s = 0;
    for (let i = 0; i < o.length; i++) s += o[i] * dout[i];
    return s;
  };
  const g = refBackward(q, k, v, dout, B, Nq, Nk, H, hd, scale);
  const eps = 1e-6;
  for (const [x, dx] of [[q, g.dq], [k, g.dk], [v, g.dv]] as const) {
    for (let t = 0; t < x.length; t++) {
      const x0 = x[t];
      x[t] = x0 + eps;
      const lp = loss();
      x[t] = x0 - eps;
      const lm = loss();
      x[t] = x0;
      const fd = (lp - lm) / (2 * eps);
      assert.ok(Math.abs(fd - dx[t]) < 1e-8 + 1e-6 * Math.abs(fd), `fd ${fd} vs analytic ${dx[t]} at ${t}`);
    }
  }
  // the lse definition: log sum_j exp(scores)
  const { lse } = refForward(q, k, v, B, Nq, Nk, H, hd, scale);
  let sum = 0;
  for (let j = 0; j < Nk; j++) {
    let d = 0;
    for (let c = 0; c < hd; c++) d += q[c] * k[j * C + c];
    sum += Math.exp(d * scale);
  }
  assert.ok(Math.abs(lse[0] - Math.log(sum)) < 1e-12);
});

// ---- native runs on fused / offset buffers ----------------------------------------------------------

function handle(data: Float32Array, shape: number[]): TensorHandle {
  const t = native.empty(shape, 'float32');
  t.write(data);
  return t;
}

function read(t: TensorHandle): Float32Array {
  const out = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
  t.read(out);
  return out;
}

// A [B, N, W] float32 buffer of garbage with a compact [B, N, C] operand at column `off`.
function embed(compact: Float64Array, B: number, N: number, C: number, W: number, off: number, buf: Float32Array) {
  for (let r = 0; r < B * N; r++) for (let c = 0; c < C; c++) buf[r * W + off + c] = compact[r * C + c];
}

function extract(buf: Float32Array, B: number, N: number, C: number, W: number, off: number): Float64Array {
  const out = new Float64Array(B * N * C);
  for (let r = 0; r < B * N; r++) for (let c = 0; c < C; c++) out[r * C + c] = buf[r * W + off + c];
  return out;
}

interface Case {
  name: string;
  B: number; Nq: number; Nk: number; H: number; hd: number; scale: number;
  self: boolean; // q, k, v (and dq, dk, dv) in one fused [B, N, 3C + extra] buffer
  q: Float64Array; k: Float64Array; v: Float64Array; dout: Float64Array; // float32-representable values
  ref: ReturnType<typeof refBackward>;
}

function makeCase(r: () => number, B: number, Nq: number, Nk: number, H: number, hd: number, self: boolean, sharp = 1): Case {
  const C = H * hd;
  const f32 = (n: number, amp: number) => Float64Array.from(Float32Array.from({ length: n }, () => amp * (2 * r() - 1)));
  const q = f32(B * Nq * C, 1.7 * sharp), k = f32(B * Nk * C, 1.7), v = f32(B * Nk * C, 1), dout = f32(B * Nq * C, 1);
  const scale = Math.fround(1 / Math.sqrt(hd));
  const ref = refBackward(q, k, v, dout, B, Nq, Nk, H, hd, scale);
  return { name: `${self ? 'self' : 'cross'} B${B} H${H} hd${hd} Nq${Nq} Nk${Nk}${sharp > 1 ? ' sharp' : ''}`, B, Nq, Nk, H,
    hd, scale, self, q, k, v, dout, ref };
}

// Relative to the element and to the tensor's largest value, floored: a gradient that is exactly 0
// in float64 (dq with one key: dS = P (dP - D) = 0) comes out as float32 rounding of O(1) terms.
function close(name: string, got: Float64Array, want: Float64Array, floor = 0.01, rtol = 1e-5) {
  let maxRef = floor;
  for (let i = 0; i < want.length; i++) maxRef = Math.max(maxRef, Math.abs(want[i]));
  let worst = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (Math.abs(want[i]) + maxRef);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  assert.ok(worst <= rtol, `${name}: error ${worst.toExponential(2)} at ${at} (got ${got[at]}, want ${want[at]})`);
}

const GARBAGE = 12345.678;

function runCase(cs: Case, label: string) {
  const { B, Nq, Nk, H, hd, scale } = cs;
  const C = H * hd;
  const r = rng(B * 1000 + Nq * 31 + Nk * 7 + hd);
  const garbage = (n: number) => Float32Array.from({ length: n }, () => GARBAGE * (r() - 0.5));
  const tag = `${cs.name} [${label}]`;
  let qh: TensorHandle, kh: TensorHandle, vh: TensorHandle, qo: number, ko: number, vo: number;
  let dqh: TensorHandle, dkh: TensorHandle, dvh: TensorHandle, dqo: number, dko: number, dvo: number;
  const outs: { h: TensorHandle; before: Float32Array; W: number; N: number; ranges: [number, number][] }[] = [];
  if (cs.self) {
    // fused qkv [B, N, 3C + 5] at column offset 2; dqkv likewise at offset 3
    const W = 3 * C + 5, off = 2, doff = 3;
    const buf = garbage(B * Nq * W);
    embed(cs.q, B, Nq, C, W, off, buf);
    embed(cs.k, B, Nk, C, W, off + C, buf);
    embed(cs.v, B, Nk, C, W, off + 2 * C, buf);
    qh = kh = vh = handle(buf, [B, Nq, W]);
    [qo, ko, vo] = [off, off + C, off + 2 * C];
    const dbuf = garbage(B * Nq * W);
    dqh = dkh = dvh = handle(dbuf, [B, Nq, W]);
    [dqo, dko, dvo] = [doff, doff + C, doff + 2 * C];
    outs.push({ h: dqh, before: dbuf, W, N: Nq, ranges: [[doff, doff + 3 * C]] });
  } else {
    // q [B, Nq, C + 3] at 1; fused kv [B, Nk, 2C + 4] at 4; dq [B, Nq, C + 2] at 2; dkv [B, Nk, 2C + 1] at 0
    const Wq = C + 3, Wkv = 2 * C + 4, Wdq = C + 2, Wdkv = 2 * C + 1;
    const qb = garbage(B * Nq * Wq), kvb = garbage(B * Nk * Wkv);
    embed(cs.q, B, Nq, C, Wq, 1, qb);
    embed(cs.k, B, Nk, C, Wkv, 4, kvb);
    embed(cs.v, B, Nk, C, Wkv, 4 + C, kvb);
    qh = handle(qb, [B, Nq, Wq]);
    kh = vh = handle(kvb, [B, Nk, Wkv]);
    [qo, ko, vo] = [1, 4, 4 + C];
    const dqb = garbage(B * Nq * Wdq), dkvb = garbage(B * Nk * Wdkv);
    dqh = handle(dqb, [B, Nq, Wdq]);
    dkh = dvh = handle(dkvb, [B, Nk, Wdkv]);
    [dqo, dko, dvo] = [2, 0, C];
    outs.push({ h: dqh, before: dqb, W: Wdq, N: Nq, ranges: [[2, 2 + C]] });
    outs.push({ h: dkh, before: dkvb, W: Wdkv, N: Nk, ranges: [[0, 2 * C]] });
  }
  const out = handle(garbage(B * Nq * C), [B, Nq, C]);
  const lse = handle(garbage(B * H * Nq), [B, H, Nq]);
  native.attentionFwd(qh, qo, kh, ko, vh, vo, out, lse, H, scale);
  close(`${tag} out`, Float64Array.from(read(out)), cs.ref.o);
  const lseGot = Float64Array.from(read(lse));
  for (let i = 0; i < lseGot.length; i++)
    assert.ok(Math.abs(lseGot[i] - cs.ref.lse[i]) <= 1e-5 * (1 + Math.abs(cs.ref.lse[i])),
      `${tag} lse[${i}] ${lseGot[i]} vs ${cs.ref.lse[i]}`);

  const dout = handle(Float32Array.from(cs.dout), [B, Nq, C]);
  native.attentionBwd(qh, qo, kh, ko, vh, vo, out, lse, dout, dqh, dqo, dkh, dko, dvh, dvo, H, scale);
  const dqBuf = read(dqh), dkBuf = read(dkh), dvBuf = read(dvh);
  close(`${tag} dq`, extract(dqBuf, B, Nq, C, dqh.shape[2], dqo), cs.ref.dq, 0.1);
  close(`${tag} dk`, extract(dkBuf, B, Nk, C, dkh.shape[2], dko), cs.ref.dk, 0.1);
  close(`${tag} dv`, extract(dvBuf, B, Nk, C, dvh.shape[2], dvo), cs.ref.dv);
  // columns outside the gradient ranges keep their garbage, bit for bit
  for (const o of outs) {
    const now = read(o.h);
    for (let rIdx = 0; rIdx < B * o.N; rIdx++)
      for (let c = 0; c < o.W; c++) {
        if (o.ranges.some(([a, b]) => c >= a && c < b)) continue;
        const i = rIdx * o.W + c;
        if (now[i] !== o.before[i]) assert.unreachable(`${tag}: column ${c} of row ${rIdx} changed`);
      }
  }
  for (const h of new Set([qh, kh, vh, dqh, dkh, dvh, out, lse, dout])) h.dispose();
}

function buildCases(): Case[] {
  const r = rng(2024);
  const hds = [1, 5, 16, 24, 32, 64, 80];
  const ns = [1, 2, 7, 33, 100, 131];
  const cases: Case[] = [];
  // every head_dim and every token count appears, as queries and as keys, self and cross
  for (let t = 0; t < 14; t++) {
    const hd = hds[t % hds.length];
    const Nq = ns[t % ns.length];
    const Nk = ns[(t * 5 + 3) % ns.length];
    const B = 1 + (t % 3), H = 1 + ((t + 1) % 3);
    cases.push(makeCase(r, B, Nq, Nk, H, hd, false));
    if (t < 6) cases.push(makeCase(r, B, ns[(t + 2) % 6], ns[(t + 2) % 6], H, hds[(t + 3) % 7], true));
  }
  cases.push(makeCase(r, 2, 131, 131, 3, 64, true)); // ViT-like
  cases.push(makeCase(r, 1, 100, 100, 2, 32, true, 4)); // sharp softmax (large scores)
  cases.push(makeCase(r, 1, 33, 100, 2, 32, false, 4));
  cases.push(makeCase(r, 1, 1, 700, 1, 24, false)); // pooler-like: one query, many keys (key split)
  cases.push(makeCase(r, 1, 3, 520, 2, 16, false, 3));
  cases.push(makeCase(r, 1, 40, 700, 1, 64, false)); // tiled path with several key blocks / key split
  cases.push(makeCase(r, 1, 300, 300, 1, 88, true)); // several query blocks, hd not a multiple of 16
  return cases;
}

const cases = buildCases();

for (const isa of isas())
  for (const threads of [1, 2])
    test(`attention fwd/bwd vs float64 reference: ${isa}, ${threads} thread(s)`, () => {
      const prevThreads = native.numThreads();
      try {
        native.setIsa(isa);
        native.setNumThreads(threads);
        // 2 threads: a small packing budget, so the forward packs K/V a few (batch, head) pairs at a time
        if (threads === 2) process.env.VJEPA_ATTN_PACK_FLOATS = '30000';
        for (const cs of cases) runCase(cs, `${isa}/${threads}t`);
      } finally {
        delete process.env.VJEPA_ATTN_PACK_FLOATS;
        native.setIsa('auto');
        native.setNumThreads(prevThreads);
      }
    });

// ---- bf16 activations: the AVX512-BF16 forward (native/cpu/attention_avx512bf16.cc) -------------

function bf16Handle(data: Float32Array, shape: number[]): TensorHandle {
  const t = native.empty(shape, 'bfloat16');
  t.write(f32ToBf16(data));
  return t;
}

function readBf16(t: TensorHandle): Float32Array {
  const bits = new Uint16Array(t.shape.reduce((a, b) => a * b, 1));
  t.read(bits);
  return bf16ToF32(bits);
}

test('bf16 forward on AVX512-BF16: float64 on the bf16 values within bf16 rounding of P and O, lse to fp32; odd head_dim widened as before', () => {
  if (!isas({ bf16Dot: true }).includes('avx512bf16')) {
    console.log('  (no AVX512-BF16 on this CPU: bf16 attention is widened to the fp32 kernels here)');
    return;
  }
  const r = rng(77);
  const t0 = native.numThreads();
  // [B, Nq, Nk, H, hd, self]: key blocks of 256 and their tails, head_dim from 2 to 128, a single query
  const shapes: [number, number, number, number, number, boolean][] = [
    [2, 37, 37, 3, 64, true], [1, 300, 300, 2, 24, true], [1, 513, 513, 4, 80, true], [3, 5, 5, 2, 2, true],
    [2, 16, 100, 1, 128, false], [1, 1, 33, 2, 32, false], [2, 70, 257, 3, 30, false], [1, 20, 9, 2, 3, true],
  ];
  try {
    for (const [B, Nq, Nk, H, hd, self] of shapes) {
      const C = H * hd, scale = 1 / Math.sqrt(hd);
      const rounded = (n: number) => bf16ToF32(f32ToBf16(Float32Array.from({ length: n }, () => 2 * r() - 1)));
      // self: one [B, N, 3C] qkv; cross: q [B, Nq, C] and kv [B, Nk, 2C]
      const qkv = rounded(B * Nq * 3 * C), q = rounded(B * Nq * C), kv = rounded(B * Nk * 2 * C);
      const col = (buf: Float32Array, W: number, off: number, N: number) => extract(buf, B, N, C, W, off);
      const qs = self ? col(qkv, 3 * C, 0, Nq) : col(q, C, 0, Nq);
      const ks = self ? col(qkv, 3 * C, C, Nk) : col(kv, 2 * C, 0, Nk);
      const vs = self ? col(qkv, 3 * C, 2 * C, Nk) : col(kv, 2 * C, C, Nk);
      const ref = refForward(qs, ks, vs, B, Nq, Nk, H, hd, scale);
      let vmax = 0;
      for (const x of vs) vmax = Math.max(vmax, Math.abs(x));
      const run = (isa: 'avx512' | 'avx512bf16', threads: number) => {
        native.setIsa(isa);
        native.setNumThreads(threads);
        const hq = self ? bf16Handle(qkv, [B, Nq, 3 * C]) : bf16Handle(q, [B, Nq, C]);
        const hkv = self ? hq : bf16Handle(kv, [B, Nk, 2 * C]);
        const o = native.empty([B, Nq, C], 'bfloat16'), lse = native.empty([B, H, Nq], 'float32');
        native.attentionFwd(hq, 0, hkv, self ? C : 0, hkv, self ? 2 * C : C, o, lse, H, scale, true);
        const out = { o: readBf16(o), lse: read(lse) };
        for (const t of new Set([hq, hkv, o, lse])) t.dispose();
        return out;
      };
      const what = `B${B} Nq${Nq} Nk${Nk} H${H} hd${hd} ${self ? 'self' : 'cross'}`;
      const widened = run('avx512', 2);
      for (const th of [1, 2]) {
        const got = run('avx512bf16', th);
        if (hd % 2) {
          assert.equal(Array.from(got.o), Array.from(widened.o), `${what}: odd head_dim takes the widened kernels`);
          continue;
        }
        for (let i = 0; i < got.o.length; i++)
          if (!(Math.abs(got.o[i] - ref.o[i]) <= 6e-3 * vmax)) assert.unreachable(`${what} ${th}t: out[${i}] ${got.o[i]} vs ${ref.o[i]}`);
        for (let i = 0; i < got.lse.length; i++)
          if (!(Math.abs(got.lse[i] - ref.lse[i]) <= 1e-5 * (1 + Math.abs(ref.lse[i])))) assert.unreachable(`${what} ${th}t: lse[${i}] ${got.lse[i]} vs ${ref.lse[i]}`);
        if (th === 1) assert.ok(got.o.some((x, i) => x !== widened.o[i]), `${what}: P rounded to bf16 changes some output (the vdpbf16ps path ran)`);
      }
    }
  } finally {
    native.setIsa('auto');
    native.setNumThreads(t0);
  }
});

test('attention is deterministic across calls', () => {
  const cs = cases[cases.length - 3];
  const { B, Nq, Nk, H, hd, scale } = cs;
  const C = H * hd;
  const q = handle(Float32Array.from(cs.q), [B, Nq, C]), k = handle(Float32Array.from(cs.k), [B, Nk, C]);
  const v = handle(Float32Array.from(cs.v), [B, Nk, C]);
  const runs = [0, 1].map(() => {
    const o = native.empty([B, Nq, C], 'float32'), l = native.empty([B, H, Nq], 'float32');
    native.attentionFwd(q, 0, k, 0, v, 0, o, l, H, scale);
    const res = read(o);
    o.dispose();
    l.dispose();
    return res;
  });
  assert.equal(Array.from(runs[0]), Array.from(runs[1]));
  for (const h of [q, k, v]) h.dispose();
});

test('attention: bad shapes throw errors that name them', () => {
  const q = native.zeros([2, 5, 12], 'float32'), k = native.zeros([2, 7, 12], 'float32');
  const kb = native.zeros([3, 7, 12], 'float32'), o = native.zeros([2, 5, 12], 'float32');
  const lse = native.zeros([2, 3, 5], 'float32'), lseBad = native.zeros([2, 3, 4], 'float32');
  const o5 = native.zeros([2, 5, 10], 'float32'), lse4 = native.zeros([2, 4, 5], 'float32');
  try {
    // the message names the operand, its shape and the expected one
    const names = (re: RegExp) => (e: Error) => e instanceof Error && re.test(e.message);
    assert.throws(() => native.attentionFwd(q, 0, kb, 0, k, 0, o, lse, 3, 0.5), names(/\bk\b.*\[3,\s*7,\s*12\].*\[2,\s*7/));
    assert.throws(() => native.attentionFwd(q, 0, k, 0, k, 0, o, lseBad, 3, 0.5), names(/lse.*\[2,\s*3,\s*4\].*\[2,\s*3,\s*5\]/));
    assert.throws(() => native.attentionFwd(q, 4, k, 0, k, 0, o, lse, 3, 0.5), names(/\bq\b.*\[2,\s*5,\s*12\]/));
    assert.throws(() => native.attentionFwd(q, 0, k, 0, k, 0, o5, lse4, 4, 0.5), names(/10 channels.*4 heads/));
    const dq = native.zeros([2, 5, 12], 'float32'), dk = native.zeros([2, 6, 12], 'float32');
    assert.throws(() => native.attentionBwd(q, 0, k, 0, k, 0, o, lse, o, dq, 0, dk, 0, dk, 0, 3, 0.5),
      names(/dk.*\[2,\s*6,\s*12\].*\[2,\s*7/));
    dq.dispose();
    dk.dispose();
  } finally {
    for (const h of [q, k, kb, o, lse, lseBad, o5, lse4]) h.dispose();
  }
});

test.run();
