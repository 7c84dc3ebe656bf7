// The per-iteration CSV (TRAIN-11 columns plus ours) and the console line.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { memoryStats } from '../tensor.js';

export const CSV_COLUMNS = [
  'epoch', 'itr', 'loss', 'loss-jepa', 'reg-loss', 'enc-grad-norm', 'pred-grad-norm', 'gpu-time(ms)', 'wall-time(ms)',
  'iteration', 'lr', 'wd', 'momentum', 'clips/s', 'data-wait(ms)', 'target-std', 'pred-std', 'ctx-tokens', 'tgt-tokens',
  'target-rank', 'ctx-rank',
] as const;

export interface IterationRecord {
  epoch: number; // 1-based, as the original
  itr: number; // 0-based within the epoch
  loss: number;
  lossJepa: number;
  lossReg: number;
  encGradNorm: number;
  predGradNorm: number;
  wallMs: number;
  /** GPU time of the step on the device's compute stream (CUDA events); null on the CPU (written -1, TRAIN-11). */
  gpuMs: number | null;
  /** Time the loop waited for the loader (0 when decoding keeps up). */
  dataMs: number;
  iteration: number; // 0-based over the run
  lr: number;
  wd: number;
  momentum: number;
  clipsPerSec: number;
  targetStd: number;
  predStd: number;
  ctxTokens: number[];
  tgtTokens: number[];
  /** participation ratios (see monitors.ts) */
  targetRank: number;
  contextRank: number;
}

export class CsvLog {
  constructor(readonly path: string) {}

  /** Starts the file, or on resume keeps only the rows before `fromIteration` (no duplicates). */
  open(fromIteration: number): void {
    const header = CSV_COLUMNS.join(',') + '\n';
    if (fromIteration === 0 || !existsSync(this.path)) {
      writeFileSync(this.path, header);
      return;
    }
    const lines = readFileSync(this.path, 'utf8').split('\n').filter((l) => l.length > 0);
    const col = CSV_COLUMNS.indexOf('iteration');
    const kept = lines.slice(1).filter((l) => Number(l.split(',')[col]) < fromIteration);
    writeFileSync(this.path, header + kept.map((l) => l + '\n').join(''));
  }

  append(r: IterationRecord): void {
    const f = (v: number) => v.toFixed(5);
    const row = [
      r.epoch, r.itr, f(r.loss), f(r.lossJepa), f(r.lossReg), f(r.encGradNorm), f(r.predGradNorm), r.gpuMs === null ? -1 : Math.round(r.gpuMs), Math.round(r.wallMs),
      r.iteration, r.lr.toExponential(6), r.wd.toExponential(6), r.momentum.toFixed(6), r.clipsPerSec.toFixed(2), Math.round(r.dataMs),
      f(r.targetStd), f(r.predStd), r.ctxTokens.join('/'), r.tgtTokens.join('/'),
      r.targetRank.toFixed(2), r.contextRank.toFixed(2),
    ];
    appendFileSync(this.path, row.join(',') + '\n');
  }

  /** All rows as numbers by column (for the plot). */
  read(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const c of CSV_COLUMNS) out[c] = [];
    if (!existsSync(this.path)) return out;
    const lines = readFileSync(this.path, 'utf8').split('\n').filter((l) => l.length > 0);
    for (const l of lines.slice(1)) {
      const cells = l.split(',');
      CSV_COLUMNS.forEach((c, i) => out[c].push(Number(cells[i])));
    }
    return out;
  }
}

/** A gradient norm in three significant digits: the encoder's sit near 1e-4 while the predictor's are near 0.5. */
export function gradText(x: number): string {
  if (!Number.isFinite(x) || x === 0) return String(x);
  return x >= 0.01 && x < 1000 ? x.toPrecision(3) : x.toExponential(2);
}

export function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)}K`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(0)}M`;
  return `${(n / 1024 ** 3).toFixed(2)}G`;
}

/**
 * The memory part of a log line: the process's RSS, the live tensor bytes on the host and, on
 * a GPU run, on the devices with what the caching allocator holds from the driver (the
 * counterpart of torch.cuda.memory_allocated / memory_reserved).
 */
export function formatMemory(device: string): string {
  const m = memoryStats();
  const host = `mem ${formatBytes(process.memoryUsage().rss)} native ${formatBytes(m.cpuBytes)}`;
  return device === 'cpu' ? host : `${host} | ${device} ${formatBytes(m.cudaBytes)} reserved ${formatBytes(m.cudaReservedBytes)}`;
}
