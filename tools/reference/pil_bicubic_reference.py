"""Reference outputs of Pillow's Image.resize(..., BICUBIC) on 8-bit RGB, for
test/engine/images/resample.test.ts. Run by hand (Debian's python3 with Pillow 9.4):

    /usr/bin/python3 tools/reference/pil_bicubic_reference.py test/fixtures/pil_bicubic_reference.json

(Kept beside its fixture: the engine-inputs helper could not add to tools/; move it to
tools/reference/ if preferred.) Inputs are a formula both sides compute, so only the
outputs are stored: the RGB bytes for small cases, a SHA-256 for large ones.
"""
import base64
import hashlib
import json
import sys

import numpy as np
import PIL
from PIL import Image


def pattern(width, height):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 37 + y * 91 + c * 53 + ((x * y) % 17) * 11) % 256 for c in range(3)], axis=-1).astype(np.uint8)


# (width, height, out_width, out_height, store_bytes)
CASES = [
    (61, 47, 16, 16, True),  # non-integer downscale
    (64, 64, 16, 16, True),  # integer factor 4
    (23, 23, 40, 40, True),  # upscale
    (37, 53, 53, 37, True),  # one axis up, one down
    (300, 300, 32, 32, True),  # factor 9.4 (wide kernel)
    (512, 384, 512, 512, False),  # height only (no horizontal pass)
    (1200, 900, 512, 512, False),  # a photo-sized reduction
]

cases = []
for width, height, out_width, out_height, store in CASES:
    out = np.array(Image.fromarray(pattern(width, height)).resize((out_width, out_height), resample=Image.BICUBIC)).tobytes()
    case = {"width": width, "height": height, "outWidth": out_width, "outHeight": out_height, "sha256": hashlib.sha256(out).hexdigest()}
    if store:
        case["rgb"] = base64.b64encode(out).decode()
    cases.append(case)

with open(sys.argv[1], "w") as handle:
    json.dump({"pillow": PIL.__version__, "cases": cases}, handle, indent=1)
    handle.write("\n")
