"""Write test/fixtures/original/: outputs and gradients of the ORIGINAL facebookresearch/jepa modules.

    python3 reference/make_original_fixture.py --jepa-src /path/to/facebookresearch/jepa [--out test/fixtures/original]

The other fixtures come from reference/vjepa_model.py, which we wrote from the spec; a misreading of the
spec would sit in both it and lib/. This script instead imports the original repository's own model code
(VisionTransformer, VisionTransformerPredictor, the multi-mask wrappers, AttentiveClassifier, its
multiblock mask collator and its lr/wd schedulers) from a clone the caller names, so test/model/original.test.ts
checks lib/ against the code official checkpoints were trained with. Nothing from that repository is copied
here; the loss of TRAIN-08 is the only formula of ours (reference/vjepa_step.py, the same expression as the
original's training loop).

Weights: the original's own init, then every tensor redrawn at a larger scale (biases, LayerNorm affines and
mask tokens included) so that no path hides behind a zero, a one or a near-uniform softmax. They are saved in
the original's checkpoint layout (`module.backbone.*` under encoder / predictor / target_encoder), so the test
also goes through our .pth.tar reader. CPU, 1 thread, fixed seeds: the files are the same on every run.
"""
import argparse
import collections
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import save_safetensors  # noqa: E402
from vjepa_step import jepa_forward  # noqa: E402  (only for its TRAIN-08 loss; the modules are the original's)

# 3x4x4 = 48 tokens: an odd temporal grid, and D=64 / Dp=32 both hit the uniform_power truncation (MOD-06).
CFG = dict(img_size=32, patch_size=8, num_frames=6, tubelet_size=2, embed_dim=64, depth=2, num_heads=2,
           mlp_ratio=4.0, pred_embed_dim=32, pred_depth=2, uniform_power=True, num_mask_tokens=2)
BATCH = 3
# Two mask configs as in the shipped pretrain configs, scaled to a 4x4 grid.
MASKS = [
    dict(aspect_ratio=[0.75, 1.5], num_blocks=4, spatial_scale=[0.15, 0.15], temporal_scale=[1.0, 1.0],
         max_temporal_keep=1.0, max_keep=None),
    dict(aspect_ratio=[0.75, 1.5], num_blocks=1, spatial_scale=[0.5, 0.5], temporal_scale=[0.5, 0.7],
         max_temporal_keep=0.7, max_keep=None),
]
LOSS = dict(loss_exp=1.0, reg_coeff=0.1)
PROBE = dict(embed_dim=64, num_heads=2, depth=2, num_classes=5, batch=3, tokens=40)
# The short run the checkpoint comes from: one epoch of IPE updates through the original's init_opt (its four
# AdamW groups, pos_embed included in the first, and its schedulers), saved as its training loop saves, then
# one more update (epoch 1 > warmup, so clipping is on) recorded for the resume test.
RUN = dict(ipe=2, epochs=3, warmup=0.5, ipe_scale=1.25, start_lr=2e-4, lr=1e-3, final_lr=1e-6, wd=0.04, final_wd=0.4,
           ema=[0.99, 1.0], clip_grad=0.3, betas=[0.9, 0.999], eps=1e-8)
AFTER = ['encoder.patch_embed.proj.weight', 'encoder.blocks.1.attn.qkv.bias', 'encoder.norm.weight',
         'predictor.mask_tokens.0', 'predictor.mask_tokens.1', 'predictor.predictor_proj.bias',
         'target_encoder.patch_embed.proj.weight', 'target_encoder.blocks.0.mlp.fc2.weight']
# The original's sincos tables at the released models' sizes (D, temporal grid, spatial grid, uniform_power):
# ViT-L/H/g encoders, their 384-wide predictor, and the non-uniform split. Rows at the grid's corners and
# seams plus every column's sum over all rows keep the fixture small.
POSEMB = [(1024, 8, 14, True), (1280, 8, 14, True), (1408, 8, 16, True), (384, 8, 14, True), (1024, 8, 14, False)]
# lr/wd schedule of the original's WarmupCosineSchedule / CosineWDSchedule, stepped as its training loop does.
SCHED = dict(ipe=7, epochs=3, warmup=1.5, ipe_scale=1.25, start_lr=2e-4, lr=6.25e-4, final_lr=1e-6,
             wd=0.04, final_wd=0.4)


