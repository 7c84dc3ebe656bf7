// Picks the bf16 attention kernels for this GPU, as cudnn.benchmark does for convolutions, but
// checked first: a child process (attention-trial.ts) runs each candidate (Hopper's wgmma forward
// and backward, the one-pass mma.sync backward) on the model's attention shapes, compares its
// outputs with the default kernels' and times it. A candidate is used only where it matched and
// was faster; a fault, a hang or a wrong answer in the child leaves the defaults in place, and the
// log says so. The verdict is cached per addon build and GPU model, so later runs skip the trial.
//
// VJEPA_CUDA_ATTN_FWD / _BWD, where set, choose for every head_dim and skip the trial;
// VJEPA_CUDA_ATTN_TUNE=0 keeps the defaults (mma.sync with the deterministic split backward).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../io/atomic.js';
import { addonPath, native, type AttnBwdKernels, type AttnFwdKernels } from '../native.js';
import {
  TRIAL_MARKER,
  TRIAL_TOLERANCE,
  type AttnShape,
  type Candidate,
  type TrialReport,
  type TrialRequest,
  type TrialResult,
} from './attention-trial.js';

export type { AttnShape } from './attention-trial.js';

/** What one head_dim runs, and why. */
export interface AttnChoice {
  fwd: AttnFwdKernels;
  bwd: AttnBwdKernels;
  /** 'trial': measured now; 'cache': measured by an earlier run; 'failed': the trial could not run, defaults kept. */
  from: 'trial' | 'cache' | 'failed';
  /** The log line's detail: each candidate's time, or why it was not used. */
  detail: string;
}

export interface TuneOptions {
  log: (line: string) => void;
  /** Default: $VJEPA_CACHE_DIR, else $XDG_CACHE_HOME/vjepa, else ~/.cache/vjepa; then attention-kernels.json. */
  cacheFile?: string;
  /** Timed calls per candidate (default 10). */
  iters?: number;
  /** The child's limit (default 300 s): a hung kernel costs this once, then the cache remembers. */
  timeoutMs?: number;
  /** Tests: another trial script, another cache key, another way to apply. */
  trialScript?: string;
  deviceKey?: string;
  apply?: (headDim: number, fwd: AttnFwdKernels, bwd: AttnBwdKernels) => void;
}

/** One network's attention calls: its width, heads, tokens per clip and batch. */
export interface AttnPart {
  dim: number;
  heads: number;
  tokens: number;
  batch: number;
}

/** A ViT encoder's attention, over all of its tokens. */
export function encoderAttention(enc: { cfg: { embedDim: number; numHeads: number }; numTokens: number }, batch: number): AttnPart {
  return { dim: enc.cfg.embedDim, heads: enc.cfg.numHeads, tokens: enc.numTokens, batch };
}

/** tuneAttention where a run uses the tensor-core kernels at all: CUDA with bf16 matmuls. */
export function tuneRunAttention(device: string, matmulDtype: string, parts: AttnPart[], log: (line: string) => void): Map<number, AttnChoice> {
  if (device === 'cpu' || matmulDtype !== 'bfloat16') return new Map();
  return tuneAttention(device, attentionShapes(parts), { log });
}

/** A non-default candidate must beat the default by this much: noise should not trade determinism away. */
export const MIN_GAIN = 0.03;

const CACHE_VERSION = 1;

export function defaultCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.VJEPA_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'vjepa');
  return join(dir, 'attention-kernels.json');
}

/**
 * The shapes a model's attention runs at, one per head_dim (the first listed wins): callers list
 * the encoder first, whose calls dominate. Batch is capped so that the trial stays short.
 */
export function attentionShapes(list: AttnPart[]): AttnShape[] {
  const seen = new Map<number, AttnShape>();
  for (const { dim, heads, tokens, batch } of list) {
    const headDim = dim / heads;
    if (!seen.has(headDim)) seen.set(headDim, { headDim, heads, tokens, batch: Math.max(1, Math.min(batch, 16)) });
  }
  return [...seen.values()];
}

function fastest<K extends string>(cands: Partial<Record<K, Candidate>>, def: K): K {
  const base = cands[def];
  let best = def;
  let bestMs = base?.ms ?? Infinity;
  for (const [k, c] of Object.entries(cands) as [K, Candidate][]) {
    if (k === def || !c.ok || c.ms === undefined) continue;
    if (c.ms < bestMs && c.ms < (base?.ms ?? Infinity) * (1 - MIN_GAIN)) {
      best = k;
      bestMs = c.ms;
    }
  }
  return best;
}

