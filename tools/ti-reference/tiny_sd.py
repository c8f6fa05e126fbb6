"""Tiny Stable Diffusion 1.x architecture in plain PyTorch (random weights), for compiler tests.

A CLIP-like text encoder and a UNet2DConditionModel-like UNet with the same building
blocks as SD 1.5 (resnet blocks with GroupNorm/SiLU and time embedding, transformer
blocks with self- and cross-attention and GEGLU, strided-conv downsampling, nearest
upsampling, skip connections), at toy sizes. Not diffusers' code: written from the
architecture description, so export conventions can be varied freely.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class TextConfig:
    def __init__(self, vocab=100, positions=77, hidden=32, heads=2, layers=2, intermediate=64):
        self.vocab, self.positions, self.hidden = vocab, positions, hidden
        self.heads, self.layers, self.intermediate = heads, layers, intermediate


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class TextLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c.heads
        self.ln1, self.ln2 = nn.LayerNorm(c.hidden), nn.LayerNorm(c.hidden)
        self.q, self.k, self.v, self.o = (nn.Linear(c.hidden, c.hidden) for _ in range(4))
        self.fc1, self.fc2, self.act = nn.Linear(c.hidden, c.intermediate), nn.Linear(c.intermediate, c.hidden), QuickGELU()

    def forward(self, x, mask):
        b, n, d = x.shape
        h, hd = self.heads, d // self.heads
        y = self.ln1(x)
        q = (self.q(y) * hd ** -0.5).reshape(b, n, h, hd).transpose(1, 2).reshape(b * h, n, hd)
        k = self.k(y).reshape(b, n, h, hd).transpose(1, 2).reshape(b * h, n, hd)
        v = self.v(y).reshape(b, n, h, hd).transpose(1, 2).reshape(b * h, n, hd)
        w = torch.bmm(q, k.transpose(1, 2)).reshape(b, h, n, n) + mask
        w = w.reshape(b * h, n, n).softmax(dim=-1)
        a = torch.bmm(w, v).reshape(b, h, n, hd).transpose(1, 2).reshape(b, n, d)
        x = x + self.o(a)
        return x + self.fc2(self.act(self.fc1(self.ln2(x))))


class TextEncoder(nn.Module):
    """forward(input_ids) -> (last_hidden_state, pooler_output); forward_embeds for autograd references."""

    def __init__(self, c, cast_ids=False):
        super().__init__()
        self.c, self.cast_ids = c, cast_ids
        self.token = nn.Embedding(c.vocab, c.hidden)
        self.position = nn.Embedding(c.positions, c.hidden)
        self.register_buffer("position_ids", torch.arange(c.positions).unsqueeze(0))
        self.layers = nn.ModuleList(TextLayer(c) for _ in range(c.layers))
        self.final = nn.LayerNorm(c.hidden)

    def forward_embeds(self, embeds, ids):
        n = embeds.shape[1]
        x = embeds + self.position(self.position_ids[:, :n])
        mask = torch.full((n, n), -1e9, dtype=x.dtype).triu(1)[None, None]
        for layer in self.layers:
            x = layer(x, mask)
        x = self.final(x)
        pooled = x[torch.arange(x.shape[0]), ids.to(torch.int64).argmax(dim=-1)]
        return x, pooled

    def forward(self, input_ids):
        ids = input_ids.long() if self.cast_ids else input_ids
        return self.forward_embeds(self.token(ids), ids)


def timestep_embedding(t, dim):
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / half
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(emb), torch.sin(emb)], dim=-1)  # flip_sin_to_cos=True


class Resnet(nn.Module):
    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.n1, self.n2 = nn.GroupNorm(groups, cin), nn.GroupNorm(groups, cout)
        self.c1, self.c2 = nn.Conv2d(cin, cout, 3, padding=1), nn.Conv2d(cout, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.t(F.silu(temb))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    def __init__(self, dim, ctx, heads, style):
        super().__init__()
        self.heads, self.style = heads, style
        self.q, self.k, self.v = nn.Linear(dim, dim, bias=False), nn.Linear(ctx, dim, bias=False), nn.Linear(ctx, dim, bias=False)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        b, n, d = x.shape
        h, hd = self.heads, d // self.heads
        split = lambda t: t.reshape(b, -1, h, hd).permute(0, 2, 1, 3)
        q, k, v = split(self.q(x)), split(self.k(ctx)), split(self.v(ctx))
        if self.style == "einsum":
            w = torch.einsum("bhid,bhjd->bhij", q, k) * hd ** -0.5
            a = torch.einsum("bhij,bhjd->bhid", w.softmax(dim=-1), v)
        elif self.style == "4d":
            a = (q @ k.transpose(-1, -2) * hd ** -0.5).softmax(dim=-1) @ v
        else:  # 3-D batched, as torch 1.x diffusers exports
            q, k, v = (t.reshape(b * h, -1, hd) for t in (q, k, v))
            a = (torch.bmm(q, k.transpose(1, 2)) * hd ** -0.5).softmax(dim=-1)
            a = torch.bmm(a, v).reshape(b, h, n, hd)
        return self.o(a.permute(0, 2, 1, 3).reshape(b, n, d))


class Transformer(nn.Module):
    def __init__(self, ch, ctx, heads, groups, style):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch)
        self.proj_in, self.proj_out = nn.Conv2d(ch, ch, 1), nn.Conv2d(ch, ch, 1)
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(ch), nn.LayerNorm(ch), nn.LayerNorm(ch)
        self.attn1, self.attn2 = Attention(ch, ch, heads, style), Attention(ch, ctx, heads, style)
        self.geglu, self.ff_out = nn.Linear(ch, 8 * ch), nn.Linear(4 * ch, ch)

    def forward(self, x, ctx):
        b, c, hh, ww = x.shape
        r = x
        x = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(b, hh * ww, c)
        x = x + self.attn1(self.ln1(x))
        x = x + self.attn2(self.ln2(x), ctx)
        a, gate = self.geglu(self.ln3(x)).chunk(2, dim=-1)
        x = x + self.ff_out(a * F.gelu(gate))
        x = x.reshape(b, hh, ww, c).permute(0, 3, 1, 2)
        return self.proj_out(x) + r


class UNet(nn.Module):
    """Two resolutions: down (resnet, transformer, downsample) x2, mid, up with skips."""

    def __init__(self, ctx, channels=(8, 16), groups=4, heads=2, style="3d", timestep_scalar=False):
        super().__init__()
        c0, c1 = channels
        self.timestep_scalar, self.temb_in = timestep_scalar, c0
        temb = 4 * c0
        self.t1, self.t2 = nn.Linear(c0, temb), nn.Linear(temb, temb)
        self.conv_in = nn.Conv2d(4, c0, 3, padding=1)
        self.d0r, self.d0t = Resnet(c0, c0, temb, groups), Transformer(c0, ctx, heads, groups, style)
        self.down = nn.Conv2d(c0, c0, 3, stride=2, padding=1)
        self.d1r, self.d1t = Resnet(c0, c1, temb, groups), Transformer(c1, ctx, heads, groups, style)
        self.m1, self.mt, self.m2 = Resnet(c1, c1, temb, groups), Transformer(c1, ctx, heads, groups, style), Resnet(c1, c1, temb, groups)
        self.u1r, self.u1t = Resnet(c1 + c1, c1, temb, groups), Transformer(c1, ctx, heads, groups, style)
        self.up = nn.Conv2d(c1, c1, 3, padding=1)
        self.u0r, self.u0t = Resnet(c1 + c0, c0, temb, groups), Transformer(c0, ctx, heads, groups, style)
        self.norm_out, self.conv_out = nn.GroupNorm(groups, c0), nn.Conv2d(c0, 4, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        t = timestep
        if t.dim() == 0:
            t = t[None]
        t = t.expand(sample.shape[0])
        temb = self.t2(F.silu(self.t1(timestep_embedding(t, self.temb_in).to(sample.dtype))))
        ctx = encoder_hidden_states
        x = self.conv_in(sample)
        s0 = self.d0t(self.d0r(x, temb), ctx)
        x = self.down(s0)
        s1 = self.d1t(self.d1r(x, temb), ctx)
        x = self.m2(self.mt(self.m1(s1, temb), ctx), temb)
        x = self.u1t(self.u1r(torch.cat([x, s1], dim=1), temb), ctx)
        x = self.up(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        x = self.u0t(self.u0r(torch.cat([x, s0], dim=1), temb), ctx)
        return self.conv_out(F.silu(self.norm_out(x)))


class VaeEncoder(nn.Module):
    """AutoencoderKL-like encoder: three stride-2 downsamplings (factor 8), output
    latent_parameters = quant_conv(h) = [mean (4 channels), logvar (4 channels)], as
    recent Optimum exports give it."""

    def __init__(self, ch=8, groups=4, latent=4):
        super().__init__()
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        self.down = nn.ModuleList(nn.Conv2d(ch, ch, 3, stride=2, padding=1) for _ in range(3))
        self.norm, self.conv_out = nn.GroupNorm(groups, ch), nn.Conv2d(ch, 2 * latent, 3, padding=1)
        self.quant_conv = nn.Conv2d(2 * latent, 2 * latent, 1)

    def forward(self, sample):
        h = self.conv_in(sample)
        for conv in self.down:
            h = conv(F.silu(h))
        return self.quant_conv(self.conv_out(F.silu(self.norm(h))))


class VaeDecoder(nn.Module):
    """AutoencoderKL-like decoder: post_quant_conv, three nearest 2x upsamplings, RGB out."""

    def __init__(self, ch=8, groups=4, latent=4):
        super().__init__()
        self.post_quant_conv = nn.Conv2d(latent, latent, 1)
        self.conv_in = nn.Conv2d(latent, ch, 3, padding=1)
        self.up = nn.ModuleList(nn.Conv2d(ch, ch, 3, padding=1) for _ in range(3))
        self.norm, self.conv_out = nn.GroupNorm(groups, ch), nn.Conv2d(ch, 3, 3, padding=1)

    def forward(self, latent_sample):
        h = self.conv_in(self.post_quant_conv(latent_sample))
        for conv in self.up:
            h = F.silu(conv(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        return self.conv_out(F.silu(self.norm(h)))


class ImageEncoder(nn.Module):
    """A scorer stand-in: pixel_values [B, 3, S, S] -> image_embeds [B, 16] (strided convs, mean pool, linear)."""

    def __init__(self, ch=8, dim=16):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, ch, 3, stride=2, padding=1), nn.Conv2d(ch, ch, 3, stride=2, padding=1)])
        self.proj = nn.Linear(ch, dim)

    def forward(self, pixel_values):
        h = pixel_values
        for conv in self.convs:
            h = F.silu(conv(h))
        return self.proj(h.mean(dim=(2, 3)))
