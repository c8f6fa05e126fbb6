"""Reference sampler trajectories from PyTorch, for test/core/sampling/*.test.ts.

Run by hand with Debian's torch 1.13 (never by CI):
    /usr/bin/python3 tools/reference/samplers.py
Writes test/fixtures/samplers.safetensors.

diffusers is not installable here, so this script restates, in torch float32 on CPU and
numpy, what diffusers (main, 2026) computes in:
  - DDIMScheduler.set_timesteps / step            (schedulers/scheduling_ddim.py)
  - EulerDiscreteScheduler and EulerAncestralDiscreteScheduler set_timesteps / step /
    scale_model_input / init_noise_sigma          (scheduling_euler[_ancestral]_discrete.py)
  - PNDMScheduler with skip_prk_steps: set_timesteps / step_plms / _get_prev_sample
                                                  (scheduling_pndm.py; stateful, as there)
  - StableDiffusionPipeline's loop: latents = randn * init_noise_sigma; per step
    scale_model_input, model, CFG uncond + g * (cond - uncond) when g > 1, step.
The UNet is replaced by a fixed analytic model, identical in the TS test:
    model(x_in, t, pattern) = x_in * f32(0.8 + 0.15 * t / N) + pattern * f32(0.3 - 0.2 * t / N)
with a per-conditioning pattern (pattern/uncond, pattern/cond [B, C, H, W]). All noise is
recorded (init_noise, step_noise), so the TS side replays it and RNGs do not matter.

Per trajectory case <name> (metadata "cases": config, sampler, steps, eta, guidance):
  <name>/timesteps [S] F64, <name>/init_noise_sigma [1], <name>/sigmas [S+1] (Euler only),
  <name>/init_noise [B,C,H,W], <name>/step_noise [S,B,C,H,W] (stochastic samplers only),
  <name>/latents [S+1,B,C,H,W]: the initial latents, then the latents after every step.
Timestep lists (metadata "timestep_lists"): for each list <L> and every n in its "steps",
the concatenated outputs of set_timesteps(n): timesteps/<L>/ddim I32, timesteps/<L>/euler F32,
timesteps/<L>/euler_sigmas F32 (n + 1 each, or more where numpy's arange overshoots),
timesteps/<L>/lengths I32 (how many timesteps diffusers returns for each n), and
timesteps/<L>/pndm I32 with timesteps/<L>/pndm_lengths I32 (PNDM with skip_prk_steps).
"""
import json
import os

import numpy as np
import torch

from safetensors_writer import write_safetensors
from schedules import SD15, SD21V, betas_for

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "samplers.safetensors")
SHAPE = (2, 4, 3, 3)

DDPM_CLIP = {"_class_name": "DDIMScheduler", "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02,
             "num_train_timesteps": 1000, "clip_sample": True, "clip_sample_range": 1.5, "set_alpha_to_one": True,
             "timestep_spacing": "linspace"}
