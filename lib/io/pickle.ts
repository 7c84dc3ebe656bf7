// Restricted unpickler (protocols 0-5 opcodes). It never imports or calls anything by itself: every
// GLOBAL / STACK_GLOBAL / INST is resolved through a whitelist supplied by the caller, and anything not
// on it is refused before it could run. Python values map to JS as: None -> null, bool, int -> number
// (BigInt beyond 2^53), float -> number, str -> string, bytes -> Uint8Array, list/tuple -> array,
// dict -> plain object (keys stringified), set -> array.

/** A whitelisted Python callable / class, as pushed by GLOBAL. */
export class PyGlobal {
  constructor(
    readonly name: string,
    /** Called by REDUCE / NEWOBJ / INST / OBJ. Omit for classes that may only be referenced. */
    readonly call?: (args: unknown[]) => unknown,
  ) {}
}

/** Objects that accept BUILD (__setstate__) implement this. */
export const SETSTATE = Symbol('setstate');

export interface UnpicklerHooks {
  /** Source name for messages (the file). */
  file: string;
  /** Return the whitelisted global or undefined to refuse. */
  resolveGlobal(module: string, name: string): PyGlobal | undefined;
  /** Handle a persistent id (torch storages); undefined hook = refuse. */
  persistentLoad?(pid: unknown): unknown;
}

export class PickleRefused extends Error {}

const MARK = Symbol('mark');

export function refuseMessage(file: string, what: string): string {
  return `refusing to load ${file}: the pickle calls ${what}, which is not a tensor or plain container; nothing was executed`;
}

export function setKey(obj: Record<string, unknown>, key: unknown, value: unknown): void {
  Object.defineProperty(obj, dictKey(key), { value, enumerable: true, writable: true, configurable: true });
}

