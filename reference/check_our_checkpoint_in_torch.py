"""Check that a vjepa safetensors checkpoint loads into the PyTorch reference with strict=True
and gives the same features as `vjepa-embed` (README.md, "Checkpoint compatibility").

    python3 reference/check_our_checkpoint_in_torch.py            # writes a tiny checkpoint itself
    python3 reference/check_our_checkpoint_in_torch.py --checkpoint runs/pretrain/jepa-latest.safetensors \
        --config configs/pretrain.yaml

Needs torch, numpy, node and a built tree (`npx tsc -p tsconfig.json`). The safetensors package is not
needed: reference/safetensors_io.py reads the file (with it installed, `safetensors.torch.load_file`
returns the same dict). For each section (encoder, target_encoder) the `<section>.` prefix is stripped,
the rest are the original's state-dict names (MOD-15), loaded with strict=True. The predictor section is
loaded strictly into the reference Predictor too. Exit status 1 when anything differs by more than --tol.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from safetensors_io import load_safetensors  # noqa: E402
from vjepa_model import Predictor, VisionTransformer  # noqa: E402

VARIANTS = {  # MOD-04: name -> (embed_dim, depth, num_heads, mlp_ratio)
    'vit_tiny': (192, 12, 3, 4.0), 'vit_small': (384, 12, 6, 4.0), 'vit_base': (768, 12, 12, 4.0),
    'vit_large': (1024, 24, 16, 4.0), 'vit_huge': (1280, 32, 16, 4.0), 'vit_giant': (1408, 40, 16, 48 / 11),
    'vit_gigantic': (1664, 48, 16, 4.0),
}

TINY_YAML = """app: vjepa
data: {crop_size: 32, patch_size: 8, num_frames: 4, tubelet_size: 2, batch_size: 2, num_clips: 1, sampling_rate: 2}
model: {model_name: vit_tiny, embed_dim: 64, depth: 2, num_heads: 2, mlp_ratio: 4.0, pred_depth: 2, pred_embed_dim: 32,
        uniform_power: true}
"""

# Builds a tiny VJepa, makes the target encoder differ from the online one, and saves it with
# saveCheckpoint (lib/train/checkpoint.ts) exactly as vjepa-train does.
WRITE_TINY = """
import { VJepa } from '%(dist)s/lib/nn/vjepa.js';
import { AdamW } from '%(dist)s/lib/optim/adamw.js';
import { saveCheckpoint } from '%(dist)s/lib/train/checkpoint.js';
const model = new VJepa({ modelName: 'vit_tiny', overrides: { embed_dim: 64, depth: 2, num_heads: 2, mlp_ratio: 4 },
  cropSize: 32, patchSize: 8, numFrames: 4, tubeletSize: 2, uniformPower: true, predEmbedDim: 32, predDepth: 2,
  numMaskTokens: 2, zeroInitMaskTokens: true, seed: 3 });
for (const [name, t] of model.targetEncoder.stateDict()) {
  if (name === 'pos_embed') continue;
  model.targetEncoder.setParameter(name, t.toFloat32Array().map((v, i) => v + 0.01 * Math.sin(i + name.length)));
}
saveCheckpoint(process.argv[2], model, new AdamW(model.paramGroups()), { epoch: 0, iteration: 0, loss: 0, lrStep: 0,
  wdStep: 0, emaStep: 0, maskCounters: [0, 0], batchSize: 2, lr: 0.001, config: {} });
