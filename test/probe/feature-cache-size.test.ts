// optimization.cache_features keeps every video's tokens in memory: a split that cannot fit is
// refused before the encoder pass starts, naming the numbers and the way out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { totalmem } from 'node:os';
import { checkFeatureCacheFits, memoryLimit } from '../../lib/probe/probe.js';

const GiB = 2 ** 30;

test("the default probe's cache (256 train + 128 val videos of 256 tokens × 192) fits in 2 GiB", () => {
  const c = { trainSamples: 256, trainSegments: 2, valSamples: 128, valSegments: 2, valViews: 3, N: 256, D: 192 };
  checkFeatureCacheFits(c, 2 * GiB);  // 1280 clips × 196 KB = 240 MiB
  // ... but not in 300 MiB (the bound is three quarters of the memory)
  assert.throws(() => checkFeatureCacheFits(c, 300 * 2 ** 20), /would take 0\.2 GiB/);
});

test('SSv2 at ViT-L/16 (168913 train, 24777 val; 1568 tokens × 1024) is refused on a 24 GiB machine, with the numbers', () => {
  const c = { trainSamples: 168913, trainSegments: 2, valSamples: 24777, valSegments: 2, valViews: 3, N: 1568, D: 1024 };
  assert.throws(
    () => checkFeatureCacheFits(c, 24 * GiB),
    (e: Error) =>
      e.message ===
      'optimization.cache_features: the cached features would take 2909.9 GiB (168913 train × 2 segments + 24777 val × 2 × 3 views, ' +
        '1568 tokens × 1024 floats each) and this process has 24.0 GiB of memory; set optimization.cache_features: false ' +
        '(the encoder then runs on every batch) or probe a smaller split',
  );
});

test("memoryLimit: the machine's memory or less (a container's cgroup limit)", () => {
  const m = memoryLimit();
  assert.ok(m > 0 && m <= totalmem(), `${m}`);
});

test.run();
