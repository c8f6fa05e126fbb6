"""Write the concept image sets: examples/concepts/<name>/ (tuning) and examples/concepts-eval/<name>/
(evaluation only), 5 PNGs each (32x32, the model's resolution), with a README per concept."""
import os
import numpy as np
from PIL import Image
import common
import world

IMAGES_PER_CONCEPT = 5


def main():
    rng = np.random.default_rng(common.SEED + 41)
    for folder, names in (("concepts", world.TRAIN_CONCEPTS), ("concepts-eval", world.EVAL_CONCEPTS)):
        for name in names:
            d = os.path.join(common.ROOT, "examples", folder, name)
            os.makedirs(d, exist_ok=True)
            for i in range(IMAGES_PER_CONCEPT):
                Image.fromarray(world.render(world.random_scene(rng, name))).save(os.path.join(d, f"{i:02d}.png"))
            what, init = world.CONCEPT_INFO[name]
            with open(os.path.join(d, "README.md"), "w") as f:
                f.write(f"# {name}\n\n{what.capitalize()}, on varied backgrounds, sizes and positions "
                        f"({IMAGES_PER_CONCEPT} images, 32x32).\n\n"
                        f"The tiny-sd model saw this design in training but only ever captioned as "
                        f"\"an object\", so no word of its vocabulary names it.\n\n"
                        f"Suggested initializer word: `{init}` (one token).\n")


if __name__ == "__main__":
    main()
