"""The synthetic captioned image world the tiny model is trained on.

Images are 32x32 RGB, rendered at 4x resolution and box-downsampled (anti-aliasing).
Generic scenes: one shape with a colour, size, texture and position on a plain background.
Concept scenes: one of a fixed set of designs (ring, heart, ...) that is always captioned
with the generic word "object", so the model learns to draw it but never learns its name.
"""
import re
import numpy as np

RES = 32
SS = 4  # supersampling factor

SHAPES = ["circle", "square", "triangle", "star"]
COLOURS = {
    "red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 225),
    "yellow": (240, 220, 40), "purple": (150, 60, 200), "white": (240, 240, 240),
}
BACKGROUNDS = {
    "black": (15, 15, 15), "white": (240, 240, 240), "gray": (128, 128, 128),
    "blue": (40, 80, 225), "brown": (120, 75, 35),
}
SIZES = {"small": 5.5, "large": 10.0}  # radius in pixels
TEXTURES = ["plain", "striped"]
POSITIONS = {  # centre in pixels
    "at the left": (10.0, 16.0), "at the right": (22.0, 16.0), "at the top": (16.0, 10.0),
    "at the bottom": (16.0, 22.0), "in the center": (16.0, 16.0),
}
POSITION_NAMES = list(POSITIONS)

# Templates of diffusers' textual inversion (imagenet_templates_small), without the ones
# that name a size (they would contradict the size attribute).
TEMPLATES = [
    "a photo of a {}", "a rendering of a {}", "a cropped photo of the {}", "the photo of a {}",
    "a photo of a clean {}", "a photo of a dirty {}", "a dark photo of the {}", "a photo of my {}",
    "a photo of the cool {}", "a close-up photo of a {}", "a bright photo of the {}",
    "a cropped photo of a {}", "a photo of the {}", "a good photo of the {}", "a photo of one {}",
    "a close-up photo of the {}", "a rendition of the {}", "a photo of the clean {}",
    "a rendition of a {}", "a photo of a nice {}", "a good photo of a {}", "a photo of the nice {}",
    "a photo of the weird {}", "a photo of a cool {}",
]
# Kept in the tokenizer corpus so the engine's textual-inversion templates tokenize to words.
EXTRA_TEMPLATES = ["a photo of the small {}", "a photo of the large {}", "a photo of a small {}"]

# Concepts: fixed designs, always captioned "object". Initializer: a word of the vocabulary
# that describes them coarsely.
TRAIN_CONCEPTS = ["ring", "heart", "crescent", "checker", "arrow", "hourglass", "face", "house"]
EVAL_CONCEPTS = ["target", "split-disc", "plus", "diamond"]
CONCEPTS = TRAIN_CONCEPTS + EVAL_CONCEPTS
CONCEPT_INFO = {
    "ring": ("an orange ring (a disc with a hole)", "circle"),
    "heart": ("a pink heart", "object"),
    "crescent": ("a yellow crescent moon", "circle"),
    "checker": ("a square split into red and white quarters (2x2 checkerboard)", "square"),
    "arrow": ("a green arrow pointing right", "triangle"),
    "hourglass": ("a cyan hourglass (two triangles meeting at their tips)", "triangle"),
    "face": ("a yellow smiley face with dark eyes and mouth", "circle"),
    "house": ("a red house: a square wall under a triangular dark roof", "square"),
    "target": ("a red and white target of concentric rings", "circle"),
    "split-disc": ("a disc, left half blue and right half orange", "circle"),
    "plus": ("a thick magenta plus sign", "object"),
    "diamond": ("a teal diamond (a square rotated by 45 degrees) with a white border", "square"),
}


def _grid():
    c = (np.arange(RES * SS) + 0.5) / SS
    return np.meshgrid(c, c)  # x, y in pixel units


GX, GY = _grid()


