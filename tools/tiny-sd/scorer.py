"""The image encoder used for scoring (stand-in for CLIP image similarity) and attribute accuracy.

A small CNN on 32x32 images in [-1, 1]; its embedding feeds one linear head per attribute.
Score of generated vs reference images = mean cosine similarity of their embeddings.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
import world

EMBED_DIM = 128
# (head name, classes); concept images have no shape/colour/texture label (ignored in the loss)
HEADS = [("shape", world.SHAPES + ["concept"]), ("colour", list(world.COLOURS)), ("size", list(world.SIZES)),
         ("texture", world.TEXTURES), ("position", world.POSITION_NAMES), ("background", list(world.BACKGROUNDS)),
         ("concept", ["none"] + world.CONCEPTS)]


class ImageEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1, stride=2), nn.GroupNorm(8, cout), nn.SiLU())
        self.features = nn.Sequential(block(3, 32), block(32, 64), block(64, 64))  # -> 64x4x4
        self.proj = nn.Linear(64 * 16, EMBED_DIM)
        self.heads = nn.ModuleList([nn.Linear(EMBED_DIM, len(c)) for _, c in HEADS])

    def forward(self, pixel_values):
        e = self.proj(self.features(pixel_values).flatten(1))
        return e, [head(F.silu(e)) for head in self.heads]


def labels(scene):
    """Per-head class index, -100 where the head does not apply."""
    c = scene.get("concept")
    vals = {"shape": "concept" if c else scene["shape"], "colour": None if c else scene["colour"],
            "size": scene["size"], "texture": None if c else scene["texture"], "position": scene["pos"],
            "background": scene["bg"], "concept": c or "none"}
    return [classes.index(vals[name]) if vals[name] is not None else -100 for name, classes in HEADS]


def cosine_score(a, b):
    """Mean cosine similarity over all pairs of embeddings a [n,d] and b [m,d]."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    return float((a @ b.T).mean())
