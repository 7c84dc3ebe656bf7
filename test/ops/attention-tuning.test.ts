// The attention tuner (lib/ops/attention-tuning.ts) without a GPU: its choice from a trial's
// numbers, its cache, and what it does when the child crashes, hangs or says nothing useful, with
// stand-in trial scripts. The real trial runs on the emulated CUDA addon in
// test/native/cuda_emu.test.ts, and on a GPU in test/gpu/run.sh.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIN_GAIN, attentionShapes, choose, defaultCacheFile, tuneAttention } from '../../lib/ops/attention-tuning.js';
import { TRIAL_MARKER, both, relativeError, wgmmaBn64Differs, wgmmaLayoutVerdict, wgmmaTakes, type TrialReport, type TrialResult } from '../../lib/ops/attention-trial.js';
import { native } from '../../lib/native.js';
import { withEnv } from '../../lib/util/process.js';

const shape = { headDim: 64, heads: 16, tokens: 1568, batch: 8 };

function result(fwd: TrialResult['fwd'], bwd: TrialResult['bwd']): TrialResult {
  return { shape, fwd, bwd };
}

test('choose: the fastest candidate that matched, by more than MIN_GAIN over the default', () => {
  const r = result(
    { mma: { ok: true, ms: 0.4, err: 0 }, wgmma: { ok: true, ms: 0.25, err: 2e-3 } },
    { split: { ok: true, ms: 1.0, err: 0 }, fused: { ok: true, ms: 0.8, err: 1e-3 }, wgmma: { ok: true, ms: 0.5, err: 1e-3 } },
  );
  const c = choose(r);
  assert.equal([c.fwd, c.bwd], ['wgmma', 'wgmma']);
  assert.match(c.detail, 'forward mma 0.400 ms, wgmma 0.250 ms; backward split 1.000 ms, fused 0.800 ms, wgmma 0.500 ms');
  // within MIN_GAIN of the default: the deterministic default stays
  const close = 1 - MIN_GAIN / 2;
  const d = choose(result({ mma: { ok: true, ms: 1 }, wgmma: { ok: true, ms: close } }, { split: { ok: true, ms: 1 }, fused: { ok: true, ms: close } }));
  assert.equal([d.fwd, d.bwd], ['mma', 'split']);
  // just past it: taken
  const e = choose(result({ mma: { ok: true, ms: 1 } }, { split: { ok: true, ms: 1 }, fused: { ok: true, ms: 1 - 2 * MIN_GAIN } }));
  assert.is(e.bwd, 'fused');
});

test('choose: a candidate that failed its check is never taken, however fast, and the line says why', () => {
  const r = result(
    { mma: { ok: true, ms: 0.4 }, wgmma: { ok: false, err: 0.3, why: 'forward outputs off by 3.0e-1 relative' } },
    { split: { ok: true, ms: 1.0 }, fused: { ok: true, ms: 0.9 }, wgmma: { ok: false, why: 'cuda attentionBwd: an illegal memory access was encountered' } },
  );
  const c = choose(r, '');
  assert.equal([c.fwd, c.bwd], ['mma', 'fused']);
  assert.match(c.detail, 'wgmma not used (forward outputs off by 3.0e-1 relative)');
  assert.match(c.detail, 'wgmma not used (cuda attentionBwd: an illegal memory access was encountered)');
  assert.match(choose(result({ mma: { ok: true, ms: 1 } }, { split: { ok: true, ms: 1 } }), 'this device has no wgmma').detail, '; wgmma not tried: this device has no wgmma');
});

