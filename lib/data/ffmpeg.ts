import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { shmDir } from './shm.js';
import { keyPrintFilter, parsePrinted, pickFrames, seekSelectFilters, type KeyFrame, type Seek } from './seek.js';

const require = createRequire(import.meta.url);

let cachedPath: string | null = null;
/** The ffmpeg binary from @ffmpeg-installer/ffmpeg (a 2018 static build: -vsync 0, no ffprobe). */
export function ffmpegPath(): string {
  if (cachedPath) return cachedPath;
  const override = process.env.VJEPA_FFMPEG;
  cachedPath = override && override.length > 0 ? override : (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  return cachedPath;
}

export interface VideoInfo {
  codec: string;
  width: number;
  height: number;
  /** average frame rate from the header (0 if unknown) */
  fps: number;
  /** seconds (0 if unknown) */
  duration: number;
  /** exact frame count when known (decoded or counted), else -1 */
  frameCount: number;
  /** keyframes (display index and timestamps), when the frames were counted (probeVideoFull) */
  keyframes?: KeyFrame[];
}

export interface StreamSection {
  kind: 'input' | 'output';
  index: number;
  duration: number;
  codec: string;
  width: number;
  height: number;
  fps: number;
}

/** Parse the Input/Output sections of ffmpeg's info-level stderr. */
export function parseFfmpegSections(stderr: string): StreamSection[] {
  const sections: StreamSection[] = [];
  let cur: StreamSection | null = null;
  let haveVideo = false;
  for (const line of stderr.split(/\r?\n/)) {
    const head = /^(Input|Output) #(\d+),/.exec(line);
    if (head) {
      cur = { kind: head[1] === 'Input' ? 'input' : 'output', index: Number(head[2]), duration: 0, codec: '', width: 0, height: 0, fps: 0 };
      sections.push(cur);
      haveVideo = false;
      continue;
    }
    if (!cur) continue;
    const dur = /^\s+Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(line);
    if (dur) {
      cur.duration = Number(dur[1]) * 3600 + Number(dur[2]) * 60 + Number(dur[3]);
      continue;
    }
    if (!haveVideo && /^\s+Stream #\d+:\d+.*: Video: /.test(line)) {
      haveVideo = true;
      const codec = /: Video: ([A-Za-z0-9_]+)/.exec(line);
      if (codec) cur.codec = codec[1];
      const size = /, (\d+)x(\d+)[ ,\n]/.exec(line + '\n');
      if (size) {
        cur.width = Number(size[1]);
        cur.height = Number(size[2]);
      }
      const rate = (unit: string) => {
        const m = new RegExp(`, ([\\d.]+)(k?) ${unit}`).exec(line);
        return m ? Number(m[1]) * (m[2] === 'k' ? 1000 : 1) : 0;
      };
      cur.fps = rate('fps') || rate('tbr');
      continue;
    }
    if (/^\S/.test(line) && !/^\s/.test(line) && !head) {
      // a top-level line (e.g. "Stream mapping:") ends the section
      if (/^(Stream mapping|Press|\[)/.test(line)) cur = null;
    }
  }
  return sections;
}

interface RunResult {
  code: number | null;
  stderr: string;
  outputs: Buffer[];
}

export interface RunOptions {
  /**
   * Stop ffmpeg (SIGTERM) when this process dies, even by SIGKILL: a long encode would otherwise
   * run on as an orphan. ffmpeg has no parent-death option and Node cannot set PR_SET_PDEATHSIG,
   * so /bin/sh starts a watcher that blocks on a pipe only this process writes to, then execs
   * ffmpeg (same pid); the pipe reads EOF when this process dies. Not with stdin or output pipes.
   */
  dieWithParent?: boolean;
}

// $$ is the pid that becomes ffmpeg; a "\n" from the parent means ffmpeg ended normally
const WATCHDOG = 'exec 3<&0 </dev/null\n{ read -r _ <&3 || kill -TERM $$; } >/dev/null 2>&1 &\nexec "$@" 3<&-\n';

const running = new Set<ChildProcess>();
/** frame files being written (see frameFiles) */
const pendingFiles = new Set<string>();
let exitHook = false;

/**
 * Kill the ffmpeg processes still running and remove the frame files they were writing: for a
 * process that is going away (a data worker told to stop), which would otherwise leave them to
 * write into /dev/shm after it.
 */
export function stopDecoders(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
  for (const f of pendingFiles) {
    try {
      unlinkSync(f);
    } catch {
      // not written yet (and its writer is gone)
    }
  }
  pendingFiles.clear();
}

/** Run ffmpeg with `numOutputs` extra pipes (fd 3, 4, ...) whose bytes are collected. */
export function runFfmpeg(args: string[], numOutputs = 0, stdin?: Buffer, opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const watch = opts.dieWithParent === true && process.platform !== 'win32';
    if (watch && (stdin || numOutputs > 0)) throw new Error('runFfmpeg: dieWithParent cannot be combined with stdin or output pipes');
    const stdio: ('pipe' | 'ignore')[] = [stdin || watch ? 'pipe' : 'ignore', 'ignore', 'pipe'];
    for (let i = 0; i < numOutputs; i++) stdio.push('pipe');
    const child = watch ? spawn('/bin/sh', ['-c', WATCHDOG, 'ffmpeg', ffmpegPath(), ...args], { stdio }) : spawn(ffmpegPath(), args, { stdio });
    running.add(child);
    child.on('exit', () => running.delete(child));
    const errChunks: Buffer[] = [];
    const outChunks: Buffer[][] = [];
    child.stderr!.on('data', (c: Buffer) => errChunks.push(c));
    for (let i = 0; i < numOutputs; i++) {
      const chunks: Buffer[] = [];
      outChunks.push(chunks);
      const s = child.stdio[3 + i] as NodeJS.ReadableStream;
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', () => undefined);
    }
    if (stdin) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(stdin);
    }
    if (watch) {
      child.stdin!.on('error', () => undefined);
      // release the watcher without killing anything
      child.on('exit', () => child.stdin!.end('\n'));
    }
    child.on('error', (e) => reject(new Error(`cannot run ffmpeg (${ffmpegPath()}): ${e.message}`)));
    child.on('close', (code) => {
      const stderr = Buffer.concat(errChunks).toString('utf8');
      // sh's exec reports a missing binary as exit 127 instead of a spawn error
      if (watch && code === 127 && !existsSync(ffmpegPath())) {
        reject(new Error(`cannot run ffmpeg (${ffmpegPath()}): not found`));
        return;
      }
      resolvePromise({ code, stderr, outputs: outChunks.map((c) => Buffer.concat(c)) });
    });
  });
}

