"""Compact PyTorch reference of the V-JEPA model pieces (spec section 1, MOD-*).

Written from /work/shared/spec/vjepa-reference-behaviour.md only. Parameter names follow
MOD-15 so state dicts load into / from the official layout (minus the 'module.backbone.' prefix).
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

INIT_STD = 0.02


def trunc_normal_(t, std=INIT_STD):
    # Absolute bounds +-2 (not +-2 sigma): at std 0.02 this is effectively a plain normal.
    return nn.init.trunc_normal_(t, mean=0.0, std=std, a=-2.0, b=2.0)


# ---------------------------------------------------------------- MOD-06 sincos tables

def sincos_1d(dim, pos):
    """[len(pos), dim] float64: all sines first, then all cosines; raw integer positions."""
    assert dim % 2 == 0, f'sincos_1d: dim must be even, got {dim}'
    m = dim // 2
    omega = 1.0 / 10000.0 ** (np.arange(m, dtype=np.float64) / m)
    ang = np.asarray(pos, dtype=np.float64).reshape(-1)[:, None] * omega[None, :]
    return np.concatenate([np.sin(ang), np.cos(ang)], axis=1)


def sincos_3d_widths(dim, uniform_power):
    if uniform_power:
        w = 2 * int(math.ceil(dim / 6))
        return w, w, w
    return dim // 2, dim // 4, dim // 4


def sincos_3d(dim, grid_t, grid_h, grid_w, uniform_power=True):
    """[N, dim] float32 table in token order k = d*H'*W' + h*W' + w (time, height, width blocks)."""
    dt, dh, dw = sincos_3d_widths(dim, uniform_power)
    d, h, w = np.meshgrid(np.arange(grid_t), np.arange(grid_h), np.arange(grid_w), indexing='ij')
    table = np.concatenate([sincos_1d(dt, d), sincos_1d(dh, h), sincos_1d(dw, w)], axis=1)
    return torch.from_numpy(table[:, :dim].astype(np.float32))  # truncation quirk (MOD-06)


def interpolate_pos_3d(pos, grid0, grid1):
    """MOD-07: trilinear resize of a [1, N0, D] table from grid0=(T0,H0,W0) to grid1, align_corners off.
    The target size is given exactly (no float scale factor), so the sampling ratio is in/out."""
    if tuple(grid0) == tuple(grid1):
        return pos
    d = pos.shape[-1]
    t0, h0, w0 = grid0
    vol = pos.reshape(1, t0, h0, w0, d).permute(0, 4, 1, 2, 3)
    vol = F.interpolate(vol, size=tuple(grid1), mode='trilinear', align_corners=False)
    return vol.permute(0, 2, 3, 4, 1).reshape(1, -1, d)


# ---------------------------------------------------------------- MOD-06 helpers

def gather_tokens(x, idx):
    """x [B, N, D], idx [B, K] int -> [B, K, D] (MASK-06 gather-by-mask)."""
    return torch.gather(x, 1, idx.long().unsqueeze(-1).expand(-1, -1, x.shape[-1]))


# ---------------------------------------------------------------- MOD-01 / MOD-03

class PatchEmbed3D(nn.Module):
    def __init__(self, patch_size, tubelet_size, in_chans, dim):
        super().__init__()
        k = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, dim, kernel_size=k, stride=k, bias=True)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, D, T', H', W'] -> [B, N, D]


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        assert dim % heads == 0
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x):
        b, n, d = x.shape
        # fused output laid out [which][head][head_dim]
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # scale 1/sqrt(head_dim)
        return self.proj(y.transpose(1, 2).reshape(b, n, d))


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact erf GELU


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0, eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


# ---------------------------------------------------------------- MOD-04 / MOD-08 encoder

