"""Builds tiny random-weight SD-architecture pipelines in the Optimum ONNX layout and
PyTorch-autograd references for the textual-inversion loss and gradient.

Run by hand (never by CI):  /usr/bin/python3 tools/ti-reference/make_fixtures.py
Needs Debian's python3-torch (1.13) and python3-onnx. Writes test/fixtures/tiny-sd-*/.

Each pipeline folder gets text_encoder/model.onnx, unet/model.onnx (b: weights in
model.onnx_data), model_index.json, and references/<case>.safetensors holding the inputs
(input_ids, concept, noisy_latents, timesteps, target) and the float64 autograd results
(expected_loss, expected_grad, expected_sample_losses) computed from the same weights.

The rest of a complete pipeline, for the engine's end-to-end tests, is made after the
references from a separate seed (so the models above do not change): vae_encoder/ and
vae_decoder/ (tiny random AutoencoderKL-like, factor 8, 64x64 images <-> 4x8x8 latents),
scheduler/scheduler_config.json, and tokenizer/ (vocab.json, merges.txt,
tokenizer_config.json): a CLIP-style byte-level BPE vocabulary of exactly the text
encoder's size (letters, letters + "</w>", merges learned from the caption templates,
then <|startoftext|> and <|endoftext|> as the last two ids); tiny-sd-a also gets an
image_encoder/ (a random image scorer: pixel_values -> image_embeds [B, 16]).
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from tiny_sd import ImageEncoder, TextConfig, TextEncoder, UNet, VaeDecoder, VaeEncoder  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures"))

CONFIGS = [
    # torch-1.x style export: opset 14, int32 ids (cast inside), int64 timesteps [B], 3-D attention in the text
    # encoder, 4-D attention in the UNet, decomposed LayerNorm.
    dict(name="tiny-sd-a", seed=1, opset=14, ids=torch.int32, timestep="int64", style="4d",
         text=TextConfig(vocab=100, hidden=32, heads=2, layers=2, intermediate=64), channels=(8, 16), external=False, scorer=True,
         scheduler={"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
                    "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False, "skip_prk_steps": True,
                    "steps_offset": 1, "clip_sample": False, "trained_betas": None}),
    # newer export: opset 17, int64 ids, float32 scalar timestep, Einsum attention, fused LayerNormalization, external data.
    dict(name="tiny-sd-b", seed=2, opset=17, ids=torch.int64, timestep="float-scalar", style="einsum",
         text=TextConfig(vocab=120, hidden=48, heads=3, layers=1, intermediate=96), channels=(12, 20), external=True,
         scheduler={"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
                    "num_train_timesteps": 1000, "prediction_type": "v_prediction", "set_alpha_to_one": False,
                    "steps_offset": 1, "clip_sample": False, "trained_betas": None}),
]


def randomize_norms(module, gen):
    for m in module.modules():
        if isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm)):
            m.weight.data = 1 + 0.1 * torch.randn(m.weight.shape, generator=gen)
            m.bias.data = 0.1 * torch.randn(m.bias.shape, generator=gen)


def write_safetensors(path, tensors):
    """Minimal safetensors writer (the pip package is not in Debian)."""
    names = sorted(tensors)
    header, offset, blobs = {}, 0, []
    kinds = {np.float32: "F32", np.float64: "F64", np.int32: "I32", np.int64: "I64"}
    for n in names:
        a = np.ascontiguousarray(tensors[n])
        b = a.tobytes()
        header[n] = {"dtype": kinds[a.dtype.type], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def export(cfg, te, unet, folder):
    c = cfg["text"]
    shutil.rmtree(folder, ignore_errors=True)  # onnx appends to an existing model.onnx_data
    os.makedirs(os.path.join(folder, "text_encoder"), exist_ok=True)
    os.makedirs(os.path.join(folder, "unet"), exist_ok=True)
    ids = torch.randint(0, c.vocab, (2, 77), dtype=cfg["ids"])
    te_path = os.path.join(folder, "text_encoder", "model.onnx")
    torch.onnx.export(te, (ids,), te_path, input_names=["input_ids"], output_names=["last_hidden_state", "pooler_output"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"},
                                    "pooler_output": {0: "batch"}}, opset_version=cfg["opset"], do_constant_folding=True)
    sample = torch.randn(2, 4, 8, 8)
    hidden = torch.randn(2, 77, c.hidden)
    scalar = cfg["timestep"] == "float-scalar"
    t = torch.tensor(500.0) if scalar else torch.tensor([10, 900], dtype=torch.int64)
    axes = {"sample": {0: "batch", 2: "height", 3: "width"}, "encoder_hidden_states": {0: "batch", 1: "sequence"},
            "out_sample": {0: "batch", 2: "height", 3: "width"}}
    if not scalar:
        axes["timestep"] = {0: "batch"}
    unet_path = os.path.join(folder, "unet", "model.onnx")
    torch.onnx.export(unet, (sample, t, hidden), unet_path, input_names=["sample", "timestep", "encoder_hidden_states"],
                      output_names=["out_sample"], dynamic_axes=axes, opset_version=cfg["opset"], do_constant_folding=True)
    if cfg["external"]:
        m = onnx.load(unet_path)
        onnx.save_model(m, unet_path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx_data", size_threshold=512)
    for sub, conf in (("text_encoder", {"vocab_size": c.vocab, "hidden_size": c.hidden}), ("unet", {"in_channels": 4, "cross_attention_dim": c.hidden})):
        with open(os.path.join(folder, sub, "config.json"), "w") as f:
            json.dump(conf, f, indent=2)
    with open(os.path.join(folder, "model_index.json"), "w") as f:
        json.dump({"_class_name": "ORTStableDiffusionPipeline", "text_encoder": ["optimum", "ORTModelTextEncoder"],
                   "unet": ["optimum", "ORTModelUnet"], "note": "tiny random-weight test pipeline (tools/ti-reference)"}, f, indent=2)


def prompts(vocab, k, batch):
    bos, eos = vocab - 2, vocab - 1
    rows = []
    for b in range(batch):
        words = [3 + b, 7, vocab + (b % k)] if b % 2 == 0 else [vocab, 11, vocab + k - 1, vocab]  # odd rows: placeholder twice or more
        row = [bos] + words + [eos]
        rows.append(row + [eos] * (77 - len(row)))
    return torch.tensor(rows)


def reference(cfg, te, unet, k, batch, gen):
    c = cfg["text"]
    ids = prompts(c.vocab, k, batch)
    concept = torch.randn(k, c.hidden, generator=gen, dtype=torch.float64).float()
    noisy = torch.randn(batch, 4, 8, 8, generator=gen).float()
    target = torch.randn(batch, 4, 8, 8, generator=gen).float()
    timesteps = torch.linspace(0, 999, batch).round().to(torch.int64)
    te64, unet64 = te.double(), unet.double()
    concept64 = concept.double().requires_grad_(True)
    table = torch.cat([te64.token.weight.detach(), concept64])
    hidden, _ = te64.forward_embeds(F.embedding(ids, table), ids)
    t = timesteps.double() if cfg["timestep"] == "float-scalar" else timesteps
    pred = unet64(noisy.double(), t, hidden)
    per_sample = ((pred - target.double()) ** 2).mean(dim=(1, 2, 3))
    loss = F.mse_loss(pred, target.double())
    loss.backward()
    te.float(), unet.float()
    ts = timesteps.float().numpy() if cfg["timestep"] == "float-scalar" else timesteps.numpy()
    return {
        "input_ids": ids.to(cfg["ids"]).numpy(), "concept": concept.numpy(), "noisy_latents": noisy.numpy(),
        "timesteps": ts, "target": target.numpy(), "expected_loss": np.array(loss.item(), dtype=np.float64),
        "expected_grad": concept64.grad.numpy(), "expected_sample_losses": per_sample.detach().numpy(),
    }


# Words the tiny tokenizer should know whole: the object templates' words and a few initializers.
TOKENIZER_CORPUS = ("a photo of a rendering of a cropped photo of the the photo of a clean dirty dark my cool close-up "
                    "bright good one rendition nice small weird large painting in the style of cat toy dog red ball")


def learn_merges(words, count):
    """Plain BPE (Sennrich et al.): merge the most frequent adjacent pair, ties by the pair's text."""
    freq = {}
    for w in words:
        key = tuple(w[:-1]) + (w[-1] + "</w>",)
        freq[key] = freq.get(key, 0) + 1
    merges = []
    while len(merges) < count:
        pairs = {}
        for word, n in freq.items():
            for pair in zip(word, word[1:]):
                pairs[pair] = pairs.get(pair, 0) + n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged = {}
        for word, n in freq.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + n
        freq = merged
    return merges


