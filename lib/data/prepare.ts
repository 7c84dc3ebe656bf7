// `vjepa-data prepare`: re-encode a CSV's videos to a small short side with a short GOP
// (H.264, no B-frames), so that the loader decodes them quickly, and write a new CSV.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';
import { parseIndexCsv } from './csv.js';
import { ffmpegReason, runFfmpeg } from './ffmpeg.js';

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
  log?: (m: string) => void;
}

export interface PrepareResult {
  csv: string;
  written: number;
  skipped: number;
  failed: { path: string; reason: string }[];
}

export async function prepareVideos(o: PrepareOptions): Promise<PrepareResult> {
  const csv = resolve(o.csv);
  const { paths, labels } = parseIndexCsv(readFileSync(csv, 'utf8'), csv);
  const outDir = resolve(o.outDir);
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
    return join(outDir, name);
  });
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
      const r = await runFfmpeg([
        '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y', '-threads', '1', '-i', paths[i],
        '-map', '0:v:0', '-an', '-vf', vf, '-vsync', '0',
        '-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(o.crf ?? 18), '-g', String(o.gop ?? 8), '-bf', '0', '-pix_fmt', 'yuv420p',
        out,
      ]);
      if (r.code !== 0) {
        failed.push({ path: paths[i], reason: ffmpegReason(r.stderr, r.code) });
        o.log?.(`prepare: skipping ${paths[i]}: ${ffmpegReason(r.stderr, r.code)}`);
        continue;
      }
      written++;
      lines[i] = `${out} ${labels[i]}`;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? availableParallelism()) }, worker));
  const outCsv = resolve(o.outCsv ?? join(outDir, basename(csv)));
  writeFileSync(outCsv, lines.filter((l): l is string => l !== null).join('\n') + '\n');
  o.log?.(`prepare: ${written} re-encoded, ${skipped} already there, ${failed.length} failed -> ${outCsv}`);
  return { csv: outCsv, written, skipped, failed };
}
