"""Write the committed parity fixtures under test/fixtures/parity/ (see reference/README.md).

    python3 reference/make_parity_fixture.py [--out test/fixtures/parity]

Deterministic on CPU (fixed seeds, 1 thread). Everything is fp32; integer tensors are int32.
"""
import argparse
import collections
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_safetensors, save_safetensors  # noqa: E402
from vjepa_model import (AttentiveClassifier, Predictor, VisionTransformer, init_pretrain_,  # noqa: E402
                         interpolate_pos_3d, sincos_1d, sincos_3d)
from vjepa_step import Schedule, make_state, train_step  # noqa: E402

# Tiny config: 2x4x4 = 32 tokens; D=64 and Dp=32 both trigger the uniform_power truncation (MOD-06).
CFG = dict(img_size=32, patch_size=8, num_frames=4, tubelet_size=2, embed_dim=64, depth=2, num_heads=2,
           mlp_ratio=4.0, pred_embed_dim=32, pred_depth=2, uniform_power=True, num_mask_tokens=2)
BATCH = 2
MASK_K = {'ctx_0': 10, 'tgt_0': 14, 'ctx_1': 6, 'tgt_1': 20}
# ipe=3, epochs=2: step 0 is lr warmup (W=2), steps 3,4 are in epoch 1 > warmup 0.7 so clipping is active.
SCHED = Schedule(ipe=3, epochs=2, warmup=0.7, ipe_scale=1.25, start_lr=2e-4, lr=1e-3, final_lr=1e-6,
                 wd=0.04, final_wd=0.4, ema0=0.99, ema1=1.0)
TRAIN = dict(steps=5, loss_exp=1.0, reg_coeff=0.1, clip_grad=0.3, betas=(0.9, 0.999), eps=1e-8)
AFTER5 = ['encoder.patch_embed.proj.weight', 'encoder.blocks.1.attn.qkv.bias', 'encoder.norm.weight',
          'predictor.mask_tokens.0', 'predictor.mask_tokens.1', 'predictor.predictor_proj.bias',
          'target_encoder.patch_embed.proj.weight', 'target_encoder.norm.weight']
PROBE = dict(embed_dim=64, num_heads=2, num_classes=5, depth=1, batch=3, tokens=40)


def build_models(depth=None):
    depth = depth or CFG['depth']
    enc = VisionTransformer(CFG['img_size'], CFG['patch_size'], CFG['num_frames'], CFG['tubelet_size'],
                            CFG['embed_dim'], depth, CFG['num_heads'], CFG['mlp_ratio'], 1e-6,
                            CFG['uniform_power'])
    pred = Predictor(CFG['img_size'], CFG['patch_size'], CFG['num_frames'], CFG['tubelet_size'],
                     CFG['embed_dim'], CFG['pred_embed_dim'], CFG['pred_depth'], CFG['num_heads'],
                     CFG['mlp_ratio'], 1e-6, CFG['uniform_power'], CFG['num_mask_tokens'])
    init_pretrain_(enc, pred)
    return enc, pred


def make_masks(rng, n_tokens):
    """Fixed, per-sample different, ascending lists; ctx and tgt of one config are disjoint."""
    out = {k: [] for k in MASK_K}
    for _ in range(BATCH):
        for i in range(CFG['num_mask_tokens']):
            kc, kt = MASK_K[f'ctx_{i}'], MASK_K[f'tgt_{i}']
            perm = rng.permutation(n_tokens)
            out[f'ctx_{i}'].append(np.sort(perm[:kc]))
            out[f'tgt_{i}'].append(np.sort(perm[kc:kc + kt]))
    return {k: torch.tensor(np.stack(v), dtype=torch.int64) for k, v in out.items()}


def schedule_meta():
    return {'ipe': SCHED.ipe, 'epochs': SCHED.epochs, 'warmup_epochs': SCHED.warmup, 'ipe_scale': SCHED.ipe_scale,
            'W': SCHED.W, 'T': SCHED.T, 'start_lr': SCHED.start_lr, 'lr': SCHED.lr, 'final_lr': SCHED.final_lr,
            'weight_decay': SCHED.wd, 'final_weight_decay': SCHED.final_wd, 'ema': [SCHED.ema0, SCHED.ema1],
            **{k: v for k, v in TRAIN.items()},
            'clip_condition': 'epoch > warmup_epochs, epoch = step // ipe (0-based)',
            'clip_rule': 'torch clip_grad_norm_: coef = min(1, clip_grad / (total_norm + 1e-6)), encoder and '
                         'predictor separately',
            'same_batch_every_step': True}


