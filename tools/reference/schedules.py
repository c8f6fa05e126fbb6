"""Reference noise schedules from PyTorch, for test/core/schedule/*.test.ts.

Run by hand with Debian's torch 1.13 (never by CI):
    /usr/bin/python3 tools/reference/schedules.py
Writes test/fixtures/schedules.safetensors.

diffusers is not installable here, so this script restates, in torch float32 on CPU, what
diffusers' DDPMScheduler/DDIMScheduler do (src/diffusers/schedulers/scheduling_ddpm.py):
betas by beta_schedule, alphas_cumprod = cumprod(1 - betas), add_noise and get_velocity.
For each case <name> the fixture holds:
  <name>/betas, <name>/alphas_cumprod   [N]
  <name>/timesteps                      [B] int64
  <name>/noisy                          [B, 4, 4, 4]  add_noise(latents, noise, timesteps)
  <name>/velocity                       [B, 4, 4, 4]  get_velocity(latents, noise, timesteps)
and the shared inputs latents, noise [B, 4, 4, 4]. The metadata "cases" holds each case's
scheduler_config.json as JSON. Also linspace/<n>: torch.linspace(LINSPACE_START, LINSPACE_END,
n, dtype=float32) for small n around torch's 16-value vector blocks.
"""
import json
import math
import os

import numpy as np
import torch

from safetensors_writer import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "schedules.safetensors")
SHAPE = (6, 4, 4, 4)
LINSPACE_START, LINSPACE_END = 0.029, 0.1095
LINSPACE_SIZES = [2, 3, 15, 16, 17, 31, 32, 33, 48, 49]

SD15 = {  # stable-diffusion-v1-5 scheduler/scheduler_config.json
    "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
    "steps_offset": 1, "trained_betas": None, "clip_sample": False,
}
SD21V = {  # stable-diffusion-2-1 (768, v) scheduler/scheduler_config.json
    "_class_name": "DDIMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "v_prediction",
    "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
}
CASES = {
    "sd15": SD15,
    "sd21v": SD21V,
    "ddpm_linear": {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02, "num_train_timesteps": 1000},
    "cosine": {"beta_schedule": "squaredcos_cap_v2", "num_train_timesteps": 1000, "prediction_type": "v_prediction"},
    "linear_999": {"beta_schedule": "linear", "beta_start": 0.0005, "beta_end": 0.03, "num_train_timesteps": 999,
                   "prediction_type": "v_prediction", "timestep_spacing": "trailing"},
    "scaled_77": {"beta_schedule": "scaled_linear", "beta_start": 0.001, "beta_end": 0.02, "num_train_timesteps": 77},
    "cosine_50": {"beta_schedule": "squaredcos_cap_v2", "num_train_timesteps": 50},
    "trained": {"trained_betas": [0.01 * (i + 1) ** 1.5 / 4 for i in range(12)], "num_train_timesteps": 12,
                "prediction_type": "v_prediction"},
}


def cosine_betas(n, max_beta=0.999):
    def alpha_bar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    return torch.tensor([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), max_beta) for i in range(n)], dtype=torch.float32)


def betas_for(config):
    n = config.get("num_train_timesteps", 1000)
    start, end = config.get("beta_start", 0.0001), config.get("beta_end", 0.02)
    schedule = config.get("beta_schedule", "linear")
    if config.get("trained_betas") is not None:
        return torch.tensor(config["trained_betas"], dtype=torch.float32)
    if schedule == "linear":
        return torch.linspace(start, end, n, dtype=torch.float32)
    if schedule == "scaled_linear":
        return torch.linspace(start**0.5, end**0.5, n, dtype=torch.float32) ** 2
    if schedule == "squaredcos_cap_v2":
        return cosine_betas(n)
    raise ValueError(schedule)


def broadcast(per_sample, ndim):
    per_sample = per_sample.flatten()
    while per_sample.dim() < ndim:
        per_sample = per_sample.unsqueeze(-1)
    return per_sample


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    latents = torch.randn(SHAPE, generator=gen)
    noise = torch.randn(SHAPE, generator=gen)
    tensors = {"latents": latents.numpy(), "noise": noise.numpy()}
    for name, config in CASES.items():
        betas = betas_for(config)
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        n = len(betas)
        timesteps = torch.tensor([0, 1, min(17, n - 3), n // 2, n - 2, n - 1], dtype=torch.int64)
        sqrt_alpha_prod = broadcast(alphas_cumprod[timesteps] ** 0.5, latents.dim())
        sqrt_one_minus_alpha_prod = broadcast((1 - alphas_cumprod[timesteps]) ** 0.5, latents.dim())
        tensors[f"{name}/betas"] = betas.numpy()
        tensors[f"{name}/alphas_cumprod"] = alphas_cumprod.numpy()
        tensors[f"{name}/timesteps"] = timesteps.numpy()
        tensors[f"{name}/noisy"] = (sqrt_alpha_prod * latents + sqrt_one_minus_alpha_prod * noise).numpy()
        tensors[f"{name}/velocity"] = (sqrt_alpha_prod * noise - sqrt_one_minus_alpha_prod * latents).numpy()
    for n in LINSPACE_SIZES:
        tensors[f"linspace/{n}"] = torch.linspace(LINSPACE_START, LINSPACE_END, n, dtype=torch.float32).numpy()
    capability = next((l.split(":")[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability" in l), "?")
    metadata = {"cases": json.dumps(CASES), "torch": torch.__version__, "cpu_capability": capability,
                "generator": "tools/reference/schedules.py",
                "linspace": json.dumps({"start": LINSPACE_START, "end": LINSPACE_END, "sizes": LINSPACE_SIZES})}
    write_safetensors(OUT, tensors, metadata)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes), torch {torch.__version__}")


if __name__ == "__main__":
    main()