CASES = {
    "sd15_ddim_10": {"config": SD15, "sampler": "ddim", "steps": 10, "eta": 0.0, "guidance": 7.5},
    "sd15_ddim_25_eta05": {"config": SD15, "sampler": "ddim", "steps": 25, "eta": 0.5, "guidance": 7.5},
    "sd15_ddim_10_linspace": {"config": {**SD15, "timestep_spacing": "linspace"}, "sampler": "ddim", "steps": 10, "eta": 0.0, "guidance": 5.0},
    "sd15_euler_a_10": {"config": SD15, "sampler": "euler-ancestral", "steps": 10, "eta": 0.0, "guidance": 7.5},
    "sd15_euler_a_25_leading": {"config": {**SD15, "timestep_spacing": "leading"}, "sampler": "euler-ancestral", "steps": 25, "eta": 0.0, "guidance": 7.5},
    "sd15_euler_25": {"config": SD15, "sampler": "euler", "steps": 25, "eta": 0.0, "guidance": 7.5},
    "sd15_euler_a_10_g1": {"config": {**SD15, "timestep_spacing": "trailing"}, "sampler": "euler-ancestral", "steps": 10, "eta": 0.0, "guidance": 1.0},
    "sd21v_ddim_25": {"config": SD21V, "sampler": "ddim", "steps": 25, "eta": 0.0, "guidance": 7.5},
    "sd21v_ddim_10_eta05_trailing": {"config": {**SD21V, "timestep_spacing": "trailing"}, "sampler": "ddim", "steps": 10, "eta": 0.5, "guidance": 7.5},
    "sd21v_euler_a_10": {"config": SD21V, "sampler": "euler-ancestral", "steps": 10, "eta": 0.0, "guidance": 7.5},
    "sd21v_euler_10_leading": {"config": {**SD21V, "timestep_spacing": "leading"}, "sampler": "euler", "steps": 10, "eta": 0.0, "guidance": 3.0},
    "sd15_pndm_10": {"config": SD15, "sampler": "pndm", "steps": 10, "eta": 0.0, "guidance": 7.5},
    "sd15_pndm_25": {"config": SD15, "sampler": "pndm", "steps": 25, "eta": 0.0, "guidance": 7.5},
    "sd15_pndm_3_trailing": {"config": {**SD15, "timestep_spacing": "trailing"}, "sampler": "pndm", "steps": 3, "eta": 0.0, "guidance": 2.0},
    "sd21v_pndm_10_linspace": {"config": {**SD21V, "timestep_spacing": "linspace"}, "sampler": "pndm", "steps": 10, "eta": 0.0, "guidance": 7.5},
    "ddpm_clip_ddim_10": {"config": DDPM_CLIP, "sampler": "ddim", "steps": 10, "eta": 0.0, "guidance": 1.0},
}
LIST_STEPS = list(range(1, 21)) + [37, 50, 61, 73, 100, 103, 333]
TIMESTEP_LISTS = {
    "sd15_leading": {"config": {**SD15, "timestep_spacing": "leading"}, "steps": LIST_STEPS},
    "sd15_trailing": {"config": {**SD15, "timestep_spacing": "trailing"}, "steps": LIST_STEPS},
    "sd15_linspace": {"config": {**SD15, "timestep_spacing": "linspace"}, "steps": LIST_STEPS},
    "n999_leading": {"config": {"num_train_timesteps": 999, "beta_schedule": "linear", "beta_start": 0.0005, "beta_end": 0.03, "timestep_spacing": "leading"}, "steps": LIST_STEPS},
    "n999_trailing": {"config": {"num_train_timesteps": 999, "beta_schedule": "linear", "beta_start": 0.0005, "beta_end": 0.03, "timestep_spacing": "trailing"}, "steps": LIST_STEPS},
    "n999_linspace": {"config": {"num_train_timesteps": 999, "beta_schedule": "linear", "beta_start": 0.0005, "beta_end": 0.03, "timestep_spacing": "linspace"}, "steps": LIST_STEPS},
}
F32 = torch.float32


def spacing_of(config, sampler):
    # A config without timestep_spacing gets the class default (from_config semantics).
    return config.get("timestep_spacing", "leading" if sampler == "ddim" else "linspace")


def alphas_cumprod_of(config):
    return torch.cumprod(1.0 - betas_for(config), dim=0)


def ddim_timesteps(N, n, spacing, offset):
    if spacing == "linspace":
        return np.linspace(0, N - 1, n).round()[::-1].copy().astype(np.int64)
    if spacing == "leading":
        ratio = N // n
        t = (np.arange(0, n) * ratio).round()[::-1].copy().astype(np.int64)
        return t + offset
    ratio = N / n
    return np.round(np.arange(N, 0, -ratio)).astype(np.int64) - 1


def euler_timesteps(N, n, spacing, offset):
    if spacing == "linspace":
        return np.linspace(0, N - 1, n, dtype=np.float32)[::-1].copy()
    if spacing == "leading":
        ratio = N // n
        t = (np.arange(0, n) * ratio).round()[::-1].copy().astype(np.float32)
        t += offset
        return t
    ratio = N / n
    t = (np.arange(N, 0, -ratio)).round().copy().astype(np.float32)
    t -= 1
    return t


