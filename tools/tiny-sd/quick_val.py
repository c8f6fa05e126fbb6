"""Validation-only probe of a UNet checkpoint: per-attribute accuracy on the 48 validation prompts."""
import sys, os
import numpy as np, torch
import common, world
from scorer import HEADS, labels
from sample import Pipeline
from evaluate import load_scorer, ATTRS
common.setup(5)
pipe, scorer = Pipeline(), load_scorer()
rng = np.random.default_rng(common.SEED + 53)
scenes = [world.random_scene(rng) for _ in range(48)]
y = torch.tensor([labels(s) for s in scenes])
for g in [float(x) for x in sys.argv[1:]] or [4.0]:
    with torch.no_grad():
        _, logits = scorer(pipe([world.full_caption(s) for s in scenes], common.SEED + 54, guidance=g, steps=25))
    per = {h: float((logits[k].argmax(-1) == y[:, k]).float().mean()) for k, (h, _) in enumerate(HEADS) if h in ATTRS}
    print(os.environ.get("TINY_SD_UNET"), "g", g, "mean %.3f" % np.mean(list(per.values())), " ".join(f"{h} {a:.2f}" for h, a in per.items()), flush=True)
