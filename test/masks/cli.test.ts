// bin/vjepa-masks end to end (spawned on the compiled dist/bin/vjepa-masks.js).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/vjepa-masks.js', import.meta.url));
const FIX = fileURLToPath(new URL('../../../test/config/fixtures/', import.meta.url));

test('--json prints exactly {"masks":[{context:{mean,min,max},target:{...}}, ...]} with MASK-03 numbers (4x8x8, B=8)', () => {
  const out = execFileSync(process.execPath, [BIN, join(FIX, 'tiny.yaml'), '--batches', '400', '--json'], { encoding: 'utf8' });
  const j = JSON.parse(out);
  assert.equal(Object.keys(j), ['masks']);
  assert.is(j.masks.length, 2);
  for (const m of j.masks) {
    assert.equal(Object.keys(m), ['context', 'target']);
    for (const s of [m.context, m.target]) {
      assert.equal(Object.keys(s), ['mean', 'min', 'max']);
      assert.ok(s.min <= s.mean && s.mean <= s.max);
    }
  }
  const near = (got: number, want: number) => assert.ok(Math.abs(got - want) <= 0.05 * want, `${got} vs ${want}`);
  near(j.masks[0].context.mean, 63);
  near(j.masks[0].target.mean, 136);
  near(j.masks[1].context.mean, 25);
  near(j.masks[1].target.mean, 181);
});

test('text table, --set, --png and config errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-masks-'));
  const png = join(dir, 'm.png');
  const out = execFileSync(process.execPath, [BIN, join(FIX, 'tiny.yaml'), '--batches', '5', '--png', png, '--set', 'data.batch_size=3'], {
    encoding: 'utf8',
  });
  assert.match(out, 'grid 4x8x8 = 256 tokens, batch 3, 5 batches');
  assert.match(out, /mask 1 \(2 blocks/);
  const buf = readFileSync(png);
  assert.equal([...buf.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  const bad = spawnSync(process.execPath, [BIN, join(FIX, 'tiny.yaml'), '--set', 'optimization.lr=abc'], { encoding: 'utf8' });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, 'tiny.yaml: optimization.lr: expected a number, got "abc"');
});

test.run();
