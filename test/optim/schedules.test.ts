import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CosineWDSchedule, EmaMomentumSchedule, WarmupCosineSchedule, scheduleSteps } from '../../lib/optim/schedules.js';

const close = (got: number, want: number, rel = 1e-4) =>
  assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `got ${got}, want ${want}`);

// Shipped pretraining config (TRAIN-14): ipe 300, 300 epochs, warmup 40, ipe_scale 1.25.
const shipped = scheduleSteps({ warmupEpochs: 40, epochs: 300, ipe: 300, ipeScale: 1.25 });

test('TRAIN-14: horizon W = 12000, T = 112500', () => {
  assert.equal(shipped, { warmup: 12000, total: 112500 });
});

test('TRAIN-05/14: lr 2.00035e-4 at s=1 -> 6.25e-4 at s=12000 -> ~7.50e-5 at s=90000', () => {
  const lr = new WarmupCosineSchedule({ startLr: 2e-4, refLr: 6.25e-4, finalLr: 1e-6, warmupSteps: shipped.warmup, totalSteps: shipped.total });
  assert.is(lr.stepCount, 0);
  close(lr.step(), 2.00035e-4, 1e-5); // first step uses s = 1
  assert.is(lr.stepCount, 1);
  lr.skip(12000 - 1);
  close(lr.value, 6.25e-4, 1e-12);
  lr.skip(90000 - 12000);
  assert.is(lr.stepCount, 90000);
  close(lr.value, 7.5e-5, 0.01);
  // exact cosine value at the last step
  const expect = 1e-6 + (6.25e-4 - 1e-6) * 0.5 * (1 + Math.cos((Math.PI * 78000) / 100500));
  close(lr.value, expect, 1e-12);
});

test('TRAIN-05: stepping equals skipping; state round-trips; clamp at final past the horizon', () => {
  const mk = () => new WarmupCosineSchedule({ startLr: 0.1, refLr: 1, finalLr: 0.01, warmupSteps: 5, totalSteps: 20 });
  const a = mk();
  const seq = Array.from({ length: 30 }, () => a.step());
  const b = mk();
  b.skip(17);
  assert.is(b.step(), seq[17]);
  const c = mk();
  c.loadState(JSON.parse(JSON.stringify(b.state())));
  assert.is(c.step(), seq[18]);
  assert.is(seq[19], 0.01); // s = 20 = T: exactly final
  assert.ok(seq[25] > 0.01); // s > T: the cosine climbs back (faithful quirk §8.24)
  for (const v of seq) assert.ok(v >= 0.01);
  close(seq[0], 0.1 + 0.2 * 0.9, 1e-12);
});

test('TRAIN-06/14: wd rises from 0.04 toward 0.4, ~0.3656 at s=90000; clamp respects direction', () => {
  const wd = new CosineWDSchedule({ refWd: 0.04, finalWd: 0.4, totalSteps: shipped.total });
  const first = wd.step();
  assert.ok(first > 0.04 && first < 0.0401);
  wd.skip(89999);
  close(wd.value, 0.3656, 1e-4);
  wd.skip(22500);
  close(wd.value, 0.4, 1e-12);
  wd.skip(5000); // past the horizon the cosine turns back; min() only stops it passing final
  assert.ok(wd.value < 0.4 && wd.value > 0.39);
  const down = new CosineWDSchedule({ refWd: 0.01, finalWd: 1e-6, totalSteps: 10 });
  down.skip(10);
  close(down.value, 1e-6, 1e-9);
  assert.ok(down.at(9.9) >= 1e-6 && down.at(10.1) >= 1e-6);
});

test('TRAIN-07/14: EMA 0.998 at the first update -> ~0.99960 at update 90000; exhaustion is a clear error', () => {
  const ema = new EmaMomentumSchedule({ start: 0.998, end: 1.0, ipe: 300, epochs: 300, ipeScale: 1.25 });
  assert.is(ema.step(), 0.998);
  ema.skip(89998);
  const last = ema.step();
  assert.is(ema.stepCount, 90000);
  close(last, 0.99960, 1e-6);
  close(last, 0.998 + (89999 * 0.002) / 112500, 1e-15);
  const b = new EmaMomentumSchedule({ start: 0.998, end: 1.0, ipe: 300, epochs: 300, ipeScale: 1.25 });
  b.loadState({ step: 89999 });
  assert.is(b.step(), last);
  const short = new EmaMomentumSchedule({ start: 0.9, end: 1.0, ipe: 2, epochs: 2, ipeScale: 0.5 });
  assert.equal([short.step(), short.step(), short.step()], [0.9, 0.95, 1.0]);
  assert.throws(() => short.step(), /exhausted/);
});

test('EVAL-05: probe schedule (warmup 0, start = ref = 1e-3, final 0, wd 0.01 -> 1e-6)', () => {
  const ipe = 50;
  const { warmup, total } = scheduleSteps({ warmupEpochs: 0, epochs: 20, ipe });
  const lr = new WarmupCosineSchedule({ startLr: 1e-3, refLr: 1e-3, finalLr: 0, warmupSteps: warmup, totalSteps: total });
  const wd = new CosineWDSchedule({ refWd: 0.01, finalWd: 1e-6, totalSteps: total });
  close(lr.step(), 1e-3 * 0.5 * (1 + Math.cos(Math.PI / 1000)), 1e-12);
  wd.step();
  lr.skip(499);
  wd.skip(499);
  close(lr.value, 5e-4, 1e-9); // halfway
  close(wd.value, 1e-6 + (0.01 - 1e-6) / 2, 1e-9);
  lr.skip(500);
  wd.skip(500);
  assert.ok(Math.abs(lr.value) < 1e-18);
  close(wd.value, 1e-6, 1e-9);
});

test('bad arguments are rejected', () => {
  assert.throws(() => new WarmupCosineSchedule({ startLr: 0, refLr: 1, finalLr: 0, warmupSteps: -1, totalSteps: 3 }), /^WarmupCosineSchedule\.warmupSteps: expected a non-negative integer, got -1$/);
  const lr = new WarmupCosineSchedule({ startLr: 0, refLr: 1, finalLr: 0, warmupSteps: 1, totalSteps: 3 });
  assert.throws(() => lr.skip(1.5), /^WarmupCosineSchedule\.skip: expected a non-negative integer, got 1\.5$/);
  assert.throws(() => new EmaMomentumSchedule({ start: 0.9, end: 1, ipe: 0, epochs: 1 }), /must be > 0/);
});

test.run();
