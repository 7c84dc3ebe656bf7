// A small declarative schema for the YAML configs: type, range, default, required, and "accepted
// but ignored" keys. validate() returns a normalised copy with every default filled in, and collects
// errors (wrong type / range / missing) and warnings (unknown or ignored keys) by full key path.
import { closestKey } from './suggest.js';

export type Spec =
  | NumberSpec
  | StringSpec
  | BoolSpec
  | NumListSpec
  | StrListSpec
  | SectionSpec
  | ListSpec
  | AnySpec;

interface Base {
  /** 'req' = error when absent; otherwise the default is used. */
  required?: boolean;
  default?: unknown;
  nullable?: boolean;
  /** Accepted but has no effect: warn with this reason when present. */
  ignored?: string;
  /** Warn with this text when the key is absent (for surprising defaults). */
  warnIfAbsent?: string;
  /** Warn with this text when the key is present. */
  warnIfPresent?: string;
}
export interface NumberSpec extends Base {
  kind: 'number';
  int?: boolean;
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  gt?: number;
}
export interface StringSpec extends Base {
  kind: 'string';
  enum?: readonly string[];
  pattern?: RegExp;
  patternText?: string;
}
export interface BoolSpec extends Base {
  kind: 'bool';
}
export interface NumListSpec extends Base {
  kind: 'numlist';
  length?: number;
  min?: number;
  max?: number;
}
export interface StrListSpec extends Base {
  kind: 'strlist';
  /** Also accept a single string (normalised to a one-element list). */
  allowScalar?: boolean;
}
export interface SectionSpec extends Base {
  kind: 'section';
  fields: Record<string, Spec>;
}
export interface ListSpec extends Base {
  kind: 'list';
  of: Spec;
  minLength?: number;
}
export interface AnySpec extends Base {
  kind: 'any';
}

export interface ValidationContext {
  file: string;
  strict: boolean;
  /** Key paths set with --set (for clearer unknown-key messages). */
  setPaths: Set<string>;
  errors: string[];
  warnings: string[];
  /** Unknown-key messages, kept apart so an error report can show them too (a typo leaves a key missing). */
  unknownKeys?: string[];
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `a list ${trim(JSON.stringify(v))}`;
  if (typeof v === 'object') return `a mapping ${trim(JSON.stringify(v))}`;
  return String(v);
}

