// One probe step (EVAL-04/05) on whatever device the classifier and the features live on: the
// classifier calls of a feature batch, the multi-call CE, the averaged-softmax correct count, and
// for training backward, clip at 1.0, AdamW, zero grads. runProbe and test/gpu/probe.mjs share it.
import { Tensor, tidy } from '../tensor.js';
import { backward, noGrad } from '../autograd.js';
import { clipGradNorm, type AdamW } from '../optim/adamw.js';
import type { AttentiveClassifier } from '../nn/pooler.js';
import { autocast, type MatmulDtype } from '../ops/autocast.js';
import { classifierCalls, countCorrect, multiCallLoss, stackCalls, type Layout } from './aggregate.js';

/** EVAL-05: gradient clipping at norm 1.0 every step. */
export const PROBE_CLIP_GRAD = 1.0;

export interface FeatureInput {
  /** [S·V·B, N, D] on the classifier's device */
  feats: Tensor;
  layout: Layout;
  /** host labels [B]; uploaded once per step with the loss */
  labels: Int32Array;
  /** [B] the samples' files, where known */
  paths?: string[];
}

export interface ProbeStepRecord {
  loss: number;
  correct: number;
  /** host copy of the logits [calls·B, C], call-major: with the loss, all that is read back */
  logits: Float32Array;
}

export interface ProbeStepSettings {
  attendAcrossSegments: boolean;
  numClasses: number;
  /** GEMM / attention precision of the classifier's forward and backward; fp32 when absent */
  matmulDtype?: MatmulDtype;
}

/** Uploads a host feature block [S·V·B, N, D] to `device` (one copy; the cache stays on the host). */
export function featuresTo(feats: Float32Array, layout: Layout, N: number, D: number, device: string): Tensor {
  return Tensor.from(feats, [layout.S * layout.V * layout.B, N, D], 'float32', device);
}

function forward(classifier: AttentiveClassifier, x: FeatureInput, s: ProbeStepSettings, train: boolean): ProbeStepRecord {
  const calls = classifierCalls(x.feats, x.layout, s.attendAcrossSegments);
  const all = stackCalls(calls.map((c) => classifier.forward(c)));
  const loss = multiCallLoss(all, x.labels);
  // The logits come back in one read: countCorrect needs them, and there is no device argmax.
  const host = all.toFloat32Array();
  const lossValue = loss.item();
  if (!Number.isFinite(lossValue)) throw new Error(`probe: loss is ${lossValue}; stopping`);
  if (train) backward(loss);
  const block = x.layout.B * s.numClasses;
  const perCall = calls.map((_, i) => host.subarray(i * block, (i + 1) * block));
  return { loss: lossValue, correct: countCorrect(perCall, x.labels, s.numClasses), logits: host };
}

/** Evaluation: loss and correct count of one batch, no gradient. */
export function probeEvalStep(classifier: AttentiveClassifier, x: FeatureInput, s: ProbeStepSettings): ProbeStepRecord {
  return tidy(() => noGrad(() => autocast(s.matmulDtype ?? 'float32', () => forward(classifier, x, s, false))));
}

export interface ProbeTrainSettings extends ProbeStepSettings {
  lr: number;
  wd: number;
}

/** Training: forward, backward, clip at PROBE_CLIP_GRAD, AdamW, zero grads. A non-finite loss throws before the update. */
export function probeTrainStep(classifier: AttentiveClassifier, opt: AdamW, x: FeatureInput, s: ProbeTrainSettings): ProbeStepRecord {
  const rec = tidy(() => autocast(s.matmulDtype ?? 'float32', () => forward(classifier, x, s, true)));
  clipGradNorm(
    classifier.trainableParameters().map(([, t]) => t),
    PROBE_CLIP_GRAD,
  );
  opt.step(s.lr, s.wd);
  classifier.zeroGrad();
  return rec;
}
