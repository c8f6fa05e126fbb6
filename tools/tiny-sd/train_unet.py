"""Train the text encoder and the UNet together (epsilon prediction, DDPM scaled_linear schedule) on
cached VAE latents; captions are re-drawn every step and dropped 10% of the time (for guidance)."""
import copy
import math
import os
import sys
import time
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
import common
import world
import tokenizer as tok
from autoencoder import AutoencoderKL
from text_encoder import ClipTextModel
from unet import UNet2DCondition

E = os.environ.get
STEPS, BATCH, LR, EMA, DROP = int(E("TSD_STEPS", 4000)), int(E("TSD_BATCH", 32)), float(E("TSD_LR", 2e-3)), 0.995, 0.1
INIT = E("TSD_INIT")
WARMUP, MIN_SNR_GAMMA, SAVE_EVERY = 100, float(E("TSD_SNR", 5.0)), int(E("TSD_SAVE", 500))
PROCS, DDP_PORT = int(E("TSD_PROCS", 2)), int(E("TSD_DDP_PORT", 29517))  # data-parallel processes, one thread each (1 = one process at TINY_SD_THREADS)
DECAY_FROM = int(E("TSD_DECAY_FROM", 3000))  # cosine to zero from this step to the end; 0: constant after warmup
UNET = dict(widths=tuple(int(w) for w in E("TSD_WIDTHS", "32,64").split(",")), heads=2, context_dim=64,
            pos_size=int(E("TSD_POS", 8)))
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


def snr_weights(ac, t):
    """Min-SNR-gamma loss weights for epsilon prediction (Hang et al. 2023): min(SNR, gamma) / SNR."""
    snr = ac[t] / (1 - ac[t])
    return snr.clamp(max=MIN_SNR_GAMMA) / snr if MIN_SNR_GAMMA else torch.ones_like(snr)


def learning_rate(step, steps):
    """Linear warmup, constant, then a cosine to zero over the last steps (from DECAY_FROM). Before
    DECAY_FROM it does not depend on the run length, so runs of any length agree up to there."""
    warm = LR * min(1.0, (step + 1) / WARMUP)
    if not DECAY_FROM or step < DECAY_FROM:
        return warm
    return warm * 0.5 * (1 + math.cos(math.pi * (step - DECAY_FROM) / max(1, steps - DECAY_FROM)))


def main(steps=STEPS, out="unet.pt"):
    """PROCS > 1: data parallel over PROCS processes on this machine (one thread each)."""
    if PROCS == 1:
        return train(0, steps, out)
    import torch.multiprocessing as mp
    mp.spawn(train, args=(steps, out), nprocs=PROCS, join=True)


def train(rank, steps, out):
    """Every process draws the same full batch from the same seeds and trains on its own slice of
    it; the gradients are averaged (gloo all-reduce), so every process takes the same optimizer
    step and the result is the full-batch step up to the order of float sums."""
    if PROCS > 1:
        os.environ["TINY_SD_THREADS"] = "1"
        common.THREADS = 1
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{DDP_PORT}", rank=rank, world_size=PROCS)
    common.setup(3)
    log = common.Log(os.path.splitext(out)[0]) if rank == 0 else (lambda message: None)
    log(f"steps {steps} batch {BATCH} lr {LR} decay-from {DECAY_FROM or '-'} min-snr {MIN_SNR_GAMMA} unet {UNET} text {TEXT} "
        f"threads {common.THREADS} processes {PROCS}")
    mine = slice(rank * BATCH // PROCS, (rank + 1) * BATCH // PROCS)
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
    token_cache = {}

    def encode(caption):  # captions repeat a lot; BPE in Python is slow
        if caption not in token_cache:
            token_cache[caption] = tokenizer.encode(caption)
        return token_cache[caption]

    text = ClipTextModel(len(tokenizer.vocab), **TEXT)
    unet = UNet2DCondition(**UNET)
    if INIT:  # warm start (text encoder + UNet weights; a missing pos_embed stays zero)
        start = torch.load(INIT)
        text.load_state_dict(start["text"])
        log(f"warm start from {INIT}: {unet.load_state_dict(start['unet'], strict=False)}")
    ema_text, ema_unet = copy.deepcopy(text), copy.deepcopy(unet)
    trainable = list(text.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(trainable, lr=LR, weight_decay=0.0)
    ac = alphas_cumprod()
    gen = torch.Generator().manual_seed(common.SEED + 31)
    rng = np.random.default_rng(common.SEED + 32)
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = learning_rate(step, steps)
        idx = torch.randint(0, len(params), (BATCH,), generator=gen)
        p = params[idx]
        latents = (p[:, :4] + torch.exp(0.5 * p[:, 4:].clamp(-30, 20)) * torch.randn(p[:, :4].shape, generator=gen)) * scaling
        captions = ["" if rng.random() < DROP else world.caption(scenes[i], rng) for i in idx.tolist()]
        ids = torch.tensor([encode(c) for c in captions])
        t = torch.randint(0, 1000, (BATCH,), generator=gen)
        noise = torch.randn(latents.shape, generator=gen)
        a = ac[t][:, None, None, None]
        noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
        context, _ = text(ids[mine])
        per_sample = (unet(noisy[mine], t[mine], context) - noise[mine]).pow(2).mean(dim=(1, 2, 3))
        loss = (snr_weights(ac, t[mine]) * per_sample).mean()
        opt.zero_grad()
        loss.backward()
        if PROCS > 1:
            average_gradients(trainable)
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        with torch.no_grad():
            d = min(EMA, (1 + step) / (10 + step))
            for m, e in ((text, ema_text), (unet, ema_unet)):
                for pe, pm in zip(e.parameters(), m.parameters()):
                    pe.mul_(d).add_(pm, alpha=1 - d)
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step} loss {loss.item():.4f} mse {per_sample.mean().item():.4f} cpu {time.process_time():.0f}s")
        if rank == 0 and ((step + 1) % SAVE_EVERY == 0 or step == steps - 1):
            ck = {"text": ema_text.state_dict(), "unet": ema_unet.state_dict(), "step": step + 1, "scaling_factor": scaling}
            torch.save(ck, f"{common.BUILD}/{out}")
            torch.save(ck, f"{common.BUILD}/{os.path.splitext(out)[0]}-step{step + 1}.pt")  # intermediate points
    if PROCS > 1:
        check_replicas_agree(trainable, log)
    log("done")


def average_gradients(tensors):
    """One all-reduce of all gradients, flattened (one message instead of one per tensor)."""
    grads = [t.grad for t in tensors]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= PROCS
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def check_replicas_agree(tensors, log):
    """The processes must have taken identical steps: compare every weight with rank 0's."""
    flat = torch.cat([t.detach().reshape(-1) for t in tensors])
    first = flat.clone()
    dist.broadcast(first, 0)
    diff = (flat - first).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    diff = float(diff)
    log(f"replica weights: max |difference| to rank 0 = {diff}")
    if diff != 0.0:
        raise SystemExit(f"replica weights differ from rank 0 by {diff}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else STEPS, args[1] if len(args) > 1 else "unet.pt")
