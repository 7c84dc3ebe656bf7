// The host buffer cache (native/tensor.cc over native/block_cache.h): freed buffers are reused
// best fit, within twice the request. The CUDA pool shares BlockCache; test/gpu/ops.mjs checks
// it on the device (and on the emulator in cuda_emu.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../lib/native.js';

// HostCache::size_class: 64-byte steps to 4 KiB, then eighths of the power of two below.
function sizeClass(n: number): number {
  if (n <= 4096) return Math.ceil(n / 64) * 64;
  const step = 2 ** Math.floor(Math.log2(n)) / 8;
  return Math.ceil(n / step) * step;
}

const cached = () => native.stats().cpuCachedBytes;
const floats = (n: number) => native.empty([n], 'float32', 'cpu');

test('a freed block serves a smaller request within 2x, and goes back under its own class', () => {
  native.emptyCache();
  assert.is(cached(), 0);
  floats(1_000_000).dispose();
  const big = sizeClass(4_000_000);
  assert.is(cached(), big, '4 MB block cached under its class');

  const a = floats(800_000); // class 3407872 <= 4194304 <= 2x
  assert.is(cached(), 0, 'the 4 MB block was reused for 3.2 MB');
  a.write(new Float32Array(800_000).fill(3));
  const back = new Float32Array(800_000);
  a.read(back);
  assert.is(back[799_999], 3);
  a.dispose();
  assert.is(cached(), big, 'it returns as the 4 MB block, not as a 3.2 MB one');

  const b = floats(400_000); // class 1703936: the 4 MB block is more than twice that
  assert.is(cached(), big, 'a request under half the block does not take it');
  b.dispose();
  assert.is(cached(), big + sizeClass(1_600_000));
  native.emptyCache();
  assert.is(cached(), 0);
});

test('steps with changing activation sizes reuse their blocks instead of caching every size', () => {
  // Like a training step whose mask sizes change every iteration: each step allocates 8 buffers
  // of 4.0-7.6 MB, then frees them all. Exact-class matching kept about 60 blocks here.
  native.emptyCache();
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const perStep = 8;
  let blocksAfterWarmup = 0;
  for (let step = 0; step < 40; step++) {
    const ts = Array.from({ length: perStep }, () => floats(1_000_000 + Math.floor(rand() * 900_000)));
    for (const t of ts) t.dispose();
    if (step === 9) blocksAfterWarmup = cached();
  }
  const maxBlock = sizeClass(4 * 1_900_000);
  assert.ok(cached() <= 1.5 * perStep * maxBlock, `cached ${cached()} bytes for steps of at most ${perStep * maxBlock}`);
  assert.ok(cached() - blocksAfterWarmup <= 2 * maxBlock, `grew by ${cached() - blocksAfterWarmup} bytes after step 10`);
  native.emptyCache();
});

test.run();
