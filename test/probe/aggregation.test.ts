// Clip aggregation (MOD-14) and the multi-call loss / softmax-averaged prediction (EVAL-04)
// against reference/make_probe_agg_fixture.py: S=2 segments, V=3 views, B=3, 2×4 tokens, D=16.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../lib/io/safetensors.js';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { noGrad } from '../../lib/autograd.js';
import { AttentiveClassifier } from '../../lib/nn/pooler.js';
import { InitRng } from '../../lib/nn/init.js';
import { loadStateDict, section } from '../../lib/nn/state.js';
import { averageProbabilities, argmaxRows, classifierCalls, countCorrect, multiCallLoss, regroup } from '../../lib/probe/aggregate.js';
import { assertClose } from '../helpers/compare.js';

const fx = fileURLToPath(new URL('../../../test/fixtures/probe/agg.safetensors', import.meta.url));
const file = readSafetensors(fx);
const st = file.tensors;
const cfg = JSON.parse(file.metadata.config) as { S: number; V: number; B: number; Tp: number; HW: number; D: number; heads: number; classes: number };
const N = cfg.Tp * cfg.HW;
const get = (n: string): HostTensor => st.get(n)!;
const layout = { S: cfg.S, V: cfg.V, B: cfg.B };
const labels = get('labels').data as Int32Array;

function build(): AttentiveClassifier {
  const clf = new AttentiveClassifier(cfg.D, cfg.heads, cfg.classes, new InitRng(0));
  loadStateDict(clf, section(st, 'classifier.'));
  return clf;
}

test('regroup: out[view][segment] holds the rows of clip (s·V + v)·B + b', () => {
  tidy(() => {
    const feats = get('features').data as Float32Array;
    const g = regroup(Tensor.from(feats, [cfg.S * cfg.V * cfg.B, N, cfg.D]), layout);
    assert.is(g.length, cfg.V);
    assert.is(g[0].length, cfg.S);
    const row = N * cfg.D;
    const v = 2;
    const s = 1;
    const got = g[v][s].toFloat32Array();
    const first = (s * cfg.V + v) * cfg.B * row;
    assert.equal(Array.from(got), Array.from(feats.subarray(first, first + cfg.B * row)));
  });
});

for (const [key, attend] of [['attend', true], ['separate', false]] as const) {
  test(`${key}: per-call logits, averaged CE, mean softmax and argmax match the original`, () => {
    const clf = build();
    tidy(() =>
      noGrad(() => {
        const feats = Tensor.from(get('features').data as Float32Array, [cfg.S * cfg.V * cfg.B, N, cfg.D]);
        const calls = classifierCalls(feats, layout, attend);
        const expLogits = get(`${key}.logits`);
        assert.is(calls.length, expLogits.shape[0]);
        assert.is(calls[0].shape[1], attend ? cfg.S * N : N);
        const logits = calls.map((c) => clf.forward(c));
        const host = logits.map((l) => l.toFloat32Array());
        const flat = new Float32Array(host.length * cfg.B * cfg.classes);
        host.forEach((h, i) => flat.set(h, i * h.length));
        assertClose(flat, expLogits.data as Float32Array, 1e-4, `${key} logits`);
        const loss = multiCallLoss(logits, labels).item();
        const expLoss = (get(`${key}.loss`).data as Float32Array)[0];
        assert.ok(Math.abs(loss - expLoss) < 1e-4 * Math.max(1, expLoss), `${key} loss ${loss} vs ${expLoss}`);
        const probs = averageProbabilities(host, cfg.B, cfg.classes);
        assertClose(probs, get(`${key}.probs`).data as Float32Array, 1e-4, `${key} probs`);
        assert.equal(Array.from(argmaxRows(probs, cfg.B, cfg.classes)), Array.from(get(`${key}.pred`).data as Int32Array));
        assert.is(countCorrect(host, labels, cfg.classes), (get(`${key}.correct`).data as Int32Array)[0]);
      }),
    );
    clf.dispose();
  });
}

test('the two protocols differ on this fixture (so the order is really tested)', () => {
  const a = (get('attend.loss').data as Float32Array)[0];
  const s = (get('separate.loss').data as Float32Array)[0];
  assert.ok(Math.abs(a - s) > 0.1, `${a} vs ${s}`);
});

test.run();