function describe<K extends string>(cands: Partial<Record<K, Candidate>>): string {
  return (Object.entries(cands) as [K, Candidate][])
    .map(([k, c]) => (c.ok ? `${k} ${c.ms!.toFixed(3)} ms` : `${k} not used (${c.why})`))
    .join(', ');
}

/** The kernels a trial's result argues for: the fastest of those that matched the defaults, by MIN_GAIN. */
export function choose(r: TrialResult, wgmmaSkipped = ''): Omit<AttnChoice, 'from'> {
  const fwd = fastest(r.fwd, 'mma');
  const bwd = fastest(r.bwd, 'split');
  const skipped = wgmmaSkipped ? `; wgmma not tried: ${wgmmaSkipped}` : '';
  return { fwd, bwd, detail: `forward ${describe(r.fwd)}; backward ${describe(r.bwd)}${skipped}` };
}

/** The kernel switches the trial sets itself, per candidate, or that only this process reads. */
const TRIAL_OWNS = new Set(['VJEPA_CUDA_ATTN_FWD', 'VJEPA_CUDA_ATTN_BWD', 'VJEPA_CUDA_ATTN_WGMMA_HD24', 'VJEPA_CUDA_ATTN_TUNE']);

/**
 * The other VJEPA_CUDA_ATTN_* switches set here (e.g. _NO_HD24): the child inherits
 * them and the run keeps them, so they change what a verdict measured and are part of its key.
 */
function inheritedSwitches(env: NodeJS.ProcessEnv = process.env): string {
  return Object.keys(env)
    .filter((k) => k.startsWith('VJEPA_CUDA_ATTN_') && !TRIAL_OWNS.has(k) && env[k])
    .sort()
    .map((k) => ` | ${k}=${env[k]}`)
    .join('');
}

function shapeKey(s: AttnShape): string {
  return `hd=${s.headDim} heads=${s.heads} tokens=${s.tokens} batch=${s.batch}`;
}

/** The addon's contents and the GPU model: a rebuilt addon or another GPU is tried afresh. */
function deviceKeyOf(device: string): string {
  const hash = createHash('sha256').update(readFileSync(addonPath())).digest('hex').slice(0, 16);
  const d = native.cudaDevice(Number(/^cuda:(\d+)$/.exec(device)?.[1] ?? 0));
  return `addon ${hash} | ${d.name} sm_${d.major}${d.minor}`;
}

interface CacheEntry {
  fwd: AttnFwdKernels;
  bwd: AttnBwdKernels;
  detail: string;
  failed?: boolean;
  at: string;
}

function readCache(file: string, log: (s: string) => void): Record<string, CacheEntry> {
  if (!existsSync(file)) return {};
  try {
    const j = JSON.parse(readFileSync(file, 'utf8'));
    if (j?.version === CACHE_VERSION && j.entries && typeof j.entries === 'object') return j.entries;
    log(`attention kernels: ${file} is from another version; trying the kernels again`);
  } catch (e) {
    log(`attention kernels: ${file} is unreadable (${(e as Error).message}); trying the kernels again`);
  }
  return {};
}

function writeCache(file: string, entries: Record<string, CacheEntry>, log: (s: string) => void): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, [Buffer.from(JSON.stringify({ version: CACHE_VERSION, entries }, null, 1) + '\n')]);
  } catch (e) {
    // The choice still holds for this run; the next one tries again.
    log(`attention kernels: could not cache the choice (${(e as Error).message})`);
  }
}

const TRIAL_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'attention-trial.js');

/** The line of a child's output that says what went wrong: the error itself, not node's stack around it. */
function firstError(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^(\w*Error\b|cuda |terminate called)|error/i.test(l) && !/^at /.test(l)) ?? lines.at(-1);
}

