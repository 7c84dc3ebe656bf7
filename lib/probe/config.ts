// Probe configs: the original's CFG-03/04 keys (lib/config/probe.ts) plus the probe-only
// extensions (optimization.cache_features, optimization.encoder_batch) in one shared schema.
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

/** Reads a probe YAML with --set overrides (CFG-03/04 plus our extensions, one schema). */
export function loadProbeRunConfig(file: string, sets: readonly string[] = [], opts: { strict?: boolean } = {}): ProbeRunConfig {
  const { raw, setPaths } = readWithOverrides(file, sets);
  return validateProbeRun(raw, { file, strict: opts.strict, setPaths });
}

export function validateProbeRun(
  raw: Record<string, unknown>,
  o: { file?: string; strict?: boolean; setPaths?: Set<string> } = {},
): ProbeRunConfig {
  const res = validateProbeConfig(raw, { file: o.file ?? '(config)', strict: o.strict, setPaths: o.setPaths });
  return {
    config: res.config,
    ext: { cacheFeatures: res.config.optimization.cache_features, encoderBatch: res.config.optimization.encoder_batch },
    warnings: res.warnings,
  };
}
