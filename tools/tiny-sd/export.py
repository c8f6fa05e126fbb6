"""Export the trained checkpoints to models/tiny-sd/ in the Optimum ONNX layout (opset 14), plus
image_encoder/ for the scorer, and write a small reference fixture for the TypeScript test."""
import json
import math
import os
import torch
import common
import tokenizer as tok
import train_unet
from autoencoder import AutoencoderKL, VaeEncoderExport, VaeDecoderExport
from text_encoder import ClipTextModel
from unet import UNet2DCondition
from scorer import ImageEncoder, EMBED_DIM, HEADS

OPSET = 14
FIXTURE = os.path.join(common.ROOT, "test", "models", "fixtures", "tiny-sd-reference.json")


class TextExport(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids)


class ScorerExport(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        return self.m(pixel_values)[0]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def export(module, args, name, inputs, outputs, axes):
    path = os.path.join(common.MODEL_DIR, name, "model.onnx")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(module.eval(), args, path, input_names=inputs, output_names=outputs,
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    with torch.no_grad():
        out = module(*args)
    return out if isinstance(out, tuple) else (out,)


def pattern(shape, scale=1.0, phase=0.0):
    """A deterministic input the TypeScript test rebuilds: x[i] = scale * sin(0.37 * i + phase)."""
    n = math.prod(shape)
    return (scale * torch.sin(0.37 * torch.arange(n, dtype=torch.float32) + phase)).reshape(shape)


def summary(t):
    t = t.detach().reshape(-1).double()
    return {"shape": list(t.shape), "first": [round(float(v), 6) for v in t[:8]],
            "mean": float(t.mean()), "mean_abs": float(t.abs().mean())}


def main():
    common.setup(6)
    tokenizer, merges = train_unet.build_tokenizer()
    ck = torch.load(common.unet_checkpoint())
    vk = torch.load(f"{common.BUILD}/vae.pt")
    text = ClipTextModel(len(tokenizer.vocab), **train_unet.TEXT)
    text.load_state_dict(ck["text"])
    unet = UNet2DCondition(**train_unet.UNET)
    unet.load_state_dict(ck["unet"])
    vae = AutoencoderKL()
    vae.load_state_dict(vk["state"])
    scorer = ImageEncoder()
    scorer.load_state_dict(torch.load(f"{common.BUILD}/scorer.pt")["state"])
    for m in (text, unet, vae, scorer):
        m.eval()
    d = common.MODEL_DIR
    prompt = "a photo of a small red striped star at the left on a blue background"
    ids = torch.tensor([tokenizer.encode(prompt), tokenizer.encode("")])
    ref = {"prompt": prompt, "input_ids": ids.tolist(), "pattern": "x[i] = scale * sin(0.37 * i + phase)"}

    te = export(TextExport(text), (ids,), "text_encoder", ["input_ids"], ["last_hidden_state", "pooler_output"],
                {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"},
                 "pooler_output": {0: "batch"}})
    ref["text_encoder"] = {"last_hidden_state": summary(te[0]), "pooler_output": summary(te[1])}

    sample, t = pattern((2, 4, 8, 8)), torch.tensor([10, 700], dtype=torch.long)
    un = export(unet, (sample, t, te[0]), "unet", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
                {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "batch"},
                 "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}})
    ref["unet"] = {"sample": {"shape": [2, 4, 8, 8], "scale": 1.0, "phase": 0.0}, "timestep": [10, 700],
                   "encoder_hidden_states": "text_encoder last_hidden_state of input_ids", "out_sample": summary(un[0])}

    img = pattern((2, 3, 32, 32), 0.9, 1.0)
    ve = export(VaeEncoderExport(vae), (img,), "vae_encoder", ["sample"], ["latent_parameters"],
                {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_parameters": {0: "batch", 2: "height", 3: "width"}})
    ref["vae_encoder"] = {"sample": {"shape": [2, 3, 32, 32], "scale": 0.9, "phase": 1.0}, "latent_parameters": summary(ve[0])}

    lat = pattern((2, 4, 8, 8), 1.0, 2.0)
    vd = export(VaeDecoderExport(vae), (lat,), "vae_decoder", ["latent_sample"], ["sample"],
                {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    ref["vae_decoder"] = {"latent_sample": {"shape": [2, 4, 8, 8], "scale": 1.0, "phase": 2.0}, "sample": summary(vd[0])}

    ie = export(ScorerExport(scorer), (img,), "image_encoder", ["pixel_values"], ["image_embeds"],
                {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
    ref["image_encoder"] = {"pixel_values": "same as vae_encoder sample", "image_embeds": summary(ie[0])}

    tok.save(os.path.join(d, "tokenizer"), tokenizer.vocab, merges)
    s = train_unet.SCHEDULE
    write_json(os.path.join(d, "scheduler", "scheduler_config.json"), {
        "_class_name": "DDPMScheduler", "_diffusers_version": "0.21.0", **s, "trained_betas": None,
        "variance_type": "fixed_small", "clip_sample": False, "prediction_type": "epsilon",
        "set_alpha_to_one": False, "steps_offset": 1, "timestep_spacing": "leading", "skip_prk_steps": True})
    write_json(os.path.join(d, "model_index.json"), {
        "_class_name": "ORTStableDiffusionPipeline", "_diffusers_version": "0.21.0",
        "feature_extractor": [None, None], "image_encoder": ["tiny_sd", "ImageEncoder"],
        "requires_safety_checker": False, "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDPMScheduler"], "text_encoder": ["optimum", "ORTModelTextEncoder"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["optimum", "ORTModelUnet"],
        "vae_decoder": ["optimum", "ORTModelVaeDecoder"], "vae_encoder": ["optimum", "ORTModelVaeEncoder"]})
    tc = train_unet.TEXT
    write_json(os.path.join(d, "text_encoder", "config.json"), {
        "architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "hidden_act": "quick_gelu",
        "hidden_size": tc["dim"], "intermediate_size": tc["mlp"], "num_attention_heads": tc["heads"],
        "num_hidden_layers": tc["layers"], "max_position_embeddings": 77, "vocab_size": len(tokenizer.vocab),
        "layer_norm_eps": 1e-5, "bos_token_id": tokenizer.bos, "eos_token_id": tokenizer.eos,
        "pad_token_id": tokenizer.eos, "projection_dim": tc["dim"], "torch_dtype": "float32"})
    uc = train_unet.UNET
    write_json(os.path.join(d, "unet", "config.json"), {
        "_class_name": "UNet2DConditionModel", "sample_size": 8, "in_channels": 4, "out_channels": 4,
        "block_out_channels": list(uc["widths"]), "layers_per_block": 1,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "cross_attention_dim": uc["context_dim"], "attention_head_dim": uc["widths"][0] // uc["heads"],
        "norm_num_groups": 8, "norm_eps": 1e-6, "act_fn": "silu", "flip_sin_to_cos": True, "freq_shift": 0,
        "timestep_input": "int64 [batch]"})
    vcfg = {"_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
            "block_out_channels": [16, 32, 64], "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 32,
            "downsampling_factor": 4, "scaling_factor": round(vk["scaling_factor"], 6)}
    write_json(os.path.join(d, "vae_encoder", "config.json"), vcfg)
    write_json(os.path.join(d, "vae_decoder", "config.json"), vcfg)
    write_json(os.path.join(d, "image_encoder", "config.json"), {
        "_class_name": "TinySdImageEncoder", "image_size": 32, "embed_dim": EMBED_DIM,
        "inputs": {"pixel_values": "float32 [batch, 3, 32, 32], RGB scaled to [-1, 1] (same as vae_encoder)"},
        "outputs": {"image_embeds": f"float32 [batch, {EMBED_DIM}], not normalised"},
        "score": "mean over all (generated, reference) pairs of cosine(image_embeds_g, image_embeds_r)",
        "trained_heads": {name: classes for name, classes in HEADS}})
    write_json(FIXTURE, ref)
    print("exported to", d)


if __name__ == "__main__":
    main()
