"""AutoencoderKL (SD 1.x family), small: 32x32x3 images <-> 8x8x4 latents (downsampling factor 4)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from layers import ResnetBlock, Downsample, Upsample, SpatialSelfAttention, norm

LATENT_CHANNELS = 4


class Encoder(nn.Module):
    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        self.conv_in = nn.Conv2d(3, widths[0], 3, padding=1)
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks += [ResnetBlock(cin, w)]
            if i < len(widths) - 1:
                blocks += [Downsample(w)]
            cin = w
        self.down = nn.Sequential(*blocks)
        self.mid = nn.Sequential(ResnetBlock(cin, cin), SpatialSelfAttention(cin), ResnetBlock(cin, cin))
        self.norm_out, self.conv_out = norm(cin), nn.Conv2d(cin, 2 * LATENT_CHANNELS, 3, padding=1)

    def forward(self, x):
        h = self.mid(self.down(self.conv_in(x)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        w = list(reversed(widths))
        self.conv_in = nn.Conv2d(LATENT_CHANNELS, w[0], 3, padding=1)
        self.mid = nn.Sequential(ResnetBlock(w[0], w[0]), SpatialSelfAttention(w[0]), ResnetBlock(w[0], w[0]))
        blocks, cin = [], w[0]
        for i, c in enumerate(w):
            blocks += [ResnetBlock(cin, c)]
            if i < len(w) - 1:
                blocks += [Upsample(c)]
            cin = c
        self.up = nn.Sequential(*blocks)
        self.norm_out, self.conv_out = norm(cin), nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, z):
        h = self.up(self.mid(self.conv_in(z)))
        return self.conv_out(F.silu(self.norm_out(h)))


class AutoencoderKL(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()
        self.quant_conv = nn.Conv2d(2 * LATENT_CHANNELS, 2 * LATENT_CHANNELS, 1)
        self.post_quant_conv = nn.Conv2d(LATENT_CHANNELS, LATENT_CHANNELS, 1)

    def latent_parameters(self, x):
        """[B,8,h,w]: mean (first 4 channels) and logvar (last 4), as Optimum's vae_encoder output."""
        return self.quant_conv(self.encoder(x))

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


class VaeEncoderExport(nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.latent_parameters(sample)


class VaeDecoderExport(nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample)
