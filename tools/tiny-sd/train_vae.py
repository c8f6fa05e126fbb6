"""Train the AutoencoderKL: reconstruction (MSE + L1) plus a small KL term, then fix scaling_factor."""
import sys
import torch
import torch.nn.functional as F
import common
from autoencoder import AutoencoderKL

STEPS, BATCH, LR, KL_WEIGHT = 2400, 16, 2e-3, 1e-5


def main(steps=STEPS):
    common.setup(1)
    log = common.Log("vae")
    _, images, _ = common.training_set()
    x_all = common.to_tensor(images)
    vae = AutoencoderKL()
    opt = torch.optim.AdamW(vae.parameters(), lr=LR, weight_decay=0.0)
    gen = torch.Generator().manual_seed(common.SEED + 11)
    for step in range(steps):
        lr = LR * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * (1 - step / steps))
        for g in opt.param_groups:
            g["lr"] = lr
        x = x_all[torch.randint(0, len(x_all), (BATCH,), generator=gen)]
        p = vae.latent_parameters(x)
        mean, logvar = p[:, :4], p[:, 4:].clamp(-30, 20)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)
        rec = vae.decode(z)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(dim=(1, 2, 3)).mean()
        loss = F.mse_loss(rec, x) + 0.5 * F.l1_loss(rec, x) + KL_WEIGHT * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step} loss {loss.item():.4f} mse {F.mse_loss(rec, x).item():.4f} kl {kl.item():.1f}")
    with torch.no_grad():
        means = torch.cat([vae.latent_parameters(x_all[i:i + 500])[:, :4] for i in range(0, 4000, 500)])
        scaling = float(1.0 / means.std())
        rec = vae.decode(means[:500])
        mse = F.mse_loss(rec, x_all[:500]).item()
    log(f"done: latent std {means.std().item():.4f} -> scaling_factor {scaling:.5f}; mean-decode mse {mse:.4f}")
    torch.save({"state": vae.state_dict(), "scaling_factor": scaling}, f"{common.BUILD}/vae.pt")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else STEPS)
