"""Recompute the step dumped by reference/dump_step_at_scale.mjs in PyTorch (fp64 and fp32) and
compare: loss, target features, every block's output, predictions and every gradient.

    npx tsc -p . && VJEPA_THREADS=1 nice -n 19 node reference/dump_step_at_scale.mjs [--data loader] [--checkpoint C]
    nice -n 19 python3 reference/check_step_at_scale.py [runs/check_step_at_scale/step.safetensors] [--all]

Error metric per tensor: max |ours - ref64| (abs) and that divided by max |ref64| (rel, "relative
to the tensor's max abs"). The column torch32 is the same metric for PyTorch's own fp32 run
against its fp64 run: the floor any fp32 implementation can be expected to reach. Anything with
rel > 1e-3 is flagged. Exit status 1 if anything is flagged.
"""
import argparse
import copy
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_safetensors  # noqa: E402
from vjepa_model import Predictor, VisionTransformer, sincos_3d  # noqa: E402
from vjepa_step import jepa_forward  # noqa: E402

FLAG = 1e-3


def build(cfg):
    enc = VisionTransformer(cfg['img_size'], cfg['patch_size'], cfg['num_frames'], cfg['tubelet_size'],
                            cfg['embed_dim'], cfg['depth'], cfg['num_heads'], cfg['mlp_ratio'], 1e-6,
                            cfg['uniform_power'])
    pred = Predictor(cfg['img_size'], cfg['patch_size'], cfg['num_frames'], cfg['tubelet_size'],
                     cfg['embed_dim'], cfg['pred_embed_dim'], cfg['pred_depth'], cfg['num_heads'],
                     cfg['mlp_ratio'], 1e-6, cfg['uniform_power'], cfg['num_mask_tokens'])
    return enc, pred


def run(st, cfg, dtype):
    """One jepa_forward + backward in `dtype`; returns {name: tensor (float64)} keyed like the dump."""
    enc, pred = build(cfg)
    enc.load_state_dict({k[len('encoder.'):]: v for k, v in st.items() if k.startswith('encoder.')}, strict=True)
    pred.load_state_dict({k[len('predictor.'):]: v for k, v in st.items() if k.startswith('predictor.')},
                         strict=True)
    tgt = copy.deepcopy(enc)
    if any(k.startswith('target_encoder.') for k in st):  # differs from the encoder when dumped from a checkpoint
        tgt.load_state_dict({k[len('target_encoder.'):]: v for k, v in st.items() if k.startswith('target_encoder.')},
                            strict=True)
    enc, pred, tgt = enc.to(dtype), pred.to(dtype), tgt.to(dtype)
    for p in tgt.parameters():
        p.requires_grad_(False)
    M = cfg['num_mask_tokens']
    ctx = [st[f'mask.ctx_{i}'].long() for i in range(M)]
    tg = [st[f'mask.tgt_{i}'].long() for i in range(M)]
    x = st['x'].to(dtype)

    rec = {'target': [], 'ctx': [], 'pred': []}
    hooks = []
    for key, mod in (('target', tgt.blocks), ('ctx', enc.blocks), ('pred', pred.predictor_blocks)):
        for b in mod:
            hooks.append(b.register_forward_hook(lambda m, i, o, key=key: rec[key].append(o.detach().double())))
    out = jepa_forward(enc, pred, tgt, x, ctx, tg, cfg['loss_exp'], cfg['reg_coeff'])
    out['loss'].backward()
    for h in hooks:
        h.remove()

    res = {'loss': out['loss'].detach().double().reshape(1),
           'loss_jepa': out['loss_jepa'].detach().double().reshape(1),
           'loss_reg': out['loss_reg'].detach().double().reshape(1),
           'act.h': out['h_full'].double()}
    for i in range(M):
        res[f'act.p_{i}'] = out['p'][i].detach().double()
    D, Dp = cfg['depth'], cfg['pred_depth']
    assert len(rec['target']) == D and len(rec['ctx']) == M * D and len(rec['pred']) == M * Dp
    for j, a in enumerate(rec['target']):
        res[f'act.target.block{j}'] = a
    for j, a in enumerate(rec['ctx']):
        res[f'act.ctx{j // D}.block{j % D}'] = a
    for j, a in enumerate(rec['pred']):
        res[f'act.pred{j // Dp}.block{j % Dp}'] = a
    for prefix, mod in (('encoder', enc), ('predictor', pred)):
        for n, p in mod.named_parameters():
            if p.requires_grad:
                assert p.grad is not None, f'{prefix}.{n} has no gradient'
                res[f'grad.{prefix}.{n}'] = p.grad.double()
    return res


