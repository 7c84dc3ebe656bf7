// Frozen-eval clip aggregation (MOD-14) and the multi-view loss / prediction (EVAL-03/04) against the ORIGINAL
// facebookresearch/jepa code: reference/original_aggregation.py ran its VisionTransformer, its ClipAggregation and
// its AttentiveClassifier (the run_one_epoch loss and averaged-softmax prediction restated there) and wrote
// test/fixtures/original/aggregation.safetensors. Here the same clips (regenerated from the seed with the tests'
// mulberry32) go through lib/probe: encodeBatch, regroup / classifierCalls, probeEvalStep, probeTrainStep.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../lib/io/safetensors.js';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { backward, noGrad } from '../../lib/autograd.js';
import { AttentiveClassifier } from '../../lib/nn/pooler.js';
import { InitRng } from '../../lib/nn/init.js';
import { loadStateDict, section } from '../../lib/nn/state.js';
import { buildEncoder } from '../../lib/nn/vjepa.js';
import type { VisionTransformer } from '../../lib/nn/vit.js';
import { AdamW, type ParamGroup } from '../../lib/optim/adamw.js';
import { argmaxRows, averageProbabilities, classifierCalls, encodeBatch, multiCallLoss, regroup, type Layout } from '../../lib/probe/aggregate.js';
import { probeEvalStep, probeTrainStep } from '../../lib/probe/step.js';
import { assertClose } from '../helpers/compare.js';
import { mulberry32 } from '../helpers/random.js';

const FX = fileURLToPath(new URL('../../../test/fixtures/original/aggregation.safetensors', import.meta.url));
const file = readSafetensors(FX);
const st = file.tensors;
const M = JSON.parse(file.metadata.model) as {
  img_size: number; patch_size: number; num_frames: number; tubelet_size: number; embed_dim: number;
  depth: number; num_heads: number; mlp_ratio: number; uniform_power: boolean; num_classes: number;
};
const B = Number(file.metadata.batch);
const CASES = JSON.parse(file.metadata.cases) as string[];
const SUMMARY = JSON.parse(file.metadata.summary) as Record<string, { S: number; V: number; attend: boolean; identical_views: boolean; training: boolean; seed: number; calls: number }>;
const GRAD_KEYS = JSON.parse(file.metadata.grad_keys) as string[];
const D = M.embed_dim;
const C = M.num_classes;
const N = (M.num_frames / M.tubelet_size) * (M.img_size / M.patch_size) ** 2;
const PER = 3 * M.num_frames * M.img_size * M.img_size;
const TOL = 1e-4;

const get = (k: string): HostTensor => {
  const t = st.get(k);
  if (!t) throw new Error(`fixture has no ${k}`);
  return t;
};
const f32 = (k: string): Float32Array => get(k).data as Float32Array;
const i32 = (k: string): Int32Array => get(k).data as Int32Array;

/** The script's clip buffer [S·V·B, 3, T, H, W]: values 4u - 2 of mulberry32(seed); identical views repeat view 0. */
function clips(seed: number, S: number, V: number, identical: boolean): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(S * V * B * PER);
  if (!identical) {
    for (let i = 0; i < out.length; i++) out[i] = 4 * r() - 2;
    return out;
  }
  const u = new Float32Array(S * B * PER);
  for (let i = 0; i < u.length; i++) u[i] = 4 * r() - 2;
  for (let s = 0; s < S; s++) for (let v = 0; v < V; v++) out.set(u.subarray(s * B * PER, (s + 1) * B * PER), (s * V + v) * B * PER);
  return out;
}

function encoder(): VisionTransformer {
  const enc = buildEncoder(
    {
      modelName: 'vit_tiny',
      overrides: { embed_dim: D, depth: M.depth, num_heads: M.num_heads, mlp_ratio: M.mlp_ratio },
      cropSize: M.img_size,
      patchSize: M.patch_size,
      numFrames: M.num_frames,
      tubeletSize: M.tubelet_size,
      uniformPower: M.uniform_power,
      predEmbedDim: 1,
      predDepth: 0,
      numMaskTokens: 0,
      zeroInitMaskTokens: true,
      seed: 0,
    },
    InitRng.uninitialised(),
  );
  // `encoder.module.backbone.*`: the original's checkpoint names, prefixes stripped by the loader
  const r = loadStateDict(enc, section(st, 'encoder.'), { what: 'original encoder' });
  assert.is(r.loaded.length, enc.namedParameters().length);
  enc.setTrainable(false);
  return enc;
}

