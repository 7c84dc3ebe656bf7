// Batches from the data workers to the trainer through RAM-backed files (/dev/shm on Linux). A
// worker writes a batch's large arrays into one file and sends only its name; the trainer maps
// the file (native.mapFile: no copy) and unlinks it at once, so the pages live as long as the
// arrays do. Node's IPC channel serialises a message and moves it through a pipe in pieces, all
// on the trainer's thread: a 154 MB ViT-L batch (16 clips of 16x224²) took 2.2-5 s that way
// here, the file about 40 ms to write and nothing to map. VJEPA_SHM_DIR names another folder,
// and VJEPA_SHM_DIR= (empty) keeps batches in the channel, as on systems without /dev/shm.
// Workers do not load the addon: the trainer passes its mapFile to unpack().
import { accessSync, closeSync, constants, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../util/process.js';

/** Arrays smaller than this travel in the message itself. */
const MIN_BYTES = 64 * 1024;
const PREFIX = 'vjepa-batch-';

type Moved = Float32Array | Int32Array;
interface ShmField {
  name: string;
  type: 'float32' | 'int32';
  offset: number;
  length: number;
}
/** What replaces the moved fields in a message. */
export interface ShmRef {
  path: string;
  fields: ShmField[];
}
type Packed = Record<string, unknown> & { shm?: ShmRef };

/** The folder batches go through, or null for the IPC channel. */
export function shmDir(): string | null {
  const env = process.env.VJEPA_SHM_DIR;
  if (env !== undefined) {
    if (env === '') return null;
    try {
      if (!statSync(env).isDirectory()) throw new Error('not a directory');
      accessSync(env, constants.W_OK);
    } catch (e) {
      throw new Error(`VJEPA_SHM_DIR=${env}: cannot write batches there (${(e as Error).message})`);
    }
    return env;
  }
  if (process.platform !== 'linux') return null;
  try {
    if (statSync('/dev/shm').isDirectory()) {
      accessSync('/dev/shm', constants.W_OK);
      return '/dev/shm';
    }
  } catch {
    // no usable /dev/shm: the channel it is
  }
  return null;
}

function writeAll(fd: number, a: Moved, position: number): void {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** Worker side: moves the large typed-array fields of each batch into a file of its own. */
export class ShmWriter {
  private seq = 0;
  /** files written lately, which the trainer may not have taken if it goes away */
  private readonly recent: string[] = [];
  /** set by the first failed write: a full /dev/shm stays full, so later batches do not try */
  private failed = false;

  constructor(
    private readonly dir: string,
    private readonly trainerPid: number,
    /** told once, when a write fails and batches switch to the channel */
    private readonly onFallback: (msg: string) => void = () => undefined,
  ) {}

  /** The message for `batch`: the batch itself when nothing is large or a write has failed (e.g. a full /dev/shm). */
  pack(batch: Record<string, unknown>): Packed {
    if (this.failed) return batch;
    const moved: [string, Moved][] = [];
    for (const [k, v] of Object.entries(batch)) {
      if ((v instanceof Float32Array || v instanceof Int32Array) && v.byteLength >= MIN_BYTES) moved.push([k, v]);
    }
    if (moved.length === 0) return batch;
    const path = join(this.dir, `${PREFIX}${this.trainerPid}-${process.pid}-${this.seq++}`);
    const fields: ShmField[] = [];
    let fd = -1;
    try {
      fd = openSync(path, 'w', 0o600);
      let offset = 0;
      for (const [name, a] of moved) {
        writeAll(fd, a, offset);
        fields.push({ name, type: a instanceof Float32Array ? 'float32' : 'int32', offset, length: a.length });
        offset += Math.ceil(a.byteLength / 64) * 64;
      }
      closeSync(fd);
      fd = -1;
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // never created
      }
      this.failed = true;
      this.onFallback(`data: cannot write batches to ${this.dir} (${(e as Error).message}); they go through the IPC channel instead, which is slower (Docker: --shm-size)`);
      return batch;
    }
    this.recent.push(path);
    if (this.recent.length > 256) this.recent.shift();
    const msg: Packed = { ...batch, shm: { path, fields } };
    for (const [name] of moved) msg[name] = null;
    return msg;
  }

  /** Removes the files the trainer may not have taken (called when it goes away). */
  cleanup(): void {
    for (const p of this.recent) {
      try {
        unlinkSync(p);
      } catch {
        // taken already
      }
    }
  }
}

/** Trainer side: the batch with its moved fields mapped back from the file, which is unlinked. */
export function unpack<T>(msg: Packed, mapFile: (path: string) => ArrayBuffer): T {
  const ref = msg.shm;
  if (!ref) return msg as T;
  let buf: ArrayBuffer;
  try {
    buf = mapFile(ref.path);
  } finally {
    discard(msg);
  }
  const out: Packed = { ...msg };
  delete out.shm;
  for (const f of ref.fields) {
    out[f.name] = f.type === 'float32' ? new Float32Array(buf, f.offset, f.length) : new Int32Array(buf, f.offset, f.length);
  }
  return out as T;
}

/** Trainer side: drops a message's file unread (a batch nobody waits for any more). */
export function discard(msg: Packed): void {
  if (!msg.shm) return;
  try {
    unlinkSync(msg.shm.path);
  } catch {
    // gone already
  }
}

/**
 * Removes batch files whose trainer is gone (killed before it took them), and with `workers`
 * this trainer's files from those worker processes (after they exited).
 */
export function sweep(dir: string, workers: number[] = []): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^vjepa-batch-(\d+)-(\d+)-\d+$/.exec(n);
    if (!m) continue;
    const trainer = Number(m[1]);
    const mine = trainer === process.pid && workers.includes(Number(m[2]));
    if (mine || (trainer !== process.pid && !pidAlive(trainer))) {
      try {
        unlinkSync(join(dir, n));
      } catch {
        // raced with its owner
      }
    }
  }
}
