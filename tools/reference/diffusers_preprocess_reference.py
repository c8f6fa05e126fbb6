"""diffusers' textual_inversion.py preprocessing (--center_crop) of
test/fixtures/diffusers_preprocess.jpg at resolution 64, for
test/engine/images/diffusers-parity.test.ts. Run by hand (Debian's python3, Pillow 9.4):

    /usr/bin/python3 tools/reference/diffusers_preprocess_reference.py

(Kept beside its fixture: the engine-inputs helper could not add to tools/.) The steps
are those of TextualInversionDataset.__getitem__: open, convert to RGB, crop
[(h - s) // 2 : (h + s) // 2, (w - s) // 2 : (w + s) // 2], resize with PIL BICUBIC,
v / 127.5 - 1 as float32, HWC -> CHW.
"""
import base64
import hashlib
import json
import os

import numpy as np
import PIL
from PIL import Image

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures")
SIZE = 64

image = Image.open(os.path.join(HERE, "diffusers_preprocess.jpg"))
if not image.mode == "RGB":
    image = image.convert("RGB")
img = np.array(image).astype(np.uint8)
crop = min(img.shape[0], img.shape[1])
h, w = img.shape[0], img.shape[1]
img = img[(h - crop) // 2 : (h + crop) // 2, (w - crop) // 2 : (w + crop) // 2]
image = Image.fromarray(img).resize((SIZE, SIZE), resample=Image.BICUBIC)
rgb = np.array(image).astype(np.uint8)
chw = (rgb / 127.5 - 1.0).astype(np.float32).transpose(2, 0, 1)

with open(os.path.join(HERE, "diffusers_preprocess.json"), "w") as handle:
    json.dump(
        {
            "pillow": PIL.__version__,
            "resolution": SIZE,
            "rgb_hwc_base64": base64.b64encode(rgb.tobytes()).decode(),
            "chw_float32_le_sha256": hashlib.sha256(np.ascontiguousarray(chw).astype("<f4").tobytes()).hexdigest(),
        },
        handle,
        indent=1,
    )
    handle.write("\n")