function classifier(): AttentiveClassifier {
  const clf = new AttentiveClassifier(D, M.num_heads, C, InitRng.uninitialised());
  const r = loadStateDict(clf, section(st, 'classifier.'), { what: 'original classifier' });
  assert.is(r.loaded.length, clf.namedParameters().length);
  return clf;
}

const enc = encoder();

/** Features [S·V·B, N, D] of one case, through encodeBatch as runProbe calls it. */
function features(name: string, chunk: number | null = null): { feats: Tensor; layout: Layout; labels: Int32Array } {
  const c = SUMMARY[name];
  const buf = clips(c.seed, c.S, c.V, c.identical_views);
  const check = f32(`${name}.clip_check`);
  assert.equal(Array.from(buf.subarray(0, 8)), Array.from(check.subarray(0, 8)), `${name}: clip stream`);
  let sum = 0;
  for (let i = 0; i < buf.length; i++) sum += buf[i];
  assert.ok(Math.abs(sum - check[8]) <= 1e-3 * Math.max(1, Math.abs(check[8])), `${name}: clip sum ${sum} vs ${check[8]}`);
  const layout = { S: c.S, V: c.V, B };
  const feats = encodeBatch(enc, buf, [c.S * c.V * B, 3, M.num_frames, M.img_size, M.img_size], layout, chunk);
  assert.equal(feats.shape, [c.S * c.V * B, N, D]);
  return { feats, layout, labels: i32(`${name}.labels`) };
}

test('the fixture covers both protocols, S 1/2/3, V 1/2, identical views and the training layouts', () => {
  assert.is(CASES.length, 10);
  const has = (f: (c: (typeof SUMMARY)[string]) => boolean) => CASES.some((n) => f(SUMMARY[n]));
  for (const attend of [true, false]) for (const S of [2, 3]) for (const V of [1, 2]) assert.ok(has((c) => c.attend === attend && c.S === S && c.V === V && !c.identical_views), `${attend} ${S} ${V}`);
  assert.ok(has((c) => c.identical_views));
  assert.ok(has((c) => c.training && c.attend) && has((c) => c.training && !c.attend && c.S === 1));
});

