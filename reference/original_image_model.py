#!/usr/bin/env python3
"""Record what the ORIGINAL image model computes (num_frames = 1: MOD-02, MOD-06's 2D table, MOD-07's bicubic resize,
MOD-14's FrameAggregation).

    python3 reference/original_image_model.py --jepa-src /path/to/facebookresearch/jepa \
        [--out test/fixtures/original/image_model.safetensors]

Dev-time only. The original repository is imported from --jepa-src; nothing of it is copied here. Its own modules
do the work: `VisionTransformer` and `VisionTransformerPredictor` built with num_frames=1 (the image model), and
`FrameAggregation` (evals/video_classification_frozen/utils.py, what its video probe wraps an image encoder in).
test/model/image.test.ts checks lib/nn/vit.ts and lib/nn/predictor.ts against the file.

Recorded: the encoder's and predictor's state dicts (original names, `encoder.*` / `predictor.*`; the sincos tables
are the original's own, and the test also checks that ours equal them); images at the build size (32 px) and their
tokens; images at 48 and 40 px (the table resized bicubically by the original's single factor sqrt(N1/N0), which
is exact for these square sizes) and their tokens; a masked forward (kept token indices) and the predictor on it;
the gradient of sum(tokens * R) w.r.t. the patch embedding's [D, 3, p, p] weight and bias and block 0's qkv weight
(R random, recorded); and FrameAggregation's tokens for one view of one 3-frame clip ([B, 3*N, D]).

Weights: the original's own init, then every tensor but the fixed tables redrawn at a working scale (matrices
N(0, 1/fan_in), biases N(0, 0.1), LayerNorm weights 1 + N(0, 0.1), mask tokens N(0, 1)). Inputs N(0, 1). CPU,
1 thread, fixed seeds: deterministic. Import stubs as in original_aggregation.py (utils.py imports torchvision,
PIL and cv2 at module level).
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import save_safetensors  # noqa: E402
from original_aggregation import prepare_import  # noqa: E402

MODEL = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_ratio=4.0)
PRED = dict(embed_dim=16, depth=1, num_mask_tokens=2)
B = 2
CTX = [[0, 1, 2, 5, 6, 9, 10, 15], [3, 4, 7, 8, 11, 12, 13, 14]]  # 8 of the 4x4 grid's 16 tokens per image
TGT = [[3, 4, 7, 8], [0, 1, 2, 5]]


def import_original(src):
    prepare_import(src)
    import src.models.vision_transformer as vit  # noqa: E402
    import src.models.predictor as pred  # noqa: E402
    from evals.video_classification_frozen.utils import FrameAggregation  # noqa: E402
    return vit, pred, FrameAggregation


def redraw(module, g):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith('pos_embed'):
                continue
            if 'mask_tokens' in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif p.ndim >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            elif 'norm' in name and name.endswith('weight'):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--jepa-src', required=True)
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'test', 'fixtures', 'original', 'image_model.safetensors'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    vit, pred, FrameAggregation = import_original(args.jepa_src)
    enc = vit.VisionTransformer(num_frames=1, tubelet_size=2, uniform_power=True, **MODEL)
    prd = pred.VisionTransformerPredictor(
        img_size=MODEL['img_size'], patch_size=MODEL['patch_size'], num_frames=1, tubelet_size=2,
        embed_dim=MODEL['embed_dim'], predictor_embed_dim=PRED['embed_dim'], depth=PRED['depth'],
        num_heads=MODEL['num_heads'], uniform_power=True, use_mask_tokens=True,
        num_mask_tokens=PRED['num_mask_tokens'], zero_init_mask_tokens=False)
    assert not enc.is_video and not prd.is_video
    g = torch.Generator().manual_seed(1)
    redraw(enc, g)
    redraw(prd, g)
    enc.eval()
    prd.eval()

    out = {}
    for k, v in enc.state_dict().items():
        out[f'encoder.{k}'] = v
    for k, v in prd.state_dict().items():
        out[f'predictor.{k}'] = v

    x32 = torch.randn(B, 3, 32, 32, generator=g)
    x48 = torch.randn(B, 3, 48, 48, generator=g)
    x40 = torch.randn(B, 3, 40, 40, generator=g)
    clip = torch.randn(B, 3, 3, 32, 32, generator=g)
    with torch.no_grad():
        out['x32'], out['y32'] = x32, enc(x32)
        out['x48'], out['y48'] = x48, enc(x48)
        out['x40'], out['y40'] = x40, enc(x40)
        ctx = torch.tensor(CTX, dtype=torch.int64)
        tgt = torch.tensor(TGT, dtype=torch.int64)
        z = enc(x32, masks=[ctx])
        out['ctx'], out['tgt'], out['y_ctx'] = ctx, tgt, z
        out['pred'] = prd(z, None, [ctx], [tgt], mask_index=1)
        # one segment, one view, as the video probe hands it over (a list over segments of lists over views)
        agg = FrameAggregation(enc)
        out['clip'] = clip
        (out['y_frames'],) = agg([[clip]])

    R = torch.randn(out['y32'].shape, generator=g)
    out['R'] = R
    enc.zero_grad()
    (enc(x32) * R).sum().backward()
    out['grad.patch_embed.proj.weight'] = enc.patch_embed.proj.weight.grad
    out['grad.patch_embed.proj.bias'] = enc.patch_embed.proj.bias.grad
    out['grad.blocks.0.attn.qkv.weight'] = enc.blocks[0].attn.qkv.weight.grad

    out = {k: v.detach().contiguous() for k, v in out.items()}
    for k in ('encoder.patch_embed.proj.weight', 'encoder.pos_embed', 'y48', 'y40', 'y_frames', 'pred'):
        print(k, list(out[k].shape))
    save_safetensors(args.out, out, {'source': 'facebookresearch/jepa, num_frames=1 (image model)'})
    print('wrote', os.path.normpath(args.out))


if __name__ == '__main__':
    main()
