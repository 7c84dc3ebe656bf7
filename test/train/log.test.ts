// The console line's number formats.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatBytes, gradText } from '../../lib/train/log.js';

test('gradient norms keep three significant digits at every scale', () => {
  // An encoder's norm near 3e-4 printed as 0.000 says nothing (the default run's log did so).
  assert.is(gradText(3.4e-4), '3.40e-4');
  assert.is(gradText(0.00999), '9.99e-3');
  assert.is(gradText(0.01), '0.0100');
  assert.is(gradText(0.54864), '0.549');
  assert.is(gradText(12.345), '12.3');
  assert.is(gradText(999.4), '999');
  assert.is(gradText(1234), '1.23e+3');
  assert.is(gradText(0), '0');
  assert.is(gradText(NaN), 'NaN');
  assert.is(gradText(Infinity), 'Infinity');
});

test('byte counts switch units at 1 MiB and 1 GiB', () => {
  assert.is(formatBytes(512 * 1024), '512K');
  assert.is(formatBytes(282 * 1024 ** 2), '282M');
  assert.is(formatBytes(1.5 * 1024 ** 3), '1.50G');
});

test.run();
