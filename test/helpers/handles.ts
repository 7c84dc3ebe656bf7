// Raw addon tensor handles for the kernel tests: made with optional contents, read back as
// Float32Array (or bf16 bits), and freed together at the end of a case.
import { native, type DType, type TensorHandle } from '../../lib/native.js';

export class Handles {
  private live: TensorHandle[] = [];

  make(shape: number[], dtype: DType = 'float32', data?: Float32Array | Uint16Array): TensorHandle {
    const h = native.empty(shape, dtype);
    this.live.push(h);
    if (data) h.write(data);
    return h;
  }

  read(h: TensorHandle): Float32Array {
    const out = new Float32Array(h.shape.reduce((a, b) => a * b, 1));
    h.read(out);
    return out;
  }

  /** A bfloat16 tensor's raw bits. */
  bits(h: TensorHandle): Uint16Array {
    const out = new Uint16Array(h.shape.reduce((a, b) => a * b, 1));
    h.read(out);
    return out;
  }

  freeAll(): void {
    for (const h of this.live.splice(0)) if (!h.disposed) h.dispose();
  }
}
