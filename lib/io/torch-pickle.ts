// Reads official PyTorch checkpoints (.pth.tar / .pt) without Python and without executing anything:
// the zip layout (<prefix>/data.pkl + <prefix>/data/<key>) and the legacy non-zip stream are both
// supported, and the pickle goes through a restricted unpickler that only rebuilds tensors, plain
// containers, OrderedDict, torch.Size and numpy scalars. Any other callable is refused.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { allocHost, numel, typedFromBytes, typedOnBuffer, type HostDType, type HostTensor } from './host-tensor.js';
import { PickleRefused, PyGlobal, SETSTATE, Unpickler, setKey } from './pickle.js';
import { ZipReader } from './zip.js';

export { PickleRefused } from './pickle.js';

interface StorageType {
  dtype: HostDType;
  /** Bytes per element in the file. */
  size: number;
  /** File element kind when it differs from dtype (widened to int32). */
  widenFrom?: 'int16' | 'int8';
}

const STORAGE_TYPES: Record<string, StorageType> = {
  FloatStorage: { dtype: 'float32', size: 4 },
  DoubleStorage: { dtype: 'float64', size: 8 },
  HalfStorage: { dtype: 'float16', size: 2 },
  BFloat16Storage: { dtype: 'bfloat16', size: 2 },
  LongStorage: { dtype: 'int64', size: 8 },
  IntStorage: { dtype: 'int32', size: 4 },
  ShortStorage: { dtype: 'int32', size: 2, widenFrom: 'int16' },
  CharStorage: { dtype: 'int32', size: 1, widenFrom: 'int8' },
  ByteStorage: { dtype: 'uint8', size: 1 },
  BoolStorage: { dtype: 'bool', size: 1 },
};

class StorageClass extends PyGlobal {
  constructor(name: string, readonly type: StorageType) {
    super(`torch.${name}`);
  }
}