def check_sincos():
    """MOD-06 truncation at D=64 (22 per axis, 66 -> 64: last 2 width cosines dropped) and Dp=32 (12, 36 -> 32)."""
    for dim, per in ((64, 22), (32, 12)):
        tab = sincos_3d(dim, 2, 4, 4, True).double().numpy()
        d, h, w = np.meshgrid(np.arange(2), np.arange(4), np.arange(4), indexing='ij')
        full = np.concatenate([sincos_1d(per, d), sincos_1d(per, h), sincos_1d(per, w)], axis=1)
        assert full.shape[1] == 3 * per and tab.shape == (32, dim)
        assert np.allclose(tab, full[:, :dim], atol=1e-7)
        # the kept tail is cos(w * omega_k) for k up to (per/2 - 1 - dropped)
        dropped = 3 * per - dim
        m = per // 2
        k_last = m - 1 - dropped
        assert np.allclose(tab[:, -1], np.cos(w.reshape(-1) * 10000.0 ** (-k_last / m)), atol=1e-7)
    print('sincos truncation OK: D=64 drops 2 columns, Dp=32 drops 4 columns')


# ---------------------------------------------------------------- fixture 1: pretraining step

def fixture_vjepa(out_dir):
    torch.manual_seed(234)
    enc, pred = build_models()
    state = make_state(enc, pred, TRAIN['betas'], TRAIN['eps'])
    tensors = collections.OrderedDict()
    tensors.update({f'encoder.{k}': v.clone() for k, v in enc.state_dict().items()})
    tensors.update({f'predictor.{k}': v.clone() for k, v in pred.state_dict().items()})
    g = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, 3, CFG['num_frames'], CFG['img_size'], CFG['img_size'], generator=g)
    masks = make_masks(np.random.default_rng(7), enc.pos_embed.shape[1])
    ctx = [masks['ctx_0'], masks['ctx_1']]
    tgt = [masks['tgt_0'], masks['tgt_1']]
    tensors['x'] = x
    for k, v in masks.items():
        tensors[f'mask.{k}'] = v.to(torch.int32)

    rec = collections.defaultdict(list)
    for step in range(TRAIN['steps']):
        out = train_step(state, x, ctx, tgt, epoch=step // SCHED.ipe, sched=SCHED, loss_exp=TRAIN['loss_exp'],
                         reg_coeff=TRAIN['reg_coeff'], clip_grad=TRAIN['clip_grad'], keep_grads=(step == 0))
        if step == 0:
            tensors['step0.h'] = out['h_full'].detach()
            for i in range(2):
                tensors[f'step0.z_{i}'] = out['z'][i].detach()
                tensors[f'step0.p_{i}'] = out['p'][i].detach()
            for k in ('loss_jepa', 'loss_reg', 'loss'):
                tensors[f'step0.{k}'] = out[k].detach().reshape(1)
            for k, v in out['grads'].items():
                tensors[f'grad.{k}'] = v
        for k in ('loss', 'loss_jepa', 'loss_reg'):
            rec[k].append(out[k].item())
        for k in ('lr', 'wd', 'momentum', 'enc_grad_norm', 'pred_grad_norm'):
            rec[k].append(out[k])
        rec['clipped'].append(bool(out['clipped']))
        rec['epoch'].append(step // SCHED.ipe)
    for k in ('loss', 'loss_jepa', 'loss_reg', 'lr', 'wd', 'momentum', 'enc_grad_norm', 'pred_grad_norm'):
        tensors[f'train.{k}'] = torch.tensor(rec[k], dtype=torch.float32)
    tensors['train.clipped'] = torch.tensor(rec['clipped'], dtype=torch.int32)
    mods = {'encoder': enc, 'predictor': pred, 'target_encoder': state['target_encoder']}
    for name in AFTER5:
        mod, pname = name.split('.', 1)
        tensors[f'after5.{name}'] = mods[mod].state_dict()[pname].clone()

    meta = {'config': json.dumps(CFG), 'batch': str(BATCH), 'schedule': json.dumps(schedule_meta()),
            'format': 'see reference/README.md', 'integers': 'int32', 'scalars': 'shape [1]'}
    save_safetensors(os.path.join(out_dir, 'vjepa_tiny.safetensors'), tensors, meta)
    side = {'config': CFG, 'batch': BATCH, 'mask_sizes': MASK_K, 'schedule': schedule_meta(),
            'step0': {k: tensors[f'step0.{k}'].item() for k in ('loss_jepa', 'loss_reg', 'loss')},
            'steps': [{'step': i, 's': i + 1, **{k: rec[k][i] for k in rec}} for i in range(TRAIN['steps'])]}
    side['losses_without_clipping'] = losses_without_clipping(x, ctx, tgt)
    with open(os.path.join(out_dir, 'vjepa_tiny.json'), 'w') as f:
        json.dump(side, f, indent=1)
    return rec, tensors


def losses_without_clipping(x, ctx, tgt):
    """Same run with clip_grad off: lets a test check that its tolerance can see the clipping."""
    torch.manual_seed(234)
    enc, pred = build_models()
    state = make_state(enc, pred, TRAIN['betas'], TRAIN['eps'])
    return [train_step(state, x, ctx, tgt, epoch=i // SCHED.ipe, sched=SCHED, loss_exp=TRAIN['loss_exp'],
                       reg_coeff=TRAIN['reg_coeff'], clip_grad=None)['loss'].item() for i in range(TRAIN['steps'])]


# ---------------------------------------------------------------- fixture 2: probe head

def fixture_probe(out_dir):
    torch.manual_seed(5)
    clf = AttentiveClassifier(PROBE['embed_dim'], PROBE['num_heads'], PROBE['num_classes'], PROBE['depth'])
    g = torch.Generator().manual_seed(11)
    feats = torch.randn(PROBE['batch'], PROBE['tokens'], PROBE['embed_dim'], generator=g)
    labels = torch.tensor([0, 3, 4], dtype=torch.int64)
    tensors = collections.OrderedDict((f'classifier.{k}', v.clone()) for k, v in clf.state_dict().items())
    pooled = clf.pooler(feats).squeeze(1)
    logits = clf.linear(pooled)
    loss = F.cross_entropy(logits, labels)  # mean over batch, no label smoothing (EVAL-04)
    loss.backward()
    tensors['features'] = feats
    tensors['labels'] = labels.to(torch.int32)
    tensors['pooled'] = pooled.detach()
    tensors['logits'] = logits.detach()
    tensors['loss'] = loss.detach().reshape(1)
    for k, p in clf.named_parameters():
        if p.grad is not None:  # xattn.proj has none: the original never applies it (MOD-13)
            tensors[f'grad.classifier.{k}'] = p.grad.clone()
    meta = {'config': json.dumps(PROBE), 'pooler_ln_eps': '1e-5', 'loss': 'cross_entropy mean',
            'init': 'pooler trunc-normal(0.02) + depth rescale of xattn.proj/mlp.fc2 by 1/sqrt(2); linear default'}
    save_safetensors(os.path.join(out_dir, 'probe_tiny.safetensors'), tensors, meta)
    return loss.item()


# ---------------------------------------------------------------- fixture 3: official checkpoint layout

class _Holder(nn.Module):
    """Reproduces the state-dict prefixes of the distributed wrapper ('module.') around the
    multi-mask wrapper ('backbone.'), including the pickled _metadata of a real state dict."""

    def __init__(self, net):
        super().__init__()
        self.module = nn.Module()
        self.module.backbone = net


def fixture_official(out_dir, depth):
    torch.manual_seed(99)
    enc, pred = build_models(depth)
    state = make_state(enc, pred, TRAIN['betas'], TRAIN['eps'])
    sched = Schedule(ipe=3, epochs=2, warmup=0.7, ipe_scale=1.25, start_lr=2e-4, lr=6.25e-4, final_lr=1e-6,
                     wd=0.04, final_wd=0.4, ema0=0.99, ema1=1.0)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(BATCH, 3, CFG['num_frames'], CFG['img_size'], CFG['img_size'], generator=g)
    masks = make_masks(np.random.default_rng(8), enc.pos_embed.shape[1])
    out = train_step(state, x, [masks['ctx_0'], masks['ctx_1']], [masks['tgt_0'], masks['tgt_1']], epoch=0,
                     sched=sched, loss_exp=1.0, reg_coeff=0.0, clip_grad=10.0)
    ckpt = {
        'encoder': _Holder(enc).state_dict(),
        'predictor': _Holder(pred).state_dict(),
        'target_encoder': _Holder(state['target_encoder']).state_dict(),
        'opt': state['opt'].state_dict(),
        'scaler': None,
        'epoch': 1,
        'loss': float(out['loss'].item()),
        'batch_size': BATCH,
        'world_size': 1,
        'lr': 6.25e-4,
    }
    # AdamW state indices follow the group order: enc decayed, pred decayed, enc no-wd, pred no-wd
    opt_names = [f'{m}.{n}' for m, mod, keep in (('encoder', enc, True), ('predictor', pred, True),
                                                 ('encoder', enc, False), ('predictor', pred, False))
                 for n, p in mod.named_parameters() if ('bias' not in n and p.dim() != 1) == keep]
    assert len(opt_names) == sum(len(g['params']) for g in ckpt['opt']['param_groups'])
    path = os.path.join(out_dir, 'official_tiny.pth.tar')
    torch.save(ckpt, path)

    # Embeddings from the target encoder, reloaded from the file to prove the file is self-sufficient.
    loaded = torch.load(path, map_location='cpu', weights_only=True)
    te, _ = build_models(depth)
    te.load_state_dict({k[len('module.backbone.'):]: v for k, v in loaded['target_encoder'].items()}, strict=True)
    te.eval()
    tensors = collections.OrderedDict()
    with torch.no_grad():
        tensors['a.x'] = x
        tensors['a.out'] = te(x)
        tensors['b.ctx'] = masks['ctx_0'].to(torch.int32)
        tensors['b.out'] = te(x, masks['ctx_0'])
        g2 = torch.Generator().manual_seed(4)
        x8 = torch.randn(1, 3, 6, 40, 40, generator=g2)
        tensors['c.x'] = x8
        tensors['c.pos_embed'] = interpolate_pos_3d(te.pos_embed, te.grid, te.grid_of(x8))
        tensors['c.out'] = te(x8)
    meta = {'config': json.dumps({**CFG, 'depth': depth}), 'checkpoint': 'official_tiny.pth.tar', 'state_dict': 'target_encoder',
            'prefix': 'module.backbone.', 'opt_param_names': json.dumps(opt_names), 'c.grid': '3x5x5 (build grid 2x4x4, trilinear, align_corners=False)'}
    save_safetensors(os.path.join(out_dir, 'official_tiny_embed.safetensors'), tensors, meta)
    return ckpt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test',
                                                  'fixtures', 'parity'))
    ap.add_argument('--official-depth', type=int, default=CFG['depth'],
                    help='encoder depth of the official-layout checkpoint (1 shrinks it to ~1.6 MB)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    check_sincos()
    rec, tensors = fixture_vjepa(args.out)
    print('losses:', ' '.join(f'{v:.6f}' for v in rec['loss']))
    print('lr:', rec['lr'], '\nwd:', rec['wd'], '\nmomentum:', rec['momentum'])
    print('enc_grad_norm:', rec['enc_grad_norm'], '\npred_grad_norm:', rec['pred_grad_norm'],
          '\nclipped:', rec['clipped'])
    # round-trip check of our writer
    back, _ = load_safetensors(os.path.join(args.out, 'vjepa_tiny.safetensors'))
    assert all(torch.equal(back[k], v.to(back[k].dtype)) for k, v in tensors.items())
    print('probe CE loss:', fixture_probe(args.out))
    fixture_official(args.out, args.official_depth)
    total = 0
    for f in sorted(os.listdir(args.out)):
        sz = os.path.getsize(os.path.join(args.out, f))
        total += sz
        print(f'{f}: {sz} bytes')
    print(f'total: {total} bytes')


if __name__ == '__main__':
    main()