def import_original(src):
    src = os.path.abspath(src)
    if not os.path.isfile(os.path.join(src, 'src', 'models', 'vision_transformer.py')):
        raise SystemExit(f'--jepa-src {src}: no src/models/vision_transformer.py there (a clone of facebookresearch/jepa?)')
    sys.path.insert(0, src)
    import src.models.vision_transformer as vit  # noqa: E402
    import src.models.predictor as pred  # noqa: E402
    from src.models.utils.multimask import MultiMaskWrapper, PredictorMultiMaskWrapper  # noqa: E402
    from src.models.attentive_pooler import AttentiveClassifier  # noqa: E402
    from src.masks.multiblock3d import MaskCollator  # noqa: E402
    from src.utils.schedulers import WarmupCosineSchedule, CosineWDSchedule  # noqa: E402
    from app.vjepa.utils import init_opt  # noqa: E402
    from src.models.utils.pos_embs import get_3d_sincos_pos_embed  # noqa: E402
    return dict(vit=vit, pred=pred, MultiMaskWrapper=MultiMaskWrapper, PredictorMultiMaskWrapper=PredictorMultiMaskWrapper,
                AttentiveClassifier=AttentiveClassifier, MaskCollator=MaskCollator,
                WarmupCosineSchedule=WarmupCosineSchedule, CosineWDSchedule=CosineWDSchedule, init_opt=init_opt,
                sincos3d=get_3d_sincos_pos_embed)


@torch.no_grad()
def redraw(module, g, skip=()):
    """Every trainable tensor gets values of a working network's scale: matrices N(0, 1/fan_in), vectors N(0, 0.1),
    LayerNorm weights 1 + N(0, 0.1). Zero biases or a flat softmax would let a wrong path pass."""
    for name, p in module.named_parameters():
        if not p.requires_grad or any(s in name for s in skip):
            continue
        if p.dim() >= 2 and 'mask_tokens' not in name and 'query_tokens' not in name:
            fan_in = p[0].numel()
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
        elif name.endswith('weight') and 'norm' in name:
            p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
        else:
            p.copy_(0.1 * torch.randn(p.shape, generator=g))


def strip(sd, prefix):
    assert all(k.startswith(prefix) for k in sd), list(sd)[:3]
    return collections.OrderedDict((k[len(prefix):], v) for k, v in sd.items())


def build(orig):
    c = CFG
    enc = orig['vit'].VisionTransformer(
        img_size=c['img_size'], patch_size=c['patch_size'], num_frames=c['num_frames'], tubelet_size=c['tubelet_size'],
        embed_dim=c['embed_dim'], depth=c['depth'], num_heads=c['num_heads'], mlp_ratio=c['mlp_ratio'], qkv_bias=True,
        norm_layer=lambda d: torch.nn.LayerNorm(d, eps=1e-6), uniform_power=c['uniform_power'])
    prd = orig['pred'].vit_predictor(
        img_size=c['img_size'], patch_size=c['patch_size'], num_frames=c['num_frames'], tubelet_size=c['tubelet_size'],
        embed_dim=c['embed_dim'], predictor_embed_dim=c['pred_embed_dim'], depth=c['pred_depth'], num_heads=c['num_heads'],
        uniform_power=c['uniform_power'], use_mask_tokens=True, num_mask_tokens=c['num_mask_tokens'], zero_init_mask_tokens=True)
    return orig['MultiMaskWrapper'](enc), orig['PredictorMultiMaskWrapper'](prd)


def masks_from_original(orig):
    c = CFG
    collator = orig['MaskCollator'](cfgs_mask=MASKS, crop_size=(c['img_size'], c['img_size']), num_frames=c['num_frames'],
                                   patch_size=c['patch_size'], tubelet_size=c['tubelet_size'])
    _, masks_enc, masks_pred = collator([torch.zeros(1) for _ in range(BATCH)])
    return masks_enc, masks_pred


