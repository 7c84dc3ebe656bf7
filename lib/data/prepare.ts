// `vjepa-data prepare`: re-encode a CSV's videos to a small short side with a short GOP
// (H.264, no B-frames), so that the loader decodes them quickly, write a new CSV, and store the
// new videos' frame counts and keyframes where the loaders look for them (lib/data/meta-cache.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';
import { parseIndexCsv } from './csv.js';
import { ffmpegReason, runFfmpeg } from './ffmpeg.js';
import { countVideos } from './count.js';
import { pidAlive } from '../util/process.js';

export interface PrepareOptions {
  csv: string;
  outDir: string;
  /** output CSV (default: <outDir>/<csv name>) */
  outCsv?: string;
  shortSide: number;
  gop?: number;
  crf?: number;
  concurrency?: number;
  /** re-encode even if the output exists */
  overwrite?: boolean;
  /** store the outputs' frame counts and keyframes (default true: a small output decodes in a few ms) */
  count?: boolean;
  log?: (m: string) => void;
}

export interface PrepareResult {
  csv: string;
  written: number;
  skipped: number;
  failed: { path: string; reason: string }[];
  /** where the outputs' frame counts went (null: not counted, or nowhere writable) */
  counts: string | null;
}

/** Temporary name an output is encoded under; only a finished encode is renamed to `out`. */
export function partialName(out: string, pid = process.pid): string {
  return `${out}.partial-${pid}`;
}

/** Delete temporaries of our outputs left by killed runs (a live pid may be a concurrent run; ours is overwritten). */
function removeStalePartials(outDir: string, outNames: string[]): void {
  const ours = new Set(outNames.map((p) => basename(p)));
  for (const f of readdirSync(outDir)) {
    const m = /^(.+)\.partial-(\d+)$/.exec(f);
    if (!m || !ours.has(m[1])) continue;
    const pid = Number(m[2]);
    if (!pidAlive(pid)) rmSync(join(outDir, f), { force: true });
  }
}

export async function prepareVideos(o: PrepareOptions): Promise<PrepareResult> {
  const csv = resolve(o.csv);
  const { paths, labels } = parseIndexCsv(readFileSync(csv, 'utf8'), csv);
  const outDir = resolve(o.outDir);
  // The outputs replace files: never the inputs themselves.
  const outCsvPath = resolve(o.outCsv ?? join(outDir, basename(csv)));
  if (outCsvPath === resolve(csv)) throw new Error(`prepare: the output CSV ${outCsvPath} is the input --csv itself; give --out-csv or another --out`);
  const sources = new Set(paths.map((p) => resolve(p)));
  mkdirSync(outDir, { recursive: true });
  const s = o.shortSide;
  if (!(Number.isInteger(s) && s >= 8)) throw new Error(`prepare: shortSide must be an integer >= 8 (got ${s})`);
  const lines: (string | null)[] = new Array(paths.length).fill(null);
  const failed: { path: string; reason: string }[] = [];
  let written = 0;
  let skipped = 0;
  let next = 0;
  const used = new Set<string>();
  const outNames = paths.map((p, i) => {
    let name = basename(p, extname(p)) + '.mp4';
    if (used.has(name)) name = `${i}_${name}`;
    used.add(name);
    const out = join(outDir, name);
    if (sources.has(out)) throw new Error(`prepare: ${out} would be written over its own source (${paths[i]}); give an --out folder apart from the videos`);
    return out;
  });
  removeStalePartials(outDir, outNames);
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      const out = outNames[i];
      if (!o.overwrite && existsSync(out)) {
        skipped++;
        lines[i] = `${out} ${labels[i]}`;
        continue;
      }
      // even output sizes for yuv420p; the short side becomes exactly s (or s rounded up to even)
      const vf = `scale='if(lt(iw,ih),${s + (s % 2)},-2)':'if(lt(iw,ih),-2,${s + (s % 2)})':flags=bilinear`;
      // a killed run must not leave a truncated file under the final name (it would count as done)
      const tmp = partialName(out);
      const r = await runFfmpeg([
        '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y', '-threads', '1', '-i', paths[i],
        '-map', '0:v:0', '-an', '-vf', vf, '-vsync', '0',
        '-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(o.crf ?? 18), '-g', String(o.gop ?? 8), '-bf', '0', '-pix_fmt', 'yuv420p',
        '-f', 'mp4', tmp,
      ], 0, undefined, { dieWithParent: true });
      let reason: string | null = r.code !== 0 ? ffmpegReason(r.stderr, r.code) : null;
      if (reason === null) {
        try {
          renameSync(tmp, out);
        } catch (e) {
          reason = `cannot rename ${tmp} to ${out}: ${(e as Error).message}`;
        }
      }
      if (reason !== null) {
        rmSync(tmp, { force: true });
        failed.push({ path: paths[i], reason });
        o.log?.(`prepare: skipping "${paths[i]}": ${reason}`);
        continue;
      }
      written++;
      lines[i] = `${out} ${labels[i]}`;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? availableParallelism()) }, worker));
  const outCsv = outCsvPath;
  const kept = lines.filter((l): l is string => l !== null);
  writeFileSync(outCsv, kept.join('\n') + '\n');
  o.log?.(`prepare: ${written} re-encoded, ${skipped} already there, ${failed.length} failed -> ${outCsv}`);
  let counts: string | null = null;
  if ((o.count ?? true) && kept.length > 0) {
    const c = await countVideos({ csvPaths: [outCsv], jobs: o.concurrency, log: (m) => o.log?.(m) });
    counts = c.files[0];
    for (const f of c.failed) o.log?.(`prepare: cannot count "${f.path}": ${f.reason}`);
    o.log?.(`prepare: frame counts of ${c.counted + c.known} videos ${counts ? `in ${counts}` : 'not stored (no writable place)'}`);
  }
  return { csv: outCsv, written, skipped, failed, counts };
}
