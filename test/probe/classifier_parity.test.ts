// AttentiveClassifier (MOD-13) against PyTorch: reference/make_parity_fixture.py wrote the head's
// weights, features [3,40,64], labels, logits, CE loss and every gradient (probe_tiny.safetensors).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../lib/io/safetensors.js';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { Tensor, memoryStats, tidy } from '../../lib/tensor.js';
import { backward } from '../../lib/autograd.js';
import { AttentiveClassifier } from '../../lib/nn/pooler.js';
import { InitRng } from '../../lib/nn/init.js';
import { loadStateDict, section } from '../../lib/nn/state.js';
import { crossEntropy } from '../../lib/ops/loss.js';
import { autocast } from '../../lib/ops/autocast.js';
import { assertClose } from '../helpers/compare.js';

const fx = fileURLToPath(new URL('../../../test/fixtures/parity/probe_tiny.safetensors', import.meta.url));
const st = readSafetensors(fx).tensors;
const get = (n: string): HostTensor => {
  const t = st.get(n);
  if (!t) throw new Error(`fixture has no ${n}`);
  return t;
};

function build(): AttentiveClassifier {
  const clf = new AttentiveClassifier(64, 2, 5, new InitRng(0));
  const r = loadStateDict(clf, section(st, 'classifier.'), { what: 'probe_tiny' });
  assert.is(r.loaded.length, clf.namedParameters().length);
  return clf;
}

test('construction leaves exactly its parameters alive (the init temporaries are freed)', () => {
  const before = memoryStats().liveTensors;
  const c = new AttentiveClassifier(32, 2, 5, new InitRng(1), { depth: 2 });
  assert.is(memoryStats().liveTensors - before, c.namedParameters().length);
  c.dispose();
  assert.is(memoryStats().liveTensors, before);
});

test('forward: logits and CE loss match PyTorch (1e-4)', () => {
  const clf = build();
  tidy(() => {
    const x = Tensor.from(get('features').data as Float32Array, [3, 40, 64]);
    const logits = clf.forward(x);
    assert.equal(logits.shape, [3, 5]);
    assertClose(logits.toFloat32Array(), get('logits').data as Float32Array, 1e-4, 'logits');
    const loss = crossEntropy(logits, Tensor.from(get('labels').data as Int32Array, [3], 'int32')).item();
    const expected = (get('loss').data as Float32Array)[0];
    assert.ok(Math.abs(loss - expected) < 1e-4, `loss ${loss} vs ${expected}`);
  });
  clf.dispose();
});

test('backward: every parameter gradient matches PyTorch (1e-3 of the tensor max)', () => {
  const clf = build();
  tidy(() => {
    const x = Tensor.from(get('features').data as Float32Array, [3, 40, 64]);
    const loss = crossEntropy(clf.forward(x), Tensor.from(get('labels').data as Int32Array, [3], 'int32'));
    backward(loss);
  });
  let n = 0;
  for (const [name, p] of clf.namedParameters()) {
    const g = p.tensor.grad;
    if (name.startsWith('pooler.cross_attention_block.xattn.proj.')) {
      // The original never applies the cross-attention's output projection (MOD-13, see lib/nn/attention.ts).
      assert.not.ok(g, `${name} has a gradient`);
      assert.not.ok(st.has(`grad.classifier.${name}`));
      continue;
    }
    assert.ok(g, `${name} has no gradient`);
    assertClose(g!.toFloat32Array(), get(`grad.classifier.${name}`).data as Float32Array, 1e-3, `grad ${name}`);
    n++;
  }
  assert.is(n, 15);
  clf.dispose();
});

test('under bf16 autocast: the bf16 attention heads join the fp32 residual; logits and gradients stay near fp32', () => {
  const run = (dtype: 'float32' | 'bfloat16') => {
    const clf = build();
    const out = tidy(() => {
      const x = Tensor.from(get('features').data as Float32Array, [3, 40, 64]);
      const logits = autocast(dtype, () => {
        const l = clf.forward(x);
        backward(crossEntropy(l, Tensor.from(get('labels').data as Int32Array, [3], 'int32')));
        return l;
      });
      assert.is(logits.dtype, 'float32');
      return { logits: logits.toFloat32Array(), kv: clf.pooler.crossBlock.xattn.kv.weight.grad!.toFloat32Array() };
    });
    clf.dispose();
    return out;
  };
  const f32 = run('float32');
  const bf16 = run('bfloat16');
  const e = assertClose(bf16.logits, f32.logits, 2e-2, 'bf16 logits');
  assert.ok(e > 0, 'bf16 logits equal fp32 exactly: was autocast applied?');
  assertClose(bf16.kv, f32.kv, 5e-2, 'bf16 grad xattn.kv.weight');
});

test.run();
