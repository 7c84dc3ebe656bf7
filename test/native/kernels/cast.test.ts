// cast float32 <-> bfloat16 (native/cpu/cast.cc): round to nearest, ties to even; NaN stays NaN.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, bf16, bf16Round, bf16ToNumber, f32, freeAll, native, read, readU16, sweep, throwsMsg } from './reference.js';

const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
const fromBits = (u: number) => new Float32Array(new Uint32Array([u >>> 0]).buffer)[0];

function specials(): number[] {
  const out = [0, -0, 1, -1, Infinity, -Infinity, NaN, -NaN, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, 1.1754942e-38, 1.1754944e-38];
  // exact ties: bf16 mantissa LSB 0 (stays) and 1 (rounds up), plus one ulp either side of the tie
  for (const hi of [0x3f80, 0x3f81, 0x4049, 0x0001, 0x0080, 0x7f7f, 0x807e, 0x7f7e])
    for (const lo of [0x8000, 0x7fff, 0x8001, 0x0000, 0xffff]) out.push(fromBits(((hi << 16) | lo) >>> 0));
  out.push(fromBits(0x7fc00001), fromBits(0xff800001), fromBits(0x7f800001), fromBits(0x7fffffff)); // NaN payloads (incl. signalling)
  out.push(fromBits(0x00000001), fromBits(0x007fffff), fromBits(0x00018000), fromBits(0x00008000)); // denormals, incl. ties
  return out;
}

test('f32 -> bf16 -> f32: nearest-even by value, NaN / Inf / denormals, odd sizes', () => {
  const rng = new Rng(91);
  sweep((label) => {
    for (const n of [1, 13, 1000, 70001]) {
      const xs = new Float32Array(n);
      for (let i = 0; i < n; i++) xs[i] = fromBits((rng.u() * 4294967296) >>> 0); // every bit pattern
      const sp = specials();
      for (let i = 0; i < Math.min(n, sp.length); i++) xs[i] = sp[i];
      const y = bf16([n]);
      native.cast(f32([n], xs), y);
      const got = readU16(y);
      for (let i = 0; i < n; i++) {
        const want = bf16Round(xs[i]);
        if (Number.isNaN(want)) {
          assert.ok((got[i] & 0x7f80) === 0x7f80 && (got[i] & 0x7f) !== 0, `${label}: NaN ${bits(xs[i]).toString(16)} -> ${got[i].toString(16)} is not NaN`);
        } else if (got[i] !== want) {
          assert.unreachable(`${label}: ${xs[i]} (0x${bits(xs[i]).toString(16)}) -> 0x${got[i].toString(16)}, want 0x${want.toString(16)}`);
        }
      }
      // back to f32: exact (the top 16 bits)
      const back = f32([n]);
      native.cast(y, back);
      const b = read(back);
      for (let i = 0; i < n; i++)
        if (!Object.is(b[i], bf16ToNumber(got[i])) && !(Number.isNaN(b[i]) && Number.isNaN(bf16ToNumber(got[i]))))
          assert.unreachable(`${label}: bf16 0x${got[i].toString(16)} -> ${b[i]}`);
      freeAll();
    }
  });
});

test('castMany: the same bits as cast, one tensor at a time, over a list of odd sizes', () => {
  const rng = new Rng(7);
  sweep((label) => {
    const sizes = [1, 0, 13, 70001, 1000, 3];
    const srcs = sizes.map((n) => {
      const xs = new Float32Array(n);
      for (let i = 0; i < n; i++) xs[i] = fromBits((rng.u() * 4294967296) >>> 0);
      return f32([n], xs);
    });
    const many = sizes.map((n) => bf16([n])), one = sizes.map((n) => bf16([n]));
    native.castMany(srcs, many);
    srcs.forEach((s, k) => native.cast(s, one[k]));
    sizes.forEach((n, k) => assert.equal(Array.from(readU16(many[k])), Array.from(readU16(one[k])), `${label}: tensor ${k} (${n})`));
    native.castMany([], []);
    freeAll();
  });
});

test('castMany errors name the list and the entry', () => {
  throwsMsg(() => native.castMany([f32([2]), f32([3])], [bf16([2])]), [/castMany/, /dsts has 1 tensors, srcs has 2/], 'lengths');
  throwsMsg(() => native.castMany([f32([2]), bf16([3])], [bf16([2]), bf16([3])]), [/castMany/, /srcs\[1\]/, /float32/], 'src dtype');
  throwsMsg(() => native.castMany([f32([2]), f32([3])], [bf16([2]), f32([3])]), [/castMany/, /dsts\[1\]/, /bfloat16/], 'dst dtype');
  throwsMsg(() => native.castMany([f32([2]), f32([3])], [bf16([2]), bf16([4])]), [/castMany/, /dsts\[1\]/, /bf16\[4\]/], 'count');
  assert.ok(true);
  freeAll();
});

test('cast errors: only f32 <-> bf16, same element count', () => {
  throwsMsg(() => native.cast(f32([4]), f32([4])), [/cast/, /f32\[4\]/, /float32 <-> bfloat16/], 'f32->f32');
  throwsMsg(() => native.cast(f32([4]), bf16([5])), [/cast/, /dst/, /bf16\[5\]/], 'count');
  throwsMsg(() => native.cast(native.zeros([2], 'int32'), bf16([2])), [/cast/, /i32\[2\]/], 'int32');
  assert.ok(true);
  freeAll();
});

test.run();
