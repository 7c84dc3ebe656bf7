// native.cudaStopwatchStart / Stop (native/cuda/stopwatch.cu): the GPU time behind the trainer's
// gpu-time(ms) column (TRAIN-11). Without a GPU, the refusals; with one (or the emulated addon, in
// test/native/cuda_emu.test.ts), a timed stretch of work and the misuse errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../lib/native.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { add } from '../../lib/ops/elementwise.js';

const cuda = native.cudaInfo();

test('a stopwatch needs a CUDA device: cpu and malformed names are refused, and without a GPU the reason is given', () => {
  for (const f of [native.cudaStopwatchStart, native.cudaStopwatchStop] as ((d: string) => unknown)[]) {
    assert.throws(() => f('cpu'), /device must be cuda or cuda:N/);
    assert.throws(() => f('gpu:0'), /bad device 'gpu:0'/);
  }
  if (cuda.available) return;
  assert.throws(() => native.cudaStopwatchStart('cuda:0'), (e: Error) => e.message.includes(cuda.reason));
  assert.throws(() => native.cudaStopwatchStop('cuda'), (e: Error) => e.message.includes(cuda.reason));
});

test('with a GPU: the time of queued work, stop without a start refused, a second start restarts', () => {
  if (!cuda.available) return;
  assert.throws(() => native.cudaStopwatchStop('cuda:0'), /cudaStopwatchStop: cuda:0 has no running stopwatch/);
  const x = Tensor.zeros([1 << 20], 'float32', 'cuda:0');
  native.cudaStopwatchStart('cuda:0');
  const idle = native.cudaStopwatchStop('cuda:0');
  native.cudaStopwatchStart('cuda:0');
  tidy(() => {
    let y = x;
    for (let i = 0; i < 20; i++) y = add(y, x);
    y.toFloat32Array();
  });
  const busy = native.cudaStopwatchStop('cuda:0');
  assert.ok(Number.isFinite(idle) && idle >= 0, `idle ${idle}`);
  assert.ok(busy > idle, `20 adds of 1M floats took ${busy} ms, nothing took ${idle} ms`);
  native.cudaStopwatchStart('cuda');
  native.cudaStopwatchStart('cuda');
  assert.ok(native.cudaStopwatchStop('cuda') >= 0);
  assert.throws(() => native.cudaStopwatchStop('cuda'), /no running stopwatch/);
  x.dispose();
});

test.run();