class StorageRef {
  data: Uint8Array | null = null;
  constructor(readonly key: string, readonly type: StorageType, readonly numel: number) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

/** numpy dtype as far as scalars / arrays need it. */
class NpDtype {
  byteorder = '=';
  constructor(readonly code: string) {}
  [SETSTATE](state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteorder = state[1];
  }
}

/** numpy.ndarray being rebuilt (_reconstruct + BUILD). */
class NpArray {
  value: HostTensor | null = null;
  constructor(private readonly file: string) {}
  [SETSTATE](state: unknown): void {
    if (!Array.isArray(state) || state.length < 5) throw new Error(`${this.file}: bad numpy array state`);
    const [, shape, dtype, fortran, raw] = state as [unknown, number[], NpDtype, boolean, unknown];
    if (fortran) throw new Error(`${this.file}: Fortran-order numpy arrays are not supported`);
    if (!(dtype instanceof NpDtype) || !(raw instanceof Uint8Array)) {
      throw new Error(`${this.file}: numpy array with an object dtype is not supported (it would need arbitrary unpickling)`);
    }
    const kind = npKind(dtype, this.file);
    const data = typedFromBytes(kind.dtype, raw);
    this.value = { dtype: kind.dtype, shape: [...shape], data: kind.dtype === 'bool' ? data : data };
  }
}

function npKind(dt: NpDtype, file: string): { dtype: HostDType; size: number } {
  if (dt.byteorder === '>') throw new Error(`${file}: big-endian numpy data is not supported`);
  const map: Record<string, { dtype: HostDType; size: number }> = {
    f4: { dtype: 'float32', size: 4 },
    f8: { dtype: 'float64', size: 8 },
    f2: { dtype: 'float16', size: 2 },
    i8: { dtype: 'int64', size: 8 },
    i4: { dtype: 'int32', size: 4 },
    u1: { dtype: 'uint8', size: 1 },
    b1: { dtype: 'bool', size: 1 },
  };
  const k = map[dt.code];
  if (!k) throw new Error(`${file}: numpy dtype ${dt.code} is not supported`);
  return k;
}

function npScalar(dt: NpDtype, raw: Uint8Array, file: string): number | bigint | boolean {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const need = (n: number) => {
    if (raw.byteLength !== n) throw new Error(`${file}: numpy scalar ${dt.code} has ${raw.byteLength} bytes`);
  };
  switch (dt.code) {
    case 'f8': need(8); return v.getFloat64(0, true);
    case 'f4': need(4); return v.getFloat32(0, true);
    case 'i8': { need(8); const x = v.getBigInt64(0, true); return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x; }
    case 'u8': { need(8); const x = v.getBigUint64(0, true); return x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x; }
    case 'i4': need(4); return v.getInt32(0, true);
    case 'u4': need(4); return v.getUint32(0, true);
    case 'i2': need(2); return v.getInt16(0, true);
    case 'u2': need(2); return v.getUint16(0, true);
    case 'i1': need(1); return v.getInt8(0);
    case 'u1': need(1); return v.getUint8(0);
    case 'b1': need(1); return v.getUint8(0) !== 0;
    default: throw new Error(`${file}: numpy scalar of dtype ${dt.code} is not supported`);
  }
}

function asInt(v: unknown, what: string, file: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error(`${file}: ${what} is not an integer: ${String(v)}`);
  return v;
}

function rebuildTensor(file: string, args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new Error(`${file}: tensor rebuilt from something that is not a storage`);
  if (!Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length) throw new Error(`${file}: bad tensor size/stride`);
  return new TensorRef(
    storage,
    asInt(offset, 'storage offset', file),
    size.map((s) => asInt(s, 'tensor size', file)),
    stride.map((s) => asInt(s, 'tensor stride', file)),
  );
}

function makeGlobals(file: string): (module: string, name: string) => PyGlobal | undefined {
  const table = new Map<string, PyGlobal>();
  const add = (full: string, call?: (args: unknown[]) => unknown) => table.set(full, new PyGlobal(full, call));
  const pairsToDict = (args: unknown[]) => {
    const d: Record<string, unknown> = {};
    const items = args[0];
    if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv) && kv.length === 2) setKey(d, kv[0], kv[1]);
    return d;
  };
  add('collections.OrderedDict', pairsToDict);
  add('builtins.set', (a) => (Array.isArray(a[0]) ? [...a[0]] : []));
  add('builtins.frozenset', (a) => (Array.isArray(a[0]) ? [...a[0]] : []));
  add('torch.Size', (a) => (Array.isArray(a[0]) ? a[0].map((x) => asInt(x, 'torch.Size entry', file)) : []));
  add('torch._utils._rebuild_tensor_v2', (a) => rebuildTensor(file, a));
  add('torch._utils._rebuild_tensor', (a) => rebuildTensor(file, a));
  add('torch._utils._rebuild_parameter', (a) => a[0]);
  add('torch._utils._rebuild_parameter_with_state', (a) => a[0]);
  add('torch.Tensor');
  add('torch.nn.parameter.Parameter');
  add('torch._tensor._rebuild_from_type_v2', (a) => {
    const [fn, , args] = a;
    if (!(fn instanceof PyGlobal) || !fn.call || !fn.name.startsWith('torch._utils._rebuild_')) {
      throw new PickleRefused(`refusing to load ${file}: _rebuild_from_type_v2 wraps ${fn instanceof PyGlobal ? fn.name : typeof fn}; nothing was executed`);
    }
    return fn.call(args as unknown[]);
  });
  add('_codecs.encode', (a) => {
    const [s, enc] = a;
    if (typeof s !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new Error(`${file}: unsupported _codecs.encode(${typeof s}, ${String(enc)})`);
    return Uint8Array.from(Buffer.from(s, 'latin1'));
  });
  for (const mod of ['numpy', 'numpy.core.multiarray', 'numpy._core.multiarray']) {
    add(`${mod}.scalar`, (a) => {
      const [dt, raw] = a;
      if (!(dt instanceof NpDtype) || !(raw instanceof Uint8Array)) throw new Error(`${file}: bad numpy scalar`);
      return npScalar(dt, raw, file);
    });
    add(`${mod}._reconstruct`, () => new NpArray(file));
  }
  add('numpy.dtype', (a) => {
    if (typeof a[0] !== 'string') throw new Error(`${file}: bad numpy dtype`);
    return new NpDtype(a[0]);
  });
  add('numpy.ndarray');
  for (const [name, type] of Object.entries(STORAGE_TYPES)) table.set(`torch.${name}`, new StorageClass(name, type));
  return (module, name) => table.get(`${module}.${name}`);
}

/**
 * Turns the unpickled tree into plain values. `load` fills a storage on first use (the zip layout reads it
 * then, so storages nothing selected refers to are never read); `select` names the top-level entries of a
 * dict root to convert, the others stay in the dict as `undefined` (their names remain for messages).
 */
