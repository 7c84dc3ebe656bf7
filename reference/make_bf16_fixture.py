"""Write test/fixtures/parity/vjepa_tiny_bf16.safetensors: step 0 of the parity fixture's tiny
V-JEPA (same weights, clip and masks, read from vjepa_tiny.safetensors) under vjepa's bf16 mixed
precision, emulated in PyTorch. The scheme (lib/ops/autocast.ts) is:

  every nn.Linear and the tubelet patch embedding compute  y = r(x) r(W)^T + b  in fp32, where
  r() rounds to bfloat16 (nearest even); their backward uses r(dy) for dx = r(dy) r(W) and
  dW = r(dy)^T r(x), and the unrounded dy for db. The two whose output is bf16 (qkv, fc1) add
  r(b) instead of b, as torch.autocast does (db still the unrounded sum). The MLP's GELU runs
  on r(pre), forward and backward (fc1's output and the saved pre-activation are bf16), and its
  backward reads r(g): fc2's input gradient is written in bf16, as torch.autocast's is. So are the
  input gradients of the GEMMs that read a norm's output (qkv, fc1, the predictor's proj): r(dx)
  goes to layernorm's backward. Attention
  takes r(q), r(k), r(v) (the qkv projection emits bf16) and returns r(O), computed in fp32; its
  backward is the flash algebra of our kernels, D = rowsum(dO * r(O)), and passes gradients
  straight through the roundings. Everything else (layernorm, residual stream, losses) is fp32.

The test (test/train/mixed-precision.test.ts) runs our forward and backward under
autocast('bfloat16') on the CPU and compares loss and every gradient. For context the file also
records the fp32 loss and what torch.autocast(bfloat16) gives (it rounds more: linear outputs and
attention are bf16 there).

    python3 reference/make_bf16_fixture.py
"""
import collections
import copy
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_parity_fixture import CFG, TRAIN, build_models  # noqa: E402
from safetensors_io import load_safetensors, save_safetensors  # noqa: E402
import vjepa_model  # noqa: E402
from vjepa_step import jepa_forward  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', 'test', 'fixtures', 'parity')


def r(t):
    return t.to(torch.bfloat16).to(torch.float32)


def rb(b):
    """r(b) in the forward, the gradient straight through to the fp32 bias."""
    return None if b is None else b + (r(b) - b).detach()


class Bf16Gemm(torch.autograd.Function):
    """y = r(x) r(w)^T + b over the last dim of x; round_dx: x's gradient is written in bf16."""

    @staticmethod
    def forward(ctx, x, w, b, round_dx=False):
        xr, wr = r(x), r(w)
        ctx.save_for_backward(xr, wr)
        ctx.has_bias = b is not None
        ctx.round_dx = round_dx
        y = xr @ wr.t()
        return y + b if b is not None else y

    @staticmethod
    def backward(ctx, g):
        xr, wr = ctx.saved_tensors
        gr = r(g)
        g2, x2 = gr.reshape(-1, gr.shape[-1]), xr.reshape(-1, xr.shape[-1])
        gb = g.reshape(-1, g.shape[-1]).sum(0) if ctx.has_bias else None
        dx = gr @ wr
        return r(dx) if ctx.round_dx else dx, g2.t() @ x2, gb, None