const BASE = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info'];
// for runs that print keyframes or seek checks: identical lines in a row (n, pts and t are all 0 at
// frame 0) must not be folded into "Last message repeated"
const BASE_PRINTING = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'repeat+info'];

/** Short, useful reason from ffmpeg's stderr (the last error-looking line). */
export function ffmpegReason(stderr: string, code: number | null): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const bad = lines.filter((l) => /error|invalid|no such|not found|could not|failed|does not contain|moov atom|end of file/i.test(l));
  const pick = bad.length > 0 ? bad[bad.length - 1] : lines[lines.length - 1];
  return `ffmpeg exit ${code}${pick ? `: ${pick}` : ''}`;
}

/** Header probe (`ffmpeg -i`), no decoding. frameCount is -1 (headers of this build give no nb_frames). */
export async function probeVideo(path: string): Promise<VideoInfo> {
  const r = await runFfmpeg([...BASE, '-i', path]);
  const inp = parseFfmpegSections(r.stderr).find((s) => s.kind === 'input');
  if (!inp || !inp.codec) throw new Error(`${path}: not a readable video (${ffmpegReason(r.stderr, r.code)})`);
  return { codec: inp.codec, width: inp.width, height: inp.height, fps: inp.fps, duration: inp.duration, frameCount: -1 };
}

/** Exact frame count by decoding to the null muxer (used when the header is not enough). */
export async function countFrames(path: string): Promise<number> {
  return (await countFramesAndKeys(path)).frames;
}

/** Exact frame count, and the keyframes a later seek can start from (the same decode). */
export async function countFramesAndKeys(path: string): Promise<{ frames: number; keyframes: KeyFrame[] }> {
  // -copyts: keyframe timestamps on the stream's own clock, as seeks read them
  const r = await runFfmpeg([...BASE_PRINTING, '-copyts', '-threads', '1', '-i', path, '-map', '0:v:0', '-vf', keyPrintFilter(0), '-vsync', '0', '-f', 'null', '-']);
  const m = /frame=\s*(\d+)(?![\s\S]*frame=)/.exec(r.stderr);
  if (r.code !== 0 && !m) throw new Error(`${path}: cannot count frames (${ffmpegReason(r.stderr, r.code)})`);
  return { frames: m ? Number(m[1]) : 0, keyframes: parsePrinted(r.stderr).keys.get(0) ?? [] };
}