def shape_mask(shape, cx, cy, r):
    dx, dy = GX - cx, GY - cy
    if shape == "circle":
        return dx * dx + dy * dy < r * r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) < r * 0.82
    if shape == "triangle":
        top, bottom = -r, r * 0.75
        return (dy > top) & (dy < bottom) & (np.abs(dx) < (dy - top) * 0.62)
    if shape == "star":
        ang = np.arctan2(dx, -dy)
        frac = (ang * 5 / (2 * np.pi)) % 1.0
        tri = np.abs(frac * 2 - 1)  # 1 at points, 0 between
        return np.hypot(dx, dy) < r * (0.42 + 0.58 * tri)
    raise ValueError(f"unknown shape {shape}")


def _paint(canvas, mask, rgb):
    canvas[mask] = np.asarray(rgb, np.float32)


def draw_concept(canvas, name, cx, cy, r):
    dx, dy = GX - cx, GY - cy
    rho = np.hypot(dx, dy)
    if name == "ring":
        _paint(canvas, (rho < r) & (rho > r * 0.5), (245, 140, 20))
    elif name == "heart":
        x, y = dx / (r * 0.85), -(dy / (r * 0.85)) + 0.2
        _paint(canvas, (x * x + y * y - 1) ** 3 - x * x * y ** 3 < 0, (245, 110, 180))
    elif name == "crescent":
        _paint(canvas, (rho < r) & (np.hypot(dx - r * 0.45, dy + r * 0.2) > r * 0.8), (240, 220, 40))
    elif name == "checker":
        inside = np.maximum(np.abs(dx), np.abs(dy)) < r * 0.85
        _paint(canvas, inside & ((dx < 0) == (dy < 0)), (220, 40, 40))
        _paint(canvas, inside & ((dx < 0) != (dy < 0)), (240, 240, 240))
    elif name == "arrow":
        shaft = (dx > -r) & (dx < 0.1 * r) & (np.abs(dy) < r * 0.3)
        head = (dx >= 0.1 * r) & (dx < r) & (np.abs(dy) < (r - dx) * 0.95)
        _paint(canvas, shaft | head, (40, 200, 80))
    elif name == "hourglass":
        _paint(canvas, (np.abs(dy) < r * 0.9) & (np.abs(dx) < np.abs(dy) * 0.85), (40, 220, 220))
    elif name == "face":
        _paint(canvas, rho < r, (240, 220, 40))
        eyes = (np.hypot(np.abs(dx) - r * 0.38, dy + r * 0.3) < r * 0.17)
        mouth = (np.abs(np.hypot(dx, dy + r * 0.1) - r * 0.55) < r * 0.11) & (dy > r * 0.15)
        _paint(canvas, eyes | mouth, (30, 20, 10))
    elif name == "house":
        wall = (np.abs(dx) < r * 0.65) & (dy > -r * 0.1) & (dy < r * 0.9)
        roof = (dy <= -r * 0.1) & (dy > -r) & (np.abs(dx) < (dy + r) * 0.95 * 1.0)
        _paint(canvas, wall, (210, 50, 40))
        _paint(canvas, roof, (70, 40, 30))
    elif name == "target":
        band = np.floor(rho / (r / 3)).astype(int)
        _paint(canvas, (rho < r) & (band % 2 == 0), (220, 40, 40))
        _paint(canvas, (rho < r) & (band % 2 == 1), (240, 240, 240))
    elif name == "split-disc":
        _paint(canvas, (rho < r) & (dx < 0), (40, 80, 225))
        _paint(canvas, (rho < r) & (dx >= 0), (245, 140, 20))
    elif name == "plus":
        _paint(canvas, ((np.abs(dx) < r * 0.33) | (np.abs(dy) < r * 0.33))
               & (np.abs(dx) < r) & (np.abs(dy) < r), (220, 40, 200))
    elif name == "diamond":
        l1 = np.abs(dx) + np.abs(dy)
        _paint(canvas, l1 < r * 1.05, (240, 240, 240))
        _paint(canvas, l1 < r * 0.8, (20, 150, 140))
    else:
        raise ValueError(f"unknown concept {name}")


