// Frame counts and keyframes of an index CSV's videos, kept between runs.
//
// Counting a long video's frames decodes all of it (packet counts are not frame counts, and DATA-03
// samples from the frame count), once per video per loader. The probe builds a new val loader every
// epoch and a restarted run starts over, so without a store every one of them paid for a whole
// decode of every long video again. The store is a sidecar `<csv>.vjepa-meta` beside the CSV, or,
// where that folder is read-only, a file in the cache folder (VJEPA_CACHE_DIR, else
// $XDG_CACHE_HOME/vjepa, else ~/.cache/vjepa); both are read. Lines of JSON, appended as videos are
// counted: a kill costs at most its last, torn line. Each entry carries the video's size and mtime,
// and a worker drops an entry whose video no longer matches them, so an edited video is counted again.
import { accessSync, appendFileSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { VideoInfo } from './ffmpeg.js';
import { packKeyFrames, PAST_KEY } from './seek.js';

/** What the loader knows of a counted video. */
export interface VideoMeta {
  frameCount: number;
  fps: number;
  /** where a decode may start, as packKeyFrames packs them (empty: from frame 0, e.g. after a failed seek) */
  keyframes?: Float64Array;
  /** the file these were counted from: a size or mtime that no longer matches makes them stale */
  size?: number;
  mtimeMs?: number;
}

/** What the loader keeps of a counted video, stamped with the file it was counted from. */
export function metaOf(info: VideoInfo, st: { size: number; mtimeMs: number }): VideoMeta {
  return { frameCount: info.frameCount, fps: info.fps, keyframes: info.keyframes ? packKeyFrames(info.keyframes) : undefined, size: st.size, mtimeMs: st.mtimeMs };
}

/** Whether `m` still describes the file `st` was taken from (an unstamped entry is taken as current). */
export function isCurrent(m: VideoMeta, st: { size: number; mtimeMs: number }): boolean {
  return m.size === undefined || (m.size === st.size && m.mtimeMs === st.mtimeMs);
}

const HEADER = JSON.stringify({ format: 'vjepa-video-meta', version: 1 });

export function cacheDir(): string {
  const env = process.env.VJEPA_CACHE_DIR;
  if (env) return env;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg ? xdg : join(homedir(), '.cache'), 'vjepa');
}

export function writable(path: string): boolean {
  try {
    accessSync(existsSync(path) ? path : dirname(path), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The files read for `csv`, and the one new entries go to (null: neither place is writable). */
export function metaFiles(csv: string, canWrite: (path: string) => boolean = writable): { read: string[]; write: string | null } {
  const abs = resolve(csv);
  const sidecar = `${abs}.vjepa-meta`;
  const cached = join(cacheDir(), 'video-meta', `${basename(abs)}-${createHash('sha256').update(abs).digest('hex').slice(0, 16)}.vjepa-meta`);
  const read = [sidecar, cached].filter((f) => existsSync(f));
  if (canWrite(sidecar)) return { read, write: sidecar };
  try {
    mkdirSync(dirname(cached), { recursive: true });
  } catch {
    return { read, write: null };
  }
  return { read, write: canWrite(cached) ? cached : null };
}

interface Line {
  path: string;
  size: number;
  mtimeMs: number;
  frames: number;
  fps: number;
  /** packed keyframes; an `ahead` of PAST_KEY (most of them) is written as null, a third of a line's length */
  keys: (number | null)[] | null;
}

function toLine(path: string, m: VideoMeta): string {
  const keys = m.keyframes ? Array.from(m.keyframes, (v, i) => (i % 4 === 3 && v === PAST_KEY ? null : v)) : null;
  const l: Line = { path, size: m.size!, mtimeMs: m.mtimeMs!, frames: m.frameCount, fps: m.fps, keys };
  return JSON.stringify(l);
}

function fromLine(l: Line): VideoMeta | null {
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (typeof l.path !== 'string' || !num(l.size) || !num(l.mtimeMs) || !Number.isInteger(l.frames) || l.frames < 0 || !num(l.fps)) return null;
  if (l.keys !== null && (!Array.isArray(l.keys) || l.keys.length % 4 !== 0 || !l.keys.every((v, i) => num(v) || (v === null && i % 4 === 3)))) return null;
  const keyframes = l.keys ? Float64Array.from(l.keys, (v) => v ?? PAST_KEY) : undefined;
  return { frameCount: l.frames, fps: l.fps, keyframes, size: l.size, mtimeMs: l.mtimeMs };
}

/**
 * Call `fn` with each complete line of `file` and its 1-based number; returns what follows the last
 * newline (a torn line, or ''). Read in chunks: a million-video store is larger than V8's longest string.
 */
function eachLine(file: string, fn: (line: string, no: number) => void): { lines: number; tail: string } {
  const fd = openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(1 << 22);
  let carry = Buffer.alloc(0);
  let no = 0;
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
        fn(buf.toString('utf8', start, nl), ++no);
        start = nl + 1;
      }
      carry = Buffer.from(buf.subarray(start));
    }
  } finally {
    closeSync(fd);
  }
  return { lines: no, tail: carry.toString('utf8') };
}

