// The CUDA backend without a GPU: native/cuda/*.cu compiled as C++ against the CPU emulator in
// test/native/cuda_emu (runtime, kernel launches, block barriers and warp shuffles as fibers,
// WMMA tiles, a stand-in cuBLAS), into a second addon (build-emu/, cmake -DVJEPA_CUDA_EMU=ON).
// With it, the GPU scripts run their CUDA-side comparisons: every op against the CPU backend
// (test/gpu/ops.mjs), the attention tuner (tune.mjs), full fp32 and bf16 pretraining steps with checkpoint round trips and
// upload-ahead (step.mjs), probe steps (probe.mjs) and asynchronous uploads (upload.mjs). The
// tensor-core attention kernels also run alone against a float64 reference
// (cuda_emu/attention_tc_emu.cc), and the suites whose CUDA branches need a device run again on
// the emulated addon (vjepa-train / vjepa-probe / vjepa-embed on cuda). What this cannot show: speed, the hardware's own rounding
// and scheduling, real concurrency between streams; test/gpu/run.sh on a GPU does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OUT = join(ROOT, 'build-emu');
const ADDON = join(OUT, 'Release/vjepa.node');
const CUBLAS = join(OUT, 'Release/libcublas_emu.so');
// The suites below tune attention on the emulated device: their verdicts go to a scratch cache, not ~/.cache.
const env = { ...process.env, VJEPA_ADDON: ADDON, VJEPA_CUBLAS: CUBLAS, VJEPA_CUDA_SYNC: '', VJEPA_CACHE_DIR: mkdtempSync(join(tmpdir(), 'vjepa-emu-cache-')) };
// ... and with none of the developer's attention-kernel switches, whichever they are.
for (const k of Object.keys(env)) if (k.startsWith('VJEPA_CUDA_ATTN_')) delete (env as Record<string, string | undefined>)[k];

function run(cmd: string, args: string[], timeoutMs: number, extraEnv: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return { status: r.status, out, tail: out.split('\n').slice(-40).join('\n') };
}