"""


def read_yaml(path):
    import yaml
    with open(path) as f:
        raw = yaml.safe_load(f)
    m, d = raw['model'], raw['data']
    D, depth, heads, ratio = VARIANTS[m['model_name']]
    return dict(img_size=d.get('crop_size', 224), patch_size=d['patch_size'], num_frames=d['num_frames'],
                tubelet_size=d['tubelet_size'], embed_dim=m.get('embed_dim') or D, depth=m.get('depth') or depth,
                num_heads=m.get('num_heads') or heads, mlp_ratio=m.get('mlp_ratio') or ratio,
                uniform_power=m.get('uniform_power', True), pred_embed_dim=m.get('pred_embed_dim'),
                pred_depth=m.get('pred_depth'))


def section(tensors, name):
    p = name + '.'
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


def run_cli(args):
    r = subprocess.run(['node', os.path.join(ROOT, 'dist/bin/vjepa-embed.js'), *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f'vjepa-embed failed: {r.stderr.strip()}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--checkpoint', help='our safetensors checkpoint (default: write a tiny one)')
    ap.add_argument('--config', help='its pretraining YAML (required with --checkpoint)')
    ap.add_argument('--tol', type=float, default=1e-4, help='max error relative to the largest |reference|')
    a = ap.parse_args()
    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix='vjepa-torch-check-')
    if a.checkpoint:
        if not a.config:
            ap.error('--config is required with --checkpoint')
        ckpt, cfg_path = a.checkpoint, a.config
    else:
        ckpt, cfg_path = os.path.join(tmp, 'tiny.safetensors'), os.path.join(tmp, 'tiny.yaml')
        with open(cfg_path, 'w') as f:
            f.write(TINY_YAML)
        prog = os.path.join(tmp, 'write.mjs')
        with open(prog, 'w') as f:
            f.write(WRITE_TINY % {'dist': os.path.join(ROOT, 'dist')})
        subprocess.run(['node', prog, ckpt], check=True)
    cfg = read_yaml(cfg_path)
    tensors, meta = load_safetensors(ckpt)
    print(f'{ckpt}: format {meta.get("format")}, {len(tensors)} tensors')

    g = torch.Generator().manual_seed(0)
    T, S = cfg['num_frames'], cfg['img_size']
    inputs = {
        'build size': torch.randn(2, 3, T, S, S, generator=g),
        # other clip length and size: MOD-07 position-table resize on both sides
        'other size': torch.randn(1, 3, T + 2 * cfg['tubelet_size'], S + cfg['patch_size'], S + cfg['patch_size'], generator=g),
    }
    worst = 0.0
    for key in ('target_encoder', 'encoder'):
        sd = section(tensors, key)
        enc = VisionTransformer(cfg['img_size'], cfg['patch_size'], cfg['num_frames'], cfg['tubelet_size'], cfg['embed_dim'],
                                cfg['depth'], cfg['num_heads'], cfg['mlp_ratio'], uniform_power=cfg['uniform_power']).eval()
        enc.load_state_dict(sd, strict=True)  # raises on any missing / unexpected / mis-shaped key
        for name, x in inputs.items():
            xp, fp = os.path.join(tmp, 'x.npy'), os.path.join(tmp, 'f.npy')
            np.save(xp, x.numpy())
            run_cli(['--checkpoint', ckpt, '--key', key, '--config', cfg_path, '--input', xp, '--out', fp, '--quiet'])
            ours = torch.from_numpy(np.load(fp))
            with torch.no_grad():
                want = enc(x)
            err = ((ours - want).abs().max() / want.abs().max()).item()
            worst = max(worst, err)
            print(f'  {key:15s} {name:10s} {list(x.shape)} -> {list(want.shape)}: strict load ok, rel. error {err:.2e}')
    if cfg['pred_embed_dim'] and any(k.startswith('predictor.') for k in tensors):
        pred = Predictor(cfg['img_size'], cfg['patch_size'], cfg['num_frames'], cfg['tubelet_size'], cfg['embed_dim'],
                         cfg['pred_embed_dim'], cfg['pred_depth'], cfg['num_heads'], cfg['mlp_ratio'],
                         uniform_power=cfg['uniform_power'],
                         num_mask_tokens=len({k.split('.')[2] for k in tensors if k.startswith('predictor.mask_tokens.')}))
        pred.load_state_dict(section(tensors, 'predictor'), strict=True)
        print('  predictor: strict load ok')
    shutil.rmtree(tmp, ignore_errors=True)
    ok = worst <= a.tol
    print(json.dumps({'checkpoint': ckpt, 'max_rel_error': worst, 'tol': a.tol, 'ok': ok}))
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
