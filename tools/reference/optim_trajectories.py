"""Reference optimizer trajectories from PyTorch, for test/core/optim/*.test.ts.

Run by hand with Debian's torch 1.13 (never by CI):
    /usr/bin/python3 tools/reference/optim_trajectories.py
Writes test/fixtures/optim_trajectories.safetensors.

Each run optimises a 2 x 24 parameter (like k=2 token vectors) on a nonconvex, per-step
stochastic objective (sines with a random phase per step plus a quadratic and a coupling
term). The fixture holds the exact float32 gradients torch fed to its optimizer at every
step, so the TypeScript test can replay them and check the optimizer arithmetic alone:
  <run>/params      [S+1, 48]  parameters before each step, then after the last
  <run>/loss        [S]        loss of the (first) evaluation of each step
  <run>/grad        [S, 48]    AdamW: the gradient of each step
  <run>/grad1       [S, 48]    SAM: gradient at w
  <run>/perturbed   [S, 48]    SAM: w + e(w), where torch evaluated the second gradient
  <run>/grad2       [S, 48]    SAM: gradient at w + e(w)
  <run>/state_steps [K]        steps after which the optimizer buffers were recorded
  <run>/exp_avg, <run>/exp_avg_sq (AdamW) or <run>/momentum_buffer (SAM): [K, 48]
The metadata "runs" holds each run's hyper-parameters as JSON.
"""
import json
import math
import os

import numpy as np
import torch

from safetensors_writer import write_safetensors

STEPS = 300
RECORD_EVERY = 10
SHAPE = (2, 24)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "optim_trajectories.safetensors")


class Objective:
    """f_s(w) = sum 0.6 sin(1.7 w + phi_s) + 0.15 |w - c|^2 + 0.2 cos(<w_0, w_1> / 4)."""

    def __init__(self, seed):
        gen = torch.Generator().manual_seed(seed)
        self.center = torch.randn(SHAPE, generator=gen)
        self.phases = torch.rand((STEPS,) + SHAPE, generator=gen) * (2 * math.pi)
        self.init = torch.randn(SHAPE, generator=gen) * 0.5

    def loss(self, w, step):
        return (
            (0.6 * torch.sin(1.7 * w + self.phases[step])).sum()
            + 0.15 * ((w - self.center) ** 2).sum()
            + 0.2 * torch.cos((w[0] * w[1]).sum() / 4)
        )


class SAM(torch.optim.Optimizer):
    """The standard two-step SAM (Foret et al. 2020; as in github.com/davda54/sam), non-adaptive."""

    def __init__(self, params, base_optimizer_cls, rho, **kwargs):
        super().__init__(params, dict(rho=rho, **kwargs))
        self.base_optimizer = base_optimizer_cls(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups

    @torch.no_grad()
    def first_step(self):
        grad_norm = torch.norm(torch.stack([p.grad.norm(p=2) for g in self.param_groups for p in g["params"]]), p=2)
        for group in self.param_groups:
            scale = group["rho"] / (grad_norm + 1e-12)
            for p in group["params"]:
                self.state[p]["old_p"] = p.data.clone()
                p.add_(p.grad * scale.to(p))

    @torch.no_grad()
    def second_step(self):
        for group in self.param_groups:
            for p in group["params"]:
                p.data = self.state[p]["old_p"]
        self.base_optimizer.step()


def loss_and_grad(objective, w, step):
    w.grad = None
    loss = objective.loss(w, step)
    loss.backward()
    return loss.detach().clone(), w.grad.detach().clone()


def flat(t):
    return t.detach().reshape(-1).numpy().astype(np.float32).copy()


def run_adamw(name, lr, betas, eps, weight_decay, seed):
    objective = Objective(seed)
    w = objective.init.clone().requires_grad_(True)
    opt = torch.optim.AdamW([w], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    rec = {"params": [flat(w)], "loss": [], "grad": [], "exp_avg": [], "exp_avg_sq": [], "state_steps": []}
    for step in range(STEPS):
        loss, grad = loss_and_grad(objective, w, step)
        opt.step()
        rec["loss"].append(loss.item())
        rec["grad"].append(flat(grad))
        rec["params"].append(flat(w))
        if (step + 1) % RECORD_EVERY == 0:
            state = opt.state[w]
            rec["state_steps"].append(step + 1)
            rec["exp_avg"].append(flat(state["exp_avg"]))
            rec["exp_avg_sq"].append(flat(state["exp_avg_sq"]))
    config = dict(optimizer="adamw", lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, weightDecay=weight_decay, seed=seed)
    return name, config, rec


def run_sam(name, lr, rho, momentum, weight_decay, seed):
    objective = Objective(seed)
    w = objective.init.clone().requires_grad_(True)
    opt = SAM([w], torch.optim.SGD, rho=rho, lr=lr, momentum=momentum, weight_decay=weight_decay)
    rec = {"params": [flat(w)], "loss": [], "grad1": [], "perturbed": [], "grad2": [], "momentum_buffer": [], "state_steps": []}
    for step in range(STEPS):
        loss, grad1 = loss_and_grad(objective, w, step)
        opt.first_step()
        rec["perturbed"].append(flat(w))
        _, grad2 = loss_and_grad(objective, w, step)
        opt.second_step()
        rec["loss"].append(loss.item())
        rec["grad1"].append(flat(grad1))
        rec["grad2"].append(flat(grad2))
        rec["params"].append(flat(w))
        if (step + 1) % RECORD_EVERY == 0:
            rec["state_steps"].append(step + 1)
            rec["momentum_buffer"].append(flat(opt.base_optimizer.state[w]["momentum_buffer"]))
    config = dict(optimizer="sam", lr=lr, rho=rho, momentum=momentum, weightDecay=weight_decay, seed=seed)
    return name, config, rec


def main():
    torch.set_num_threads(1)
    runs = [
        run_adamw("adamw_default", lr=5e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, seed=1),
        run_adamw("adamw_custom", lr=5e-3, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, seed=2),
        run_sam("sam_default", lr=1e-2, rho=0.05, momentum=0.9, weight_decay=0.0, seed=3),
        run_sam("sam_decay", lr=1e-2, rho=0.1, momentum=0.9, weight_decay=1e-2, seed=4),
    ]
    tensors = {}
    configs = {}
    for name, config, rec in runs:
        configs[name] = config
        for key, values in rec.items():
            dtype = np.int32 if key == "state_steps" else np.float32
            tensors[f"{name}/{key}"] = np.asarray(values, dtype=dtype)
    metadata = {
        "runs": json.dumps(configs),
        "steps": STEPS,
        "torch": torch.__version__,
        "cpu_capability": next((l.split(":")[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability" in l), "?"),
        "generator": "tools/reference/optim_trajectories.py",
    }
    write_safetensors(OUT, tensors, metadata)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes), torch {torch.__version__}")


if __name__ == "__main__":
    main()