function materialize(file: string, root: unknown, load: (s: StorageRef) => void = () => undefined, select?: ReadSelect): unknown {
  const done = new Map<TensorRef, HostTensor>();
  const seen = new Set<object>();
  const fix = (v: unknown): unknown => {
    if (v instanceof TensorRef) {
      let t = done.get(v);
      if (!t) {
        if (!v.storage.data) load(v.storage);
        done.set(v, (t = toHost(file, v)));
      }
      return t;
    }
    if (v instanceof NpArray) {
      if (!v.value) throw new Error(`${file}: numpy array without data`);
      return v.value;
    }
    if (v instanceof NpDtype) return `numpy.dtype(${v.code})`;
    if (v instanceof PyGlobal) return `<${v.name}>`;
    if (v instanceof StorageRef) throw new Error(`${file}: bare storage objects are not supported`);
    if (typeof v !== 'object' || v === null || v instanceof Uint8Array || seen.has(v)) return v;
    seen.add(v);
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) v[i] = fix(v[i]);
    else for (const k of Object.keys(v)) (v as any)[k] = fix((v as any)[k]);
    return v;
  };
  if (select && isPlainDict(root)) {
    const keys = Object.keys(root);
    const sections = keys.filter((k) => isPlainDict(root[k]) && Object.values(root[k] as object).some((x) => x instanceof TensorRef));
    const keep = new Set(select(sections, keys));
    for (const k of Object.keys(root)) {
      const v = root[k];
      // Scalars (epoch, lr, ...) are kept whatever the selection: they cost nothing.
      (root as Record<string, unknown>)[k] = keep.has(k) || typeof v !== 'object' || v === null ? fix(v) : undefined;
    }
    return root;
  }
  return fix(root);
}

/** Given a dict root's state-dict entries (dicts holding tensors) and all its keys, the keys to read. */
export type ReadSelect = (sections: string[], keys: string[]) => readonly string[];

function isPlainDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof TensorRef) && !(v instanceof Uint8Array);
}

function toHost(file: string, t: TensorRef): HostTensor {
  const st = t.storage;
  if (!st.data) throw new Error(`${file}: storage ${st.key} has no data`);
  const n = numel(t.size);
  const type = st.type;
  const stored = Math.floor(st.data.byteLength / type.size);
  if (n > 0) {
    let maxIdx = t.offset;
    for (let d = 0; d < t.size.length; d++) maxIdx += (t.size[d] - 1) * Math.max(0, t.stride[d]);
    if (t.offset < 0 || maxIdx >= stored || t.stride.some((s) => s < 0)) {
      throw new Error(`${file}: tensor view (offset ${t.offset}, size [${t.size}], stride [${t.stride}]) exceeds storage ${st.key} of ${stored} elements`);
    }
  }
  // Gather element indices in C order (fast path when already contiguous).
  const src = new Uint8Array(st.data.buffer, st.data.byteOffset, st.data.byteLength);
  const es = type.size;
  let contiguous = true;
  for (let d = t.size.length - 1, expect = 1; d >= 0; d--) {
    if (t.size[d] !== 1 && t.stride[d] !== expect) contiguous = false;
    expect *= t.size[d];
  }
  // A contiguous tensor over a storage read into its own buffer (the zip layout) is a view of it, not a
  // copy: a released checkpoint's weights then take their size in memory once, not three times.
  const ownBuffer = st.data.byteOffset === 0 && st.data.buffer.byteLength === st.data.byteLength;
  if (n > 0 && contiguous && ownBuffer && !type.widenFrom)
    return { dtype: type.dtype, shape: [...t.size], data: typedOnBuffer(type.dtype, st.data.buffer as ArrayBuffer, t.offset * es, n) };
  const out = new Uint8Array(n * es);
  if (contiguous) out.set(src.subarray(t.offset * es, (t.offset + n) * es));
  else {
    const nd = t.size.length;
    const idx = new Array(nd).fill(0);
    let pos = t.offset;
    for (let i = 0; i < n; i++) {
      out.set(src.subarray(pos * es, pos * es + es), i * es);
      for (let d = nd - 1; d >= 0; d--) {
        idx[d]++;
        pos += t.stride[d];
        if (idx[d] < t.size[d]) break;
        pos -= t.stride[d] * t.size[d];
        idx[d] = 0;
      }
    }
  }
  if (type.widenFrom) {
    const narrow = type.widenFrom === 'int16' ? new Int16Array(out.buffer) : new Int8Array(out.buffer);
    const data = allocHost('int32', n) as Int32Array;
    data.set(narrow);
    return { dtype: 'int32', shape: [...t.size], data };
  }
  return { dtype: type.dtype, shape: [...t.size], data: typedOnBuffer(type.dtype, out.buffer) };
}

function storagePid(file: string, pid: unknown): { type: StorageType; key: string; numel: number; view: unknown } {
  if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`${file}: unsupported persistent id ${JSON.stringify(pid)}`);
  const [, cls, key, , size, view] = pid;
  if (!(cls instanceof StorageClass)) throw new Error(`${file}: storage of unsupported type ${cls instanceof PyGlobal ? cls.name : String(cls)}`);
  if (typeof key !== 'string') throw new Error(`${file}: storage key is not a string`);
  return { type: cls.type, key, numel: asInt(size, 'storage size', file), view: view ?? null };
}