def euler_sigmas(alphas_cumprod, timesteps, spacing):
    table = np.array(((1 - alphas_cumprod) / alphas_cumprod) ** 0.5)
    sigmas = np.interp(timesteps, np.arange(0, len(table)), table)
    sigmas = torch.from_numpy(np.concatenate([sigmas, [0.0]]).astype(np.float32))
    top = sigmas.max()
    init = top if spacing in ("linspace", "trailing") else (top**2 + 1) ** 0.5
    return sigmas, init


class Ddim:
    def __init__(self, config, n, eta):
        self.acp = alphas_cumprod_of(config)
        self.N = config.get("num_train_timesteps", 1000)
        self.n = n
        self.eta = eta
        self.final = torch.tensor(1.0) if config.get("set_alpha_to_one", True) else self.acp[0]
        self.pred = config.get("prediction_type", "epsilon")
        self.clip = config.get("clip_sample", True)
        self.clip_range = config.get("clip_sample_range", 1.0)
        self.timesteps = ddim_timesteps(self.N, n, spacing_of(config, "ddim"), config.get("steps_offset", 0))
        self.init_noise_sigma = 1.0
        self.sigmas = None
        self.stochastic = eta > 0

    def scale_model_input(self, sample, i):
        return sample

    def step(self, model_output, i, sample, noise):
        t = int(self.timesteps[i])
        prev_t = t - self.N // self.n
        alpha_prod_t = self.acp[t]
        alpha_prod_t_prev = self.acp[prev_t] if prev_t >= 0 else self.final
        beta_prod_t = 1 - alpha_prod_t
        if self.pred == "epsilon":
            pred_original_sample = (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5)
            pred_epsilon = model_output
        else:
            pred_original_sample = (alpha_prod_t**0.5) * sample - (beta_prod_t**0.5) * model_output
            pred_epsilon = (alpha_prod_t**0.5) * model_output + (beta_prod_t**0.5) * sample
        if self.clip:
            pred_original_sample = pred_original_sample.clamp(-self.clip_range, self.clip_range)
        beta_prod_t_prev = 1 - alpha_prod_t_prev
        variance = (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)
        std_dev_t = self.eta * variance ** (0.5)
        pred_sample_direction = (1 - alpha_prod_t_prev - std_dev_t**2) ** (0.5) * pred_epsilon
        prev_sample = alpha_prod_t_prev ** (0.5) * pred_original_sample + pred_sample_direction
        if self.eta > 0:
            prev_sample = prev_sample + std_dev_t * noise
        return prev_sample


