"""Reference AUTOMATIC1111 `.pt` embeddings written by torch.save, for
test/engine/embeddings/torch-pt.test.ts.

Run by hand with Debian's torch 1.13 (never by CI):
    /usr/bin/python3 tools/reference/a1111_pt.py
Writes test/fixtures/a1111-pt/<case>.pt (diffusers-bin.bin) and expected.json ({case: {"keys", "name",
"step", "dtype", "shape", "values"}}, values as float64 of the stored numbers, exact).

Cases follow A1111's Embedding.save dict ({"string_to_token": {"*": 265},
"string_to_param": {"*": vec}, "name", "step", "sd_checkpoint", "sd_checkpoint_name"}),
with F32, F16 and BF16 vectors, k = 1 and 3; plus a non-contiguous (transposed) tensor,
an nn.Parameter that requires grad, kohya's {"emb_params": tensor} layout and diffusers'
learned_embeds.bin ({token: tensor [H]}).
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "a1111-pt")
H = 8


def a1111_dict(vec, name, step):
    return {
        "string_to_token": {"*": 265},
        "string_to_param": {"*": vec},
        "name": name,
        "step": step,
        "sd_checkpoint": None,
        "sd_checkpoint_name": None,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(20261204)
    cases = {}

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    for dtype, label in [(torch.float32, "f32"), (torch.float16, "f16"), (torch.bfloat16, "bf16")]:
        for k in (1, 3):
            case = f"a1111-{label}-k{k}"
            cases[case] = (a1111_dict(randn(k, H).to(dtype), case, 100 * k), case)
    cases["a1111-f32-strided"] = (a1111_dict(randn(H, 3).t(), "strided", 7), "strided")
    cases["a1111-parameter"] = (a1111_dict(torch.nn.Parameter(randn(2, H)), "param", None), "param")
    cases["emb-params-f16"] = ({"emb_params": randn(2, H).half()}, None)
    cases["diffusers-bin"] = ({"<cat-toy>": randn(H)}, "<cat-toy>")

    expected = {}
    for case, (data, name) in cases.items():
        ext = "bin" if case == "diffusers-bin" else "pt"
        torch.save(data, os.path.join(OUT, f"{case}.{ext}"))
        vec = data["string_to_param"]["*"] if "string_to_param" in data else next(iter(data.values()))
        expected[case] = {
            "keys": list(data.keys()),
            "name": name,
            "step": data.get("step"),
            "dtype": str(vec.dtype).replace("torch.", ""),
            "shape": list(vec.shape),
            "values": [float(x) for x in vec.detach().double().flatten().tolist()],
        }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": expected}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
