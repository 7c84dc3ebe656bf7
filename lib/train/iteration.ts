// One V-JEPA forward (TRAIN-08 steps 4a-e, 5): targets from the EMA encoder on all tokens,
// the context encoder once per mask config, the predictor per mask config, the L1
// (loss_exp) loss averaged over mask configs, plus the variance hinge.
import { Tensor } from '../tensor.js';
import { native } from '../native.js';
import { noGrad } from '../autograd.js';
import { gatherTokens } from '../ops/tokens.js';
import { predictionLoss, varianceHinge, weightedSum } from '../ops/loss.js';
import { targetNorm } from '../nn/vit.js';
import type { VJepa } from '../nn/vjepa.js';

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
  preds: Tensor[];
  targets: Tensor[];
}

export function jepaForward(model: VJepa, clips: Tensor, masks: MaskPair[], lossExp: number, regCoeff: number): JepaForward {
  const targets = noGrad(() => {
    const h = targetNorm(model.targetEncoder.forward(clips));
    const ts = masks.map((m) => gatherTokens(h, m.tgt));
    h.dispose();
    return ts;
  });
  const preds = masks.map((m, i) => {
    const z = model.encoder.forward(clips, m.ctx);
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
    preds,
    targets,
  };
}

function mean(a: number[]): number {
  return a.reduce((x, y) => x + y, 0) / a.length;
}
