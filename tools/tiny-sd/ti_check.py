"""Check that the concepts are learnable: a plain Textual Inversion (one new token vector, frozen model)
per concept, then the score of its samples against the references, next to the initializer's score.
Usage: ti_check.py [steps] [concept ...]"""
import json
import os
import sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import common
import world
from evaluate import load_scorer, load_pngs
from sample import Pipeline
from scorer import cosine_score

STEPS, BATCH, LR = 300, 4, 5e-3


class ExtendedEmbedding(nn.Module):
    """The frozen token table plus one trainable row (id = old vocabulary size)."""

    def __init__(self, base, init_id):
        super().__init__()
        self.base = base.weight.detach()
        self.new = nn.Parameter(self.base[init_id].clone()[None])

    def forward(self, ids):
        return F.embedding(ids, torch.cat([self.base, self.new]))


def invert(pipe, name, folder, steps, log, guidance):
    init = world.CONCEPT_INFO[name][1]
    vocab = pipe.tokenizer.vocab
    new_id, sentinel = len(vocab), vocab["object</w>"]
    emb = ExtendedEmbedding(pipe.text.token_embedding, vocab[f"{init}</w>"])
    original = pipe.text.token_embedding
    pipe.text.token_embedding = emb
    for p in list(pipe.text.parameters()) + list(pipe.unet.parameters()):
        p.requires_grad_(p is emb.new)
    refs = load_pngs(os.path.join(common.ROOT, "examples", folder, name))
    with torch.no_grad():
        params = pipe.vae.latent_parameters(refs)

    def ids_for(template):
        ids = pipe.tokenizer.encode(template.format("object"))
        return [new_id if i == sentinel else i for i in ids]

    opt = torch.optim.AdamW([emb.new], lr=LR, weight_decay=1e-2)
    gen = torch.Generator().manual_seed(common.SEED + 101)
    rng = np.random.default_rng(common.SEED + 102)
    for step in range(steps):
        idx = torch.randint(0, len(refs), (BATCH,), generator=gen)
        p = params[idx]
        lat = (p[:, :4] + torch.exp(0.5 * p[:, 4:]) * torch.randn(p[:, :4].shape, generator=gen)) * pipe.scaling
        t = torch.randint(0, 1000, (BATCH,), generator=gen)
        noise = torch.randn(lat.shape, generator=gen)
        a = pipe.ac[t][:, None, None, None]
        ids = torch.tensor([ids_for(world.TEMPLATES[rng.integers(len(world.TEMPLATES))]) for _ in range(BATCH)])
        loss = F.mse_loss(pipe.unet(a.sqrt() * lat + (1 - a).sqrt() * noise, t, pipe.text(ids)[0]), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        n = 8
        cond = pipe.text(torch.tensor([ids_for("a photo of a {}")] * n))[0]
        pipe.encode_text = lambda prompts, c=cond: c if prompts[0] else Pipeline.encode_text(pipe, prompts)
        imgs = pipe(["learned"] * n, common.SEED + 90, guidance=guidance)
        del pipe.encode_text
    pipe.text.token_embedding = original
    return imgs, refs


def main():
    common.setup(7)
    log = common.Log("ti_check")
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else STEPS
    names = sys.argv[2:] or world.CONCEPTS
    pipe, scorer = Pipeline(), load_scorer()
    with open(os.path.join(common.ROOT, "docs", "tiny-sd-eval.json")) as f:
        evaluation = json.load(f)
    guidance = evaluation["guidance"]  # the scale chosen by evaluate.py
    out = {}
    for name in names:
        folder = "concepts" if name in world.TRAIN_CONCEPTS else "concepts-eval"
        imgs, refs = invert(pipe, name, folder, steps, log, guidance)
        with torch.no_grad():
            s = cosine_score(scorer(imgs)[0], scorer(refs)[0])
        before = evaluation["concepts"][f"{folder}/{name}"]  # evaluate.py's initializer-word samples
        out[f"{folder}/{name}"] = {"initializer": before["initializer"], "score_initializer_samples": before["score_initializer_samples"],
                                   "ti_steps": steps, "score_learned_token_samples": s,
                                   "score_fresh_renders_of_concept": before["score_fresh_renders_of_concept"]}
        log(f"{folder}/{name}: after {steps} TI steps score {s:.3f}")
    path = os.path.join(common.ROOT, "docs", "tiny-sd-ti-check.json")
    method = (f"ti_check.py {steps} {' '.join(names)}: one new token vector initialised from the initializer word, "
              f"AdamW lr {LR} wd 1e-2, batch {BATCH}, TI templates; 8 samples of 'a photo of a <token>' at guidance {guidance} "
              f"(docs/tiny-sd-eval.json), scored like the initializer samples there; model {evaluation['unet_checkpoint']}")
    with open(path, "w") as f:
        json.dump({"method": method, "results": out}, f, indent=2)


if __name__ == "__main__":
    main()
