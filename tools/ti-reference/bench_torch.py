"""PyTorch side of `npm run bench -- step` (run by the bench, by hand; never by CI).

Builds the bench model (tiny SD 1.5 architecture, random weights, fixed seed), exports it
in the Optimum ONNX layout to OUT, writes the step inputs to OUT/inputs.safetensors, then
times one PyTorch eager textual-inversion step (forward + backward w.r.t. the concept
vector only, weights frozen) and one no-grad forward, and prints a JSON line.

  /usr/bin/python3 tools/ti-reference/bench_torch.py OUT [--runs 10] [--threads 2]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import make_fixtures as mf  # noqa: E402
from tiny_sd import TextConfig, TextEncoder, UNet  # noqa: E402

BENCH = dict(name="bench", seed=7, opset=17, ids=torch.int64, timestep="int64", style="4d",
             text=TextConfig(vocab=1000, hidden=64, heads=4, layers=2, intermediate=256), channels=(32, 64), external=True)
BATCH, LATENT = 4, (4, 16, 16)


def timed(fn, runs, warmup=3):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(BENCH["seed"])
    c = BENCH["text"]
    te = TextEncoder(c).eval()
    unet = UNet(c.hidden, channels=BENCH["channels"], groups=8, heads=4, style=BENCH["style"]).eval()
    mf.export(BENCH, te, unet, a.out)
    for param in list(te.parameters()) + list(unet.parameters()):
        param.requires_grad_(False)

    gen = torch.Generator().manual_seed(8)
    ids = mf.prompts(c.vocab, 1, BATCH)
    concept = torch.randn(1, c.hidden, generator=gen)
    noisy = torch.randn(BATCH, *LATENT, generator=gen)
    target = torch.randn(BATCH, *LATENT, generator=gen)
    timesteps = torch.tensor([17, 333, 666, 999])
    mf.write_safetensors(os.path.join(a.out, "inputs.safetensors"), {
        "input_ids": ids.numpy(), "concept": concept.numpy(), "noisy_latents": noisy.numpy(),
        "timesteps": timesteps.numpy(), "target": target.numpy()})

    torch.set_num_threads(a.threads)
    learned = concept.clone().requires_grad_(True)

    def step():
        hidden, _ = te.forward_embeds(F.embedding(ids, torch.cat([te.token.weight, learned])), ids)
        loss = F.mse_loss(unet(noisy, timesteps, hidden), target)
        (grad,) = torch.autograd.grad(loss, learned)
        return loss.item(), grad

    def forward():
        with torch.no_grad():
            hidden, _ = te.forward_embeds(F.embedding(ids, torch.cat([te.token.weight, learned])), ids)
            return F.mse_loss(unet(noisy, timesteps, hidden), target).item()

    loss, _ = step()
    step_ms, forward_ms = timed(step, a.runs), timed(forward, a.runs)
    print(json.dumps({
        "torch": torch.__version__, "threads": a.threads, "runs": a.runs, "loss": loss,
        "step_ms_median": statistics.median(step_ms), "forward_ms_median": statistics.median(forward_ms),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