/** Probe size, fps, duration, the exact frame count and the keyframes. */
export async function probeVideoFull(path: string): Promise<VideoInfo> {
  const info = await probeVideo(path);
  const c = await countFramesAndKeys(path);
  info.frameCount = c.frames;
  info.keyframes = c.keyframes;
  return info;
}

export interface DecodeRequest {
  path: string;
  /** frame indices to decode (duplicates allowed, any order); omit for every frame */
  indices?: ArrayLike<number>;
  /** output size; omit for native size */
  width?: number;
  height?: number;
  /** resize so the short side is this many pixels (ignored when width/height are given) */
  shortSide?: number;
  /** stop after this many decoded frames (whole-video mode) */
  maxFrames?: number;
  /** start at this keyframe (with indices, all at or after it); checked, and undone if wrong */
  seek?: Seek | null;
}

export interface DecodedVideo {
  path: string;
  /** RGB uint8, [count, height, width, 3] */
  data: Uint8Array;
  count: number;
  width: number;
  height: number;
  /** header info of the input; info.frameCount is set when every frame was decoded */
  info: VideoInfo;
  /** decoder messages (warnings); frames were still produced */
  warnings: string;
  /** the requested seek failed its check and the frames were decoded from the start */
  seekRejected?: boolean;
}

function scaleFilter(req: DecodeRequest): string | null {
  if (req.width && req.height) return `scale=${req.width}:${req.height}:flags=bilinear`;
  if (req.shortSide) {
    const s = req.shortSide;
    // keep the aspect, even-free sizes are fine for rgb24
    return `scale='if(lt(iw,ih),${s},-1)':'if(lt(iw,ih),-1,${s})':flags=bilinear`;
  }
  return null;
}

function uniqueSorted(indices: ArrayLike<number>): number[] {
  return Array.from(new Set(Array.from(indices))).sort((a, b) => a - b);
}

function outputArgs(req: DecodeRequest, k: number, target: string): string[] {
  const filters: string[] = [];
  let limit: number | undefined = req.maxFrames;
  if (req.indices) {
    const u = uniqueSorted(req.indices);
    if (u.length === 0) throw new Error(`${req.path}: empty frame index list`);
    if (u[0] < 0) throw new Error(`${req.path}: negative frame index ${u[0]}`);
    if (req.seek) {
      const key = req.seek.key;
      if (u[0] < key.frame) throw new Error(`${req.path}: frame ${u[0]} requested before the seek's keyframe ${key.frame}`);
      filters.push(...seekSelectFilters(k, key, u.map((i) => i - key.frame)));
    } else {
      filters.push(`select='${pickFrames(u)}'`);
    }
    limit = u.length;
  }
  const sc = scaleFilter(req);
  if (sc) filters.push(sc);
  const a = ['-map', `${k}:v:0`];
  if (filters.length > 0) a.push('-vf', filters.join(','));
  a.push('-vsync', '0');
  if (limit !== undefined) a.push('-frames:v', String(limit));
  a.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', target);
  return a;
}

function inputArgs(req: DecodeRequest): string[] {
  const a: string[] = [];
  // -seek_timestamp 1: the target is on the stream's clock (-copyts), as the keyframes were read;
  // no accurate seek: the select on pts drops what comes before the keyframe
  if (req.seek && req.indices) a.push('-seek_timestamp', '1', '-noaccurate_seek', '-ss', req.seek.target.toFixed(6));
  a.push('-threads', '1', '-i', req.path);
  return a;
}

