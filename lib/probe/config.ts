// Probe configs: the original's CFG-03/04 keys (lib/config/probe.ts) plus the probe-only
// extensions below, which are taken out of the raw tree before the shared schema sees it.
import { readWithOverrides } from '../config/common.js';
import { validateProbeConfig, type ProbeConfig } from '../config/probe.js';

export interface ProbeExtensions {
  /**
   * optimization.cache_features: train the head on frozen features computed once per video.
   * The train split then uses the eval transform (1 centre view, deterministic clip sampling).
   */
  cacheFeatures: boolean;
  /** optimization.encoder_batch: clips per encoder pass (null = all S·V·B of a batch at once, as MOD-14). */
  encoderBatch: number | null;
}

export interface ProbeRunConfig {
  config: ProbeConfig;
  ext: ProbeExtensions;
  warnings: string[];
}

const EXTENSION_KEYS: Record<string, 'bool' | 'posint|null'> = {
  'optimization.cache_features': 'bool',
  'optimization.encoder_batch': 'posint|null',
};

/** Reads a probe YAML with --set overrides: CFG-03/04 validation plus the probe extensions. */
export function loadProbeRunConfig(file: string, sets: readonly string[] = [], opts: { strict?: boolean } = {}): ProbeRunConfig {
  const { raw, setPaths } = readWithOverrides(file, sets);
  return validateProbeRun(raw, { file, strict: opts.strict, setPaths });
}

export function validateProbeRun(
  raw: Record<string, unknown>,
  o: { file?: string; strict?: boolean; setPaths?: Set<string> } = {},
): ProbeRunConfig {
  const file = o.file ?? '(config)';
  const values: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [path, kind] of Object.entries(EXTENSION_KEYS)) {
    const [sec, key] = path.split('.');
    const node = raw[sec] as Record<string, unknown> | undefined;
    if (!node || typeof node !== 'object' || !(key in node)) continue;
    const v = node[key];
    delete node[key];
    if (kind === 'bool' && typeof v !== 'boolean') errors.push(`${file}: ${path}: expected true or false, got ${JSON.stringify(v)}`);
    if (kind === 'posint|null' && v !== null && !(Number.isInteger(v) && (v as number) > 0))
      errors.push(`${file}: ${path}: expected a positive integer or null, got ${JSON.stringify(v)}`);
    values[path] = v;
  }
  const setPaths = new Set([...(o.setPaths ?? [])].filter((p) => !(p in EXTENSION_KEYS)));
  let res;
  try {
    res = validateProbeConfig(raw, { file, strict: o.strict, setPaths });
  } catch (e) {
    if (errors.length) throw new Error(`${(e as Error).message}\n  ${errors.join('\n  ')}`);
    throw e;
  }
  if (errors.length) throw new Error(`invalid config ${file}:\n  ${errors.join('\n  ')}`);
  return {
    config: res.config,
    ext: {
      cacheFeatures: (values['optimization.cache_features'] as boolean | undefined) ?? false,
      encoderBatch: (values['optimization.encoder_batch'] as number | null | undefined) ?? null,
    },
    warnings: res.warnings,
  };
}
