"""UNet2DConditionModel family, small: epsilon prediction on 4x8x8 latents with cross-attention."""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from layers import ResnetBlock, Downsample, Upsample, Attention, norm


def timestep_embedding(t, dim):
    """Sinusoidal embedding as diffusers' Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, context_dim):
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm2, self.attn2 = nn.LayerNorm(dim), Attention(dim, heads, context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(GEGLU(dim, dim * 4), nn.Linear(dim * 4, dim))

    def forward(self, x, context):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class Transformer2D(nn.Module):
    def __init__(self, ch, heads, context_dim):
        super().__init__()
        self.norm = norm(ch)
        self.proj_in = nn.Linear(ch, ch)
        self.block = BasicTransformerBlock(ch, heads, context_dim)
        self.proj_out = nn.Linear(ch, ch)

    def forward(self, x, context):
        b, c, h, w = x.shape
        t = self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
        t = self.proj_out(self.block(self.proj_in(t), context))
        return x + t.reshape(b, h, w, c).permute(0, 3, 1, 2)


class UNet2DCondition(nn.Module):
    def __init__(self, widths=(64, 96), context_dim=64, heads=4, layers_per_block=1, in_ch=4, pos_size=0):
        super().__init__()
        # optional learned positional bias added after conv_in (pos_size x pos_size latents only):
        # attention has no positional encoding, so without it only zero padding tells where a pixel is
        self.pos_embed = nn.Parameter(torch.zeros(1, widths[0], pos_size, pos_size)) if pos_size else None
        self.widths = widths
        temb = widths[0] * 4
        self.time_dim = widths[0]
        self.time_embedding = nn.Sequential(nn.Linear(widths[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_ch, widths[0], 3, padding=1)
        # down path: every resnet (+attention) output and every downsample output is a skip
        self.down, skip_ch, cin = nn.ModuleList(), [widths[0]], widths[0]
        for i, w in enumerate(widths):
            for _ in range(layers_per_block):
                self.down.append(nn.ModuleList([ResnetBlock(cin, w, temb), Transformer2D(w, heads, context_dim)]))
                skip_ch.append(w)
                cin = w
            if i < len(widths) - 1:
                self.down.append(Downsample(w))
                skip_ch.append(w)
        self.mid = nn.ModuleList([ResnetBlock(cin, cin, temb), Transformer2D(cin, heads, context_dim),
                                  ResnetBlock(cin, cin, temb)])
        self.up = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            for _ in range(layers_per_block + 1):
                self.up.append(nn.ModuleList([ResnetBlock(cin + skip_ch.pop(), w, temb),
                                              Transformer2D(w, heads, context_dim)]))
                cin = w
            if i > 0:
                self.up.append(Upsample(w))
        self.conv_norm_out, self.conv_out = norm(cin), nn.Conv2d(cin, in_ch, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        emb = self.time_embedding(timestep_embedding(timestep, self.time_dim))
        h = self.conv_in(sample)
        if self.pos_embed is not None:
            h = h + self.pos_embed
        skips = [h]
        for m in self.down:
            if isinstance(m, Downsample):
                h = m(h)
            else:
                h = m[1](m[0](h, emb), encoder_hidden_states)
            skips.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, emb), encoder_hidden_states), emb)
        for m in self.up:
            if isinstance(m, Upsample):
                h = m(h)
            else:
                h = m[1](m[0](torch.cat([h, skips.pop()], dim=1), emb), encoder_hidden_states)
        return self.conv_out(F.silu(self.conv_norm_out(h)))