function assemble(req: DecodeRequest, raw: Buffer, inp: StreamSection | undefined, out: StreamSection | undefined, stderr: string): DecodedVideo {
  const width = out?.width || inp?.width || 0;
  const height = out?.height || inp?.height || 0;
  const info: VideoInfo = {
    codec: inp?.codec ?? '',
    width: inp?.width ?? width,
    height: inp?.height ?? height,
    fps: inp?.fps ?? 0,
    duration: inp?.duration ?? 0,
    frameCount: -1,
  };
  if (!width || !height) throw new Error(`${req.path}: could not determine the decoded frame size`);
  const frameBytes = width * height * 3;
  const produced = Math.floor(raw.length / frameBytes);
  let data = new Uint8Array(raw.buffer, raw.byteOffset, produced * frameBytes);
  let count = produced;
  if (req.indices) {
    // map requested (possibly repeated, unordered) indices onto the unique frames produced
    const u = uniqueSorted(req.indices);
    if (produced < u.length) {
      throw new Error(`${req.path}: frame ${u[produced]} requested but the video has fewer frames (got ${produced} of ${u.length} requested frames)`);
    }
    const n = req.indices.length;
    // strictly increasing indices (a training clip's) come out as asked: no copy
    if (n !== u.length || !u.every((v, i) => v === req.indices![i])) {
      const pos = new Map<number, number>();
      u.forEach((v, i) => pos.set(v, i));
      const outBuf = new Uint8Array(n * frameBytes);
      for (let i = 0; i < n; i++) {
        const p = pos.get(req.indices[i])!;
        outBuf.set(data.subarray(p * frameBytes, (p + 1) * frameBytes), i * frameBytes);
      }
      data = outBuf;
    } else {
      data = data.subarray(0, n * frameBytes);
    }
    count = n;
  } else if (req.maxFrames === undefined || produced < req.maxFrames) {
    info.frameCount = produced;
  }
  const warnings = stderr
    .split(/\r?\n/)
    .filter((l) => /^\[/.test(l) || /error|warning/i.test(l))
    .join('\n');
  return { path: req.path, data, count, width, height, info, warnings };
}

/**
 * Decode several videos in ONE ffmpeg process (one input and one output each): process
 * start-up dominates for short clips, so grouping is the main throughput lever. If any input
 * fails, the group is retried one by one so a bad file only fails itself. A seek whose check
 * fails (or whose decode fails) is done again from the start. Returns a decoded video or an
 * Error per request, in order.
 */
export async function decodeVideos(reqs: DecodeRequest[]): Promise<(DecodedVideo | Error)[]> {
  const out = new Array<DecodedVideo | Error>(reqs.length);
  const { plain, seeked } = seekOrder(reqs);
  for (const [ks, copyts] of [[plain, false], [seeked, true]] as const) {
    const res = await decodeGroup(ks.map((k) => reqs[k]), copyts);
    ks.forEach((k, i) => (out[k] = res[i]));
  }
  // a seek that failed its check, or whose decode failed, is done again from the start
  const again = seeked.filter((k) => out[k] instanceof Error);
  if (again.length > 0) {
    const res = await decodeGroup(again.map((k) => ({ ...reqs[k], seek: null })), false);
    again.forEach((k, i) => {
      const r = res[i];
      // the file decodes from the start, so the seek was at fault: tell the caller to stop using it
      if (!(r instanceof Error)) r.seekRejected = true;
      out[k] = r;
    });
  }
  return out;
}

/**
 * Which requests run in which process: those that seek in one with -copyts, in the order of their
 * targets, and the rest in one without (each input's clock then starts at 0, as it always did).
 * With -copyts ffmpeg went on decoding an input whose output was done, to its end, when that
 * output's timestamps were behind an earlier output's: 4 seeked clips from 2-minute videos took
 * 0.9-1.5 s in one process (2616 frames decoded and dropped), 0.31-0.36 s sorted.
 */
export function seekOrder(reqs: readonly DecodeRequest[]): { plain: number[]; seeked: number[] } {
  const seeking = (r: DecodeRequest) => Boolean(r.seek && r.indices);
  const plain = reqs.map((_, k) => k).filter((k) => !seeking(reqs[k]));
  const seeked = reqs.map((_, k) => k).filter((k) => seeking(reqs[k])).sort((a, b) => reqs[a].seek!.target - reqs[b].seek!.target);
  return { plain, seeked };
}

/** Marks a seeked decode whose first kept frame was not the keyframe. */
const SEEK_REJECTED = new Error('seek rejected');

/**
 * Decoded frames go through files in /dev/shm (VJEPA_SHM_DIR, as batches do) rather than pipes:
 * a pipe holds 64 KB, so ffmpeg stalled whenever the worker's JS was busy with transforms. On the
 * bench's 12-s videos the loader gave 10.9 and 15.2 clips/s through files, 10.1 and 9.4 through
 * pipes (alternating runs). A folder that fails a run (full, say) is dropped for pipes.
 */
export const frameFiles = { failed: false, next: 0 };

function frameDir(): string | null {
  try {
    return shmDir();
  } catch {
    return null;
  }
}

async function runToFiles(args: string[], files: string[]): Promise<{ code: number | null; stderr: string; outputs: Buffer[] }> {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', stopDecoders);
  }
  for (const f of files) pendingFiles.add(f);
  try {
    const r = await runFfmpeg(args, 0);
    const outputs = files.map((f) => {
      try {
        return readFileSync(f);
      } catch {
        return Buffer.alloc(0);
      }
    });
    return { ...r, outputs };
  } finally {
    for (const f of files) {
      pendingFiles.delete(f);
      try {
        unlinkSync(f);
      } catch {
        // never written
      }
    }
  }
}

