// bf16 mixed precision (`meta.dtype: bfloat16`), in the spirit of torch.autocast but narrower:
// inside a region, the GEMMs of linear layers, the MLP's fc1 and the patch embedding take
// bfloat16 operands and accumulate in fp32 (tensor cores on the GPU). Activations that only feed
// a GEMM are produced in bf16 by the epilogue that makes them (the MLP's hidden layer, q, k, v),
// with the bias in bf16 as torch.autocast has it; the residual stream, layernorm, the losses and
// every reduction stay fp32, and so do the master weights, their gradients and the optimizer
// state. GEMM inputs saved for backward are bf16.
import { native } from '../native.js';
import { Tensor, keep } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';

export type MatmulDtype = 'float32' | 'bfloat16';

interface Region {
  dtype: MatmulDtype;
  /** bf16 copies of weights, made on first use in the region (or at its start, from the plan) and freed when it ends. */
  weights: Map<Tensor, Tensor>;
  plan?: CastPlan;
}
const regions: Region[] = [];

/**
 * The weights bf16 regions rounded, in the order they met them, kept from one region to the
 * next: a region given the plan rounds them all as it starts, by castMany (a few launches on CUDA
 * where one cast per weight took one each: about 500 a ViT-L step), and adds any other it meets.
 * A loop keeps one for its steps (the trainer, the probe's frozen encoder).
 */
export class CastPlan {
  private weights: Tensor[] = [];
  private readonly known = new Set<Tensor>();
  note(w: Tensor): void {
    if (this.known.has(w)) return;
    this.known.add(w);
    this.weights.push(w);
  }
  /** The weights in order, less those disposed since (a model replaced by a resumed one). */
  live(): readonly Tensor[] {
    if (this.weights.some((w) => w.disposed)) {
      for (const w of this.weights) if (w.disposed) this.known.delete(w);
      this.weights = this.weights.filter((w) => !w.disposed);
    }
    return this.weights;
  }
}

/**
 * Runs fn with GEMMs in `dtype`. Weights must not change inside (their bf16 copies are made
 * once per region): run forward and backward in it, the optimizer step after. Graphs recorded
 * inside may be run backward outside; they keep what they need. With a plan, a bf16 region
 * rounds the plan's weights up front and records the others it rounds.
 */
export function autocast<T>(dtype: MatmulDtype, fn: () => T, plan?: CastPlan): T {
  const region: Region = { dtype, weights: new Map(), plan: dtype === 'bfloat16' ? plan : undefined };
  regions.push(region);
  try {
    if (region.plan) precast(region, region.plan);
    return fn();
  } finally {
    regions.splice(regions.lastIndexOf(region), 1);
    for (const w of region.weights.values()) w.dispose();
  }
}

/** The plan's live weights rounded into the region's copies, one castMany per device. */
function precast(region: Region, plan: CastPlan): void {
  const byDevice = new Map<string, Tensor[]>();
  for (const w of plan.live()) {
    const list = byDevice.get(w.device) ?? [];
    list.push(w);
    byDevice.set(w.device, list);
  }
  for (const ws of byDevice.values()) {
    const copies: Tensor[] = [];
    for (const w of ws) {
      const c = keep(Tensor.empty(w.shape, 'bfloat16', w.device));
      copies.push(c);
      region.weights.set(w, c);  // the region frees it, even if the cast below throws
    }
    native.castMany(ws.map((w) => w.handle), copies.map((c) => c.handle));
  }
}

export function matmulDtype(): MatmulDtype {
  return regions.length ? regions[regions.length - 1].dtype : 'float32';
}

/** Throws inside a casting region, where an in-place weight update would leave the bf16 copies stale. */
export function assertWeightsMutable(op: string): void {
  if (regions.some((r) => r.dtype !== 'float32'))
    throw new Error(`${op}: weights cannot change inside autocast('bfloat16'); step after the region ends`);
}

/**
 * Throws, naming the config key and the fix, unless `device` runs bf16 mixed precision: a CUDA
 * device of compute capability 8.0+ (bf16 tensor cores). The CPU needs no check (it runs fp32).
 */
export function assertBf16Device(device: string, key: string, fix: string): void {
  const m = /^cuda:(\d+)$/.exec(device);
  if (!m) return;
  const d = native.cudaDevice(Number(m[1]));
  if (d.major < 8)
    throw new Error(`${key}: bf16 mixed precision needs an NVIDIA GPU of compute capability 8.0 or newer (Ampere, Hopper); ${device} (${d.name}) is ${d.major}.${d.minor}: ${fix}`);
}

/**
 * Whether the CPU's bf16 GEMMs beat its fp32 ones: with AVX512-BF16 (instruction set
 * 'avx512bf16') they run at twice the rate; other CPUs widen the operands, so bf16 costs them
 * precision for no speed. Where it is false the CPU runs mixed-precision requests in fp32.
 */
export function cpuBf16Pays(isa = native.isa().active): boolean {
  return isa === 'avx512bf16';
}

/** A new bf16 tensor holding x rounded to nearest even. */
export function toBf16(x: Tensor): Tensor {
  const y = Tensor.empty(x.shape, 'bfloat16', x.device);
  native.cast(x.handle, y.handle);
  return y;
}

/** x as float32: x itself when it is float32, else an fp32 copy whose gradient passes straight through. */
export function toFloat32(x: Tensor): Tensor {
  if (x.dtype === 'float32') return x;
  const y = Tensor.empty(x.shape, 'float32', x.device);
  native.cast(x.handle, y.handle);
  if (!needsGrad(x)) return y;
  return record(y, 'toFloat32', [x], [], (g) => [g.view(x.shape)]);
}

/** The region's bf16 copy of weight w, as a view of `shape` that the caller owns. */
export function bf16Weight(w: Tensor, shape: readonly number[] = w.shape): Tensor {
  const region = regions[regions.length - 1];
  if (!region || region.dtype !== 'bfloat16') throw new Error('bf16Weight: called outside an autocast("bfloat16") region');
  let copy = region.weights.get(w);
  if (!copy || copy.disposed) {
    copy = keep(toBf16(w));
    region.weights.set(w, copy);
    region.plan?.note(w);
  }
  return copy.view(shape);
}

/**
 * The operands of one GEMM layer under the current precision: x2 (rows × in) and the weight as
 * the GEMM sees them. In fp32 they are x2 and a view of w; in bf16, x2 rounded (or x2 itself when
 * it is bf16 already) and the region's copy of w. The caller owns both results (x2 itself is
 * returned as is, consumed when rounded).
 */
export function gemmOperands(x2: Tensor, w: Tensor, wShape: readonly number[]): { x: Tensor; w: Tensor } {
  const bf16 = matmulDtype() === 'bfloat16';
  if (x2.dtype === 'bfloat16') {
    if (!bf16) throw new Error(`a bfloat16 input ${x2} reached a GEMM outside autocast('bfloat16')`);
    return { x: x2, w: bf16Weight(w, wShape) };
  }
  if (!bf16) return { x: x2, w: w.view(wShape) };
  const xb = toBf16(x2);
  x2.dispose();
  return { x: xb, w: bf16Weight(w, wShape) };
}
