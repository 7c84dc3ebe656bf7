// Pieces shared by the pretraining and probe schemas: our extensions and the finish step.
import { applySets } from './overrides.js';
import { readYamlFile } from './load.js';
import { bool, int, num, problemsMessage, section, str, validate, type SectionSpec, type ValidationContext } from './schema.js';

export interface ConfigLoadOptions {
  /** Unknown keys become errors (also enabled by `meta.strict: true` in the file). */
  strict?: boolean;
}

export interface LoadResult<C> {
  config: C;
  warnings: string[];
}

/** Extension: the synthetic dataset to create when the index CSVs are missing. */
export interface SyntheticDataConfig {
  dir: string;
  videos: number;
  classes: number;
  frames: number;
  size: number;
  fps: number;
  seed: number;
  /** 'square': a textured square moves; 'pan': the camera pans over a textured world */
  scene: 'square' | 'pan';
}

export const syntheticSpec = section(
  {
    dir: str({ required: true }),
    videos: int({ default: 32, min: 1 }),
    classes: int({ default: 4, min: 1 }),
    frames: int({ default: 64, min: 1 }),
    size: int({ default: 96, min: 8 }),
    fps: num({ default: 24, gt: 0 }),
    seed: int({ default: 0 }),
    scene: str({ default: 'square', pattern: /^(square|pan)$/, patternText: "'square' or 'pan'" }),
  },
  { nullable: true, default: null },
);

/** Extension: model size overrides applied on top of the named variant (null = variant's value). */
export interface ModelOverrides {
  embed_dim: number | null;
  depth: number | null;
  num_heads: number | null;
  mlp_ratio: number | null;
}

export const modelOverrideFields = {
  embed_dim: int({ min: 1, nullable: true, default: null }),
  depth: int({ min: 1, nullable: true, default: null }),
  num_heads: int({ min: 1, nullable: true, default: null }),
  mlp_ratio: num({ gt: 0, nullable: true, default: null }),
};

export const deviceSpec = str({ default: 'cpu', pattern: /^(cpu|cuda|cuda:\d+)$/, patternText: "'cpu', 'cuda' or 'cuda:N'" });
export const threadsSpec = int({ min: 1, nullable: true, default: null });
export const strictSpec = bool({ default: false });

/** Read a YAML file and apply --set overrides to the raw tree. */
export function readWithOverrides(file: string, sets: readonly string[]): { raw: Record<string, unknown>; setPaths: Set<string> } {
  const raw = readYamlFile(file);
  try {
    return { raw, setPaths: applySets(raw, sets) };
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** Read, apply --set, validate; throw one Error listing every problem. */
export function loadWith<C>(
  file: string,
  sets: readonly string[],
  opts: ConfigLoadOptions,
  spec: SectionSpec,
  crossCheck: (cfg: C, ctx: ValidationContext) => void,
): LoadResult<C> {
  const { raw, setPaths } = readWithOverrides(file, sets);
  return validateWith<C>(raw, { file, strict: opts.strict, setPaths }, spec, crossCheck);
}

export function validateWith<C>(
  raw: unknown,
  o: { file?: string; strict?: boolean; setPaths?: Set<string> },
  spec: SectionSpec,
  crossCheck: (cfg: C, ctx: ValidationContext) => void,
): LoadResult<C> {
  const fileStrict = (raw as any)?.meta?.strict === true;
  const ctx: ValidationContext = {
    file: o.file ?? '(config)',
    strict: o.strict ?? fileStrict,
    setPaths: o.setPaths ?? new Set(),
    errors: [],
    warnings: [],
    unknownKeys: [],
  };
  const config = validate(raw, spec, '', ctx) as C;
  if (ctx.errors.length === 0) crossCheck(config, ctx);
  if (ctx.errors.length > 0) throw new Error(problemsMessage(ctx));
  return { config, warnings: ctx.warnings };
}