async function decodeGroup(reqs: DecodeRequest[], copyts: boolean, pipes = false): Promise<(DecodedVideo | Error)[]> {
  if (reqs.length === 0) return [];
  // -copyts (seeks): timestamps on the stream's own clock, the one keyframes were recorded in;
  // repeat+: print()'s identical lines in a row must not be folded into "Last message repeated"
  const args = copyts ? [...BASE_PRINTING, '-copyts'] : [...BASE];
  for (const r of reqs) args.push(...inputArgs(r));
  const dir = pipes || frameFiles.failed ? null : frameDir();
  const files = dir ? reqs.map(() => join(dir, `vjepa-batch-${process.pid}-${process.pid}-${frameFiles.next++}`)) : null;
  reqs.forEach((r, k) => args.push(...outputArgs(r, k, files ? files[k] : `pipe:${3 + k}`)));
  const res = files ? await runToFiles(['-y', ...args], files) : await runFfmpeg(args, reqs.length);
  if (files && res.code !== 0) {
    // the inputs' fault or the folder's? If the same run works through pipes, the folder's.
    const piped = await decodeGroup(reqs, copyts, true);
    if (!frameFiles.failed && piped.every((r) => !(r instanceof Error))) {
      frameFiles.failed = true;
      console.error(`data: decoded frames cannot go through files in ${dir} (${ffmpegReason(res.stderr, res.code)}); using pipes from now on`);
    }
    return piped;
  }
  const sections = parseFfmpegSections(res.stderr);
  const checks = copyts ? parsePrinted(res.stderr).checks : new Map<number, number>();
  const finish = (d: DecodedVideo, k: number): DecodedVideo | Error => {
    const r = reqs[k];
    if (r.seek && r.indices && checks.get(k) !== r.seek.key.pts) return SEEK_REJECTED;
    return d;
  };
  if (res.code !== 0) {
    if (reqs.length > 1) {
      const parts = await Promise.all(reqs.map((r) => decodeGroup([r], copyts, pipes)));
      return parts.map((p) => p[0]);
    }
    const raw = res.outputs[0];
    // decoder errors that still produced frames are warnings, not failures (whole-video mode only,
    // since a truncated file would otherwise report a wrong frame count for index requests)
    if (raw && raw.length > 0 && !reqs[0].indices) {
      try {
        return [assemble(reqs[0], raw, sections.find((s) => s.kind === 'input'), sections.find((s) => s.kind === 'output'), res.stderr)];
      } catch (e) {
        return [e as Error];
      }
    }
    return [new Error(`${reqs[0].path}: ${ffmpegReason(res.stderr, res.code)}`)];
  }
  return reqs.map((r, k) => {
    try {
      const inp = sections.find((s) => s.kind === 'input' && s.index === k);
      const out = sections.find((s) => s.kind === 'output' && s.index === k);
      const d = assemble(r, res.outputs[k], inp, out, res.stderr);
      if (d.count === 0) return new Error(`${r.path}: no video frames could be decoded`);
      return finish(d, k);
    } catch (e) {
      return e as Error;
    }
  });
}

/** Decode one video (see decodeVideos). Throws on failure. */
export async function decodeVideo(req: DecodeRequest): Promise<DecodedVideo> {
  const [r] = await decodeVideos([req]);
  if (r instanceof Error) throw r;
  return r;
}
