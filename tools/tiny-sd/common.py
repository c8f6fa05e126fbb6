"""Paths, seeds and the cached training set shared by the training scripts."""
import json
import os
import time
import numpy as np
import torch
import world

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("TINY_SD_BUILD", os.path.join(HERE, "build"))  # checkpoints, caches (git-ignored)
MODEL_DIR = os.path.join(ROOT, "models", "tiny-sd")
SEED = 20240611
TRAIN_SIZE = 24000
THREADS = int(os.environ.get("TINY_SD_THREADS", "2"))


def setup(seed_offset):
    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED + seed_offset)
    os.makedirs(BUILD, exist_ok=True)


def training_set():
    """Rendered once from the seed and cached: (scenes, uint8 images [N,32,32,3], captions)."""
    path = os.path.join(BUILD, "world.npz")
    if not os.path.exists(path):
        os.makedirs(BUILD, exist_ok=True)
        scenes, images, captions = world.dataset(TRAIN_SIZE, SEED)
        np.savez_compressed(path, images=images, scenes=json.dumps(scenes), captions=json.dumps(captions))
    d = np.load(path)
    return json.loads(str(d["scenes"])), d["images"], json.loads(str(d["captions"]))


def to_tensor(images):
    """uint8 [N,32,32,3] -> float [-1,1] [N,3,32,32]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_uint8(x):
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


class Log:
    def __init__(self, name):
        self.t0, self.f = time.time(), open(os.path.join(BUILD, f"{name}.log"), "a")

    def __call__(self, msg):
        line = f"[{time.time() - self.t0:7.1f}s] {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()


def unet_checkpoint():
    """The UNet checkpoint that export/evaluate read: build/unet.pt, or TINY_SD_UNET (another file in build/, e.g. unet-step3000.pt)."""
    return os.path.join(BUILD, os.environ.get("TINY_SD_UNET", "unet.pt"))
