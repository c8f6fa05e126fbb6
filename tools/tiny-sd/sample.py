"""DDIM sampling with classifier-free guidance from the trained checkpoints (PyTorch, for evaluation)."""
import torch
import common
from autoencoder import AutoencoderKL
from text_encoder import ClipTextModel
from unet import UNet2DCondition
import train_unet


class Pipeline:
    def __init__(self):
        ck = torch.load(common.unet_checkpoint())
        self.tokenizer, _ = train_unet.build_tokenizer()
        self.text = ClipTextModel(len(self.tokenizer.vocab), **train_unet.TEXT).eval()
        self.text.load_state_dict(ck["text"])
        self.unet = UNet2DCondition(**train_unet.UNET).eval()
        self.unet.load_state_dict(ck["unet"])
        vk = torch.load(f"{common.BUILD}/vae.pt")
        self.vae = AutoencoderKL().eval()
        self.vae.load_state_dict(vk["state"])
        self.scaling = vk["scaling_factor"]
        self.ac = train_unet.alphas_cumprod()

    @torch.no_grad()
    def encode_text(self, prompts):
        return self.text(torch.tensor([self.tokenizer.encode(p) for p in prompts]))[0]

    @torch.no_grad()
    def __call__(self, prompts, seed, steps=25, guidance=4.0):
        """DDIM (eta 0), 'leading' timestep spacing with steps_offset 1, final alpha = alphas_cumprod[0]."""
        n = len(prompts)
        cond, uncond = self.encode_text(prompts), self.encode_text([""] * n)
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((n, 4, 8, 8), generator=gen)
        ts = [i * (1000 // steps) + 1 for i in range(steps)][::-1]
        for k, t in enumerate(ts):
            tt = torch.full((2 * n,), t, dtype=torch.long)
            e_u, e_c = self.unet(torch.cat([x, x]), tt, torch.cat([uncond, cond])).chunk(2)
            eps = e_u + guidance * (e_c - e_u)
            a = self.ac[t]
            a_prev = self.ac[ts[k + 1]] if k + 1 < len(ts) else self.ac[0]
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        return self.vae.decode(x / self.scaling).clamp(-1, 1)

    def batched(self, prompts, seed, batch=50, **kw):
        return torch.cat([self(prompts[i:i + batch], seed + i, **kw) for i in range(0, len(prompts), batch)])
