// One V-JEPA forward (TRAIN-08 steps 4a-e, 5): targets from the EMA encoder on all tokens,
// the context encoder once per mask config, the predictor per mask config, the L1
// (loss_exp) loss averaged over mask configs, plus the variance hinge. pretrainStep adds
// the rest of one iteration (backward, clip, AdamW, EMA) for the loop and the GPU check.
import { Tensor, tidy } from '../tensor.js';
import { native } from '../native.js';
import { backward, noGrad } from '../autograd.js';
import { clipGradNorm, gradNorm, type AdamW } from '../optim/adamw.js';
import { gatherTokens } from '../ops/tokens.js';
import { predictionLoss, varianceHinge, weightedSum } from '../ops/loss.js';
import { targetNorm } from '../nn/vit.js';
import type { VJepa } from '../nn/vjepa.js';
import { effectiveRank } from './monitors.js';
import { autocast, type CastPlan, type MatmulDtype } from '../ops/autocast.js';

export interface MaskPair {
  ctx: Tensor; // int32 [B, K_enc]
  tgt: Tensor; // int32 [B, K_pred]
}

export interface JepaForward {
  loss: Tensor;
  lossJepa: number;
  lossReg: number;
  /** Collapse monitors: mean over features of the std across batch and tokens. */
  targetStd: number;
  predStd: number;
  /** Dimensional-collapse monitors: participation ratio of the target features (all tokens) and of the context encoder's output (first mask config). */
  targetRank: number;
  contextRank: number;
  preds: Tensor[];
  targets: Tensor[];
}

/** overlap: see StepSettings.overlap. */
export function jepaForward(model: VJepa, clips: Tensor, masks: MaskPair[], lossExp: number, regCoeff: number, overlap?: () => void): JepaForward {
  let targetRank = NaN;
  let contextRank = NaN;
  const targets = noGrad(() => {
    const h = targetNorm(model.targetEncoder.forward(clips));
    overlap?.(); // the target encoder is queued; effectiveRank is the first host read
    targetRank = effectiveRank(h);
    const ts = masks.map((m) => gatherTokens(h, m.tgt));
    h.dispose();
    return ts;
  });
  const preds = masks.map((m, i) => {
    const z = model.encoder.forward(clips, m.ctx);
    if (i === 0) contextRank = effectiveRank(z);
    return model.predictor.forward(z, m.ctx, m.tgt, i);
  });
  const M = masks.length;
  const terms = preds.map((p, i) => predictionLoss(p, targets[i], lossExp));
  const lossJepaT = weightedSum(terms, terms.map(() => 1 / M));
  // The hinge is always computed for the log (TRAIN-08 e); it joins the graph only when weighted.
  const lossRegT = regCoeff !== 0 ? varianceHinge(preds) : noGrad(() => varianceHinge(preds));
  const lossJepa = lossJepaT.item();
  const lossReg = lossRegT.item();
  const loss = regCoeff !== 0 ? weightedSum([lossJepaT, lossRegT], [1, regCoeff]) : lossJepaT;
  return {
    loss,
    lossJepa,
    lossReg,
    targetStd: mean(targets.map((t) => native.meanColStd(t.handle))),
    predStd: mean(preds.map((p) => native.meanColStd(p.handle))),
    targetRank,
    contextRank,
    preds,
    targets,
  };
}

export interface StepSettings {
  lossExp: number;
  regCoeff: number;
  lr: number;
  wd: number;
  momentum: number;
  /** Max grad norm, or null for no clipping at this step (TRAIN-08 step 7 clips only after warmup). */
  clipGrad: number | null;
  /** GEMM precision of forward and backward (TRAIN-09); fp32 when absent. */
  matmulDtype?: MatmulDtype;
  /** The run's bf16 weight plan (ops/autocast.ts): step 1 learns it, later steps round every weight in a few launches. */
  castPlan?: CastPlan;
  /** Sees the loss before backward; may throw to stop without an update. */
  checkLoss?: (loss: number) => void;
  /** Sees the pre-clip gradient norms before the optimizer step; may throw to stop without an update. */
  checkGradNorms?: (encoder: number, predictor: number) => void;
  /**
   * Called once per step, after the first kernels are queued and before the first host read,
   * so host work done there overlaps the GPU: the trainer uploads the next batch there.
   * It must not create tensors (they would belong to the step's scope).
   */
  overlap?: () => void;
}

/** The logged scalars of one iteration: the forward's monitors plus the loss and gradient norms. */
export interface StepRecord extends Pick<JepaForward, 'lossJepa' | 'lossReg' | 'targetStd' | 'predStd' | 'targetRank' | 'contextRank'> {
  loss: number;
  /** Pre-clip gradient norms. */
  encGradNorm: number;
  predGradNorm: number;
}

/**
 * One full pretraining iteration on whatever device the model and inputs live on: forward,
 * backward (both under the step's GEMM precision), clip (encoder and predictor separately),
 * AdamW, zero grads, EMA.
 */
export function pretrainStep(model: VJepa, opt: AdamW, clips: Tensor, masks: MaskPair[], s: StepSettings): StepRecord {
  let rec!: Omit<StepRecord, 'encGradNorm' | 'predGradNorm'>;
  autocast(s.matmulDtype ?? 'float32', () =>
    tidy(() => {
      const out = jepaForward(model, clips, masks, s.lossExp, s.regCoeff, s.overlap);
      const loss = out.loss.item();
      s.checkLoss?.(loss);
      rec = { loss, lossJepa: out.lossJepa, lossReg: out.lossReg, targetStd: out.targetStd, predStd: out.predStd, targetRank: out.targetRank, contextRank: out.contextRank };
      backward(out.loss);
    }),
    s.castPlan,
  );
  const encParams = model.encoder.trainableParameters().map(([, t]) => t);
  const predParams = model.predictor.trainableParameters().map(([, t]) => t);
  let encGradNorm: number;
  let predGradNorm: number;
  if (s.clipGrad !== null) {
    encGradNorm = clipGradNorm(encParams, s.clipGrad);
    predGradNorm = clipGradNorm(predParams, s.clipGrad);
  } else {
    encGradNorm = gradNorm(encParams);
    predGradNorm = gradNorm(predParams);
  }
  s.checkGradNorms?.(encGradNorm, predGradNorm);
  opt.step(s.lr, s.wd);
  model.zeroGrad();
  model.emaUpdate(s.momentum);
  return { ...rec, encGradNorm, predGradNorm };
}

function mean(a: number[]): number {
  return a.reduce((x, y) => x + y, 0) / a.length;
}