test('the emulated CUDA addon builds (cmake -DVJEPA_CUDA_EMU=ON) and reports itself as emulated', () => {
  const cmakeJs = join(ROOT, 'node_modules/.bin/cmake-js');
  const b = run(cmakeJs, ['compile', '--out', 'build-emu', '--CDVJEPA_CUDA_EMU=ON'], 20 * 60_000);
  assert.is(b.status, 0, `build failed:\n${b.tail}`);
  assert.ok(existsSync(ADDON) && existsSync(CUBLAS));
  const info = run(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(ADDON)}).cudaInfo()))`], 60_000);
  assert.equal(JSON.parse(info.out.trim().split('\n').pop()!), { compiled: true, available: true, reason: '', emulated: true, ltGemms: 0, launches: 0, wgmmaAttention: 0 });
});

test('tensor-core attention kernels alone vs float64 (awkward shapes, guard rows, shuffled blocks)', () => {
  const exe = join(mkdtempSync(join(tmpdir(), 'vjepa-emu-')), 'attention_tc_emu');
  const c = run('g++', ['-std=c++17', '-O2', '-fno-strict-aliasing', '-Itest/native/cuda_emu/include', '-Inative', 'test/native/cuda_emu/attention_tc_emu.cc', '-o', exe], 5 * 60_000);
  assert.is(c.status, 0, `compile failed:\n${c.tail}`);
  const r = run(exe, [], 5 * 60_000);
  assert.is(r.status, 0, r.tail);
  // 11 shapes with fp32 and bf16 activations (one with extreme scores); the wgmma forward and
  // backward too on the 10 bf16 runs whose head_dim they may serve (16 and 24 padded to 32, 72 to 80)
  assert.match(r.out, /all 22 runs passed \(10 with the wgmma kernels too\)/);
  assert.not.match(r.out, /FAIL/);
});

test('the emulator refuses wgmma without its fences, barrier, register and operand discipline (cuda_emu/wgmma_rules_emu.cc)', () => {
  const exe = join(mkdtempSync(join(tmpdir(), 'vjepa-emu-')), 'wgmma_rules_emu');
  const c = run('g++', ['-std=c++17', '-O2', '-fno-strict-aliasing', '-Itest/native/cuda_emu/include', '-Inative', 'test/native/cuda_emu/wgmma_rules_emu.cc', '-o', exe], 5 * 60_000);
  assert.is(c.status, 0, `compile failed:\n${c.tail}`);
  for (const ok of ['ok', 'ok-cp-async', 'ok-registers-a', 'ok-operand-rewritten-after-barrier']) {
    const r = run(exe, [ok], 60_000);
    assert.is(r.status, 0, r.tail);
    assert.match(r.out, `${ok}: exact`);
  }
  const broken: [string, RegExp][] = [
    ['no-proxy-fence', /published by a barrier without fence\.proxy\.async/],
    ['cp-async-fenced-before-its-wait', /published by a barrier without fence\.proxy\.async/],
    ['no-wgmma-fence', /no wgmma\.fence since this thread's last wgmma commit or wait/],
    ['a-registers-reused', /the A registers of a product in flight were written before its wait/],
    ['accumulator-written', /the accumulator of a product in flight was written before its wait/],
    ['operand-rewritten-after-own-wait', /shared memory a product reads changed between the barrier that published it and the thread's wait/],
    ['no-barrier', /shared memory a product reads changed between the barrier that published it and the thread's wait/],
  ];
  for (const [name, why] of broken) {
    const r = run(exe, [name], 60_000);
    assert.is.not(r.status, 0, `${name} passed:\n${r.tail}`);
    assert.match(r.out, why, name);
  }
});

test('the emulator faults on loads, stores and REDs at misaligned addresses, as the hardware does (cuda_emu/vector_align_emu.cc)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-emu-'));
  const build = (exe: string, extra: string[]) => {
    const c = run('g++', ['-std=c++17', '-O2', '-fno-strict-aliasing', ...extra, '-Itest/native/cuda_emu/include', '-Inative', 'test/native/cuda_emu/vector_align_emu.cc', '-o', exe], 5 * 60_000);
    assert.is(c.status, 0, `compile failed:\n${c.tail}`);
    return exe;
  };
  const check = (exe: string, cases: [string, RegExp][]) => {
    for (const [name, why] of cases) {
      const ok = run(exe, [name], 60_000);
      assert.is(ok.status, 0, ok.tail);
      assert.match(ok.out, `${name}: ok`);
      const bad = run(exe, [`${name}-misaligned`], 60_000);
      assert.is.not(bad.status, 0, `${name}-misaligned passed:\n${bad.tail}`);
      assert.match(bad.out, why, name);
    }
  };
  // the vector types' own checks, alone
  check(build(join(dir, 'plain'), []), [
    ['float4-load', /float4 load at 0x[0-9a-f]+ is not 16-byte aligned/],
    ['float4-store', /float4 store at 0x[0-9a-f]+ is not 16-byte aligned/],
    ['uint2-load', /uint2 load at 0x[0-9a-f]+ is not 8-byte aligned/],
    ['uint4-store', /uint4 store at 0x[0-9a-f]+ is not 16-byte aligned/],
    ['float2-red', /float2 atomicAdd at 0x[0-9a-f]+ is not 8-byte aligned/],
    ['float4-red', /float4 atomicAdd at 0x[0-9a-f]+ is not 16-byte aligned/],
  ]);
  // UBSan's alignment check, as CMakeLists.txt compiles the emulated kernels: scalars too
  check(build(join(dir, 'sanitized'), ['-fsanitize=alignment', '-fno-sanitize-recover=alignment']), [
    ['uint32-load', /load of misaligned address 0x[0-9a-f]+ for type 'const unsigned int', which requires 4 byte alignment/],
    ['float4-load', /misaligned address 0x[0-9a-f]+ for type 'const struct float4', which requires 16 byte alignment/],
  ]);
});

test('the emulator refuses warp-synchronous calls the hardware leaves undefined: exited or absent lanes in the mask, a source lane outside it (cuda_emu/warp_sync_emu.cc)', () => {
  const exe = join(mkdtempSync(join(tmpdir(), 'vjepa-emu-')), 'warp_sync_emu');
  const c = run('g++', ['-std=c++17', '-O2', '-fno-strict-aliasing', '-Itest/native/cuda_emu/include', '-Inative', 'test/native/cuda_emu/warp_sync_emu.cc', '-o', exe], 5 * 60_000);
  assert.is(c.status, 0, `compile failed:\n${c.tail}`);
  for (const ok of ['ok', 'ok-partial-mask']) {
    const r = run(exe, [ok], 60_000);
    assert.is(r.status, 0, r.tail);
    assert.match(r.out, `${ok}: ok`);
  }
  const broken: [string, RegExp][] = [
    ['exited-lane', /its mask names a lane that has exited/],
    ['lane-missing', /its mask names a lane the block does not have/],
    ['source-outside-mask', /shuffle: the source lane is not in the mask/],
  ];
  for (const [name, why] of broken) {
    const r = run(exe, [name], 60_000);
    assert.is.not(r.status, 0, `${name} passed:\n${r.tail}`);
    assert.match(r.out, why, name);
  }
});

for (const [script, summary] of [
  ['ops.mjs', /(\d+)\/\1 passed/],
  ['step.mjs', /(\d+)\/\1 checks passed/],
  ['probe.mjs', /(\d+)\/\1 checks passed/],
  ['upload.mjs', /child with VJEPA_PINNED_MB=0 +pass/],
  // run.sh's tuner phase, at tiny shapes of the same head_dims here: both choices made by a trial
  // (at 64 the 64-key-tile forward is a candidate of its own, and ran)
  ['tune.mjs', /head_dim 64 .*: forward mma [\d.]+ ms, wgmma [\d.]+ ms, wgmma-bn64 [\d.]+ ms;[^]*\| 64 \| (mma|wgmma|wgmma-bn64) \| (split|fused|wgmma) \| trial \|\n\| 24 \| (mma|wgmma) \| (split|fused|wgmma) \| trial \|/],
] as const) {
  test(`test/gpu/${script} on the emulated CUDA backend`, () => {
    const r = run(process.execPath, [join(ROOT, 'test/gpu', script)], 10 * 60_000);
    assert.is(r.status, 0, r.tail);
    assert.match(r.out, summary, r.tail);
    assert.not.match(r.out, /CUDA unavailable|only the CPU|CPU ran on both sides/, 'the CUDA side did not run');
    assert.not.match(r.out, /\bFAIL\b/, r.tail);
  });
}

test('test/gpu/launches.mjs: the optimizer tail of a ViT-L-structured step is a few multi-tensor launches', () => {
  const r = run(process.execPath, [join(ROOT, 'test/gpu/launches.mjs')], 10 * 60_000);
  assert.is(r.status, 0, r.tail);
  const rows = (op: string) => [...r.out.matchAll(new RegExp(`^\\| ${op} \\| (\\d+) \\| (\\d+) \\|$`, 'gm'))].map((m) => [+m[1], +m[2]]);
  // 444 trainable tensors (292 in the encoder): ceil(444/48) = 10 AdamW launches, ceil(292/48) = 7 EMA launches,
  // and per norm one launch per batch of 48 plus one final sum (7 + 1 for the encoder, 4 + 1 for the predictor).
  assert.equal(rows('adamwMany'), [[1, 10], [1, 10]], r.tail);
  assert.equal(rows('emaMany'), [[1, 7], [1, 7]], r.tail);
  assert.equal(rows('sumSquaresMany'), [[2, 13], [2, 13]], r.tail);
  assert.equal(rows('scaleMany'), [[2, 11]], 'clipping: the two lists in 11 launches');
  // the bf16 weight copies: the trainer's CastPlan rounds the ~370 weights of both networks in one
  // castMany (8 launches of 48) where a cast each took one launch per weight
  assert.equal(rows('castMany'), [[1, 8], [1, 8]], r.tail);
  // the output gradients' bf16 operands come from their bias sums (sumRows' xb, geluBwd's db), and
  // the predictor's last norm writes bf16: the casts left round the clips' patches (3) and the
  // encoder's output into the predictor (2); 229 when each gradient had a cast of its own
  assert.equal(rows('cast'), [[5, 5], [5, 5]], r.tail);
  // layernorm adds its dx into the residual's gradient: the engine's adds are gone (149 before)
  assert.equal(rows('axpby'), [[5, 5], [5, 5]], r.tail);
  const totals = [...r.out.matchAll(/(\d+) kernel launches per step/g)].map((m) => +m[1]);
  assert.is(totals.length, 2);
  assert.ok(totals[0] > 2500 && totals[0] < 3000, `launches per step ${totals[0]}`);
  assert.is(totals[1] - totals[0], 11, 'clipping adds only its 11 launches');
});

test('test/gpu/bench.mjs runs end to end on tiny shapes (no torch) and frees what it made', () => {
  const code = `import('${join(ROOT, 'test/gpu/bench.mjs')}').then(async (m) => {
    const A = require(process.env.VJEPA_ADDON);
    await m.bench(A, { B: 1, N: 70, H: 2, hd: 32, hdh: 32, K: 64, torch: false });
    console.log('left ' + JSON.stringify(A.stats()));
  })`;
  const r = run(process.execPath, ['-e', code], 10 * 60_000);
  assert.is(r.status, 0, r.tail);
  for (const row of ['attention bf16 io', 'one-pass backward', 'fwd on wgmma', 'with the wgmma fwd', 'predictor attention', 'ViT-H attention', 'linear qkv bf16', 'gemm bf16 (fp32 out)', 'layernorm fwd+bwd'])
    assert.ok(r.out.includes(row), `no "${row}" row:\n${r.tail}`);
  assert.not.ok(r.out.includes('wgmma NOT run'), 'the emulated device (sm_90) did not take the wgmma forward');
  const left = JSON.parse(/left (\{.*\})/.exec(r.out)?.[1] ?? '{}');
  assert.equal([left.liveTensors, left.cudaBytes], [0, 0], r.tail);
});

test('cuBLASLt and the cuBLAS + epilogue-kernel path (VJEPA_CUDA_NO_LT=1) give the same forward-layer GEMMs, bf16 fc1 and residual GEMMs', () => {
  const code = `const A = require(process.env.VJEPA_ADDON);
    const rnd = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.77 + s));
    const up = (shape, data, dtype) => { const c = A.empty(shape, 'float32', 'cuda'); c.write(data);
      if (dtype === 'float32') return c; const b = A.empty(shape, dtype, 'cuda'); A.cast(c, b); return b; };
    const rows = [];
    for (const dt of ['float32', 'bfloat16']) for (const out of ['float32', 'bfloat16']) {
      if (dt === 'float32' && out === 'bfloat16') continue;
      // a bf16 output takes its bias in bf16, as mixed precision passes it (Lt refuses an fp32 one)
      const x = up([37, 24], rnd(888, 1), dt), w = up([40, 24], rnd(960, 2), dt), b = up([40], rnd(40, 3), out);
      const y = A.zeros([37, 40], out, 'cuda');
      A.gemm(x, w, y, false, true, 1, 0, b);
      let h = y; if (out === 'bfloat16') { h = A.empty([37, 40], 'float32', 'cuda'); A.cast(y, h); }
      const a = new Float32Array(1480); h.read(a); rows.push(Array.from(a));
    }
    // fc1 under bf16: Lt writes the bf16 pre-activation, our kernel its GELU (vs the epilogue kernel)
    const x = up([37, 24], rnd(888, 1), 'bfloat16'), w = up([40, 24], rnd(960, 2), 'bfloat16'), b = up([40], rnd(40, 3), 'bfloat16');
    const y = A.zeros([37, 40], 'bfloat16', 'cuda'), pre = A.zeros([37, 40], 'bfloat16', 'cuda');
    A.gemmGelu(x, w, y, pre, true, b);
    for (const t of [y, pre]) { const h = A.empty([37, 40], 'float32', 'cuda'); A.cast(t, h); const a = new Float32Array(1480); h.read(a); rows.push(Array.from(a)); }
    // a block's residual in the GEMM (Lt reads it as its C with beta 1; the cuBLAS path copies it
    // into C first), with and without a bias
    for (const dt of ['float32', 'bfloat16']) {
      const x = up([37, 24], rnd(888, 4), dt), w = up([40, 24], rnd(960, 5), dt), r = up([37, 40], rnd(1480, 7), 'float32');
      const y = A.empty([37, 40], 'float32', 'cuda');
      A.gemm(x, w, y, false, true, 1, 0, dt === 'float32' ? up([40], rnd(40, 6), 'float32') : null, r);
      const a = new Float32Array(1480); y.read(a); rows.push(Array.from(a));
    }
    console.log('lt ' + A.cudaInfo().ltGemms);
    console.log('out ' + JSON.stringify(rows));`;
  const viaLt = run(process.execPath, ['-e', code], 5 * 60_000);
  const viaCublas = run(process.execPath, ['-e', code], 5 * 60_000, { VJEPA_CUDA_NO_LT: '1' });
  const parse = (r: { status: number | null; out: string; tail: string }) => {
    assert.is(r.status, 0, r.tail);
    return JSON.parse(/out (\[.*\])/.exec(r.out)?.[1] ?? '[]') as number[][];
  };
  const lt = parse(viaLt), cublas = parse(viaCublas);
  assert.is(lt.length, 7);
  assert.match(viaLt.out, /lt 6\b/, 'all six GEMMs ran on cuBLASLt');
  assert.match(viaCublas.out, /lt 0\b/, 'none with VJEPA_CUDA_NO_LT=1');
  // the same fp32 products (summed in another order) plus the same bias, rounded once (the GELU of
  // a pre-activation that rounded the other way differs by about one bf16 step too)
  for (let k = 0; k < 7; k++)
    for (let i = 0; i < lt[k].length; i++)
      assert.ok(Math.abs(lt[k][i] - cublas[k][i]) <= (k === 3 ? 1e-3 : 1e-5) + 8e-3 * Math.abs(cublas[k][i]), `case ${k} element ${i}: ${lt[k][i]} vs ${cublas[k][i]}`);
});

test('the attention tuner on the emulated sm_90: wgmma and the one-pass backward checked in a child, chosen, cached, and the environment still wins', () => {
  const code = `Promise.all([import('${join(ROOT, 'dist/lib/ops/attention-tuning.js')}'), import('${join(ROOT, 'dist/lib/native.js')}')]).then(([t, { native }]) => {
    const cacheFile = process.argv[1];
    const shapes = [{ headDim: 32, heads: 2, tokens: 70, batch: 1 }, { headDim: 24, heads: 2, tokens: 33, batch: 1 }, { headDim: 12, heads: 2, tokens: 20, batch: 1 }];
    // the emulator's timings say nothing: every matched candidate counts as faster, so that all are applied
    const first = t.tuneAttention('cuda:0', shapes, { log: (l) => console.log('log: ' + l), cacheFile, iters: 1 });
    for (const [hd, c] of first) console.log('choice ' + hd + ' ' + JSON.stringify(c));
    console.log('applied 32 ' + JSON.stringify(native.attentionKernels('cuda:0', 32)));
    console.log('applied 16 ' + JSON.stringify(native.attentionKernels('cuda:0', 16)));
    const again = t.tuneAttention('cuda:0', shapes.slice(0, 1), { log: (l) => console.log('again: ' + l), cacheFile, iters: 1 });
    console.log('again from ' + again.get(32).from);
    for (const bad of [() => native.setAttentionKernels('cuda:0', 32, 'fast', ''), () => native.setAttentionKernels('cuda:0', 32, 'mma', 'fused2'),
      () => native.setAttentionKernels('cuda:0', 0, 'mma', ''), () => native.attentionKernels('cpu', 32)])
      try { bad(); console.log('bad: no error'); } catch (e) { console.log('bad: ' + e.message); }
    console.log('kept 32 ' + JSON.stringify(native.attentionKernels('cuda:0', 32)));
    process.env.VJEPA_CUDA_ATTN_BWD = 'split';
    console.log('env 32 ' + JSON.stringify(native.attentionKernels('cuda:0', 32)));
    native.setAttentionKernels('cuda:0', 32, '', '');
    delete process.env.VJEPA_CUDA_ATTN_BWD;
    console.log('forgot 32 ' + JSON.stringify(native.attentionKernels('cuda:0', 32)));
  })`;
  const cacheFile = join(mkdtempSync(join(tmpdir(), 'vjepa-tune-')), 'k.json');
  // MIN_GAIN is a fraction of the default's time: the emulator's are long and noisy, so its choice is not asserted,
  // only that every candidate ran, matched the defaults and was timed.
  const r = run(process.execPath, ['-e', code, cacheFile], 10 * 60_000);
  assert.is(r.status, 0, r.tail);
  const choice = (hd: number) => JSON.parse(new RegExp(`^choice ${hd} (.*)$`, 'm').exec(r.out)?.[1] ?? 'null');
  for (const hd of [32, 24]) {
    const c = choice(hd);
    assert.is(c?.from, 'trial', r.tail);
    assert.match(c.detail, /^forward mma [\d.]+ ms, wgmma [\d.]+ ms; backward split [\d.]+ ms, fused [\d.]+ ms, wgmma [\d.]+ ms$/, `head_dim ${hd}: ${c.detail}`);
  }
  // head_dim 12: no wgmma (not a multiple of 8 in [16, 128]); the one-pass backward still a candidate
  assert.match(choice(12).detail, /wgmma not used \(head_dim 12 is not a multiple of 8 in \[16, 128\]\)/);
  assert.match(choice(12).detail, /fused [\d.]+ ms/);
  assert.match(r.out, /log: attention kernels: tried 3 shapes in a child process in [\d.]+ s \(bf16 outputs checked against the defaults within 0\.01\); cached in /);
  assert.match(r.out, /log: attention kernels, head_dim 32 \(2 heads, 70 tokens, batch 1\): forward (mma|wgmma), backward (split|fused|wgmma): forward mma/);
  const applied = JSON.parse(/^applied 32 (.*)$/m.exec(r.out)![1]);
  assert.equal([applied.fwd, applied.bwd], [choice(32).fwd, choice(32).bwd]);
  assert.equal([applied.fwdFrom, applied.bwdFrom], ['tuned', 'tuned']);
  assert.equal(JSON.parse(/^applied 16 (.*)$/m.exec(r.out)![1]), { fwd: 'mma', bwd: 'split', fwdFrom: 'default', bwdFrom: 'default' });
  // the second call reads the cache, runs no child
  assert.match(r.out, /again from cache/);
  assert.not.match(r.out, /again: attention kernels: tried/);
  assert.match(r.out, /again: attention kernels, head_dim 32 .*\(cached \d{4}-\d\d-\d\d\)/);
  assert.equal(JSON.parse(readFileSync(cacheFile, 'utf8')).version, 1);
  const bad = [...r.out.matchAll(/^bad: (.*)$/gm)].map((m) => m[1]);
  assert.equal(bad, [
    "setAttentionKernels: fwd: expected mma, wgmma or wgmma-bn64, got 'fast'",
    "setAttentionKernels: bwd: expected split, fused or wgmma, got 'fused2'",
    'setAttentionKernels: headDim must be in [1, 128], got 0',
    'attentionKernels: device must be cuda or cuda:N',
  ]);
  assert.equal(JSON.parse(/^kept 32 (.*)$/m.exec(r.out)![1]), applied, 'a refused name changes nothing');
  const envd = JSON.parse(/^env 32 (.*)$/m.exec(r.out)![1]);
  assert.equal([envd.bwd, envd.bwdFrom, envd.fwdFrom], ['split', 'env', 'tuned']);
  assert.equal(JSON.parse(/^forgot 32 (.*)$/m.exec(r.out)![1]), { fwd: 'mma', bwd: 'split', fwdFrom: 'default', bwdFrom: 'default' });
});

test('a pre-Ampere GPU (VJEPA_EMU_SM_MAJOR=7): the trainer refuses bf16 up front, bf16 GEMMs refuse with a clear error, bf16 attention takes the fp32 kernels', () => {
  const code = `const A = require(process.env.VJEPA_ADDON);
    const t = (shape, dtype) => A.zeros(shape, dtype, 'cuda');
    let msg = 'no error';
    try { A.gemm(t([4, 8], 'bfloat16'), t([8, 4], 'bfloat16'), t([4, 4], 'float32'), false, false, 1, 0, null); } catch (e) { msg = e.message; }
    console.log('gemm: ' + msg);
    const qkv = A.empty([1, 5, 48], 'float32', 'cuda');
    qkv.write(Float32Array.from({ length: 240 }, (_, i) => Math.sin(i * 1.7) * 2));
    const attend = (bf16) => {
      const o = t([1, 5, 16], 'float32'), lse = t([1, 2, 5], 'float32');
      A.attentionFwd(qkv, 0, qkv, 16, qkv, 32, o, lse, 2, 0.35, bf16);
      const out = new Float32Array(80); o.read(out); return out;
    };
    const a = attend(true), b = attend(false);
    console.log('attention same as fp32: ' + a.every((v, i) => v === b[i]));`;
  const r = run(process.execPath, ['-e', code], 5 * 60_000, { VJEPA_EMU_SM_MAJOR: '7' });
  assert.is(r.status, 0, r.tail);
  assert.match(r.out, /gemm: bf16 mixed precision needs an NVIDIA GPU of compute capability 8\.0 or newer .*cuda:0 is 7\.x: set meta\.dtype: float32/);
  // the tensor-core path rounds to bf16 and differs (checked below on sm_90); the fp32 kernels do not
  assert.match(r.out, /attention same as fp32: true/);
  // the trainer and the probe check before anything is built, naming the config key
  const lib = `Promise.all([import('${join(ROOT, 'dist/lib/device.js')}'), import('${join(ROOT, 'dist/lib/ops/autocast.js')}')]).then(([m, a]) => {
    console.log('device: ' + m.describeDevice('cuda:0'));
    try { a.assertBf16Device('cuda:0', 'meta.dtype', 'set meta.dtype: float32'); console.log('train: ok'); } catch (e) { console.log('train: ' + e.message); }
  })`;
  const t7 = run(process.execPath, ['-e', lib], 5 * 60_000, { VJEPA_EMU_SM_MAJOR: '7' });
  assert.match(t7.out, /device: cuda:0 \(vjepa CPU emulator, sm_70, 8\.0 GiB\)/, t7.tail);
  assert.match(t7.out, /train: meta\.dtype: bf16 mixed precision needs .* cuda:0 \(vjepa CPU emulator\) is 7\.0: set meta\.dtype: float32/, t7.tail);
  const t9 = run(process.execPath, ['-e', lib], 5 * 60_000);
  assert.match(t9.out, /train: ok/, t9.tail);
  const r9 = run(process.execPath, ['-e', code], 5 * 60_000, { VJEPA_EMU_SM_MAJOR: '9' });
  assert.match(r9.out, /gemm: no error/);
  assert.match(r9.out, /attention same as fp32: false/);
});

test('the suites with CUDA branches, run again on the emulated addon (vjepa-train, vjepa-probe, vjepa-embed, the image model, uploads, the stopwatch and broken arguments on cuda)', () => {
  const uvu = join(ROOT, 'node_modules/uvu/bin.js');
  const r = run(process.execPath, [uvu, 'dist/test', '(train/device|probe/device|model/embed|model/image|native/upload|native/stopwatch|native/fuzz|train/upload_ahead)\\.test\\.js$'], 15 * 60_000);
  assert.is(r.status, 0, r.tail);
  const total = Number(/Total:\s+(\d+)/.exec(r.out.replace(/\x1b\[[0-9;]*m/g, ''))?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(r.out.replace(/\x1b\[[0-9;]*m/g, ''))?.[1] ?? -1);
  assert.ok(total >= 40 && passed === total, r.tail);
});

test.run();
