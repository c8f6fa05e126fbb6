"""Building blocks shared by the autoencoder and the UNet (diffusers-style, written from scratch)."""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

GROUPS = 8


def norm(ch):
    return nn.GroupNorm(GROUPS, ch, eps=1e-6)


class ResnetBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, (+ projected time embedding), twice; 1x1 shortcut when widths differ."""

    def __init__(self, cin, cout, temb_dim=None):
        super().__init__()
        self.norm1, self.conv1 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_dim, cout) if temb_dim else None
        self.norm2, self.conv2 = norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Attention(nn.Module):
    """Multi-head attention with separate q/k/v projections (diffusers' to_q/to_k/to_v/to_out)."""

    def __init__(self, dim, heads, context_dim=None):
        super().__init__()
        context_dim = context_dim or dim
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x, context=None):
        context = x if context is None else context
        b, n, d = x.shape
        h = self.heads

        def split(t):
            return t.reshape(b, t.shape[1], h, d // h).transpose(1, 2).reshape(b * h, t.shape[1], d // h)

        q, k, v = split(self.to_q(x)), split(self.to_k(context)), split(self.to_v(context))
        w = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * (1.0 / math.sqrt(d // h)), dim=-1)
        o = torch.bmm(w, v).reshape(b, h, n, d // h).transpose(1, 2).reshape(b, n, d)
        return self.to_out(o)


class SpatialSelfAttention(nn.Module):
    """The VAE's mid-block attention: one head over all positions, residual."""

    def __init__(self, ch):
        super().__init__()
        self.group_norm = norm(ch)
        self.attn = Attention(ch, 1)

    def forward(self, x):
        b, c, hh, ww = x.shape
        t = self.group_norm(x).reshape(b, c, hh * ww).transpose(1, 2)
        return x + self.attn(t).transpose(1, 2).reshape(b, c, hh, ww)
