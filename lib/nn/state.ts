// Loading and saving state dicts by the original's names (MOD-15). Loading is strict by
// default: every missing, unexpected or mis-shaped key is listed in one error.
import type { HostTensor } from '../io/host-tensor.js';
import { Module } from './module.js';
import { shapeStr } from '../tensor.js';

/** Strips the wrapper prefixes the original's checkpoints carry (`module.`, `backbone.`). */
export function stripPrefixes(name: string): string {
  let n = name;
  for (;;) {
    if (n.startsWith('module.')) n = n.slice(7);
    else if (n.startsWith('backbone.')) n = n.slice(9);
    else return n;
  }
}

export function toFloat32(t: HostTensor, name: string): Float32Array {
  switch (t.dtype) {
    case 'float32':
      return t.data as Float32Array;
    case 'float64':
      return Float32Array.from(t.data as Float64Array);
    case 'bfloat16': {
      const src = t.data as Uint16Array;
      const out = new Float32Array(src.length);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
      return out;
    }
    case 'float16': {
      const src = t.data as Uint16Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]);
      return out;
    }
    default:
      throw new Error(`${name}: expected a floating-point tensor, got ${t.dtype}`);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

export interface LoadReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
  mismatched: string[];
}

/**
 * Copies tensors into a module's parameters. `strict` (default) throws listing every
 * problem; otherwise the report says what was skipped. Names are matched after
 * stripping `module.`/`backbone.`.
 */
export function loadStateDict(
  module: Module,
  tensors: Map<string, HostTensor>,
  opts: { strict?: boolean; what?: string } = {},
): LoadReport {
  const strict = opts.strict ?? true;
  const what = opts.what ?? 'state dict';
  const params = new Map(module.namedParameters().map(([n, p]) => [n, p]));
  const byName = new Map<string, [string, HostTensor]>();
  for (const [raw, t] of tensors) byName.set(stripPrefixes(raw), [raw, t]);
  const report: LoadReport = { loaded: [], missing: [], unexpected: [], mismatched: [] };
  for (const [name] of params) if (!byName.has(name)) report.missing.push(name);
  for (const [name, [raw, t]] of byName) {
    const p = params.get(name);
    if (!p) {
      report.unexpected.push(raw);
      continue;
    }
    if (shapeStr(t.shape) !== shapeStr(p.tensor.shape)) {
      // A 5-D patch weight is a video model's, a 4-D one the image model's (MOD-02: num_frames 1).
      const kind = (r: number) => (r === 5 ? 'a video model' : 'the image model (num_frames 1)');
      const why = name === 'patch_embed.proj.weight' && t.shape.length !== p.tensor.rank && [4, 5].includes(t.shape.length)
        ? ` (the checkpoint holds ${kind(t.shape.length)}, this model is ${kind(p.tensor.rank)}: check num_frames)`
        : '';
      report.mismatched.push(`${raw}: checkpoint ${shapeStr(t.shape)} vs model ${shapeStr(p.tensor.shape)}${why}`);
      continue;
    }
  }
  const problems = report.missing.length + report.unexpected.length + report.mismatched.length;
  if (strict && problems) {
    const parts: string[] = [];
    if (report.missing.length) parts.push(`missing keys (${report.missing.length}): ${report.missing.join(', ')}`);
    if (report.unexpected.length) parts.push(`unexpected keys (${report.unexpected.length}): ${report.unexpected.join(', ')}`);
    if (report.mismatched.length) parts.push(`shape mismatches (${report.mismatched.length}): ${report.mismatched.join('; ')}`);
    throw new Error(`loading ${what} failed (strict): ${parts.join(' | ')}. To load what matches on purpose, use vjepa-embed --partial or loadStateDict(..., { strict: false }).`);
  }
  const bad = new Set(report.mismatched.map((m) => stripPrefixes(m.split(':')[0])));
  for (const [name, [, t]] of byName) {
    const p = params.get(name);
    if (!p || bad.has(name)) continue;
    p.tensor.write(toFloat32(t, name));
    report.loaded.push(name);
  }
  module.stateChanged();
  return report;
}

/** Host copies of a module's parameters under `prefix`. */
export function exportStateDict(module: Module, prefix = ''): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, p] of module.namedParameters()) {
    const t = p.tensor.device === 'cpu' ? p.tensor : p.tensor.to('cpu');
    out.set(prefix + name, { dtype: 'float32', shape: [...p.tensor.shape], data: t.toFloat32Array() });
    if (t !== p.tensor) t.dispose();
  }
  return out;
}

/** The tensors whose names start with `prefix`, under their names without it (one section of a checkpoint). */
export function section(tensors: Map<string, HostTensor>, prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

/**
 * The fixed sincos tables (`pos_embed`, `predictor_pos_embed`) of a state dict built for another grid (another
 * resolution or frame count) give way to the module's own: they are functions of the grid, not learned, so the
 * original keeps the model's table too (EVAL-02). Edits `sd` in place; returns a note per table replaced.
 */
export function keepOwnPositionTables(module: Module, sd: Map<string, HostTensor>): string[] {
  const own = new Map(module.namedParameters().map(([n, p]) => [n, p.tensor]));
  const notes: string[] = [];
  for (const [raw, t] of sd) {
    const name = stripPrefixes(raw);
    if (name !== 'pos_embed' && name !== 'predictor_pos_embed') continue;
    const mine = own.get(name);
    if (!mine || shapeStr(t.shape) === shapeStr(mine.shape)) continue;
    notes.push(`${name} ${shapeStr(t.shape)} in the file, ${shapeStr(mine.shape)} here: keeping the model's table`);
    sd.set(raw, { dtype: 'float32', shape: [...mine.shape], data: mine.toFloat32Array() });
  }
  return notes;
}