/** Entries by absolute video path, later lines winning; lines that do not parse are counted, not fatal. */
export function readMetaFile(file: string): {
  entries: Map<string, VideoMeta>;
  /** entry lines (after the header) */
  lines: number;
  bad: number[];
  /** the last line has no newline */
  torn: boolean;
  /** no byte, or only a torn header: the next writer starts the file over */
  empty: boolean;
} {
  const entries = new Map<string, VideoMeta>();
  const bad: number[] = [];
  const { lines, tail } = eachLine(file, (line, no) => {
    if (no === 1) {
      if (line !== HEADER) throw new Error(`${file}:1: not a vjepa video-meta file (expected ${HEADER})`);
      return;
    }
    // two first runs may both have written the header
    if (line === '' || line === HEADER) return;
    let m: VideoMeta | null = null;
    let path = '';
    try {
      const l = JSON.parse(line) as Line;
      m = fromLine(l);
      path = l.path;
    } catch {
      m = null;
    }
    if (m) entries.set(path, m);
    else bad.push(no);
  });
  // a kill mid-append leaves a last line without its newline
  const torn = tail !== '';
  if (lines === 0 && torn && !HEADER.startsWith(tail)) throw new Error(`${file}:1: not a vjepa video-meta file (expected ${HEADER})`);
  if (torn && lines > 0) bad.push(lines + 1);
  return { entries, lines: Math.max(0, lines - 1), bad, torn, empty: lines === 0 };
}

/**
 * The store's text in chunks of about 4 MiB, made as they are written: one string of a large
 * store (some 260k long videos' keyframes) is longer than V8's longest string.
 */
function* metaChunks(entries: Map<string, VideoMeta>): Generator<Buffer> {
  let part = `${HEADER}\n`;
  for (const [p, m] of entries) {
    part += toLine(p, m) + '\n';
    if (part.length >= 1 << 22) {
      yield Buffer.from(part);
      part = '';
    }
  }
  yield Buffer.from(part);
}

/**
 * The store of one index CSV. Only the training process touches it (workers get entries with
 * their jobs and send new ones back); appends are whole lines in one write each.
 */
export class VideoMetaCache {
  private writeTo: string | null;
  private failed = false;
  /** what the next append must start with: the header for a new file, a newline after a torn line */
  private prefix = '';

  /** the files entries were read from */
  readonly sources: string[] = [];

  private constructor(
    readonly csv: string,
    readonly entries: Map<string, VideoMeta>,
    writeTo: string | null,
    private readonly log: (m: string) => void,
  ) {
    this.writeTo = writeTo;
  }

  /** Read what the earlier runs stored for `csv`; problems are logged, never thrown (the store only saves time). */
  static open(csv: string, log: (m: string) => void, canWrite?: (path: string) => boolean): VideoMetaCache {
    const files = metaFiles(csv, canWrite);
    const read = files.read;
    let write = files.write;
    const entries = new Map<string, VideoMeta>();
    const sources: string[] = [];
    let lines = 0;
    let prefix = `${HEADER}\n`;
    let restart = false;
    for (const f of read) {
      try {
        const r = readMetaFile(f);
        for (const [p, m] of r.entries) entries.set(p, m);
        if (r.entries.size > 0) sources.push(f);
        if (f === write) {
          lines = r.lines;
          restart = r.empty && r.torn;
          prefix = r.empty ? prefix : r.torn ? '\n' : '';
        }
        if (r.bad.length > 0) log(`data: ${f}: ignored ${r.bad.length} unreadable line(s) (first: line ${r.bad[0]}); those videos will be counted again`);
      } catch (e) {
        log(`data: ${(e as Error).message}; not using it`);
        if (f === write) write = null;
      }
    }
    const cache = new VideoMetaCache(csv, entries, write, log);
    cache.sources.push(...sources);
    cache.prefix = prefix;
    // superseded lines (re-counted videos, seeks turned off) pile up: rewrite when they are most of it;
    // a header torn by a kill is rewritten too. A line another process appends between our read and
    // the rename is lost: that video is counted again.
    if (write && (restart || lines > 2 * entries.size + 64)) cache.compact();
    return cache;
  }

  /** The file new entries go to (null: not stored). */
  get file(): string | null {
    return this.writeTo;
  }

  /** Rewrite the store with one line per entry (the loader does when superseded lines are most of it). */
  compact(): void {
    if (!this.writeTo) return;
    try {
      writeFileAtomic(this.writeTo, metaChunks(this.entries));
      this.prefix = '';
    } catch (e) {
      this.disable(e as Error);
    }
  }

  private disable(e: Error): void {
    if (!this.failed) this.log(`data: cannot store frame counts in ${this.writeTo} (${e.message}); they will be counted again next run`);
    this.failed = true;
    this.writeTo = null;
  }

  /** Store entries (stamped with size and mtime; unstamped ones are skipped). */
  add(items: [string, VideoMeta][]): void {
    const stamped = items.filter(([, m]) => m.size !== undefined && m.mtimeMs !== undefined);
    for (const [p, m] of stamped) this.entries.set(p, m);
    if (!this.writeTo || stamped.length === 0) return;
    try {
      appendFileSync(this.writeTo, this.prefix + stamped.map(([p, m]) => toLine(p, m) + '\n').join(''));
      this.prefix = '';
    } catch (e) {
      this.disable(e as Error);
    }
  }
}
