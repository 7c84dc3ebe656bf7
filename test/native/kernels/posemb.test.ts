// sincos3d / sincos2d (native/cpu/posemb.cc) vs the float64 formula of MOD-06.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { close, f32, freeAll, native, read, sincos1d, sincos2d, sincos3d, throwsMsg } from './reference.js';

const TOL = { atol: 2e-7, rtol: 0 }; // float64 values rounded once to float32 (|v| <= 1)

test('sincos3d: uniform_power true and false vs MOD-06, several widths', () => {
  for (const [T, Hp, Wp] of [[1, 1, 1], [2, 3, 4], [8, 7, 7]])
    for (const D of [12, 64, 96, 128, 192, 384])
      for (const up of [true, false]) {
        if (!up && (D / 4) % 2) continue; // non-uniform needs even D/4
        const out = f32([T * Hp * Wp, D]);
        native.sincos3d(out, T, Hp, Wp, up);
        close(read(out), sincos3d(T, Hp, Wp, D, up), TOL, `[${T},${Hp},${Wp}] D=${D} up=${up}`);
        freeAll();
      }
});

test('sincos3d truncation (uniform_power): D = 64, 128, 1024 keep exactly the first D columns of [t | h | w]', () => {
  const [T, Hp, Wp] = [3, 2, 4];
  for (const [D, dropped] of [[64, 2], [128, 4], [1024, 2], [96, 0]]) {
    const da = 2 * Math.ceil(D / 6);
    assert.is(3 * da - D, dropped, `D=${D}: ${dropped} columns dropped`);
    const out = f32([T * Hp * Wp, D]);
    native.sincos3d(out, T, Hp, Wp, true);
    const got = read(out);
    for (let d = 0; d < T; d++)
      for (let h = 0; h < Hp; h++)
        for (let w = 0; w < Wp; w++) {
          const full = [...sincos1d(da, d), ...sincos1d(da, h), ...sincos1d(da, w)];
          const r = (d * Hp + h) * Wp + w;
          close(got.subarray(r * D, (r + 1) * D), full.slice(0, D), TOL, `D=${D} row (${d},${h},${w})`);
          // the last kept column is a width cosine (dropped ones are the width block's last cosines)
          if (dropped) assert.ok(Math.abs(got[r * D + D - 1] - Math.cos(w / 10000 ** ((da / 2 - 1 - dropped) / (da / 2)))) < 2e-7);
        }
    freeAll();
  }
});

test('sincos2d: [h | w] halves vs MOD-06', () => {
  for (const [Hp, Wp, D] of [[1, 1, 4], [3, 5, 64], [14, 14, 192]]) {
    const out = f32([Hp * Wp, D]);
    native.sincos2d(out, Hp, Wp);
    close(read(out), sincos2d(Hp, Wp, D), TOL, `[${Hp},${Wp}] D=${D}`);
    freeAll();
  }
});

test('posemb errors', () => {
  throwsMsg(() => native.sincos3d(f32([10, 64]), 2, 3, 2, true), [/sincos3d/, /out/, /\[10,64\]/, /\[12,\*\]/], 'rows');
  throwsMsg(() => native.sincos3d(f32([12, 100]), 2, 3, 2, false), [/sincos3d/, /even/, /D=100/], 'odd widths');
  throwsMsg(() => native.sincos2d(f32([6, 66]), 2, 3), [/sincos2d/, /multiple of 4/, /D=66/], '2d D');
  throwsMsg(() => native.sincos2d(native.zeros([6, 64], 'bfloat16'), 2, 3), [/sincos2d/, /float32/], 'dtype');
  assert.ok(true);
  freeAll();
});

test.run();