/** Runs the trial in a child; its report, or why there is none. */
function runChild(req: TrialRequest, opts: TuneOptions): TrialReport | string {
  const env = { ...process.env };
  for (const k of TRIAL_OWNS) delete env[k];
  const r = spawnSync(process.execPath, [opts.trialScript ?? TRIAL_SCRIPT, JSON.stringify(req)], {
    env,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 300_000,
    killSignal: 'SIGKILL',
    maxBuffer: 16 << 20,
  });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith(`${TRIAL_MARKER} `));
  if (r.status === 0 && line) {
    try {
      return JSON.parse(line.slice(TRIAL_MARKER.length + 1)) as TrialReport;
    } catch (e) {
      return `its report is not JSON (${(e as Error).message})`;
    }
  }
  const tail = firstError(r.stderr ?? '') ?? firstError(r.stdout ?? '') ?? '';
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return `it ran past ${(opts.timeoutMs ?? 300_000) / 1000} s and was killed`;
  if (r.error) return `it could not start (${r.error.message})`;
  if (r.signal) return `it died of ${r.signal}${tail ? `: ${tail}` : ''}`;
  return `it exited with ${r.status}${tail ? `: ${tail}` : ''}`;
}

/**
 * Chooses, caches and applies the attention kernels of each shape's head_dim on a CUDA device,
 * and logs one line per head_dim. Returns the choices (empty on the CPU, or where the
 * environment decides).
 */
export function tuneAttention(device: string, shapes: AttnShape[], opts: TuneOptions): Map<number, AttnChoice> {
  const out = new Map<number, AttnChoice>();
  if (!device.startsWith('cuda') || shapes.length === 0) return out;
  const { log } = opts;
  const envFwd = process.env.VJEPA_CUDA_ATTN_FWD, envBwd = process.env.VJEPA_CUDA_ATTN_BWD;
  if (envFwd || envBwd) {
    log(`attention kernels: from the environment (VJEPA_CUDA_ATTN_FWD=${envFwd ?? ''} VJEPA_CUDA_ATTN_BWD=${envBwd ?? ''}); no trial`);
    return out;
  }
  if (process.env.VJEPA_CUDA_ATTN_TUNE === '0') {
    log('attention kernels: mma.sync with the split backward (VJEPA_CUDA_ATTN_TUNE=0: no trial)');
    return out;
  }
  const apply = opts.apply ?? ((hd, fwd, bwd) => native.setAttentionKernels(device, hd, fwd, bwd));
  const file = opts.cacheFile ?? defaultCacheFile();
  const deviceKey = opts.deviceKey ?? deviceKeyOf(device);
  const entries = readCache(file, log);
  const switches = inheritedSwitches();
  const key = (s: AttnShape) => `${deviceKey} | ${shapeKey(s)}${switches}`;

  const missing = shapes.filter((s) => !entries[key(s)]);
  const tried = new Set(missing.map(key));
  if (missing.length) {
    const t0 = performance.now();
    const report = runChild({ device, shapes: missing, iters: opts.iters ?? 10 }, opts);
    const at = new Date().toISOString();
    missing.forEach((s, i) => {
      const r = typeof report === 'string' ? undefined : report.results[i];
      entries[key(s)] = r
        ? { ...choose(r, (report as TrialReport).wgmmaSkipped), at }
        : {
            fwd: 'mma',
            bwd: 'split',
            failed: true,
            detail: `the trial failed (${typeof report === 'string' ? report : 'no result for this shape'}); the defaults stay. Please report this with the lines above; delete ${file} to try again`,
            at,
          };
    });
    writeCache(file, entries, log);
    log(`attention kernels: tried ${missing.length} shape${missing.length === 1 ? '' : 's'} in a child process in ${((performance.now() - t0) / 1000).toFixed(1)} s (bf16 outputs checked against the defaults within ${TRIAL_TOLERANCE}); cached in ${file}`);
  }
  for (const s of shapes) {
    if (out.has(s.headDim)) continue;  // one choice per head_dim: the first shape listed, as attentionShapes keeps
    const e = entries[key(s)];
    const c: AttnChoice = { fwd: e.fwd, bwd: e.bwd, detail: e.detail, from: e.failed ? 'failed' : tried.has(key(s)) ? 'trial' : 'cache' };
    out.set(s.headDim, c);
    apply(s.headDim, c.fwd, c.bwd);
    const how = c.from === 'cache' ? ` (cached ${e.at.slice(0, 10)})` : '';
    log(`attention kernels, head_dim ${s.headDim} (${s.heads} heads, ${s.tokens} tokens, batch ${s.batch}): forward ${c.fwd}, backward ${c.bwd}${how}: ${c.detail}`);
  }
  return out;
}