def err(a, ref):
    a, ref = a.double(), ref.double()
    if a.shape != ref.shape:
        raise ValueError(f'shape {tuple(a.shape)} vs {tuple(ref.shape)}')
    ab = (a - ref).abs().max().item()
    mx = ref.abs().max().item()
    return ab, (ab / mx if mx > 0 else (0.0 if ab == 0 else float('inf'))), mx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('path', nargs='?', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'runs',
                                                            'check_step_at_scale', 'step.safetensors'))
    ap.add_argument('--all', action='store_true', help='print every tensor (default: activations, losses, '
                                                        'the 12 worst gradients and anything flagged)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    st, meta = load_safetensors(args.path)
    cfg = json.loads(meta['config'])
    print(f"file: {args.path}\nsource: {meta.get('source')}\nconfig: {cfg}\nours: {meta.get('ours')}")
    M = cfg['num_mask_tokens']
    print('masks: ' + ', '.join(f"ctx_{i} {list(st[f'mask.ctx_{i}'].shape)} tgt_{i} {list(st[f'mask.tgt_{i}'].shape)}"
                                for i in range(M)))
    print(f"x: {list(st['x'].shape)} mean {st['x'].mean().item():.4f} std {st['x'].std().item():.4f}")

    # Our sincos tables against the reference's own (MOD-06) at these widths.
    g = (cfg['num_frames'] // cfg['tubelet_size'], cfg['img_size'] // cfg['patch_size'],
         cfg['img_size'] // cfg['patch_size'])
    for name, dim in (('encoder.pos_embed', cfg['embed_dim']), ('predictor.predictor_pos_embed', cfg['pred_embed_dim'])):
        e = (st[name][0].double() - sincos_3d(dim, *g, uniform_power=cfg['uniform_power']).double()).abs().max().item()
        print(f'{name}: ours vs reference sincos table max abs {e:.2e}' + ('  <-- FLAG' if e > 1e-5 else ''))

    ref64 = run(st, cfg, torch.float64)
    ref32 = run(st, cfg, torch.float32)

    names = [k for k in ref64]
    rows = []
    for k in names:
        if k not in st:
            rows.append((k, None, None, None, None, None))
            continue
        ab, rel, mx = err(st[k], ref64[k])
        _, rel32, _ = err(ref32[k], ref64[k])
        rows.append((k, tuple(ref64[k].shape), mx, ab, rel, rel32))
    missing = [r[0] for r in rows if r[1] is None]
    flagged = [r for r in rows if r[1] is not None and r[4] > FLAG]

    def show(r):
        k, shape, mx, ab, rel, rel32 = r
        flag = '  <-- FLAG' if rel > FLAG else ''
        print(f'{k:52s} {str(list(shape)):16s} {mx:10.3e} {ab:10.3e} {rel:10.3e} {rel32:10.3e}{flag}')

    hdr = f"{'tensor':52s} {'shape':16s} {'max|ref|':>10s} {'abs err':>10s} {'rel err':>10s} {'torch32':>10s}"
    print('\nours (fp32) vs PyTorch fp64; torch32 = PyTorch fp32 vs fp64 (rel)')
    print(hdr)
    grads = [r for r in rows if r[0].startswith('grad.') and r[1] is not None]
    for r in rows:
        if r[1] is None or (r[0].startswith('grad.') and not args.all):
            continue
        show(r)
    if not args.all:
        print(f'\ngradients: {len(grads)} tensors; the 12 worst (relative):')
        print(hdr)
        for r in sorted(grads, key=lambda r: -r[4])[:12]:
            show(r)
    print(f'\nlosses: ours {st["loss"].item():.7f}  torch64 {ref64["loss"].item():.7f}  torch32 {ref32["loss"].item():.7f}')
    for group, pred in (('activations', lambda k: k.startswith('act.')), ('gradients', lambda k: k.startswith('grad.')),
                        ('losses', lambda k: k.startswith('loss'))):
        sel = [r for r in rows if r[1] is not None and pred(r[0])]
        w = max(sel, key=lambda r: r[4])
        w32 = max(sel, key=lambda r: r[5])
        print(f'{group:12s}: {len(sel):3d} tensors, worst rel ours {w[4]:.2e} ({w[0]}), worst rel torch32 {w32[5]:.2e} ({w32[0]})')
    if missing:
        print(f'not in the dump: {missing}')
    print(f'flagged (rel > {FLAG:g}): {len(flagged)}' + ''.join(f'\n  {r[0]} rel {r[4]:.3e}' for r in flagged))
    return 1 if flagged or missing else 0


if __name__ == '__main__':
    sys.exit(main())
