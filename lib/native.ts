// Loads the addon and types its surface. Nothing else lives here: tensors, autograd and
// layers wrap these calls in lib/tensor.ts, lib/autograd.ts and lib/ops/.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type DType = 'float32' | 'bfloat16' | 'int32' | 'int64' | 'uint8' | 'float64';

/**
 * One tensor view owned by JS: a slot of the addon's handle table. Lifetime is explicit: a raw
 * handle has no GC finaliser, so dispose() it (Tensor adds a backstop for tensors no scope owns).
 */
export interface TensorHandle {
  readonly shape: number[];
  readonly dtype: DType;
  readonly device: string;
  readonly disposed: boolean;
  readonly nbytes: number;
  dispose(): void;
  read(into: ArrayBufferView): void;
  write(from: ArrayBufferView): void;
}

/** Attention forward kernels on CUDA (bf16): mma.sync (sm_80+), or Hopper's wgmma (sm_90), at head_dim 64 in 192-query blocks or (wgmma-bn64) 64-key tiles. */
export type AttnFwdKernels = 'mma' | 'wgmma' | 'wgmma-bn64';
/** Attention backward on CUDA (bf16): two deterministic kernels, one pass with atomic dQ, or that pass on wgmma. */
export type AttnBwdKernels = 'split' | 'fused' | 'wgmma';
export type AttnKernelsFrom = 'env' | 'tuned' | 'default';

type H = TensorHandle;
type OptH = TensorHandle | null;

export interface NativeAddon {
  TensorHandle: unknown;
  empty(shape: number[], dtype: DType, device?: string): H;
  zeros(shape: number[], dtype: DType, device?: string): H;
  reshape(t: H, shape: number[]): H;
  /** Whether a and b are views of one storage. */
  sharesStorage(a: H, b: H): boolean;
  narrow(t: H, start: number, length: number): H;
  copy(src: H, dst: H): void;
  /**
   * Copies a typed array of dst's dtype and element count into dst. On CUDA it returns once the
   * bytes are staged in pinned memory (src may be reused at once); the copy runs on the copy
   * stream and the first op that touches dst waits for it on the GPU. On the CPU a plain copy.
   */
  uploadAsync(src: ArrayBufferView, dst: H): void;
  uploadStats(device?: string): { pinnedBytes: number; pinnedBuffers: number; pendingUploads: number; asyncCopies: number; syncCopies: number };
  stats(): { liveTensors: number; cpuBytes: number; cudaBytes: number; cpuPeakBytes: number; cudaPeakBytes: number; cpuCachedBytes: number; cudaReservedBytes: number; cudaCachedBytes: number };
  emptyCache(): void;
  /** A file's bytes as an ArrayBuffer over a private mapping (no copy); it outlives the file. */
  mapFile(path: string): ArrayBuffer;
  resetPeak(): void;
  setNumThreads(n: number): void;
  numThreads(): number;
  setIsa(isa: 'portable' | 'avx2' | 'avx512' | 'avx512bf16' | 'auto'): string;
  /** lib/nn/init.ts's truncated normal draws into an fp32 host tensor; advances state, returns the new spare. */
  initTruncNormal(t: TensorHandle, state: Uint32Array, spare: number | null, std: number, bound: number): number | null;
  isa(): { active: string; best: string };
  /**
   * ltGemms: GEMMs run on cuBLASLt so far (0 where it is missing or VJEPA_CUDA_NO_LT=1).
   * launches: kernels the CUDA backend launched so far, each GEMM call counted as one.
   * wgmmaAttention: attention forwards run by the Hopper wgmma kernels so far (VJEPA_CUDA_ATTN_FWD=wgmma).
   */
  cudaInfo(): {
    compiled: boolean;
    available: boolean;
    reason: string;
    emulated: boolean;
    ltGemms: number;
    launches: number;
    wgmmaAttention: number;
  };
  cudaDevice(index: number): { name: string; major: number; minor: number; totalBytes: number };
  /** Starts (or restarts) the stopwatch of a CUDA device ('cuda' or 'cuda:N'): an event on its compute stream. */
  cudaStopwatchStart(device: string): void;
  /** The GPU time in ms on the device's compute stream since cudaStopwatchStart (waits for it), as torch.cuda.Event.elapsed_time. */
  cudaStopwatchStop(device: string): number;
  /** One wgmma product per operand layout of the Hopper attention kernels, exact where the device agrees; [] without wgmma. */
  wgmmaSelfTest(): { layout: string; maxErr: number; widths: number[] }[];
  /** The width the wgmma attention kernels run headDim at (24, 32, 64, 80, 96, 128), 0 where they do not take it; hd24: 16 (padded to 32) and 24 too. */
  wgmmaHeadWidth(headDim: number, hd24: boolean): number;
  /**
   * The bf16 attention kernels for headDim on a CUDA device, as lib/ops/attention-tuning.ts chose
   * them ('' forgets a choice). VJEPA_CUDA_ATTN_FWD / _BWD, where set, still win.
   */
  setAttentionKernels(device: string, headDim: number, fwd: AttnFwdKernels | '', bwd: AttnBwdKernels | ''): void;
  /** What runs for headDim on that device, and whether each came from the environment, the tuner or the default. */
  attentionKernels(device: string, headDim: number): { fwd: AttnFwdKernels; bwd: AttnBwdKernels; fwdFrom: AttnKernelsFrom; bwdFrom: AttnKernelsFrom };
  sincos3d(out: H, T: number, Hp: number, Wp: number, uniformPower: boolean): void;
  sincos2d(out: H, Hp: number, Wp: number): void;

