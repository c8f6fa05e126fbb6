"""How much does one attribute word change the samples? Mean |pixel difference| (images in [-1, 1])
between 8 samples of a base prompt and of the prompt with one word changed (same seed)."""
import sys, numpy as np, torch, common, world
from sample import Pipeline
common.setup(5)
p = Pipeline()
base = "a photo of a large red plain circle at the left on a white background"
alts = {"position": base.replace("at the left", "at the right"), "colour": base.replace("red", "blue"), "shape": base.replace("circle", "square"), "background": base.replace("white background", "blue background")}
ia = p([base] * 8, 7)
for k, b in alts.items():
    ib = p([b] * 8, 7)
    print(f"{k:10s} mean |img diff| {(ia - ib).abs().mean().item():.3f}")
