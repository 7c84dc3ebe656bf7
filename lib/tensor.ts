// Tensor: a native handle plus shape/dtype, autograd links, and explicit lifetime.
// Lifetime is explicit (dispose() or a tidy() scope), like tf.tidy / node-llama-cpp. A
// FinalizationRegistry is the backstop for what the code forgot, but only for tensors that no
// scope owns (parameters, kept tensors, results that left the outermost scope): a scope frees
// its tensors itself, and registering each op's outputs would cost more than the op's launch.
import { native, type DType, type TensorHandle } from './native.js';
import type { GradNode } from './autograd.js';

export type { DType } from './native.js';
export type Device = string; // 'cpu' | 'cuda' | 'cuda:N'

const backstop = new FinalizationRegistry<TensorHandle>((h) => h.dispose());

type Scope = Set<Tensor>;
const scopes: Scope[] = [];

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export class Tensor {
  private _handle: TensorHandle;
  readonly shape: number[];
  readonly dtype: DType;
  /** True for leaves (parameters) whose .grad should be filled, and for outputs of recorded ops. */
  requiresGrad = false;
  grad: Tensor | null = null;
  gradFn: GradNode | null = null;
  name = '';
  /** The handle's device name, read once (it outlives release()); reset by moveTo. */
  private _device: Device | null = null;
  /** Registered with the backstop (no scope owns it). */
  private _guarded = false;

  /**
   * shape (an array the tensor may keep) and dtype, when the caller knows them, spare two reads
   * from the handle: a tensor is made for every op's output and every view, so they add up.
   */
  constructor(handle: TensorHandle, shape?: number[], dtype?: DType) {
    this._handle = handle;
    this.shape = shape ?? handle.shape;
    this.dtype = dtype ?? handle.dtype;
    const top = scopes[scopes.length - 1];
    if (top) top.add(this);
    else this.guard();
  }

  /**
   * Hands the tensor to the GC backstop once no scope owns it. A disposed handle may be registered
   * too: disposing it again is a no-op, and asking the addon first would cost a call per tensor.
   */
  guard(): void {
    if (this._guarded) return;
    backstop.register(this, this._handle, this);
    this._guarded = true;
  }

  private unguard(): void {
    if (!this._guarded) return;
    backstop.unregister(this);
    this._guarded = false;
  }

  static empty(shape: readonly number[], dtype: DType = 'float32', device: Device = 'cpu'): Tensor {
    const s = [...shape];
    return new Tensor(native.empty(s, dtype, device), s, dtype);
  }

  static zeros(shape: readonly number[], dtype: DType = 'float32', device: Device = 'cpu'): Tensor {
    const s = [...shape];
    return new Tensor(native.zeros(s, dtype, device), s, dtype);
  }

  static full(shape: readonly number[], value: number, device: Device = 'cpu'): Tensor {
    const t = Tensor.empty(shape, 'float32', device);
    native.fill(t.handle, value);
    return t;
  }

  /** Copies host data into a new tensor (float32 unless the array says otherwise). */
  static from(
    data: Float32Array | Int32Array | Float64Array | Uint8Array | BigInt64Array | Uint16Array | number[],
    shape: readonly number[],
    dtype?: DType,
    device: Device = 'cpu',
  ): Tensor {
    let arr: ArrayBufferView;
    let dt: DType;
    if (Array.isArray(data)) {
      dt = dtype ?? 'float32';
      arr = dt === 'int32' ? Int32Array.from(data) : Float32Array.from(data);
    } else {
      arr = data;
      dt =
        dtype ??
        (data instanceof Int32Array
          ? 'int32'
          : data instanceof Float64Array
            ? 'float64'
            : data instanceof Uint8Array
              ? 'uint8'
              : data instanceof BigInt64Array
                ? 'int64'
                : data instanceof Uint16Array
                  ? 'bfloat16'
                  : 'float32');
    }
    const n = numel(shape);
    if ((arr as unknown as { length: number }).length !== n)
      throw new Error(`Tensor.from: ${(arr as unknown as { length: number }).length} values do not fill shape ${shapeStr(shape)} (${n})`);
    const t = Tensor.empty(shape, dt, device);
    t.handle.write(arr);
    return t;
  }

  /**
   * Like from() for a typed array, but on CUDA the host-to-device copy overlaps the GPU's
   * queued work: this returns once the values are staged in pinned memory (data may be reused
   * at once), and the first op that touches the tensor waits, on the GPU, for the copy. It
   * returns synchronously; there is nothing to await. On the CPU it is a plain copy.
   */
  static fromHostAsync(data: HostArray, shape: readonly number[], dtype?: DType, device: Device = 'cpu'): Tensor {
    const n = numel(shape);
    if (data.length !== n) throw new Error(`Tensor.fromHostAsync: ${data.length} values do not fill shape ${shapeStr(shape)} (${n})`);
    const t = Tensor.empty(shape, dtype ?? hostArrayDType(data), device);
    try {
      native.uploadAsync(data, t.handle);
    } catch (e) {
      t.dispose();
      throw e;
    }
    return t;
  }

  /** Copies host values into this tensor in place, asynchronously on CUDA (see fromHostAsync). */
  writeAsync(data: HostArray): this {
    native.uploadAsync(data, this.handle);
    return this;
  }

  /** The native handle; replaced only by moveTo. */
  get handle(): TensorHandle {
    return this._handle;
  }
  get device(): Device {
    return (this._device ??= this._handle.device);
  }
  get numel(): number {
    return numel(this.shape);
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }
  get rank(): number {
    return this.shape.length;
  }

  toFloat32Array(): Float32Array {
    if (this.dtype !== 'float32') throw new Error(`toFloat32Array: tensor is ${this.dtype}`);
    const out = new Float32Array(this.numel);
    this.handle.read(out);
    return out;
  }

  toInt32Array(): Int32Array {
    if (this.dtype !== 'int32') throw new Error(`toInt32Array: tensor is ${this.dtype}`);
    const out = new Int32Array(this.numel);
    this.handle.read(out);
    return out;
  }

  /** The raw bytes (any dtype), for checkpoints. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.handle.nbytes);
    this.handle.read(out);
    return out;
  }

  item(): number {
    if (this.numel !== 1) throw new Error(`item: tensor ${shapeStr(this.shape)} has ${this.numel} elements`);
    return this.toFloat32Array()[0];
  }

  /** A view with another shape that shares storage (no autograd: see ops.reshape). */
  view(shape: readonly number[]): Tensor {
    const s = [...shape];
    return new Tensor(native.reshape(this.handle, s), s, this.dtype);
  }

  /** Copies host values into this tensor in place. */
  write(data: ArrayBufferView): this {
    this.handle.write(data);
    return this;
  }

  to(device: Device): Tensor {
    const t = Tensor.empty(this.shape, this.dtype, device);
    native.copy(this.handle, t.handle);
    return t;
  }

  /**
   * Moves this tensor (and its gradient) to another device in place. The object stays the
   * same, so modules' fields, optimizer slots and autograd maps keyed by it stay valid.
   * Other views of the same storage do not follow.
   */
  moveTo(device: Device): this {
    if (this.gradFn) throw new Error(`moveTo: ${this} is the output of a recorded op; only leaves can move`);
    if (this.device === device) return this;
    const moved = native.empty([...this.shape], this.dtype, device);
    try {
      native.copy(this._handle, moved);
    } catch (e) {
      moved.dispose();
      throw e;
    }
    const guarded = this._guarded;
    this.unguard();
    this._handle.dispose();
    this._handle = moved;
    this._device = null;
    if (guarded) this.guard();
    this.grad?.moveTo(device);
    return this;
  }

  clone(): Tensor {
    return this.to(this.device);
  }

  /** Copies another tensor's values into this one (same dtype and element count). */
  copyFrom(src: Tensor): this {
    native.copy(src.handle, this.handle);
    return this;
  }

  /**
   * Frees this tensor's data now but keeps its place in the autograd graph (unlike dispose), for
   * an intermediate whose consumers saved what their backward needs: their own views or bf16
   * copies. Its shape and device stay readable; reading its data is an error naming the op.
   */
  release(): void {
    if (this._handle.disposed) return;
    this._device ??= this._handle.device;
    this._handle.dispose();
    this.unguard();
  }

  dispose(): void {
    this._handle.dispose();
    this.unguard();
    this.gradFn = null;
  }

  toString(): string {
    return `Tensor(${this.dtype}${shapeStr(this.shape)}@${this.disposed ? 'disposed' : this.device}${this.name ? ` ${this.name}` : ''})`;
  }
}