function dictKey(k: unknown): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return String(k);
  if (k === null) return 'None';
  return JSON.stringify(k, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function intFromLE(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return normInt(v);
}

function normInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export class Unpickler {
  private pos: number;
  private stack: unknown[] = [];
  private metastack: unknown[][] = [];
  private memo = new Map<number, unknown>();
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array, private readonly hooks: UnpicklerHooks, start = 0) {
    this.pos = start;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Byte offset just past the STOP of the last load(). */
  get position(): number {
    return this.pos;
  }

  private fail(msg: string): never {
    throw new Error(`${this.hooks.file}: pickle: ${msg} (at byte ${this.pos})`);
  }

  private need(n: number): void {
    if (this.pos + n > this.data.length) this.fail('truncated pickle');
  }

  private u8(): number {
    this.need(1);
    return this.data[this.pos++];
  }

  private bytes(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(`bad length ${n}`);
    this.need(n);
    const b = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('length too large');
    return Number(v);
  }

  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('unterminated text line');
    const s = Buffer.from(this.data.subarray(this.pos, end)).toString('latin1');
    this.pos = end + 1;
    return s;
  }

  private utf8(n: number): string {
    return Buffer.from(this.bytes(n)).toString('utf8');
  }

  private pop(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (!prev) this.fail('MARK missing');
    this.stack = prev;
    return items;
  }

  private global(module: string, name: string): PyGlobal {
    const g = this.hooks.resolveGlobal(module, name);
    if (!g) throw new PickleRefused(refuseMessage(this.hooks.file, `${module}.${name}`));
    return g;
  }

  private callable(fn: unknown, args: unknown, how: string): unknown {
    if (!(fn instanceof PyGlobal)) this.fail(`${how} on a non-callable`);
    if (!fn.call) throw new PickleRefused(refuseMessage(this.hooks.file, fn.name));
    if (!Array.isArray(args)) this.fail(`${how} arguments are not a tuple`);
    return fn.call(args);
  }

  private setItems(d: unknown, kv: unknown[]): void {
    if (!isPlainObject(d)) this.fail('SETITEM(S) on a non-dict');
    if (kv.length % 2) this.fail('odd SETITEMS list');
    for (let i = 0; i < kv.length; i += 2) setKey(d, kv[i], kv[i + 1]);
  }

  private append(list: unknown, items: unknown[]): void {
    if (!Array.isArray(list)) this.fail('APPEND(S) on a non-list');
    for (const it of items) list.push(it);
  }

  /** Run until STOP and return the unpickled value. */
  load(): unknown {
    this.stack = [];
    this.metastack = [];
    for (;;) {
      const op = this.u8();
      switch (op) {
        case 0x80: // PROTO
          if (this.u8() > 5) this.fail('pickle protocol > 5');
          break;
        case 0x95: // FRAME
          this.u64();
          break;
        case 0x2e: // STOP
          return this.pop();
        case 0x28: // MARK
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case 0x30: // POP
          this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.stack.push(this.top());
          break;
        case 0x4e: // NONE
          this.stack.push(null);
          break;
        case 0x88: // NEWTRUE
          this.stack.push(true);
          break;
        case 0x89: // NEWFALSE
          this.stack.push(false);
          break;
        case 0x4a: // BININT
          this.stack.push(this.i32());
          break;
        case 0x4b: // BININT1
          this.stack.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.stack.push(this.u16());
          break;
        case 0x8a: // LONG1
          this.stack.push(intFromLE(this.bytes(this.u8())));
          break;
        case 0x8b: // LONG4
          this.stack.push(intFromLE(this.bytes(this.i32())));
          break;
        case 0x49: {
          // INT (text); "I01"/"I00" are True/False in protocol 0
          const s = this.line().trim();
          if (s === '01') this.stack.push(true);
          else if (s === '00') this.stack.push(false);
          else if (/^[-+]?\d+$/.test(s)) this.stack.push(normInt(BigInt(s)));
          else this.fail(`bad INT ${JSON.stringify(s)}`);
          break;
        }
        case 0x4c: {
          // LONG (text)
          const s = this.line().trim().replace(/L$/, '');
          if (!/^[-+]?\d+$/.test(s)) this.fail(`bad LONG ${JSON.stringify(s)}`);
          this.stack.push(normInt(BigInt(s)));
          break;
        }
        case 0x46: {
          // FLOAT (text)
          const v = Number(this.line().trim());
          if (Number.isNaN(v)) this.fail('bad FLOAT');
          this.stack.push(v);
          break;
        }
        case 0x47: // BINFLOAT (big-endian double)
          this.need(8);
          this.stack.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        case 0x58: // BINUNICODE
          this.stack.push(this.utf8(this.u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.stack.push(this.utf8(this.u8()));
          break;
        case 0x8d: // BINUNICODE8
          this.stack.push(this.utf8(this.u64()));
          break;
        case 0x54: // BINSTRING (py2 str -> latin1)
          this.stack.push(Buffer.from(this.bytes(this.i32())).toString('latin1'));
          break;
        case 0x55: // SHORT_BINSTRING
          this.stack.push(Buffer.from(this.bytes(this.u8())).toString('latin1'));
          break;
        case 0x42: // BINBYTES
          this.stack.push(Uint8Array.from(this.bytes(this.u32())));
          break;
        case 0x43: // SHORT_BINBYTES
          this.stack.push(Uint8Array.from(this.bytes(this.u8())));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.stack.push(Uint8Array.from(this.bytes(this.u64())));
          break;
        case 0x97: // NEXT_BUFFER
        case 0x98: // READONLY_BUFFER
          this.fail('out-of-band buffers are not supported');
          break;
        case 0x29: // EMPTY_TUPLE
          this.stack.push([]);
          break;
        case 0x85: // TUPLE1
          this.stack.push([this.pop()]);
          break;
        case 0x86: {
          // TUPLE2
          const b = this.pop();
          const a = this.pop();
          this.stack.push([a, b]);
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.stack.push([a, b, c]);
          break;
        }
        case 0x74: // TUPLE
          {
          const items = this.popMark(); // evaluate before reading this.stack
          this.stack.push(items);
        }
          break;
        case 0x5d: // EMPTY_LIST
          this.stack.push([]);
          break;
        case 0x6c: // LIST
          {
          const items = this.popMark(); // evaluate before reading this.stack
          this.stack.push(items);
        }
          break;
        case 0x61: {
          // APPEND
          const v = this.pop();
          this.append(this.top(), [v]);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          this.append(this.top(), items);
          break;
        }
        case 0x7d: // EMPTY_DICT
          this.stack.push({});
          break;
        case 0x64: {
          // DICT
          const items = this.popMark();
          const d = {};
          this.setItems(d, items);
          this.stack.push(d);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x8f: // EMPTY_SET
          this.stack.push([]);
          break;
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          this.append(this.top(), items);
          break;
        }
        case 0x91: // FROZENSET
          {
          const items = this.popMark(); // evaluate before reading this.stack
          this.stack.push(items);
        }
          break;
        case 0x70: // PUT
          this.memo.set(Number(this.line()), this.top());
          break;
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x67: // GET
        case 0x68: // BINGET
        case 0x6a: {
          // LONG_BINGET
          const idx = op === 0x67 ? Number(this.line()) : op === 0x68 ? this.u8() : this.u32();
          if (!this.memo.has(idx)) this.fail(`memo key ${idx} missing`);
          this.stack.push(this.memo.get(idx));
          break;
        }
        case 0x63: {
          // GLOBAL
          const module = this.line();
          const name = this.line();
          this.stack.push(this.global(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
          this.stack.push(this.global(module, name));
          break;
        }
        case 0x69: {
          // INST
          const module = this.line();
          const name = this.line();
          const g = this.global(module, name);
          const args = this.popMark();
          this.stack.push(this.callable(g, args, 'INST'));
          break;
        }
        case 0x6f: {
          // OBJ
          const items = this.popMark();
          const cls = items.shift();
          this.stack.push(this.callable(cls, items, 'OBJ'));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.stack.push(this.callable(fn, args, 'REDUCE'));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          this.stack.push(this.callable(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (isPlainObject(kwargs) && Object.keys(kwargs).length > 0) this.fail('NEWOBJ_EX with keyword arguments');
          this.stack.push(this.callable(cls, args, 'NEWOBJ_EX'));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          const obj = this.top() as any;
          if (obj && typeof obj[SETSTATE] === 'function') obj[SETSTATE](state);
          else if (isPlainObject(obj)) {
            // e.g. a state_dict OrderedDict's `_metadata`: kept out of the enumerable keys.
            Object.defineProperty(obj, '__state__', { value: state, enumerable: false, configurable: true });
          } else this.fail(`BUILD on an object that takes no state (${describe(obj)})`);
          break;
        }
        case 0x50: // PERSID
        case 0x51: {
          // BINPERSID
          const pid = op === 0x50 ? this.line() : this.pop();
          if (!this.hooks.persistentLoad) this.fail('persistent ids are not allowed here');
          this.stack.push(this.hooks.persistentLoad(pid));
          break;
        }
        case 0x82:
        case 0x83:
        case 0x84:
          throw new PickleRefused(refuseMessage(this.hooks.file, 'an extension-registry object (EXT opcode)'));
        case 0x53: // STRING
        case 0x56: // UNICODE
          this.fail('protocol-0 text strings are not supported');
          break;
        default:
          this.fail(`unsupported pickle opcode 0x${op.toString(16)}`);
      }
    }
  }
}

function describe(v: unknown): string {
  if (v instanceof PyGlobal) return v.name;
  if (Array.isArray(v)) return 'list';
  return v === null ? 'None' : typeof v;
}