class VisionTransformer(nn.Module):
    def __init__(self, img_size, patch_size, num_frames, tubelet_size, embed_dim, depth, num_heads,
                 mlp_ratio=4.0, eps=1e-6, uniform_power=True):
        super().__init__()
        self.img_size, self.patch_size = img_size, patch_size
        self.num_frames, self.tubelet_size = num_frames, tubelet_size
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.uniform_power = uniform_power
        self.grid = (num_frames // tubelet_size, img_size // patch_size, img_size // patch_size)
        n = self.grid[0] * self.grid[1] * self.grid[2]
        self.patch_embed = PatchEmbed3D(patch_size, tubelet_size, 3, embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, n, embed_dim), requires_grad=False)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=eps)
        with torch.no_grad():
            self.pos_embed.copy_(sincos_3d(embed_dim, *self.grid, uniform_power=uniform_power)[None])

    def grid_of(self, x):
        _, _, t, h, w = x.shape
        return (t // self.tubelet_size, h // self.patch_size, w // self.patch_size)

    def forward(self, x, masks=None):
        if masks is not None and not isinstance(masks, (list, tuple)):
            masks = [masks]
        pos = interpolate_pos_3d(self.pos_embed, self.grid, self.grid_of(x))
        x = self.patch_embed(x) + pos  # position added to all tokens before masking
        if masks is not None:
            x = torch.cat([gather_tokens(x, m) for m in masks], dim=0)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


# ---------------------------------------------------------------- MOD-10 predictor

class Predictor(nn.Module):
    def __init__(self, img_size, patch_size, num_frames, tubelet_size, embed_dim, pred_embed_dim, depth,
                 num_heads, mlp_ratio=4.0, eps=1e-6, uniform_power=True, num_mask_tokens=2):
        super().__init__()
        self.grid = (num_frames // tubelet_size, img_size // patch_size, img_size // patch_size)
        n = self.grid[0] * self.grid[1] * self.grid[2]
        self.predictor_embed = nn.Linear(embed_dim, pred_embed_dim, bias=True)
        self.mask_tokens = nn.ParameterList(
            [nn.Parameter(torch.zeros(1, 1, pred_embed_dim)) for _ in range(num_mask_tokens)])
        self.predictor_pos_embed = nn.Parameter(torch.zeros(1, n, pred_embed_dim), requires_grad=False)
        self.predictor_blocks = nn.ModuleList(
            [Block(pred_embed_dim, num_heads, mlp_ratio, eps) for _ in range(depth)])
        self.predictor_norm = nn.LayerNorm(pred_embed_dim, eps=eps)
        self.predictor_proj = nn.Linear(pred_embed_dim, embed_dim, bias=True)
        with torch.no_grad():
            self.predictor_pos_embed.copy_(
                sincos_3d(pred_embed_dim, *self.grid, uniform_power=uniform_power)[None])

    def forward(self, z, ctx, tgt, mask_index):
        b, kc, _ = z.shape
        kt = tgt.shape[1]
        pos = self.predictor_pos_embed.expand(b, -1, -1)
        x = self.predictor_embed(z) + gather_tokens(pos, ctx)
        tok = self.mask_tokens[mask_index % len(self.mask_tokens)]
        q = tok.expand(b, kt, -1) + gather_tokens(pos, tgt)
        x = torch.cat([x, q], dim=1)  # context first, then targets
        for blk in self.predictor_blocks:
            x = blk(x)
        x = self.predictor_norm(x)[:, kc:]
        return self.predictor_proj(x)


# ---------------------------------------------------------------- MOD-13 probe head

class CrossAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=True)
        self.kv = nn.Linear(dim, 2 * dim, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, q, x):
        b, nq, d = q.shape
        n = x.shape[1]
        hd = d // self.heads
        q = self.q(q).reshape(b, nq, self.heads, hd).transpose(1, 2)
        kv = self.kv(x).reshape(b, n, 2, self.heads, hd).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, kv[0], kv[1])
        # MOD-13 lists an output projection, but the original's code never applies self.proj (a commit that
        # did was reverted: it broke the released probes). It stays a parameter, for the state-dict layout.
        return y.transpose(1, 2).reshape(b, nq, d)


class CrossAttentionBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0, eps=1e-5):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.xattn = CrossAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(self, q, x):
        q = q + self.xattn(q, self.norm1(x))  # queries are NOT normed
        return q + self.mlp(self.norm2(q))


class AttentivePooler(nn.Module):
    def __init__(self, dim, heads, num_queries=1, depth=1, mlp_ratio=4.0, eps=1e-5):
        super().__init__()
        self.query_tokens = nn.Parameter(torch.zeros(1, num_queries, dim))
        self.cross_attention_block = CrossAttentionBlock(dim, heads, mlp_ratio, eps)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio, eps) for _ in range(depth - 1)])
        # Init (MOD-13): everything trunc-normal / LN(1,0), then the depth rescale, which stays live here.
        trunc_normal_(self.query_tokens)
        self.apply(init_linear_ln)
        with torch.no_grad():
            self.cross_attention_block.xattn.proj.weight.div_(math.sqrt(2.0 * 1))
            self.cross_attention_block.mlp.fc2.weight.div_(math.sqrt(2.0 * 1))
            for i, blk in enumerate(self.blocks):
                blk.attn.proj.weight.div_(math.sqrt(2.0 * (i + 2)))
                blk.mlp.fc2.weight.div_(math.sqrt(2.0 * (i + 2)))

    def forward(self, x):
        q = self.query_tokens.expand(x.shape[0], -1, -1)
        q = self.cross_attention_block(q, x)
        for blk in self.blocks:
            q = blk(q)
        return q


class AttentiveClassifier(nn.Module):
    def __init__(self, dim, heads, num_classes, depth=1):
        super().__init__()
        self.pooler = AttentivePooler(dim, heads, num_queries=1, depth=depth)
        self.linear = nn.Linear(dim, num_classes, bias=True)  # framework default init (uniform), MOD-13

    def forward(self, x):
        return self.linear(self.pooler(x).squeeze(1))


# ---------------------------------------------------------------- MOD-05 effective init

def init_linear_ln(m):
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def init_pretrain_(encoder, predictor):
    """Effective pretraining init (MOD-05): every Linear N(0, 0.02^2) with zero bias (no depth
    rescale: the factory re-init undoes it), LN (1, 0), Conv3d N(0, 0.02^2) + zero bias,
    zero mask tokens, sincos tables already filled by the constructors."""
    with torch.no_grad():
        for mod in (encoder, predictor):
            for m in mod.modules():
                if isinstance(m, (nn.Conv3d, nn.Conv2d)):
                    trunc_normal_(m.weight)
                    nn.init.zeros_(m.bias)
                init_linear_ln(m)
        for tok in predictor.mask_tokens:
            tok.zero_()