/** The typed arrays a tensor's values can come from (bfloat16 as raw Uint16Array). */
export type HostArray = Float32Array | Int32Array | Float64Array | Uint8Array | BigInt64Array | Uint16Array;

/** The dtype a typed array holds, as Tensor.from infers it. */
export function hostArrayDType(data: HostArray): DType {
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint16Array) return 'bfloat16';
  return 'float32';
}

type Kept = Tensor | Tensor[] | Record<string, unknown> | void | number | unknown;

function collect(v: unknown, into: Set<Tensor>, depth = 0): void {
  if (depth > 4 || v === null || v === undefined) return;
  if (v instanceof Tensor) into.add(v);
  else if (Array.isArray(v)) for (const e of v) collect(e, into, depth + 1);
  else if (typeof v === 'object' && v.constructor === Object)
    for (const e of Object.values(v as Record<string, unknown>)) collect(e, into, depth + 1);
}

/**
 * Runs fn in a scope: every tensor created inside is disposed when it returns, except the
 * tensors it returns (directly, or in arrays / plain objects) and those passed to keep().
 * Survivors move to the enclosing scope.
 */
export function tidy<T extends Kept>(fn: () => T): T {
  const scope: Scope = new Set();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  adopt(scope, result);
  return result;
}

/** Async variant of tidy for code that awaits inside the scope (one at a time). */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope: Scope = new Set();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    // As tidy: scoped tensors have no GC backstop, so a throw must free them here.
    dropScope(scope);
    for (const t of scope) t.dispose();
    throw e;
  }
  dropScope(scope);
  adopt(scope, result);
  return result;
}

function dropScope(scope: Scope): void {
  const idx = scopes.lastIndexOf(scope);
  if (idx >= 0) scopes.splice(idx, 1);
}

/**
 * A closed scope's survivors (the tensors in its result) go to the enclosing scope, or to the
 * backstop at the top; the rest are freed.
 */
function adopt(scope: Scope, result: unknown): void {
  const survivors = new Set<Tensor>();
  collect(result, survivors);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (!survivors.has(t)) t.dispose();
    else if (parent) parent.add(t);
    else t.guard();
  }
}

/** Removes tensors from every open scope so they outlive it (parameters, optimizer state). */
export function keep<T extends Tensor | Tensor[]>(t: T): T {
  const list = Array.isArray(t) ? t : [t];
  for (const x of list) {
    for (const s of scopes) s.delete(x);
    x.guard();
  }
  return t;
}

export function disposeAll(v: unknown): void {
  const s = new Set<Tensor>();
  collect(v, s);
  for (const t of s) t.dispose();
}

export function memoryStats() {
  return native.stats();
}

export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

export function numThreads(): number {
  return native.numThreads();
}
