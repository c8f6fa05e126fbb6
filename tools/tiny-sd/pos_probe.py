"""Does the position word move the object? Centre of mass of |image - background| per position word."""
import sys, numpy as np, torch, common, world
from sample import Pipeline
common.setup(5)
pipe = Pipeline()
for pos in world.POSITION_NAMES:
    prompts = [f"a photo of a large red plain circle {pos} on a white background"] * 16
    imgs = common.to_uint8(pipe(prompts, common.SEED + 99, guidance=float(sys.argv[1]) if len(sys.argv) > 1 else 4.0)).astype(np.float32)
    d = np.abs(imgs - np.array([240, 240, 240], dtype=np.float32)).sum(-1)  # distance from the white background
    ys, xs = np.mgrid[0:32, 0:32]
    cx = (d * xs).sum((1, 2)) / d.sum((1, 2)); cy = (d * ys).sum((1, 2)) / d.sum((1, 2))
    print(f"{pos:14s} x {cx.mean():5.1f}±{cx.std():.1f}  y {cy.mean():5.1f}±{cy.std():.1f}  (target {world.POSITIONS[pos]})")
