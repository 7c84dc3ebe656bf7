import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';

export interface MissingVideo {
  /** index file and 1-based line the entry came from */
  file: string;
  line: number;
  /** the exact (resolved) path that was looked for */
  path: string;
}

export interface VideoIndex {
  paths: string[];
  labels: Int32Array;
  /** samples contributed by each index file, in order (DATA-01, used for dataset weights) */
  perFileCounts: number[];
  /** listed videos that do not exist (only checked when `warnMissing` is given) */
  missing: MissingVideo[];
}

export interface ReadIndexOptions {
  /**
   * Check that every listed video exists and, if some do not, call this once with a summary.
   * Missing files stay in the index: as in the original (DATA-02) they are replaced by other
   * samples when they fail to load, so this is a warning, not an error.
   */
  warnMissing?: (msg: string) => void;
}

/** How many missing entries the warning lists by name. */
const MISSING_SHOWN = 5;
/** How many entries are looked for at most (an even sample of larger indexes). */
const MAX_CHECKED = 20_000;

/**
 * DATA-01: `path label`, no header. The label is the LAST whitespace-separated token and the
 * whitespace before it is the separator, so a path with spaces still parses (the original
 * breaks on it) and trailing or doubled spaces are harmless. Relative paths resolve against the
 * CSV's folder (the original requires absolute paths). `lines` holds each entry's 1-based line.
 */
export function parseIndexCsv(text: string, file: string, numClasses?: number): { paths: string[]; labels: number[]; lines: number[] } {
  const paths: string[] = [];
  const labels: number[] = [];
  const lineNos: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trimEnd();
    if (line.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    const sep = /\s+(\S+)$/.exec(line);
    if (!sep) throw new Error(`${where}: expected "path label" separated by a space, got ${JSON.stringify(line)}`);
    const rawPath = line.slice(0, sep.index);
    const rawLabel = sep[1];
    if (rawPath.trim() === '') throw new Error(`${where}: empty path`);
    if (!/^[+-]?\d+$/.test(rawLabel)) {
      throw new Error(`${where}: label ${JSON.stringify(rawLabel)} is not an integer`);
    }
    const label = Number(rawLabel);
    if (!Number.isSafeInteger(label) || label < 0 || label > 2147483647) {
      throw new Error(`${where}: label ${rawLabel} is out of range (must be a non-negative int32)`);
    }
    if (numClasses !== undefined && label >= numClasses) {
      throw new Error(`${where}: label ${label} is out of range [0, ${numClasses - 1}] (numClasses=${numClasses})`);
    }
    paths.push(isAbsolute(rawPath) ? rawPath : resolve(dirname(file), rawPath));
    labels.push(label);
    lineNos.push(i + 1);
  }
  return { paths, labels, lines: lineNos };
}

/** One warning for listed videos that do not exist; paths are quoted so a stray column shows. */
export function missingVideosMessage(missing: MissingVideo[], total: number, stride = 1): string {
  const shown = missing.slice(0, MISSING_SHOWN).map((m) => `  ${m.file}:${m.line}: "${m.path}"`);
  if (missing.length > MISSING_SHOWN) shown.push(`  ... and ${missing.length - MISSING_SHOWN} more`);
  const of = stride === 1 ? `${total} listed videos` : `${Math.ceil(total / stride)} checked (1 in ${stride} of ${total} listed)`;
  return `data: ${missing.length} of ${of} do not exist (they will be replaced by other samples when loaded):\n${shown.join('\n')}`;
}

/**
 * The error for listed videos that do not exist where replacing them would be wrong (features, whose
 * rows must be the listed videos): up to three named.
 */
export function missingVideosError(missing: MissingVideo[], total: number): string {
  const shown = missing.slice(0, 3).map((m) => `${m.path} (file not found)`).join(', ');
  const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
  const sampled = total > MAX_CHECKED ? ` (an even sample of the ${total} listed was looked for)` : '';
  return `cannot read ${missing.length === 1 ? 'video' : 'videos'} ${shown}${more}${sampled}`;
}

/** Concatenate several index files in order (DATA-01). */
export function readVideoIndex(csvPaths: string[], numClasses?: number, opts: ReadIndexOptions = {}): VideoIndex {
  if (csvPaths.length === 0) throw new Error('data: no index files given (csvPaths is empty)');
  const paths: string[] = [];
  const labels: number[] = [];
  const perFileCounts: number[] = [];
  const missing: MissingVideo[] = [];
  const origin: { file: string; line: number }[] = [];
  for (const file of csvPaths) {
    const ext = extname(file).toLowerCase();
    // the original silently ignores other extensions; we refuse them (NPY indexes are not supported)
    if (ext !== '.csv' && ext !== '.txt') {
      throw new Error(`${file}: unsupported index file type "${ext}" (expected .csv with "path label" lines)`);
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`${file}: cannot read index file: ${(e as Error).message}`);
    }
    const parsed = parseIndexCsv(text, file, numClasses);
    if (parsed.paths.length === 0) throw new Error(`${file}: index file has no samples`);
    parsed.lines.forEach((line) => origin.push({ file, line }));
    // not push(...array): a spread of a real dataset's 100k+ entries overflows the call stack
    for (let k = 0; k < parsed.paths.length; k++) paths.push(parsed.paths[k]), labels.push(parsed.labels[k]);
    perFileCounts.push(parsed.paths.length);
  }
  if (opts.warnMissing) {
    // Every entry up to MAX_CHECKED, else an even sample: a stat each is slow on network storage.
    const stride = Math.ceil(paths.length / MAX_CHECKED);
    for (let k = 0; k < paths.length; k += stride) if (!existsSync(paths[k])) missing.push({ ...origin[k], path: paths[k] });
    if (missing.length > 0) opts.warnMissing(missingVideosMessage(missing, paths.length, stride));
  }
  return { paths, labels: Int32Array.from(labels), perFileCounts, missing };
}