function trim(s: string): string {
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function err(ctx: ValidationContext, path: string, msg: string): undefined {
  ctx.errors.push(`${ctx.file}: ${path}: ${msg}`);
  return undefined;
}

function unknownKey(ctx: ValidationContext, parent: string, key: string, known: string[]): void {
  const path = parent ? `${parent}.${key}` : key;
  // `--set optimizaton.epochs=1` reports the unknown segment `optimizaton`, not the full set path.
  const fromSet = [...ctx.setPaths].some((p) => p === path || p.startsWith(`${path}.`));
  const via = fromSet ? ' (from --set)' : '';
  const near = closestKey(key, known);
  const hint = near === null ? '' : ` (did you mean ${parent ? `${parent}.${near}` : near}?)`;
  const msg = `${ctx.file}: ${path}: unknown key${via}${hint}; known keys here: ${known.join(', ')}`;
  ctx.unknownKeys?.push(msg);
  if (ctx.strict) ctx.errors.push(msg);
  else ctx.warnings.push(msg + ' (ignored)');
}

/** One message listing every error; unknown keys are appended since a misspelt key is what made another one missing. */
export function problemsMessage(ctx: ValidationContext): string {
  const n = ctx.errors.length;
  let msg = `invalid config ${ctx.file} (${n} problem${n > 1 ? 's' : ''}):\n  ${ctx.errors.join('\n  ')}`;
  // In strict mode they are already among the errors.
  if (!ctx.strict && ctx.unknownKeys && ctx.unknownKeys.length > 0) {
    msg += `\nunknown keys (a misspelt key leaves the real one missing):\n  ${ctx.unknownKeys.join('\n  ')}`;
  }
  return msg;
}

function cloneDefault(d: unknown): unknown {
  return d === undefined ? undefined : JSON.parse(JSON.stringify(d));
}

/** Default value of a spec when its key is absent (sections build their own defaults). */
function absent(spec: Spec, path: string, ctx: ValidationContext): unknown {
  if (spec.required) {
    if (spec.kind === 'section') {
      // Report the missing required children, not just the section.
      return validate({}, spec, path, ctx);
    }
    return err(ctx, path, 'required key is missing');
  }
  if (spec.warnIfAbsent) ctx.warnings.push(`${ctx.file}: ${path}: ${spec.warnIfAbsent}`);
  if (spec.default !== undefined) return cloneDefault(spec.default);
  if (spec.kind === 'section' && !spec.nullable) return validate({}, spec, path, ctx);
  return spec.nullable ? null : undefined;
}

export function validate(value: unknown, spec: Spec, path: string, ctx: ValidationContext): unknown {
  if (spec.ignored) {
    // Dropped from the result so no consumer can start depending on it.
    ctx.warnings.push(`${ctx.file}: ${path}: accepted but ignored: ${spec.ignored}`);
    return undefined;
  }
  // null is the default: a config written back with its defaults filled (params-pretrain.yaml) says nothing.
  if (spec.warnIfPresent && value !== null) ctx.warnings.push(`${ctx.file}: ${path}: ${spec.warnIfPresent}`);
  if (value === null) {
    if (spec.nullable || spec.kind === 'any') return null;
    return err(ctx, path, `expected ${expected(spec)}, got null`);
  }
  switch (spec.kind) {
    case 'any':
      return value;
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return err(ctx, path, `expected ${expected(spec)}, got ${describe(value)}`);
      if (spec.int && !Number.isInteger(value)) return err(ctx, path, `expected an integer, got ${value}`);
      if (spec.min !== undefined && value < spec.min) return err(ctx, path, `must be >= ${spec.min}, got ${value}`);
      if (spec.max !== undefined && value > spec.max) return err(ctx, path, `must be <= ${spec.max}, got ${value}`);
      if (spec.gt !== undefined && value <= spec.gt) return err(ctx, path, `must be > ${spec.gt}, got ${value}`);
      return value;
    }
    case 'string': {
      if (typeof value !== 'string') return err(ctx, path, `expected a string, got ${describe(value)}`);
      if (spec.enum && !spec.enum.includes(value)) return err(ctx, path, `expected one of ${spec.enum.join(', ')}, got ${JSON.stringify(value)}`);
      if (spec.pattern && !spec.pattern.test(value)) return err(ctx, path, `expected ${spec.patternText ?? spec.pattern}, got ${JSON.stringify(value)}`);
      return value;
    }
    case 'bool':
      if (typeof value !== 'boolean') return err(ctx, path, `expected true or false, got ${describe(value)}`);
      return value;
    case 'numlist': {
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        return err(ctx, path, `expected ${expected(spec)}, got ${describe(value)}`);
      }
      if (spec.length !== undefined && value.length !== spec.length) return err(ctx, path, `expected ${spec.length} numbers, got ${value.length}`);
      for (const x of value) {
        if (spec.min !== undefined && x < spec.min) return err(ctx, path, `values must be >= ${spec.min}, got ${x}`);
        if (spec.max !== undefined && x > spec.max) return err(ctx, path, `values must be <= ${spec.max}, got ${x}`);
      }
      return [...value];
    }
    case 'strlist': {
      if (typeof value === 'string' && spec.allowScalar) return [value];
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) return err(ctx, path, `expected ${expected(spec)}, got ${describe(value)}`);
      return [...value];
    }
    case 'list': {
      if (!Array.isArray(value)) return err(ctx, path, `expected a list, got ${describe(value)}`);
      if (spec.minLength !== undefined && value.length < spec.minLength) return err(ctx, path, `expected at least ${spec.minLength} entries, got ${value.length}`);
      return value.map((v, i) => validate(v, spec.of, `${path}.${i}`, ctx));
    }
    case 'section': {
      if (!isPlainObject(value)) return err(ctx, path, `expected a mapping, got ${describe(value)}`);
      const out: Record<string, unknown> = {};
      const known = Object.keys(spec.fields);
      for (const key of Object.keys(value)) {
        if (!(key in spec.fields)) unknownKey(ctx, path, key, known);
      }
      for (const [key, sub] of Object.entries(spec.fields)) {
        const p = path ? `${path}.${key}` : key;
        const v = Object.prototype.hasOwnProperty.call(value, key) ? value[key] : undefined;
        const r = v === undefined ? absent(sub, p, ctx) : validate(v, sub, p, ctx);
        if (r !== undefined) out[key] = r;
      }
      return out;
    }
  }
}

function expected(spec: Spec): string {
  switch (spec.kind) {
    case 'number':
      return spec.int ? 'an integer' : 'a number';
    case 'string':
      return 'a string';
    case 'bool':
      return 'true or false';
    case 'numlist':
      return spec.length ? `a list of ${spec.length} numbers` : 'a list of numbers';
    case 'strlist':
      return spec.allowScalar ? 'a string or a list of strings' : 'a list of strings';
    case 'section':
      return 'a mapping';
    case 'list':
      return 'a list';
    case 'any':
      return 'a value';
  }
}

// Shorthands used by the concrete schemas.
export const num = (o: Omit<NumberSpec, 'kind'> = {}): NumberSpec => ({ kind: 'number', ...o });
export const int = (o: Omit<NumberSpec, 'kind' | 'int'> = {}): NumberSpec => ({ kind: 'number', int: true, ...o });
export const str = (o: Omit<StringSpec, 'kind'> = {}): StringSpec => ({ kind: 'string', ...o });
export const bool = (o: Omit<BoolSpec, 'kind'> = {}): BoolSpec => ({ kind: 'bool', ...o });
export const pair = (o: Omit<NumListSpec, 'kind' | 'length'> = {}): NumListSpec => ({ kind: 'numlist', length: 2, ...o });
export const numlist = (o: Omit<NumListSpec, 'kind'> = {}): NumListSpec => ({ kind: 'numlist', ...o });
export const strlist = (o: Omit<StrListSpec, 'kind'> = {}): StrListSpec => ({ kind: 'strlist', ...o });
export const section = (fields: Record<string, Spec>, o: Omit<SectionSpec, 'kind' | 'fields'> = {}): SectionSpec => ({ kind: 'section', fields, ...o });
export const list = (of: Spec, o: Omit<ListSpec, 'kind' | 'of'> = {}): ListSpec => ({ kind: 'list', of, ...o });
export const ignored = (reason: string): AnySpec => ({ kind: 'any', ignored: reason });
export const REQ = { required: true } as const;
