"""Train the scoring image encoder: one classification head per attribute on freshly rendered scenes,
augmented with blur and noise so that it also reads the (softer) generated images."""
import sys
import numpy as np
import torch
import torch.nn.functional as F
import common
import world
from scorer import ImageEncoder, labels

STEPS, BATCH, LR = 1200, 64, 2e-3


def augment(x, gen):
    blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    w = torch.rand(x.shape[0], 1, 1, 1, generator=gen)
    x = x + (blur - x) * w
    return x + 0.06 * torch.rand(x.shape[0], 1, 1, 1, generator=gen) * torch.randn(x.shape, generator=gen)


def main(steps=STEPS):
    common.setup(2)
    log = common.Log("scorer")
    scenes, images, _ = common.training_set()
    x_all = common.to_tensor(images)
    y_all = torch.tensor([labels(s) for s in scenes])
    model = ImageEncoder()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(common.SEED + 21)
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = LR * min(1.0, (step + 1) / 50) * (1 - step / steps)
        idx = torch.randint(0, len(x_all), (BATCH,), generator=gen)
        _, logits = model(augment(x_all[idx], gen))
        y = y_all[idx]
        loss = sum(F.cross_entropy(l, y[:, k], ignore_index=-100) for k, l in enumerate(logits))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 200 == 0 or step == steps - 1:
            log(f"step {step} loss {loss.item():.4f}")
    # held-out accuracy on new renders (different seed)
    rng = np.random.default_rng(common.SEED + 99)
    test = [world.random_scene(rng, world.CONCEPTS[i % 12] if i % 4 == 0 else None) for i in range(600)]
    x = common.to_tensor(np.stack([world.render(s) for s in test]))
    y = torch.tensor([labels(s) for s in test])
    model.eval()
    with torch.no_grad():
        _, logits = model(x)
    accs = []
    for k, l in enumerate(logits):
        m = y[:, k] != -100
        accs.append(float((l.argmax(-1)[m] == y[m, k]).float().mean()))
    log("held-out accuracy per head: " + ", ".join(f"{n} {a:.3f}" for (n, _), a in zip(__import__('scorer').HEADS, accs)))
    torch.save({"state": model.state_dict()}, f"{common.BUILD}/scorer.pt")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else STEPS)