test('both: a candidate must also pass the cross-attention check; its time is the self-attention one', () => {
  let crossRan = 0;
  const cross = (c: { ok: boolean; why?: string }) => () => (crossRan++, c);
  assert.equal(both({ ok: true, ms: 0.5, err: 1e-3 }, cross({ ok: true })), { ok: true, ms: 0.5, err: 1e-3 });
  const bad = both({ ok: true, ms: 0.5, err: 1e-3 }, cross({ ok: false, why: 'gradients (cross-attention, 3 queries) off by 2.0e-1 relative' }));
  assert.equal(bad, { ok: false, why: 'gradients (cross-attention, 3 queries) off by 2.0e-1 relative', ms: undefined });
  assert.is(choose(result({ mma: { ok: true, ms: 1 } }, { split: { ok: true, ms: 1 }, fused: bad })).bwd, 'split');
  crossRan = 0;
  assert.equal(both({ ok: false, why: 'self failed' }, cross({ ok: true })), { ok: false, why: 'self failed' });
  assert.is(crossRan, 0, 'no cross check after the self-attention one failed');
});

test('attentionShapes: one shape per head_dim, the first listed wins, batch capped at 16', () => {
  const s = attentionShapes([
    { dim: 1024, heads: 16, tokens: 1568, batch: 32 },
    { dim: 384, heads: 16, tokens: 1568, batch: 32 },
    { dim: 512, heads: 8, tokens: 10, batch: 2 },
  ]);
  assert.equal(s, [
    { headDim: 64, heads: 16, tokens: 1568, batch: 16 },
    { headDim: 24, heads: 16, tokens: 1568, batch: 16 },
  ]);
});

test('relativeError, wgmmaTakes and wgmmaBn64Differs (native.wgmmaHeadWidth, the kernels\' own rule)', () => {
  assert.is(relativeError(Float32Array.of(1, 2), Float32Array.of(1, 2)), 0);
  assert.is(relativeError(Float32Array.of(1, 2.5), Float32Array.of(1, 2)), 0.25);
  assert.is(relativeError(Float32Array.of(NaN, 2), Float32Array.of(1, 2)), Infinity);
  assert.is(relativeError(Float32Array.of(1, Infinity), Float32Array.of(1, 2)), Infinity);
  assert.equal([8, 16, 24, 32, 40, 128, 136, 60].map(wgmmaTakes), [false, true, true, true, true, true, false, false]);
  // with_head_width pads 40..64 to 64, where the 64-key tiles are other kernels; elsewhere wgmma-bn64 is wgmma
  assert.equal([24, 32, 40, 56, 64, 72, 96, 60].map(wgmmaBn64Differs), [false, false, true, true, true, false, false, false]);
  // the widths the kernels are compiled for; 24 (the predictors') and 80 (ViT-H) are their own, 88 rounds to 96
  assert.equal([16, 24, 40, 72, 80, 88, 104, 128].map((h) => native.wgmmaHeadWidth(h, true)), [32, 24, 64, 80, 80, 96, 128, 128]);
  assert.equal([16, 24, 32].map((h) => native.wgmmaHeadWidth(h, false)), [0, 0, 32]);
});

test('wgmmaLayoutVerdict: a self-test layout found off rules out the head widths that use it, and only those', () => {
  const rows = [
    { layout: 'scores: A, B K-major, 128-byte swizzle', maxErr: 0, widths: [64, 128] },
    { layout: 'P V, dV, dK 24 wide', maxErr: 3, widths: [24] },
    { layout: 'dQ 80 wide', maxErr: Infinity, widths: [80] },
  ];
  assert.is(wgmmaLayoutVerdict(rows, 24), 'wgmma self-test: layout "P V, dV, dK 24 wide" off by 3');
  assert.is(wgmmaLayoutVerdict(rows, 72), 'wgmma self-test: layout "dQ 80 wide" off by Infinity');  // runs 80 wide
  assert.is(wgmmaLayoutVerdict(rows, 64), '');
  assert.is(wgmmaLayoutVerdict(rows, 16), '');  // 16 runs 32 wide
  assert.is(wgmmaLayoutVerdict([{ ...rows[0], maxErr: 1 }], 40), 'wgmma self-test: layout "scores: A, B K-major, 128-byte swizzle" off by 1');
});