def render(scene):
    """scene: dict with bg, pos, size, jitter (dx, dy, dr) and either shape/colour/texture or concept."""
    bg = BACKGROUNDS[scene["bg"]]
    canvas = np.empty((RES * SS, RES * SS, 3), np.float32)
    canvas[:] = np.asarray(bg, np.float32)
    cx, cy = POSITIONS[scene["pos"]]
    jx, jy, jr = scene.get("jitter", (0.0, 0.0, 0.0))
    cx, cy, r = cx + jx, cy + jy, SIZES[scene["size"]] * (1.0 + jr)
    if "concept" in scene:
        draw_concept(canvas, scene["concept"], cx, cy, r)
    else:
        mask = shape_mask(scene["shape"], cx, cy, r)
        rgb = np.asarray(COLOURS[scene["colour"]], np.float32)
        if scene["texture"] == "striped":
            stripe = (np.floor(GY / 2.0) % 2 == 1)
            canvas[mask & ~stripe] = rgb
            canvas[mask & stripe] = rgb * 0.3
        else:
            canvas[mask] = rgb
    img = canvas.reshape(RES, SS, RES, SS, 3).mean(axis=(1, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _article(text):
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


def caption(scene, rng, template=None, keep=0.85):
    """Caption in the textual-inversion template style; each attribute is named with prob. keep."""
    words = []
    if rng.random() < keep:
        words.append(scene["size"])
    if "concept" in scene:
        words.append("object")
    else:
        if rng.random() < keep:
            words.append(scene["colour"])
        if rng.random() < keep:
            words.append(scene["texture"])
        words.append(scene["shape"])
    if rng.random() < keep:
        words.append(scene["pos"])
    if rng.random() < keep:
        words.append(f"on a {scene['bg']} background")
    if template is None:
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
    return _article(template.format(" ".join(words)))


def full_caption(scene, template="a photo of a {}"):
    """Caption naming every attribute (used for evaluation prompts)."""
    return caption(scene, np.random.default_rng(0), template, keep=1.0)


def random_scene(rng, concept=None):
    pos = POSITION_NAMES[rng.integers(len(POSITIONS))]
    size = list(SIZES)[rng.integers(len(SIZES))]
    jitter = (float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1)), float(rng.uniform(-0.08, 0.08)))
    scene = {"pos": pos, "size": size, "jitter": jitter}
    if concept is not None:
        scene["concept"] = concept
        bgs = list(BACKGROUNDS)
    else:
        scene["shape"] = SHAPES[rng.integers(len(SHAPES))]
        scene["colour"] = list(COLOURS)[rng.integers(len(COLOURS))]
        scene["texture"] = TEXTURES[rng.integers(len(TEXTURES))]
        bgs = [b for b in BACKGROUNDS if b != scene["colour"]]
    scene["bg"] = bgs[rng.integers(len(bgs))]
    return scene


def dataset(n, seed, concept_fraction=0.25):
    """n scenes with images and captions; a fraction of them show concepts, captioned 'object'."""
    rng = np.random.default_rng(seed)
    scenes, images, captions = [], np.empty((n, RES, RES, 3), np.uint8), []
    for i in range(n):
        concept = CONCEPTS[rng.integers(len(CONCEPTS))] if rng.random() < concept_fraction else None
        s = random_scene(rng, concept)
        scenes.append(s)
        images[i] = render(s)
        captions.append(caption(s, rng))
    return scenes, images, captions


def corpus_words():
    """Every word the captions and TI templates can contain (the tokenizer's training corpus)."""
    texts = TEMPLATES + EXTRA_TEMPLATES + SHAPES + list(COLOURS) + list(BACKGROUNDS) + list(SIZES)
    texts += TEXTURES + POSITION_NAMES + ["object", "an", "on a background"]
    return " ".join(t.replace("{}", " ") for t in texts)
