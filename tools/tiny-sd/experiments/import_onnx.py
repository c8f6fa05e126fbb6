"""Read the text encoder + UNet weights of an exported tiny-sd model (ONNX) back into a PyTorch
checkpoint, to warm-start train_unet.py (TSD_INIT) from a previously shipped model.

Parameters are found by value: the same architecture is exported with random weights, each of its
initializers is matched to the parameter holding the same values (ONNX stores Linear weights
transposed), then the old initializer is copied in. The result is checked by exporting again: every
initializer must equal the old file's bit for bit.
usage: import_onnx.py <text_encoder.onnx> <unet.onnx> <out.pt>"""
import io
import sys
import numpy as np
import onnx
import torch
from onnx import numpy_helper
import export
import train_unet
from text_encoder import ClipTextModel
from unet import UNet2DCondition

TEXT_AXES = {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"},
             "pooler_output": {0: "batch"}}
UNET_AXES = {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "batch"},
             "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}}


def initializers(model):
    m = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(model)
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def export_bytes(module, args, inputs, outputs, axes):
    f = io.BytesIO()
    torch.onnx.export(module.eval(), args, f, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                      opset_version=export.OPSET, do_constant_folding=True)
    return f.getvalue()


def transfer(module, wrapper, args, io_names, axes, old_path):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape))  # distinct values, so every parameter is found once
    fresh = initializers(export_bytes(wrapper, args, *io_names, axes))
    old = initializers(old_path)
    if set(fresh) != set(old):
        raise SystemExit(f"{old_path}: not this architecture ({len(set(fresh) ^ set(old))} initializers differ)")
    params, done = dict(module.named_parameters()), set()
    for name, a in fresh.items():
        hit = next((n for n, p in params.items() if p.numel() == a.size and
                    np.array_equal(np.sort(p.detach().numpy().ravel()), np.sort(a.ravel()))), None)
        if hit is None:
            continue  # a constant of the graph, not a parameter
        p = params[hit]
        v = p.detach().numpy()
        with torch.no_grad():
            if v.ndim == 2 and not np.array_equal(v.ravel(), a.ravel()):
                p.copy_(torch.from_numpy(old[name].T.copy()))  # MatMul stores W^T
            else:
                p.copy_(torch.from_numpy(old[name].reshape(v.shape)))
        done.add(hit)
    if set(params) != done:
        raise SystemExit(f"parameters not found in {old_path}: {sorted(set(params) - done)}")
    again = initializers(export_bytes(wrapper, args, *io_names, axes))
    if any(not np.array_equal(old[n], again[n]) for n in old):
        raise SystemExit(f"{old_path}: re-export differs")
    print(f"{old_path}: {len(done)} parameters, re-export identical")


def main(text_path, unet_path, out):
    torch.set_num_threads(1)
    tokenizer, _ = train_unet.build_tokenizer()
    ids = torch.tensor([tokenizer.encode("a photo of a small red striped star at the left on a blue background"),
                        tokenizer.encode("")])
    text = ClipTextModel(len(tokenizer.vocab), **train_unet.TEXT)
    transfer(text, export.TextExport(text), (ids,), (["input_ids"], ["last_hidden_state", "pooler_output"]),
             TEXT_AXES, text_path)
    unet = UNet2DCondition(**dict(train_unet.UNET, pos_size=0))  # the previous model had no pos_embed
    context = text(ids)[0].detach()
    transfer(unet, unet, (export.pattern((2, 4, 8, 8)), torch.tensor([10, 700]), context),
             (["sample", "timestep", "encoder_hidden_states"], ["out_sample"]), UNET_AXES, unet_path)
    torch.save({"text": text.state_dict(), "unet": unet.state_dict()}, out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
