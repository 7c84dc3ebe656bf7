// The addon throws JS errors and never crashes the process: every op a training step, its bf16
// variant and a probe step call is called again with one argument broken at a time (fuzz_child.ts),
// in a child process so that a crash fails this test and names the call instead of ending the run.
// On the CPU, and on CUDA where the addon has it (a GPU, or the emulator: cuda_emu.test.ts runs
// this suite again on the emulated addon).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../../lib/native.js';

const CHILD = fileURLToPath(new URL('./fuzz_child.js', import.meta.url));

interface Report {
  device: string;
  ops: string[];
  templates: number;
  baselineFailed: number;
  calls: number;
  threw: number;
  returned: number;
  accepted: string[];
}

const devices = native.cudaInfo().available ? ['cpu', 'cuda'] : ['cpu'];

for (const device of devices) {
  const log = join(mkdtempSync(join(tmpdir(), 'vjepa-fuzz-')), 'calls.log');
  const r = spawnSync(process.execPath, [CHILD, log, device], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, VJEPA_THREADS: '2' } });
  const report = () => JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Report;

  test(`${device}: no broken argument crashes the process`, () => {
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.is(r.signal, null, `the child died by ${r.signal} during: ${lines.at(-1)}\n${r.stderr}`);
    assert.is(r.status, 0, `child exit ${r.status} after: ${lines.at(-1)}\n${r.stderr}`);
    assert.is(lines.at(-1), 'done');
  });

  test(`${device}: the ops of a step were all recorded and replay unbroken, and broken arguments are mostly refused`, () => {
    const rep = report();
    assert.is(rep.device, device);
    for (const op of ['attentionFwd', 'attentionBwd', 'gemm', 'gemmGelu', 'layernormFwd', 'layernormBwd', 'geluBwd', 'gatherRows', 'copyBlocks',
      'unfoldTubelets', 'lossFwd', 'lossBwd', 'crossEntropy', 'adamwMany', 'emaMany', 'sumSquaresMany', 'cast'])
      assert.ok(rep.ops.includes(op), `${op} was not exercised: ${rep.ops.join(' ')}`);
    assert.is(rep.baselineFailed, 0, 'a recorded call failed when replayed as it was');
    assert.ok(rep.calls > 3000, `${rep.calls} calls`);
    // What is still accepted is a shape that holds the same elements or broadcasts, an offset that
    // stays in range, an optional tensor left out, or a value the op has no reason to refuse.
    assert.ok(rep.threw / rep.calls > 0.8, `only ${rep.threw} of ${rep.calls} broken calls were refused`);
    // A mix of devices is refused (sharesStorage only answers false).
    assert.equal(rep.accepted.filter((a) => a.endsWith(': on the cpu') && !a.startsWith('sharesStorage ')), []);
  });

  test(`${device}: a NaN or infinite scale, eps, rate or momentum is refused (fill and axpby take any value, init any bound)`, () => {
    const rep = report();
    const nonFinite = rep.accepted.filter((a) => /-> (NaN|Infinity)$/.test(a) && !/^(fill|axpby|initTruncNormal) /.test(a));
    assert.equal(nonFinite, []);
    // torch.optim.AdamW's range checks, and the EMA's momentum in [0, 1].
    const optim = rep.accepted.filter((a) => /^(adamwMany arg [4-7]: .* -> -1|adamwMany arg 8: an entry -1|emaMany arg 2: .* -> (-1|1000000000000000))$/.test(a));
    assert.equal(optim, []);
  });
}

test.run();