def pndm_timesteps(N, n, spacing, offset):
    if spacing == "linspace":
        ts = np.linspace(0, N - 1, n).round().astype(np.int64)
    elif spacing == "leading":
        ts = (np.arange(0, n) * (N // n)).round()
        ts += offset
    else:
        ts = np.round(np.arange(N, 0, -N / n))[::-1].astype(np.int64)
        ts -= 1
    return np.concatenate([ts[:-1], ts[-2:-1], ts[-1:]])[::-1].copy().astype(np.int64)


class Pndm:
    """PNDMScheduler with skip_prk_steps = True (PLMS), keeping diffusers' state: counter, ets, cur_sample."""

    def __init__(self, config, n):
        self.acp = alphas_cumprod_of(config)
        self.N = config.get("num_train_timesteps", 1000)
        self.n = n
        self.final = torch.tensor(1.0) if config.get("set_alpha_to_one", False) else self.acp[0]
        self.pred = config.get("prediction_type", "epsilon")
        self.timesteps = pndm_timesteps(self.N, n, config.get("timestep_spacing", "leading"), config.get("steps_offset", 0))
        self.init_noise_sigma = 1.0
        self.sigmas = None
        self.stochastic = False
        self.counter, self.ets, self.cur_sample = 0, [], None

    def scale_model_input(self, sample, i):
        return sample

    def step(self, model_output, i, sample, noise):
        timestep = int(self.timesteps[i])
        prev_timestep = timestep - self.N // self.n
        if self.counter != 1:
            self.ets = self.ets[-3:]
            self.ets.append(model_output)
        else:
            prev_timestep = timestep
            timestep = timestep + self.N // self.n
        if len(self.ets) == 1 and self.counter == 0:
            self.cur_sample = sample
        elif len(self.ets) == 1 and self.counter == 1:
            model_output = (model_output + self.ets[-1]) / 2
            sample = self.cur_sample
            self.cur_sample = None
        elif len(self.ets) == 2:
            model_output = (3 * self.ets[-1] - self.ets[-2]) / 2
        elif len(self.ets) == 3:
            model_output = (23 * self.ets[-1] - 16 * self.ets[-2] + 5 * self.ets[-3]) / 12
        else:
            model_output = (1 / 24) * (55 * self.ets[-1] - 59 * self.ets[-2] + 37 * self.ets[-3] - 9 * self.ets[-4])
        self.counter += 1
        return self.prev_sample(sample, timestep, prev_timestep, model_output)

    def prev_sample(self, sample, timestep, prev_timestep, model_output):
        alpha_prod_t = self.acp[timestep]
        alpha_prod_t_prev = self.acp[prev_timestep] if prev_timestep >= 0 else self.final
        beta_prod_t = 1 - alpha_prod_t
        beta_prod_t_prev = 1 - alpha_prod_t_prev
        if self.pred == "v_prediction":
            model_output = (alpha_prod_t**0.5) * model_output + (beta_prod_t**0.5) * sample
        sample_coeff = (alpha_prod_t_prev / alpha_prod_t) ** (0.5)
        model_output_denom_coeff = alpha_prod_t * beta_prod_t_prev ** (0.5) + (
            alpha_prod_t * beta_prod_t * alpha_prod_t_prev) ** (0.5)
        return sample_coeff * sample - (alpha_prod_t_prev - alpha_prod_t) * model_output / model_output_denom_coeff


class Euler:
    def __init__(self, config, n, ancestral):
        acp = alphas_cumprod_of(config)
        spacing = spacing_of(config, "euler")
        self.timesteps = euler_timesteps(config.get("num_train_timesteps", 1000), n, spacing, config.get("steps_offset", 0))
        self.sigmas, self.init_noise_sigma = euler_sigmas(acp, self.timesteps, spacing)
        self.pred = config.get("prediction_type", "epsilon")
        self.ancestral = ancestral
        self.stochastic = ancestral

    def scale_model_input(self, sample, i):
        sigma = self.sigmas[i]
        return sample / ((sigma**2 + 1) ** 0.5)

    def step(self, model_output, i, sample, noise):
        sigma = self.sigmas[i]
        sigma_hat = sigma * (0.0 + 1)  # EulerDiscrete with s_churn = 0 (gamma = 0)
        if not self.ancestral:
            sigma = sigma_hat
        if self.pred == "epsilon":
            pred_original_sample = sample - sigma * model_output
        else:
            pred_original_sample = model_output * (-sigma / (sigma**2 + 1) ** 0.5) + (sample / (sigma**2 + 1))
        if not self.ancestral:
            derivative = (sample - pred_original_sample) / sigma
            dt = self.sigmas[i + 1] - sigma
            return sample + derivative * dt
        sigma_from = self.sigmas[i]
        sigma_to = self.sigmas[i + 1]
        sigma_up = (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5
        sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5
        derivative = (sample - pred_original_sample) / sigma
        dt = sigma_down - sigma
        prev_sample = sample + derivative * dt
        return prev_sample + noise * sigma_up


def make_sampler(case):
    if case["sampler"] == "ddim":
        return Ddim(case["config"], case["steps"], case["eta"])
    if case["sampler"] == "pndm":
        return Pndm(case["config"], case["steps"])
    return Euler(case["config"], case["steps"], case["sampler"] == "euler-ancestral")


def model(x_in, t, N, pattern):
    a = torch.tensor(np.float32(0.8 + 0.15 * t / N), dtype=F32)
    b = torch.tensor(np.float32(0.3 - 0.2 * t / N), dtype=F32)
    return x_in * a + pattern * b


def run_case(case, patterns, gen):
    sampler = make_sampler(case)
    N = case["config"].get("num_train_timesteps", 1000)
    g = case["guidance"]
    init_noise = torch.randn(SHAPE, generator=gen)
    latents = init_noise * sampler.init_noise_sigma
    trajectory, step_noise = [latents], []
    for i, t in enumerate(sampler.timesteps):
        t = float(t)
        x_in = sampler.scale_model_input(latents, i)
        if g > 1:
            # The pipeline batches [uncond, cond] and chunks; elementwise the same.
            batch = torch.cat([x_in, x_in])
            out = model(batch, t, N, torch.cat([patterns["uncond"], patterns["cond"]]))
            uncond, cond = out.chunk(2)
            noise_pred = uncond + g * (cond - uncond)
        else:
            noise_pred = model(x_in, t, N, patterns["cond"])
        noise = None
        if sampler.stochastic:
            noise = torch.randn(SHAPE, generator=gen)
            step_noise.append(noise)
        latents = sampler.step(noise_pred, i, latents, noise)
        trajectory.append(latents)
    out = {"timesteps": np.asarray(sampler.timesteps, dtype=np.float64), "init_noise": init_noise.numpy(),
           "init_noise_sigma": np.array([float(sampler.init_noise_sigma)], dtype=np.float32),
           "latents": torch.stack(trajectory).numpy()}
    if sampler.sigmas is not None:
        out["sigmas"] = sampler.sigmas.numpy()
    if step_noise:
        out["step_noise"] = torch.stack(step_noise).numpy()
    return out


def timestep_lists(name, spec):
    config = spec["config"]
    N = config["num_train_timesteps"]
    spacing = config["timestep_spacing"]
    offset = config.get("steps_offset", 0)
    acp = alphas_cumprod_of(config)
    ddim, euler, sigmas, lengths, pndm, pndm_lengths = [], [], [], [], [], []
    for n in spec["steps"]:
        d = ddim_timesteps(N, n, spacing, offset)
        e = euler_timesteps(N, n, spacing, offset)
        s, _ = euler_sigmas(acp, e, spacing)
        assert len(d) == len(e)
        ddim.append(d)
        euler.append(e)
        sigmas.append(s.numpy())
        lengths.append(len(d))
        p = pndm_timesteps(N, n, spacing, offset)
        pndm.append(p)
        pndm_lengths.append(len(p))
    return {f"timesteps/{name}/ddim": np.concatenate(ddim).astype(np.int32),
            f"timesteps/{name}/euler": np.concatenate(euler).astype(np.float32),
            f"timesteps/{name}/euler_sigmas": np.concatenate(sigmas).astype(np.float32),
            f"timesteps/{name}/lengths": np.array(lengths, dtype=np.int32),
            f"timesteps/{name}/pndm": np.concatenate(pndm).astype(np.int32),
            f"timesteps/{name}/pndm_lengths": np.array(pndm_lengths, dtype=np.int32)}


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(5)
    patterns = {"uncond": torch.randn(SHAPE, generator=gen), "cond": torch.randn(SHAPE, generator=gen)}
    tensors = {"pattern/uncond": patterns["uncond"].numpy(), "pattern/cond": patterns["cond"].numpy()}
    for name, case in CASES.items():
        for key, value in run_case(case, patterns, gen).items():
            tensors[f"{name}/{key}"] = value
    for name, spec in TIMESTEP_LISTS.items():
        tensors.update(timestep_lists(name, spec))
    capability = next((l.split(":")[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability" in l), "?")
    metadata = {"cases": json.dumps(CASES), "timestep_lists": json.dumps(TIMESTEP_LISTS), "torch": torch.__version__,
                "numpy": np.__version__, "cpu_capability": capability, "generator": "tools/reference/samplers.py"}
    write_safetensors(OUT, tensors, metadata)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes), torch {torch.__version__}")


if __name__ == "__main__":
    main()
