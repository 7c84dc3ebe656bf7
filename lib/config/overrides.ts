// `--set key.path=value` overrides, applied to the raw YAML tree before validation.
// The value is parsed as a YAML scalar or flow collection: `1`, `1e-3`, `null`, `true`, `[0.7, 0.7]`,
// `{a: 1}`; anything that is not valid YAML is an error. Numeric path segments index lists
// (`mask.0.num_blocks=4`).
import YAML from 'yaml';

export interface SetOverride {
  path: string[];
  value: unknown;
  /** The original `key.path=value` text, for messages. */
  text: string;
}

export function parseSet(text: string): SetOverride {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--set ${text}: expected key.path=value`);
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  const path = key.split('.');
  if (path.some((p) => p === '')) throw new Error(`--set ${text}: empty segment in key path "${key}"`);
  let value: unknown;
  try {
    value = raw.trim() === '' ? '' : YAML.parse(raw);
  } catch (e) {
    throw new Error(`--set ${text}: value is not a YAML scalar or flow collection: ${(e as Error).message.split('\n')[0]}`);
  }
  return { path, value, text };
}

const isIndex = (s: string) => /^(0|[1-9]\d*)$/.test(s);

/** Apply overrides in order, creating intermediate mappings as needed. Returns the dotted paths set. */
export function applySets(root: Record<string, unknown>, sets: readonly (string | SetOverride)[]): Set<string> {
  const paths = new Set<string>();
  for (const s of sets) {
    const o = typeof s === 'string' ? parseSet(s) : s;
    let node: any = root;
    for (let i = 0; i < o.path.length; i++) {
      const seg = o.path[i];
      const last = i === o.path.length - 1;
      const here = o.path.slice(0, i).join('.') || '(root)';
      if (Array.isArray(node)) {
        if (!isIndex(seg)) throw new Error(`--set ${o.text}: ${here} is a list; "${seg}" is not an index`);
        const idx = Number(seg);
        if (idx > node.length) throw new Error(`--set ${o.text}: index ${idx} is past the end of ${here} (length ${node.length})`);
        if (last) node[idx] = o.value;
        else {
          if (node[idx] === undefined || node[idx] === null) node[idx] = isIndex(o.path[i + 1]) ? [] : {};
          node = node[idx];
        }
      } else if (typeof node === 'object' && node !== null) {
        if (seg === '__proto__' || seg === 'constructor' || seg === 'prototype') throw new Error(`--set ${o.text}: forbidden key "${seg}"`);
        if (last) node[seg] = o.value;
        else {
          if (node[seg] === undefined || node[seg] === null) node[seg] = isIndex(o.path[i + 1]) ? [] : {};
          node = node[seg];
        }
      } else {
        throw new Error(`--set ${o.text}: ${here} is ${JSON.stringify(node)}, not a mapping or list`);
      }
      if (!last && (typeof node !== 'object' || node === null)) {
        throw new Error(`--set ${o.text}: ${o.path.slice(0, i + 1).join('.')} is ${JSON.stringify(node)}, not a mapping or list`);
      }
    }
    paths.add(o.path.join('.'));
  }
  return paths;
}