def export_tokenizer(vocab_size, folder):
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    base = letters + [l + "</w>" for l in letters]
    words = [w for w in TOKENIZER_CORPUS.replace("-", " ").split() if w.isalpha()]
    merges = learn_merges(words, vocab_size - 2 - len(base))
    tokens = base + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(tokens) == vocab_size and len(set(tokens)) == vocab_size, (len(tokens), vocab_size)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump({t: i for i, t in enumerate(tokens)}, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                   "pad_token": "<|endoftext|>", "model_max_length": 77, "do_lower_case": True,
                   "tokenizer_class": "CLIPTokenizer"}, f, indent=2)


def export_extras(cfg, folder):
    """VAE encoder/decoder, scheduler and tokenizer, from their own seed."""
    torch.manual_seed(cfg["seed"] + 1000)
    gen = torch.Generator().manual_seed(cfg["seed"] + 2000)
    enc, dec = VaeEncoder().eval(), VaeDecoder().eval()
    randomize_norms(enc, gen)
    randomize_norms(dec, gen)
    for sub, model, name_in, name_out, example in (
        ("vae_encoder", enc, "sample", "latent_parameters", torch.randn(1, 3, 64, 64)),
        ("vae_decoder", dec, "latent_sample", "sample", torch.randn(1, 4, 8, 8)),
    ):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        torch.onnx.export(model, (example,), os.path.join(folder, sub, "model.onnx"), input_names=[name_in], output_names=[name_out],
                          dynamic_axes={name_in: {0: "batch", 2: "height", 3: "width"}, name_out: {0: "batch", 2: "height", 3: "width"}},
                          opset_version=cfg["opset"], do_constant_folding=True)
        vae_config = {"_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
                      "block_out_channels": [8, 8, 8, 8], "sample_size": 64, "scaling_factor": 0.18215}
        with open(os.path.join(folder, sub, "config.json"), "w") as f:
            json.dump(vae_config, f, indent=2)
    if cfg.get("scorer"):
        scorer = ImageEncoder().eval()
        os.makedirs(os.path.join(folder, "image_encoder"), exist_ok=True)
        torch.onnx.export(scorer, (torch.randn(1, 3, 64, 64),), os.path.join(folder, "image_encoder", "model.onnx"),
                          input_names=["pixel_values"], output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          opset_version=cfg["opset"], do_constant_folding=True)
    os.makedirs(os.path.join(folder, "scheduler"), exist_ok=True)
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(cfg["scheduler"], f, indent=2)
    export_tokenizer(cfg["text"].vocab, os.path.join(folder, "tokenizer"))
    with open(os.path.join(folder, "unet", "config.json"), "w") as f:
        json.dump({"in_channels": 4, "cross_attention_dim": cfg["text"].hidden, "sample_size": 8}, f, indent=2)
    with open(os.path.join(folder, "model_index.json"), "w") as f:
        json.dump({"_class_name": "ORTStableDiffusionPipeline", "text_encoder": ["optimum", "ORTModelTextEncoder"],
                   "unet": ["optimum", "ORTModelUnet"], "vae_encoder": ["optimum", "ORTModelVaeEncoder"],
                   "vae_decoder": ["optimum", "ORTModelVaeDecoder"], "tokenizer": ["transformers", "CLIPTokenizer"],
                   "scheduler": ["diffusers", cfg["scheduler"]["_class_name"]],
                   "note": "tiny random-weight test pipeline (tools/ti-reference)"}, f, indent=2)


def main():
    for cfg in CONFIGS:
        torch.manual_seed(cfg["seed"])
        gen = torch.Generator().manual_seed(cfg["seed"] + 100)
        te = TextEncoder(cfg["text"], cast_ids=cfg["ids"] == torch.int32).eval()
        unet = UNet(cfg["text"].hidden, channels=cfg["channels"], style=cfg["style"], timestep_scalar=cfg["timestep"] == "float-scalar").eval()
        randomize_norms(te, gen)
        randomize_norms(unet, gen)
        folder = os.path.join(ROOT, cfg["name"])
        export(cfg, te, unet, folder)
        os.makedirs(os.path.join(folder, "references"), exist_ok=True)
        for k, batch in ((1, 2), (2, 3)):
            write_safetensors(os.path.join(folder, "references", f"k{k}-b{batch}.safetensors"), reference(cfg, te, unet, k, batch, gen))
        export_extras(cfg, folder)
        print("wrote", folder)


if __name__ == "__main__":
    main()
