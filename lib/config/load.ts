// Reading a YAML file into a raw tree, with file / line context on errors.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

export function readYamlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `config file not found: ${file}` : `cannot read config ${file}: ${(e as Error).message}`);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0];
    throw new Error(`${file}${line ? `:${line.line}:${line.col}` : ''}: YAML error: ${e.message.split('\n')[0]}`);
  }
  const value = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}: expected a YAML mapping at the top level`);
  return value as Record<string, unknown>;
}