class GeluSavedBf16(torch.autograd.Function):
    """gelu(r(x)) forward; backward evaluates gelu' at r(x) on r(g) (fc2's dX, which is bf16)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(r(x))
        return torch.nn.functional.gelu(r(x))

    @staticmethod
    def backward(ctx, g):
        (xr,) = ctx.saved_tensors
        with torch.enable_grad():
            t = xr.detach().requires_grad_(True)
            (d,) = torch.autograd.grad(torch.nn.functional.gelu(t), t, r(g))
        return d


class AttentionBf16(torch.autograd.Function):
    """softmax(r(q) r(k)^T / sqrt(hd)) r(v), returned rounded; backward as our kernels compute it."""

    @staticmethod
    def forward(ctx, q, k, v):
        qr, kr, vr = r(q), r(k), r(v)
        scale = q.shape[-1] ** -0.5
        p = torch.softmax(qr @ kr.transpose(-2, -1) * scale, dim=-1)
        o = r(p @ vr)
        ctx.save_for_backward(qr, kr, vr, p, o)
        ctx.scale = scale
        return o

    @staticmethod
    def backward(ctx, do):
        qr, kr, vr, p, o = ctx.saved_tensors
        dv = p.transpose(-2, -1) @ do
        dp = do @ vr.transpose(-2, -1)
        ds = p * (dp - (do * o).sum(-1, keepdim=True))
        return ds @ kr * ctx.scale, ds.transpose(-2, -1) @ qr * ctx.scale, dv


def sdpa_bf16(q, k, v, *args, **kwargs):
    assert not args and not kwargs, 'the model calls SDPA with q, k, v only'
    return AttentionBf16.apply(q, k, v)


def mlp_bf16(self, x):
    pre = Bf16Gemm.apply(x, self.fc1.weight, rb(self.fc1.bias), True)
    return self.fc2(GeluSavedBf16.apply(pre))


def linear_bf16(self, x):
    # the qkv projection's output is bf16 (it only feeds attention): its bias is rounded; qkv and the
    # predictor's proj read a norm's output, whose gradient they write in bf16
    return Bf16Gemm.apply(x, self.weight, rb(self.bias) if getattr(self, 'bf16_output', False) else self.bias,
                          getattr(self, 'bf16_dx', False))


def patch_embed_bf16(self, x):
    t, p = self.proj.kernel_size[0], self.proj.kernel_size[1]
    b, c = x.shape[:2]
    u = x.unfold(2, t, t).unfold(3, p, p).unfold(4, p, p)  # [B, C, T', H', W', t, p, p]
    patches = u.permute(0, 2, 3, 4, 1, 5, 6, 7).reshape(b, -1, c * t * p * p)  # tokens (d, h, w); cols (c, dt, dy, dx)
    return Bf16Gemm.apply(patches, self.proj.weight.reshape(self.proj.weight.shape[0], -1), self.proj.bias)


def models_from_fixture(tensors):
    enc, pred = build_models()
    enc.load_state_dict({k[len('encoder.'):]: v for k, v in tensors.items() if k.startswith('encoder.')})
    pred.load_state_dict({k[len('predictor.'):]: v for k, v in tensors.items() if k.startswith('predictor.')})
    tgt = copy.deepcopy(enc)
    for q in tgt.parameters():
        q.requires_grad_(False)
    return enc, pred, tgt


def step0(tensors, mode):
    enc, pred, tgt = models_from_fixture(tensors)
    x = tensors['x']
    ctx = [tensors['mask.ctx_0'].long(), tensors['mask.ctx_1'].long()]
    tg = [tensors['mask.tgt_0'].long(), tensors['mask.tgt_1'].long()]
    saved = (nn.Linear.forward, vjepa_model.PatchEmbed3D.forward, vjepa_model.MLP.forward,
             vjepa_model.F.scaled_dot_product_attention)
    try:
        if mode == 'ours':
            for m in [*enc.modules(), *pred.modules(), *tgt.modules()]:
                if isinstance(m, vjepa_model.Attention):
                    m.qkv.bf16_output = True
                    m.qkv.bf16_dx = True
            pred.predictor_proj.bf16_dx = True
            nn.Linear.forward = linear_bf16
            vjepa_model.PatchEmbed3D.forward = patch_embed_bf16
            vjepa_model.MLP.forward = mlp_bf16
            vjepa_model.F.scaled_dot_product_attention = sdpa_bf16
        if mode == 'torch_autocast':
            with torch.autocast('cpu', dtype=torch.bfloat16):
                out = jepa_forward(enc, pred, tgt, x, ctx, tg, TRAIN['loss_exp'], TRAIN['reg_coeff'])
        else:
            out = jepa_forward(enc, pred, tgt, x, ctx, tg, TRAIN['loss_exp'], TRAIN['reg_coeff'])
        out['loss'].backward()
    finally:
        (nn.Linear.forward, vjepa_model.PatchEmbed3D.forward, vjepa_model.MLP.forward,
         vjepa_model.F.scaled_dot_product_attention) = saved
    grads = {f'encoder.{n}': q.grad for n, q in enc.named_parameters() if q.grad is not None}
    grads.update({f'predictor.{n}': q.grad for n, q in pred.named_parameters() if q.grad is not None})
    return out, grads


def main():
    torch.set_num_threads(1)
    tensors, _ = load_safetensors(os.path.join(FIXTURES, 'vjepa_tiny.safetensors'))
    ours, grads = step0(tensors, 'ours')
    fp32, grads32 = step0(tensors, 'fp32')
    auto, _ = step0(tensors, 'torch_autocast')
    assert abs(fp32['loss'].item() - tensors['step0.loss'].item()) < 1e-6, 'fp32 replay differs from the fixture'
    out = collections.OrderedDict()
    for k in ('loss', 'loss_jepa', 'loss_reg'):
        out[f'bf16.{k}'] = ours[k].detach().float().reshape(1)
    for k, v in grads.items():
        out[f'bf16.grad.{k}'] = v
    info = {'scheme': 'bf16 GEMM operands (linear, patch embed), bf16 bias for the bf16 outputs (qkv, fc1), '
                      'GELU forward and backward on the bf16 pre-activation and a bf16 input gradient, '
                      'bf16 input gradients into the norms (qkv, fc1, predictor proj), '
                      'attention on bf16 q, k, v with a bf16 output, fp32 residual stream and everything else',
            'loss_bf16': ours['loss'].item(), 'loss_fp32': fp32['loss'].item(),
            'loss_torch_autocast_bf16': auto['loss'].item(),
            'max_grad_rel_diff_bf16_vs_fp32': max(
                ((grads[k] - grads32[k]).abs().max() / grads32[k].abs().max().clamp_min(1e-30)).item() for k in grads)}
    path = os.path.join(FIXTURES, 'vjepa_tiny_bf16.safetensors')
    save_safetensors(path, out, {'config': json.dumps(CFG), 'info': json.dumps(info)})
    print(json.dumps(info, indent=1))
    print(f'{path}: {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    main()