  /** C = alpha op(A) op(B) + beta C + bias (+ residual, with beta 0; it may be C). */
  gemm(A: H, B: H, C: H, transA: boolean, transB: boolean, alpha: number, beta: number, bias: OptH, residual?: OptH): void;
  gemmGelu(A: H, B: H, C: H, pre: OptH, transB: boolean, bias: OptH): void;
  /** bf16: tensor-core products on CUDA (sm_80+); ignored by the CPU backend. */
  attentionFwd(q: H, qOff: number, k: H, kOff: number, v: H, vOff: number, out: H, lse: H, heads: number, scale: number, bf16?: boolean): void;
  attentionBwd(q: H, qOff: number, k: H, kOff: number, v: H, vOff: number, out: H, lse: H, dout: H,
    dq: H, dqOff: number, dk: H, dkOff: number, dv: H, dvOff: number, heads: number, scale: number, bf16?: boolean): void;
  layernormFwd(x: H, w: OptH, b: OptH, y: H, mean: H, rstd: H, eps: number): void;
  /** dx written, or added to with accumulateDx (dx may not share storage with dy or x then); dw, db added to. */
  layernormBwd(dy: H, x: H, w: OptH, mean: H, rstd: H, dx: H, dw: OptH, db: OptH, accumulateDx?: boolean): void;
  geluFwd(x: H, y: H): void;
  /** x bf16: dx16 gets dx rounded, db (+)= dx summed over rows, dx may be null: one pass. */
  geluBwd(x: H, dy: H, dx: OptH, dx16?: OptH, db?: OptH, accumulate?: boolean): void;
  unfoldTubelets(x: H, idx: OptH, out: H, tubelet: number, patch: number): void;
  gatherRows(x: H, idx: H, out: H): void;
  scatterAddRows(dout: H, idx: H, dx: H): void;
  copyBlocks(src: H, srcOff: number, dst: H, dstOff: number, outer: number, inner: number,
    srcStride: number, dstStride: number, accumulate: boolean): void;
  fill(x: H, value: number): void;
  axpby(x: H, y: OptH, out: H, a: number, b: number): void;
  addRowvec(x: H, v: H, out: H): void;
  /** out (+)= x summed over rows; xb, if given, gets x rounded to bf16 in the same pass. */
  sumRows(x: H, out: H, accumulate: boolean, xb?: OptH): void;
  sumSquares(x: H): number;
  /** Σ over the tensors of Σ x², in double; on CUDA one synchronisation for all of them. */
  sumSquaresMany(xs: H[]): number;
  meanColStd(x: H): number;
  cast(src: H, dst: H): void;
  lossFwd(pred: H, target: H, lossExp: number): number;
  lossBwd(pred: H, target: H, dpred: H, lossExp: number, gradScale: number): void;
  tokenStdFwd(x: H, std: H, eps: number): void;
  tokenStdBwd(x: H, std: H, gstd: H, dx: H): void;
  crossEntropy(logits: H, labels: H, dlogits: OptH, gradScale: number): number;
  softmax(x: H, y: H): void;
  /**
   * One torch.optim.AdamW step for every tensor of the lists (torch's foreach path), each with its
   * own weight decay and step count; the same bits as one tensor at a time. On CUDA a few launches
   * for the whole list.
   */
  adamwMany(params: H[], grads: H[], ms: H[], vs: H[], lr: number, beta1: number, beta2: number, eps: number,
    weightDecays: number[], steps: number[]): void;
  /** targets[k] = m targets[k] + (1 - m) onlines[k], for the whole list at once. */
  emaMany(targets: H[], onlines: H[], momentum: number): void;
  /** xs[k] *= a, for the whole list at once (gradient clipping). */
  scaleMany(xs: H[], a: number): void;
  /** dsts[k] = bfloat16(srcs[k]) for float32 srcs, in a few launches on CUDA. */
  castMany(srcs: H[], dsts: H[]): void;
}

/** The addon file this process loaded (the tuner keys its cache on its contents). */
export function addonPath(): string {
  return loadedFrom;
}

function findAddon(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/lib/native.js -> repo root is two levels up; lib/native.ts (ts-node style) one level.
  const roots = [resolve(here, '..', '..'), resolve(here, '..')];
  const override = process.env.VJEPA_ADDON;
  if (override) return override;
  for (const r of roots) {
    for (const sub of ['build/Release/vjepa.node', 'build/Debug/vjepa.node']) {
      const p = join(r, sub);
      if (existsSync(p)) return p;
    }
  }
  throw new Error(
    `vjepa: the native addon is not built (looked for build/Release/vjepa.node under ${roots.join(', ')}). ` +
      `Run \`npm run build:native\` in the package directory.`,
  );
}

const require = createRequire(import.meta.url);
const loadedFrom = findAddon();
export const native: NativeAddon = require(loadedFrom);