for (const name of CASES) {
  const c = SUMMARY[name];
  test(`${name}: tokens, per-call logits, averaged CE, mean softmax, argmax and correct count match the original`, () => {
    const clf = classifier();
    tidy(() =>
      noGrad(() => {
        const { feats, layout, labels } = features(name);
        // out[view][segment] = [B, N, D]: the per-(view, segment) token means
        const grouped = regroup(feats, layout);
        const means = new Float32Array(c.V * c.S * B * D);
        grouped.forEach((row, v) =>
          row.forEach((o, s) => {
            const h = o.toFloat32Array();
            for (let b = 0; b < B; b++)
              for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) means[((v * c.S + s) * B + b) * D + d] += h[(b * N + n) * D + d] / N;
          }),
        );
        assertClose(means, f32(`${name}.segment_means`), TOL, `${name} segment means`);
        const calls = classifierCalls(feats, layout, c.attend);
        assert.is(calls.length, c.calls);
        for (const x of calls) assert.equal(x.shape, [B, c.attend ? c.S * N : N, D]);
        if (st.has(`${name}.tokens`)) {
          // ClipAggregation's concatenation, every token, the first K channels: [V, B, S·N, K]
          const K = get(`${name}.tokens`).shape[3];
          const got = new Float32Array(c.V * B * c.S * N * K);
          calls.forEach((x, v) => {
            const h = x.toFloat32Array();
            for (let r = 0; r < B * c.S * N; r++) for (let k = 0; k < K; k++) got[(v * B * c.S * N + r) * K + k] = h[r * D + k];
          });
          assertClose(got, f32(`${name}.tokens`), TOL, `${name} aggregated tokens`);
        }
        const rec = probeEvalStep(clf, { feats, layout, labels }, { attendAcrossSegments: c.attend, numClasses: C });
        assertClose(rec.logits, f32(`${name}.logits`), TOL, `${name} logits`);
        assertClose([rec.loss], f32(`${name}.loss`), TOL, `${name} loss`);
        assert.is(rec.correct, i32(`${name}.correct`)[0], `${name} correct`);
        const perCall = calls.map((_, i) => rec.logits.subarray(i * B * C, (i + 1) * B * C));
        const probs = averageProbabilities(perCall, B, C);
        assertClose(probs, f32(`${name}.probs`), TOL, `${name} probs`);
        assert.equal(Array.from(argmaxRows(probs, B, C)), Array.from(i32(`${name}.pred`)), `${name} pred`);
      }),
    );
    clf.dispose();
  });

  if (!c.training) continue;
  test(`${name}: the training loss, its gradient and probeTrainStep's record match the original`, () => {
    const clf = classifier();
    tidy(() => {
      const { feats, layout, labels } = features(name);
      const loss = multiCallLoss(classifierCalls(feats, layout, c.attend).map((x) => clf.forward(x)), labels);
      assertClose([loss.item()], f32(`${name}.loss`), TOL, `${name} training loss`);
      backward(loss);
      const params = new Map(clf.namedParameters().map(([n, p]) => [n, p.tensor]));
      for (const k of GRAD_KEYS) {
        const g = params.get(k)?.grad;
        assert.ok(g, `${k} has no gradient`);
        assertClose(g!.toFloat32Array(), f32(`${name}.grad.${k}`), 1e-3, `${name} grad ${k}`);
      }
      clf.zeroGrad();
      const decay: [string, Tensor][] = [];
      const noDecay: [string, Tensor][] = [];
      for (const [n, t] of clf.trainableParameters()) (n.includes('bias') || t.rank === 1 ? noDecay : decay).push([n, t]);
      const groups: ParamGroup[] = [
        { name: 'decay', params: decay, wdExcluded: false },
        { name: 'no_decay', params: noDecay, wdExcluded: true },
      ];
      const before = clf.linear.weight.toFloat32Array();
      const rec = probeTrainStep(clf, new AdamW(groups), { feats, layout, labels }, { attendAcrossSegments: c.attend, numClasses: C, lr: 1e-3, wd: 0.01 });
      assertClose([rec.loss], f32(`${name}.loss`), TOL, `${name} probeTrainStep loss`);
      assertClose(rec.logits, f32(`${name}.logits`), TOL, `${name} probeTrainStep logits`);
      assert.is(rec.correct, i32(`${name}.correct`)[0], `${name} probeTrainStep correct`);
      assert.not.equal(Array.from(clf.linear.weight.toFloat32Array()), Array.from(before), 'the step updated the head');
    });
    clf.dispose();
  });
}

test('the encoder run in chunks of 5 clips (probe encoder_batch) gives the same tokens and logits (separate_s3_v2, 12 clips)', () => {
  const name = 'separate_s3_v2';
  const c = SUMMARY[name];
  const clf = classifier();
  tidy(() =>
    noGrad(() => {
      const { feats, layout, labels } = features(name, 5);
      assertClose(feats.toFloat32Array(), features(name).feats.toFloat32Array(), 1e-6, 'chunked vs whole');
      const rec = probeEvalStep(clf, { feats, layout, labels }, { attendAcrossSegments: c.attend, numClasses: C });
      assertClose(rec.logits, f32(`${name}.logits`), TOL, `${name} logits, chunked`);
      assertClose([rec.loss], f32(`${name}.loss`), TOL, `${name} loss, chunked`);
    }),
  );
  clf.dispose();
});

test.after(() => enc.dispose());

test.run();
