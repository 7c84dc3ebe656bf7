// lib/util/rng.ts lives here because masks are its first user (the test tree has no util/ area yet).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../lib/util/rng.js';

test('same (seed, keys) -> same stream; different keys -> different stream', () => {
  const a = new Rng(234, 7, 1);
  const b = Rng.derive(234, 7, 1);
  const c = new Rng(234, 7, 2);
  const xa = Array.from({ length: 8 }, () => a.nextU32());
  const xb = Array.from({ length: 8 }, () => b.nextU32());
  const xc = Array.from({ length: 8 }, () => c.nextU32());
  assert.equal(xa, xb);
  assert.not.equal(xa, xc);
  // large and negative keys are hashed, not truncated
  assert.not.equal(new Rng(1, 2 ** 40).nextU32(), new Rng(1, 0).nextU32());
  assert.not.equal(new Rng(-1).nextU32(), new Rng(0xffffffff).nextU32());
});

test('state round-trips through JSON and resumes bit-exactly', () => {
  const r = new Rng(5);
  for (let i = 0; i < 13; i++) r.uniform();
  const saved = JSON.parse(JSON.stringify(r.getState()));
  const expect = [r.uniform(), r.randint(0, 9), r.normal()];
  const r2 = Rng.fromState(saved);
  assert.equal([r2.uniform(), r2.randint(0, 9), r2.normal()], expect);
  assert.throws(() => r2.setState({ s: [0, 0, 0, 0] }), /all-zero/);
  assert.throws(() => r2.setState({ s: [1, 2, 3] } as any), /invalid state/);
});

test('uniform, randint, normal have the right moments and ranges', () => {
  const r = new Rng(1);
  const n = 200000;
  let s = 0;
  let s2 = 0;
  const counts = new Array(6).fill(0);
  let nsum = 0;
  let nsq = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    s += u;
    s2 += u * u;
    counts[r.randint(-2, 3) + 2]++;
    const z = r.normal();
    nsum += z;
    nsq += z * z;
  }
  assert.ok(Math.abs(s / n - 0.5) < 0.005, `mean ${s / n}`);
  assert.ok(Math.abs(s2 / n - 1 / 3) < 0.005);
  for (const c of counts) assert.ok(Math.abs(c / n - 1 / 6) < 0.005, `randint bucket ${c / n}`);
  assert.ok(Math.abs(nsum / n) < 0.01, `normal mean ${nsum / n}`);
  assert.ok(Math.abs(nsq / n - 1) < 0.02, `normal var ${nsq / n}`);
  assert.is(r.randint(4, 4), 4);
  assert.throws(() => r.randint(3, 2), /empty range/);
  const big = r.randint(0, 2 ** 40);
  assert.ok(Number.isInteger(big) && big >= 0 && big <= 2 ** 40);
});

test('permutation is a permutation and is roughly uniform in position 0', () => {
  const r = new Rng(9);
  const p = r.permutation(50);
  assert.equal([...p].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  const first = new Array(4).fill(0);
  for (let i = 0; i < 40000; i++) first[r.permutation(4)[0]]++;
  for (const c of first) assert.ok(Math.abs(c / 40000 - 0.25) < 0.01);
  assert.is(r.permutation(0).length, 0);
});

test.run();
