"""Train the text encoder and the UNet together (epsilon prediction, DDPM scaled_linear schedule) on
cached VAE latents; captions are re-drawn every step and dropped 10% of the time (for guidance)."""
import copy
import os
import sys
import numpy as np
import torch
import torch.nn.functional as F
import common
import world
import tokenizer as tok
from autoencoder import AutoencoderKL
from text_encoder import ClipTextModel
from unet import UNet2DCondition

STEPS, BATCH, LR, EMA, DROP = 1600, 32, 1.5e-3, 0.995, 0.1
UNET = dict(widths=(32, 64), heads=2, context_dim=64)
TEXT = dict(dim=64, layers=2, heads=4, mlp=128)
SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")


def alphas_cumprod():
    s = SCHEDULE
    betas = torch.linspace(s["beta_start"] ** 0.5, s["beta_end"] ** 0.5, s["num_train_timesteps"], dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


def build_tokenizer():
    merges = tok.train_merges(world.corpus_words())
    return tok.ClipTokenizer(tok.build_vocab(merges), merges), merges


def encode_latents(vae, x_all):
    with torch.no_grad():
        return torch.cat([vae.latent_parameters(x_all[i:i + 400]) for i in range(0, len(x_all), 400)])


def main(steps=STEPS, resume=False):
    """resume: continue from build/unet.pt (its EMA weights) for `steps` more steps at a third of
    the learning rate, with other seeds; writes build/unet-stage2.pt."""
    common.setup(4 if resume else 3)
    log = common.Log("unet-stage2" if resume else "unet")
    lr0, out = (LR / 3, "unet-stage2.pt") if resume else (LR, "unet.pt")
    scenes, images, _ = common.training_set()
    limit = int(os.environ.get("TINY_SD_LIMIT", len(images)))  # smoke tests only
    scenes, images = scenes[:limit], images[:limit]
    ck = torch.load(f"{common.BUILD}/vae.pt")
    vae = AutoencoderKL()
    vae.load_state_dict(ck["state"])
    scaling = ck["scaling_factor"]
    params = encode_latents(vae, common.to_tensor(images))
    log(f"encoded {len(params)} latents")
    tokenizer, _ = build_tokenizer()
    text = ClipTextModel(len(tokenizer.vocab), **TEXT)
    unet = UNet2DCondition(**UNET)
    if resume:
        start = torch.load(f"{common.BUILD}/unet.pt")
        text.load_state_dict(start["text"])
        unet.load_state_dict(start["unet"])
    ema_text, ema_unet = copy.deepcopy(text), copy.deepcopy(unet)
    trainable = list(text.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(trainable, lr=LR, weight_decay=0.0)
    ac = alphas_cumprod()
    gen = torch.Generator().manual_seed(common.SEED + (33 if resume else 31))
    rng = np.random.default_rng(common.SEED + (34 if resume else 32))
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr0 * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * (1 - step / steps))
        idx = torch.randint(0, len(params), (BATCH,), generator=gen)
        p = params[idx]
        latents = (p[:, :4] + torch.exp(0.5 * p[:, 4:].clamp(-30, 20)) * torch.randn(p[:, :4].shape, generator=gen)) * scaling
        captions = ["" if rng.random() < DROP else world.caption(scenes[i], rng) for i in idx.tolist()]
        ids = torch.tensor([tokenizer.encode(c) for c in captions])
        t = torch.randint(0, 1000, (BATCH,), generator=gen)
        noise = torch.randn(latents.shape, generator=gen)
        a = ac[t][:, None, None, None]
        noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
        context, _ = text(ids)
        loss = F.mse_loss(unet(noisy, t, context), noise)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        with torch.no_grad():
            d = EMA if resume else min(EMA, (1 + step) / (10 + step))
            for m, e in ((text, ema_text), (unet, ema_unet)):
                for pe, pm in zip(e.parameters(), m.parameters()):
                    pe.mul_(d).add_(pm, alpha=1 - d)
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step} loss {loss.item():.4f}")
        if (step + 1) % 500 == 0 or step == steps - 1:
            torch.save({"text": ema_text.state_dict(), "unet": ema_unet.state_dict(), "step": step + 1,
                        "scaling_factor": scaling}, f"{common.BUILD}/{out}")
    log("done")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--resume"]
    main(int(args[0]) if args else STEPS, resume="--resume" in sys.argv)
