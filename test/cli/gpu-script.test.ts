// test/gpu/cli.mjs runs the command-line tools on a lent GPU against the same commands on the CPU
// (test/gpu/run.sh). Here it runs as a CPU-vs-CPU self-check, so that a lease never finds it
// broken: every command it runs and every comparison it makes, on both sides the CPU.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNode } from '../helpers/spawn.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

test('test/gpu/cli.mjs runs as a CPU-vs-CPU self-check: vjepa-train, its checkpoint, vjepa-embed and vjepa-probe compared', async () => {
  const { code, out } = await runNode(join(ROOT, 'test/gpu/cli.mjs'), [], { ...process.env, VJEPA_GPU_DEVICE: 'cpu', VJEPA_CLI_ITERS: '2' });
  assert.is(code, 0, out);
  assert.match(out, /self-check: the CPU on both sides/);
  // the same commands on the same device agree exactly, row for row
  for (const row of ['train fp32: loss per iteration', 'checkpoint: weights', 'embed fp32', 'probe: val_loss per epoch'])
    assert.match(out, new RegExp(`${row}[^\\n]*0\\.00e\\+0  pass`), row);
  assert.match(out, /iterations compared +4\/4/);
  const passed = /\n(\d+)\/(\d+) checks passed/.exec(out);
  assert.ok(passed && passed[1] === passed[2] && Number(passed[1]) >= 10, out);
});

test.run();
