"""One V-JEPA pretraining iteration (TRAIN-04..08) in plain PyTorch, fp32, single process.

Written from the spec. Used by make_parity_fixture.py (parity fixtures) and bench_torch.py (timing).
"""
import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vjepa_model import gather_tokens


# ---------------------------------------------------------------- TRAIN-05/06/07 schedules

@dataclass
class Schedule:
    ipe: int
    epochs: int
    warmup: float          # in epochs
    ipe_scale: float
    start_lr: float
    lr: float
    final_lr: float
    wd: float
    final_wd: float
    ema0: float
    ema1: float

    @property
    def W(self):
        return int(self.warmup * self.ipe)

    @property
    def T(self):
        return int(self.ipe_scale * self.epochs * self.ipe)

    def lr_at(self, s):
        """s is the 1-based update count (counter incremented before use)."""
        W, T = self.W, self.T
        if s < W:
            return self.start_lr + (s / W) * (self.lr - self.start_lr)
        progress = (s - W) / max(1, T - W)
        return max(self.final_lr,
                   self.final_lr + (self.lr - self.final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress)))

    def wd_at(self, s):
        v = self.final_wd + (self.wd - self.final_wd) * 0.5 * (1.0 + math.cos(math.pi * s / self.T))
        return max(self.final_wd, v) if self.final_wd <= self.wd else min(self.final_wd, v)

    def momentum_at(self, i):
        """i is the 0-based update index; the denominator is the float ipe*epochs*ipe_scale."""
        n = int(self.ipe * self.epochs * self.ipe_scale)
        if i > n:
            raise IndexError(f'EMA schedule exhausted at update {i} (length {n + 1})')
        return self.ema0 + i * (self.ema1 - self.ema0) / (self.ipe * self.epochs * self.ipe_scale)


# ---------------------------------------------------------------- TRAIN-04 optimizer

def param_groups(encoder, predictor):
    """Four groups in this order: enc decayed, pred decayed, enc no-wd, pred no-wd.
    'No-wd' = name contains 'bias' or the tensor is 1-D. Frozen pos tables stay in the decayed
    groups (as in the original) but never get a gradient, so AdamW skips them."""
    def decayed(m):
        return [p for n, p in m.named_parameters() if 'bias' not in n and p.dim() != 1]

    def plain(m):
        return [p for n, p in m.named_parameters() if 'bias' in n or p.dim() == 1]

    return [
        {'params': decayed(encoder)},
        {'params': decayed(predictor)},
        {'params': plain(encoder), 'WD_exclude': True, 'weight_decay': 0},
        {'params': plain(predictor), 'WD_exclude': True, 'weight_decay': 0},
    ]


def make_optimizer(encoder, predictor, betas=(0.9, 0.999), eps=1e-8):
    return torch.optim.AdamW(param_groups(encoder, predictor), betas=betas, eps=eps)


# ---------------------------------------------------------------- TRAIN-08 losses

def jepa_forward(encoder, predictor, target_encoder, x, ctx_masks, tgt_masks, loss_exp=1.0, reg_coeff=0.0):
    """Steps 4a-e and 5 of TRAIN-08. Returns a dict of tensors (losses are 0-d)."""
    with torch.no_grad():
        h_full = target_encoder(x)
        h_full = F.layer_norm(h_full, (h_full.shape[-1],))  # no affine, eps 1e-5
        h = [gather_tokens(h_full, m) for m in tgt_masks]
    z = [encoder(x, m) for m in ctx_masks]  # one encoder pass per mask config (MOD-09)
    p = [predictor(zi, c, t, i) for i, (zi, c, t) in enumerate(zip(z, ctx_masks, tgt_masks))]
    loss_jepa = sum(torch.mean(torch.abs(pi - hi) ** loss_exp) / loss_exp for pi, hi in zip(p, h)) / len(p)
    sigma = sum(torch.sqrt(pi.var(dim=1) + 1e-4) for pi in p) / len(p)  # unbiased var over tokens
    loss_reg = torch.mean(F.relu(1.0 - sigma))
    loss = loss_jepa + reg_coeff * loss_reg
    return {'h_full': h_full, 'h': h, 'z': z, 'p': p, 'loss_jepa': loss_jepa, 'loss_reg': loss_reg, 'loss': loss}


@torch.no_grad()
def ema_update(encoder, target_encoder, m):
    """TRAIN-07 over the parameter lists with the foreach ops, as the original does: one multi-tensor
    kernel per op on a GPU, so the GPU step bench's yardstick pays no per-tensor launches here."""
    with torch.no_grad():
        ks = list(target_encoder.parameters())
        torch._foreach_mul_(ks, m)
        torch._foreach_add_(ks, [q.detach() for q in encoder.parameters()], alpha=1.0 - m)


def train_step(state, x, ctx_masks, tgt_masks, epoch, sched, loss_exp=1.0, reg_coeff=0.0, clip_grad=None,
               keep_grads=False):
    """One full iteration. `state` holds encoder, predictor, target_encoder, optimizer and the
    update counter 'itr' (0-based, = number of updates done so far). `epoch` is the 0-based epoch index."""
    enc, pred, tgt, opt = state['encoder'], state['predictor'], state['target_encoder'], state['opt']
    s = state['itr'] + 1
    lr, wd = sched.lr_at(s), sched.wd_at(s)
    for g in opt.param_groups:  # step 3: schedules before the update
        g['lr'] = lr
        if not g.get('WD_exclude', False):
            g['weight_decay'] = wd
    out = jepa_forward(enc, pred, tgt, x, ctx_masks, tgt_masks, loss_exp, reg_coeff)
    out['loss'].backward()
    # pre-clip norms are always computed here for the record; the original logs 0 until clipping is active
    enc_norm = torch.norm(torch.stack([p.grad.norm() for p in enc.parameters() if p.grad is not None])).item()
    pred_norm = torch.norm(torch.stack([p.grad.norm() for p in pred.parameters() if p.grad is not None])).item()
    if keep_grads:  # pre-clip gradients
        out['grads'] = {
            **{f'encoder.{n}': p.grad.detach().clone() for n, p in enc.named_parameters() if p.grad is not None},
            **{f'predictor.{n}': p.grad.detach().clone() for n, p in pred.named_parameters() if p.grad is not None},
        }
    clipped = clip_grad is not None and epoch > sched.warmup
    if clipped:
        torch.nn.utils.clip_grad_norm_(enc.parameters(), clip_grad)
        torch.nn.utils.clip_grad_norm_(pred.parameters(), clip_grad)
    opt.step()
    opt.zero_grad(set_to_none=True)
    m = sched.momentum_at(state['itr'])
    ema_update(enc, tgt, m)
    state['itr'] = s
    out.update(lr=lr, wd=wd, momentum=m, enc_grad_norm=enc_norm, pred_grad_norm=pred_norm, clipped=clipped)
    return out


def make_state(encoder, predictor, betas=(0.9, 0.999), eps=1e-8):
    """Target encoder = deep copy of the online encoder after init (MOD-05, TRAIN-03)."""
    target = copy.deepcopy(encoder)
    for p in target.parameters():
        p.requires_grad_(False)
    return {'encoder': encoder, 'predictor': predictor, 'target_encoder': target,
            'opt': make_optimizer(encoder, predictor, betas, eps), 'itr': 0}
