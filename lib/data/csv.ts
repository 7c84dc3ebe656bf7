import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';

export interface VideoIndex {
  paths: string[];
  labels: Int32Array;
  /** samples contributed by each index file, in order (DATA-01, used for dataset weights) */
  perFileCounts: number[];
}

/**
 * DATA-01: `path label`, single space, no header. We split at the LAST space so a path with
 * spaces still parses (the original breaks on it), and resolve relative paths against the
 * CSV's folder (the original requires absolute paths).
 */
export function parseIndexCsv(text: string, file: string, numClasses?: number): { paths: string[]; labels: number[] } {
  const paths: string[] = [];
  const labels: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    const cut = line.lastIndexOf(' ');
    if (cut <= 0) throw new Error(`${where}: expected "path label" separated by one space, got ${JSON.stringify(line)}`);
    const rawPath = line.slice(0, cut);
    const rawLabel = line.slice(cut + 1).trim();
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
  }
  return { paths, labels };
}

/** Concatenate several index files in order (DATA-01). */
export function readVideoIndex(csvPaths: string[], numClasses?: number): VideoIndex {
  if (csvPaths.length === 0) throw new Error('data: no index files given (csvPaths is empty)');
  const paths: string[] = [];
  const labels: number[] = [];
  const perFileCounts: number[] = [];
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
    paths.push(...parsed.paths);
    labels.push(...parsed.labels);
    perFileCounts.push(parsed.paths.length);
  }
  return { paths, labels: Int32Array.from(labels), perFileCounts };
}