function readZipCheckpoint(file: string, select?: ReadSelect): unknown {
  const zip = new ZipReader(file);
  try {
    const pkl = zip.names().find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
    if (!pkl) throw new Error(`${file}: zip archive without data.pkl; not a torch.save checkpoint`);
    const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
    const bo = zip.entries.has(`${prefix}byteorder`) ? zip.read(`${prefix}byteorder`).toString('latin1').trim() : 'little';
    if (bo !== 'little') throw new Error(`${file}: big-endian checkpoints are not supported`);
    const storages = new Map<string, StorageRef>();
    const resolve = makeGlobals(file);
    const up = new Unpickler(zip.read(pkl), {
      file,
      resolveGlobal: resolve,
      persistentLoad: (pid) => {
        const p = storagePid(file, pid);
        let s = storages.get(p.key);
        if (!s) {
          s = new StorageRef(p.key, p.type, p.numel);
          storages.set(p.key, s);
        }
        return s;
      },
    });
    const root = up.load();
    const load = (s: StorageRef) => {
      s.data = zip.read(`${prefix}data/${s.key}`);
      if (s.data.byteLength < s.numel * s.type.size) throw new Error(`${file}: storage ${s.key} is truncated`);
    };
    return materialize(file, root, load, select);
  } finally {
    zip.close();
  }
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function readLegacyCheckpoint(file: string, select?: ReadSelect): unknown {
  const buf = readFileSync(file);
  const resolve = makeGlobals(file);
  const storages = new Map<string, StorageRef>();
  const views: { ref: StorageRef; root: string; offset: number }[] = [];
  const up = new Unpickler(buf, {
    file,
    resolveGlobal: resolve,
    persistentLoad: (pid) => {
      const p = storagePid(file, pid);
      let root = storages.get(p.key);
      if (!root) storages.set(p.key, (root = new StorageRef(p.key, p.type, p.numel)));
      if (Array.isArray(p.view)) {
        const [viewKey, offset, viewSize] = p.view as [string, number, number];
        const ref = new StorageRef(String(viewKey), p.type, asInt(viewSize, 'view size', file));
        views.push({ ref, root: p.key, offset: asInt(offset, 'view offset', file) });
        return ref;
      }
      return root;
    },
  });
  const magic = up.load();
  if (magic !== LEGACY_MAGIC) throw new Error(`${file}: not a PyTorch checkpoint (bad legacy magic number)`);
  up.load(); // protocol version
  up.load(); // sys info
  const root = up.load();
  const keys = up.load();
  if (!Array.isArray(keys)) throw new Error(`${file}: legacy checkpoint without a storage key list`);
  let pos = up.position;
  for (const key of keys) {
    const s = storages.get(String(key));
    if (!s) throw new Error(`${file}: storage ${key} listed but never referenced`);
    if (pos + 8 > buf.length) throw new Error(`${file}: truncated legacy storage ${key}`);
    const n = Number(buf.readBigInt64LE(pos));
    pos += 8;
    const len = n * s.type.size;
    if (pos + len > buf.length) throw new Error(`${file}: truncated legacy storage ${key}`);
    s.data = buf.subarray(pos, pos + len);
    pos += len;
  }
  for (const v of views) {
    const r = storages.get(v.root)!;
    if (!r.data) throw new Error(`${file}: storage view of missing storage ${v.root}`);
    v.ref.data = r.data.subarray(v.offset * r.type.size, (v.offset + v.ref.numel) * r.type.size);
  }
  return materialize(file, root, undefined, select);
}

/**
 * Load a torch.save file into plain JS values; tensors become HostTensor (contiguous copies).
 * Throws PickleRefused (message "refusing to load ...") if the pickle references anything other
 * than tensors, plain containers, OrderedDict, torch.Size or numpy scalars/arrays.
 * `select`, for a dict root, picks the top-level entries to read: the others are left `undefined` and, in
 * the zip layout, their storages are never read, so probing a released ViT-H reads its target encoder
 * alone, not the online encoder, predictor and optimizer state beside it.
 */
export function readTorchCheckpoint(path: string, select?: ReadSelect): any {
  const fd = openSync(path, 'r');
  const head = new Uint8Array(4);
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (ZipReader.isZip(head)) return readZipCheckpoint(path, select);
  if (head[0] === 0x80) return readLegacyCheckpoint(path, select);
  throw new Error(`${path}: not a PyTorch checkpoint (neither a zip archive nor a pickle stream)`);
}

/** The tensors of a dict read from a torch checkpoint (a state dict), by stored name and in stored order. */
export function tensorsOf(dict: unknown): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  if (typeof dict === 'object' && dict !== null) for (const [k, v] of Object.entries(dict)) if (isHostTensor(v)) out.set(k, v);
  return out;
}

export function isHostTensor(v: unknown): v is HostTensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'shape' in v && 'data' in v && ArrayBuffer.isView((v as any).data);
}

