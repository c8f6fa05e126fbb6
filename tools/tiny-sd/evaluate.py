"""Acceptance checks: attribute accuracy over 200 prompts, a sample grid for docs/, and concept scores
(concept references vs samples from the initializer word alone)."""
import glob
import json
import os
import sys
import numpy as np
import torch
from PIL import Image, ImageDraw
import common
import world
from scorer import ImageEncoder, HEADS, labels, cosine_score
from sample import Pipeline

N_PROMPTS, STEPS = 200, 25
GUIDANCE_CHOICES = (2.0, 4.0, 7.0)
if os.environ.get("TINY_SD_SMOKE"):  # plumbing check only
    N_PROMPTS, STEPS, GUIDANCE_CHOICES = 4, 2, (2.0, 4.0)
ATTRS = ["shape", "colour", "size", "texture", "position", "background"]


def load_scorer():
    s = ImageEncoder().eval()
    s.load_state_dict(torch.load(f"{common.BUILD}/scorer.pt")["state"])
    return s


def choose_guidance(pipe, scorer, log, n=48):
    """Pick the guidance scale on validation prompts (other seeds than the 200 test prompts)."""
    rng = np.random.default_rng(common.SEED + 53)
    scenes = [world.random_scene(rng) for _ in range(n)]
    y = torch.tensor([labels(s) for s in scenes])
    heads = [k for k, (h, _) in enumerate(HEADS) if h in ATTRS]
    best = None
    for g in GUIDANCE_CHOICES:
        with torch.no_grad():
            _, logits = scorer(pipe([world.full_caption(s) for s in scenes], common.SEED + 54, guidance=g, steps=STEPS))
        acc = float(np.mean([float((logits[k].argmax(-1) == y[:, k]).float().mean()) for k in heads]))
        log(f"validation guidance {g}: mean attribute accuracy {acc:.3f}")
        if best is None or acc > best[1]:
            best = (g, acc)
    return best[0]


def attribute_accuracy(pipe, scorer, log, guidance):
    rng = np.random.default_rng(common.SEED + 51)
    scenes = [world.random_scene(rng) for _ in range(N_PROMPTS)]
    prompts = [world.full_caption(s) for s in scenes]
    imgs = pipe.batched(prompts, common.SEED + 52, guidance=guidance, steps=STEPS)
    real = common.to_tensor(np.stack([world.render(s) for s in scenes]))
    y = torch.tensor([labels(s) for s in scenes])
    out = {}
    with torch.no_grad():
        recon = pipe.vae.decode(pipe.vae.latent_parameters(real)[:, :4])  # ceiling through the VAE
        for name, x in (("generated", imgs), ("rendered", real), ("vae_reconstructed", recon)):
            _, logits = scorer(x)
            per, correct = {}, torch.ones(len(scenes), dtype=torch.bool)
            for k, (head, _) in enumerate(HEADS):
                if head in ATTRS:
                    ok = logits[k].argmax(-1) == y[:, k]
                    per[head] = float(ok.float().mean())
                    correct &= ok
            out[name] = {"per_attribute": per, "mean": float(np.mean(list(per.values()))),
                         "all_attributes_correct": float(correct.float().mean())}
            log(f"{name}: mean attribute accuracy {out[name]['mean']:.3f}, all correct "
                f"{out[name]['all_attributes_correct']:.3f}, " + ", ".join(f"{h} {a:.3f}" for h, a in per.items()))
    return out


def grid(pipe, path, guidance, rows=8, cols=6, scale=3):
    rng = np.random.default_rng(common.SEED + 61)
    prompts = [world.full_caption(world.random_scene(rng)) for _ in range(rows - 2)]
    prompts += ["a photo of a large object on a white background", "a photo of a small object at the left"]
    cell, text_h = 32 * scale, 14
    canvas = Image.new("RGB", (cols * (cell + 2), rows * (cell + text_h + 4)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, p in enumerate(prompts):
        imgs = common.to_uint8(pipe([p] * cols, common.SEED + 70 + r, guidance=guidance, steps=STEPS))
        y0 = r * (cell + text_h + 4)
        for c in range(cols):
            canvas.paste(Image.fromarray(imgs[c]).resize((cell, cell), Image.NEAREST), (c * (cell + 2), y0))
        draw.text((2, y0 + cell + 1), p, fill=(0, 0, 0))
    canvas.save(path)


def load_pngs(folder):
    files = sorted(glob.glob(os.path.join(folder, "*.png")))
    return common.to_tensor(np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]))


def concept_scores(pipe, scorer, log, guidance, n=8):
    rng = np.random.default_rng(common.SEED + 81)
    results = {}
    with torch.no_grad():
        for folder, names in (("concepts", world.TRAIN_CONCEPTS), ("concepts-eval", world.EVAL_CONCEPTS)):
            for name in names:
                refs = scorer(load_pngs(os.path.join(common.ROOT, "examples", folder, name)))[0]
                init = world.CONCEPT_INFO[name][1]
                from_init = pipe([f"a photo of a {init}".replace("a object", "an object")] * n, common.SEED + 90, guidance=guidance)
                from_object = pipe(["a photo of an object"] * n, common.SEED + 91, guidance=guidance)
                fresh = common.to_tensor(np.stack([world.render(world.random_scene(rng, name)) for _ in range(n)]))
                e_init, logits_init = scorer(from_init)
                e_obj, logits_obj = scorer(from_object)
                cidx = HEADS[-1][1].index(name)
                r = {"initializer": init,
                     "score_initializer_samples": cosine_score(e_init, refs),
                     "score_object_samples": cosine_score(e_obj, refs),
                     "score_fresh_renders_of_concept": cosine_score(scorer(fresh)[0], refs),
                     "initializer_samples_classified_as_concept": float((logits_init[-1].argmax(-1) == cidx).float().mean()),
                     "object_samples_classified_as_concept": float((logits_obj[-1].argmax(-1) == cidx).float().mean())}
                results[f"{folder}/{name}"] = r
                log(f"{folder}/{name}: init '{init}' {r['score_initializer_samples']:.3f}, 'object' "
                    f"{r['score_object_samples']:.3f}, fresh renders {r['score_fresh_renders_of_concept']:.3f}")
    return results


def main():
    common.setup(5)
    log = common.Log("evaluate")
    pipe, scorer = Pipeline(), load_scorer()
    docs = os.path.join(common.ROOT, "docs")
    os.makedirs(docs, exist_ok=True)
    guidance = choose_guidance(pipe, scorer, log)
    report = {"unet_checkpoint": os.path.basename(common.unet_checkpoint()), "guidance": guidance,
              "ddim_steps": STEPS, "prompts": N_PROMPTS}
    report["attribute_accuracy"] = attribute_accuracy(pipe, scorer, log, guidance)
    if "--no-grid" not in sys.argv:
        grid(pipe, os.path.join(docs, "tiny-sd-samples.png"), guidance)
        log("grid written")
    report["concepts"] = concept_scores(pipe, scorer, log, guidance)
    with open(os.path.join(docs, "tiny-sd-eval.json"), "w") as f:
        json.dump(report, f, indent=2)
    log("done")


if __name__ == "__main__":
    main()