test('defaultCacheFile: VJEPA_CACHE_DIR, then XDG_CACHE_HOME/vjepa', () => {
  assert.is(defaultCacheFile({ VJEPA_CACHE_DIR: '/c' }), '/c/attention-kernels.json');
  assert.is(defaultCacheFile({ XDG_CACHE_HOME: '/x' }), '/x/vjepa/attention-kernels.json');
  assert.match(defaultCacheFile({}), /\.cache\/vjepa\/attention-kernels\.json$/);
});

// A stand-in trial: counts its runs in a file, then does what `body` says.
function fakeTrial(dir: string, body: string): string {
  const script = join(dir, `trial-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(script, `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(join(dir, 'runs'))}, 'x');\nconst req = JSON.parse(process.argv[2]);\n${body}\n`);
  return script;
}
const runs = (dir: string) => (existsSync(join(dir, 'runs')) ? readFileSync(join(dir, 'runs'), 'utf8').length : 0);

function report(wgmmaMs: number): TrialReport {
  return {
    wgmmaSkipped: '',
    results: [result({ mma: { ok: true, ms: 0.4, err: 0 }, wgmma: { ok: true, ms: wgmmaMs, err: 1e-3 } }, { split: { ok: true, ms: 1, err: 0 }, fused: { ok: true, ms: 0.7, err: 1e-3 } })],
  };
}

function tune(dir: string, script: string, extra: { timeoutMs?: number; deviceKey?: string } = {}) {
  const lines: string[] = [];
  const applied: [number, string, string][] = [];
  const out = tuneAttention('cuda:0', [shape], {
    log: (l) => lines.push(l),
    cacheFile: join(dir, 'cache', 'attention-kernels.json'),
    trialScript: script,
    deviceKey: extra.deviceKey ?? 'addon test | GPU sm_90',
    timeoutMs: extra.timeoutMs,
    apply: (hd, f, b) => applied.push([hd, f, b]),
  });
  return { out, lines, applied };
}

function withoutAttnEnv<T>(fn: () => T): T {
  const saved = ['VJEPA_CUDA_ATTN_FWD', 'VJEPA_CUDA_ATTN_BWD', 'VJEPA_CUDA_ATTN_TUNE'].map((k) => [k, process.env[k]] as const);
  for (const [k] of saved) delete process.env[k];
  try {
    return fn();
  } finally {
    for (const [k, v] of saved) if (v !== undefined) process.env[k] = v;
  }
}

test('tuneAttention: applies the trial\'s choice, caches it, and the next run reads the cache without a child', () => withoutAttnEnv(() => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-tune-'));
  const script = fakeTrial(dir, `console.log('noise first');\nconsole.log(${JSON.stringify(TRIAL_MARKER)} + ' ' + JSON.stringify(${JSON.stringify(report(0.2))}));`);
  const a = tune(dir, script);
  assert.is(runs(dir), 1);
  assert.equal(a.applied, [[64, 'wgmma', 'fused']]);
  assert.is(a.out.get(64)?.from, 'trial');
  assert.ok(a.lines.some((l) => /^attention kernels: tried 1 shape in a child process in [\d.]+ s .*cached in .*attention-kernels\.json$/.test(l)), a.lines.join('\n'));
  assert.ok(a.lines.includes('attention kernels, head_dim 64 (16 heads, 1568 tokens, batch 8): forward wgmma, backward fused: forward mma 0.400 ms, wgmma 0.200 ms; backward split 1.000 ms, fused 0.700 ms'), a.lines.join('\n'));
  const b = tune(dir, script);
  assert.is(runs(dir), 1, 'the cached verdict needs no second trial');
  assert.equal(b.applied, [[64, 'wgmma', 'fused']]);
  assert.is(b.out.get(64)?.from, 'cache');
  assert.match(b.lines.join('\n'), /forward wgmma, backward fused \(cached \d{4}-\d\d-\d\d\)/);
  // another addon build or GPU model is tried afresh
  tune(dir, script, { deviceKey: 'addon other | GPU sm_90' });
  assert.is(runs(dir), 2);
  // so is a run with another kernel switch the child inherits (and the run keeps), once
  withEnv('VJEPA_CUDA_ATTN_NO_HD24', '1', () => {
    tune(dir, script);
    assert.is(runs(dir), 3);
    assert.is(tune(dir, script).out.get(64)?.from, 'cache');
  });
  assert.is(runs(dir), 3);
  assert.is(tune(dir, script).out.get(64)?.from, 'cache', 'the verdict without the switch is still there');
}));

test('tuneAttention: a child that aborts, hangs or prints no report leaves the defaults, says why, and remembers', () => withoutAttnEnv(() => {
  const cases: [string, string, RegExp, number?][] = [
    ['abort', `console.error('cuda attentionFwd: an illegal instruction was encountered'); process.abort();`, /it died of SIGABRT: cuda attentionFwd: an illegal instruction was encountered/],
    ['hang', `setTimeout(() => {}, 60_000);`, /it ran past 1 s and was killed/, 1000],
    ['exit', `console.error('Error: boom'); process.exit(3);`, /it exited with 3: Error: boom/],
    ['no marker', `console.log('{}');`, /it exited with 0: \{\}/],
    ['bad json', `console.log(${JSON.stringify(TRIAL_MARKER)} + ' {oops');`, /its report is not JSON/],
  ];
  for (const [name, body, why, timeoutMs] of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'vjepa-tune-'));
    const script = fakeTrial(dir, body);
    const t0 = Date.now();
    const a = tune(dir, script, { timeoutMs });
    assert.ok(Date.now() - t0 < 30_000, name);
    assert.equal(a.applied, [[64, 'mma', 'split']], name);
    assert.is(a.out.get(64)?.from, 'failed', name);
    const line = a.lines.find((l) => l.startsWith('attention kernels, head_dim 64')) ?? '';
    assert.match(line, why, `${name}: ${a.lines.join('\n')}`);
    assert.match(line, /the defaults stay\. Please report this .* delete .*attention-kernels\.json to try again/, name);
    const b = tune(dir, script, { timeoutMs });
    assert.is(runs(dir), 1, `${name}: a failed trial is not repeated by every run`);
    assert.is(b.out.get(64)?.from, 'failed', name);
  }
}));

test('tuneAttention: an unreadable cache is tried again and rewritten; the environment and VJEPA_CUDA_ATTN_TUNE=0 skip the trial', () => withoutAttnEnv(() => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-tune-'));
  const script = fakeTrial(dir, `console.log(${JSON.stringify(TRIAL_MARKER)} + ' ' + JSON.stringify(${JSON.stringify(report(0.2))}));`);
  tune(dir, script);
  writeFileSync(join(dir, 'cache', 'attention-kernels.json'), '{ torn');
  const a = tune(dir, script);
  assert.is(runs(dir), 2);
  assert.ok(a.lines.some((l) => /attention-kernels\.json is unreadable .*; trying the kernels again/.test(l)), a.lines.join('\n'));
  assert.is(JSON.parse(readFileSync(join(dir, 'cache', 'attention-kernels.json'), 'utf8')).version, 1);

  process.env.VJEPA_CUDA_ATTN_BWD = 'split';
  const e = tune(dir, script);
  delete process.env.VJEPA_CUDA_ATTN_BWD;
  assert.equal(e.applied, []);
  assert.equal(e.lines, ['attention kernels: from the environment (VJEPA_CUDA_ATTN_FWD= VJEPA_CUDA_ATTN_BWD=split); no trial']);
  process.env.VJEPA_CUDA_ATTN_TUNE = '0';
  const off = tune(dir, script);
  delete process.env.VJEPA_CUDA_ATTN_TUNE;
  assert.equal(off.applied, []);
  assert.match(off.lines.join('\n'), /VJEPA_CUDA_ATTN_TUNE=0: no trial/);
  assert.is(runs(dir), 2);
  // and the CPU never tunes
  assert.is(tuneAttention('cpu', [shape], { log: () => assert.unreachable('logged') }).size, 0);
}));

test.run();