def schedules(orig):
    s = SCHED
    W, T = int(s['warmup'] * s['ipe']), int(s['ipe_scale'] * s['epochs'] * s['ipe'])
    p, q = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([{'params': [p]}, {'params': [q], 'WD_exclude': True, 'weight_decay': 0}])
    lr_s = orig['WarmupCosineSchedule'](opt, warmup_steps=W, start_lr=s['start_lr'], ref_lr=s['lr'], final_lr=s['final_lr'], T_max=T)
    wd_s = orig['CosineWDSchedule'](opt, ref_wd=s['wd'], final_wd=s['final_wd'], T_max=T)
    n = s['ipe'] * s['epochs']
    lrs, wds = [], []
    for _ in range(n):  # the training loop calls both schedulers once before every update
        lrs.append(lr_s.step())
        wds.append(wd_s.step())
    excluded_wd = opt.param_groups[1]['weight_decay']
    return {**s, 'W': W, 'T': T, 'lr': lrs, 'wd': wds, 'excluded_group_wd': excluded_wd,
            'ref_lr': s['lr'], 'ref_wd': s['wd']}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--jepa-src', required=True, help='a clone of github.com/facebookresearch/jepa')
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'test', 'fixtures', 'original'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    orig = import_original(args.jepa_src)
    os.makedirs(args.out, exist_ok=True)

    enc, prd = build(orig)
    g = torch.Generator().manual_seed(11)
    redraw(enc, g)
    redraw(prd, g)
    tgt = copy_module(enc)
    # The target differs from the online encoder, as after any EMA update, so a test that read the wrong
    # section would fail.
    with torch.no_grad():
        for q in tgt.parameters():
            q.add_(0.05 * torch.randn(q.shape, generator=g))

    masks_enc, masks_pred = masks_from_original(orig)
    x = torch.randn(BATCH, 3, CFG['num_frames'], CFG['img_size'], CFG['img_size'], generator=g)
    t = collections.OrderedDict()
    t['x'] = x
    for i, (me, mp) in enumerate(zip(masks_enc, masks_pred)):
        t[f'mask.ctx_{i}'] = me.to(torch.int32)
        t[f'mask.tgt_{i}'] = mp.to(torch.int32)

    def loss_of():
        return jepa_forward(lambda v, m: enc(v, [m])[0], lambda z, mc, mt, i: prd_one(prd, z, mc, mt, i),
                            tgt, x, list(masks_enc), list(masks_pred), **LOSS)

    r = RUN
    opt, _, lr_s, wd_s = orig['init_opt'](
        encoder=enc, predictor=prd, iterations_per_epoch=r['ipe'], start_lr=r['start_lr'], ref_lr=r['lr'],
        warmup=r['warmup'], num_epochs=r['epochs'], wd=r['wd'], final_wd=r['final_wd'], final_lr=r['final_lr'],
        mixed_precision=False, ipe_scale=r['ipe_scale'], betas=tuple(r['betas']), eps=r['eps'])
    # TRAIN-07: the momentum sequence as the original's training loop forms it (a float denominator).
    n_mom = r['ipe'] * r['epochs'] * r['ipe_scale']
    momentum = iter([r['ema'][0] + i * (r['ema'][1] - r['ema'][0]) / n_mom for i in range(int(n_mom) + 1)])

    def update(epoch):
        lr, wd = lr_s.step(), wd_s.step()
        out = loss_of()
        opt.zero_grad()
        out['loss'].backward()
        norms = (None, None)
        if epoch > r['warmup']:
            norms = (float(torch.nn.utils.clip_grad_norm_(enc.parameters(), r['clip_grad'])),
                     float(torch.nn.utils.clip_grad_norm_(prd.parameters(), r['clip_grad'])))
        opt.step()
        m = next(momentum)
        with torch.no_grad():
            for q, k in zip(enc.parameters(), tgt.parameters()):
                k.mul_(m).add_((1.0 - m) * q.detach())
        return out, lr, wd, m, norms

    run_losses = [update(0)[0]['loss'].item() for _ in range(r['ipe'])]
    ckpt = {
        'encoder': prefixed(enc.state_dict()),
        'predictor': prefixed(prd.state_dict()),
        'target_encoder': prefixed(tgt.state_dict()),
        'opt': opt.state_dict(), 'scaler': None, 'epoch': 1, 'loss': sum(run_losses) / len(run_losses),
        'batch_size': BATCH, 'world_size': 1, 'lr': r['lr'],
    }
    torch.save(ckpt, os.path.join(args.out, 'original_tiny.pth.tar'))

    # "step0": the checkpoint's weights through the original's wrappers (one encoder pass per mask config,
    # mask_index = config index): outputs, losses and gradients.
    out = loss_of()
    opt.zero_grad()
    out['loss'].backward()
    t['step0.h'] = out['h_full']
    for i in range(len(MASKS)):
        t[f'step0.z_{i}'] = out['z'][i].detach()
        t[f'step0.p_{i}'] = out['p'][i].detach()
    for k in ('loss_jepa', 'loss_reg', 'loss'):
        t[f'step0.{k}'] = out[k].detach().reshape(1)
    for prefix, m in (('encoder', enc.backbone), ('predictor', prd.backbone)):
        for name, p in m.named_parameters():
            if p.requires_grad:
                assert p.grad is not None, f'{prefix}.{name} got no gradient'
                t[f'grad.{prefix}.{name}'] = p.grad.detach().clone()

    # A clip of another length and size: the original's trilinear resize of the table (MOD-07).
    with torch.no_grad():
        x2 = torch.randn(1, 3, 10, 48, 48, generator=g)
        t['resize.x'] = x2
        t['resize.out'] = tgt(x2)

    # Attentive probe (EVAL-03): logits, cross-entropy and every gradient, depth 2 (a self-attention block too).
    clf = orig['AttentiveClassifier'](embed_dim=PROBE['embed_dim'], num_heads=PROBE['num_heads'], depth=PROBE['depth'],
                                     num_classes=PROBE['num_classes'])
    redraw(clf, g)
    feats = torch.randn(PROBE['batch'], PROBE['tokens'], PROBE['embed_dim'], generator=g)
    labels = torch.randint(0, PROBE['num_classes'], (PROBE['batch'],), generator=g)
    logits = clf(feats)
    ce = F.cross_entropy(logits, labels)
    ce.backward()
    t['probe.x'] = feats
    t['probe.labels'] = labels.to(torch.int32)
    t['probe.logits'] = logits.detach()
    t['probe.loss'] = ce.detach().reshape(1)
    for name, p in clf.named_parameters():
        t[f'probe.param.{name}'] = p.detach().clone()
        if p.grad is None:  # xattn.proj: the original's CrossAttention never applies it
            assert '.xattn.proj.' in name, f'probe {name} got no gradient'
            continue
        t[f'probe.grad.{name}'] = p.grad.detach().clone()

    # A probe checkpoint as the original's eval writes it (its save_checkpoint: 'classifier' of the DDP-wrapped
    # AttentiveClassifier, 'opt', 'epoch', ...), for test/probe's encoder (D 32, 2 heads, 2 classes): its two
    # AdamW groups are formed by the rule of the eval's init_opt (weights, then biases and 1-D tensors, which
    # keep weight decay 0), and three updates on random features give it moments. Its logits on `pc.x` are kept.
    pc = orig['AttentiveClassifier'](embed_dim=32, num_heads=2, depth=1, num_classes=2)
    redraw(pc, g)
    named = list(pc.named_parameters())
    popt = torch.optim.AdamW([
        {'params': [q for n, q in named if 'bias' not in n and q.dim() != 1]},
        {'params': [q for n, q in named if 'bias' in n or q.dim() == 1], 'WD_exclude': True, 'weight_decay': 0}], lr=1e-3)
    for _ in range(3):
        f = torch.randn(4, 24, 32, generator=g)
        popt.zero_grad()
        F.cross_entropy(pc(f), torch.randint(0, 2, (4,), generator=g)).backward()
        popt.step()
    torch.save({'classifier': prefixed(pc.state_dict()), 'opt': popt.state_dict(), 'scaler': None, 'epoch': 1,
                'batch_size': 4, 'world_size': 1, 'lr': 1e-3}, os.path.join(args.out, 'original_probe.pth.tar'))
    with torch.no_grad():
        t['pc.x'] = torch.randn(3, 24, 32, generator=g)
        t['pc.logits'] = pc(t['pc.x'])

    # The update after the checkpoint (epoch 1: clipping on), for a resume from the file to reproduce.
    _, lr, wd, m, (enc_norm, prd_norm) = update(1)
    nxt = {'lr': lr, 'wd': wd, 'momentum': m, 'enc_grad_norm': enc_norm, 'pred_grad_norm': prd_norm}
    owners = {'encoder': enc.backbone, 'predictor': prd.backbone, 'target_encoder': tgt.backbone}
    for key in AFTER:
        section, name = key.split('.', 1)
        t[f'after.{key}'] = dict(owners[section].named_parameters())[name].detach().clone()

    for D, T, S, uniform in POSEMB:
        table = orig['sincos3d'](D, S, T, uniform_power=uniform)  # float64 [T*S*S, D], rows t-major then h, w
        n = table.shape[0]
        rows = sorted({0, 1, S - 1, S, S * S - 1, S * S, n // 2, n - 1})
        key = f'posemb.{D}_{T}x{S}x{S}_{"uniform" if uniform else "split"}'
        t[f'{key}.rows'] = torch.from_numpy(table[rows]).float()
        t[f'{key}.index'] = torch.tensor(rows, dtype=torch.int32)
        t[f'{key}.colsum'] = torch.from_numpy(table.sum(axis=0)).float()

    meta = {'config': json.dumps(CFG), 'batch': str(BATCH), 'masks': json.dumps(MASKS), 'loss': json.dumps(LOSS),
            'run': json.dumps(RUN), 'run_losses': json.dumps(run_losses), 'next': json.dumps(nxt),
            'probe': json.dumps(PROBE), 'checkpoint': 'original_tiny.pth.tar',
            'source': 'facebookresearch/jepa ' + git_head(args.jepa_src)}
    save_safetensors(os.path.join(args.out, 'original_tiny.safetensors'), t, meta)
    with open(os.path.join(args.out, 'original_schedules.json'), 'w') as f:
        json.dump(schedules(orig), f, indent=1)
        f.write('\n')
    print(f'wrote {args.out}: loss {out["loss"].item():.6f} (jepa {out["loss_jepa"].item():.6f}, '
          f'reg {out["loss_reg"].item():.6f}), mask sizes ' +
          ', '.join(f'{tuple(me.shape)}/{tuple(mp.shape)}' for me, mp in zip(masks_enc, masks_pred)) +
          f', probe loss {ce.item():.6f}')


def prd_one(prd, z, mc, mt, i):
    # The wrapper calls its backbone with mask_index = the position in the list; call it the same way.
    return prd.backbone(z, None, mc, mt, mask_index=i)


def copy_module(m):
    import copy
    c = copy.deepcopy(m)
    for p in c.parameters():
        p.requires_grad_(False)
    return c


def prefixed(sd):
    # A DistributedDataParallel-wrapped MultiMaskWrapper saves 'module.backbone.<name>'.
    return collections.OrderedDict(('module.' + k, v.detach().clone()) for k, v in sd.items())


def git_head(src):
    head = os.path.join(src, '.git', 'HEAD')
    try:
        ref = open(head).read().strip()
        if ref.startswith('ref: '):
            return open(os.path.join(src, '.git', ref[5:])).read().strip()[:12]
        return ref[:12]
    except OSError:
        return '(not a git checkout)'


if __name__ == '__main__':
    main()
