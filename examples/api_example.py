"""Use blurtool from Python: the blur map of a photo, its summary, and the maps saved as images.

    python examples/api_example.py [PHOTO] [OUT_DIR]

Defaults: examples/dandelion.jpg, and an `output/` folder beside this script. The model is the shipped one unless
$BLURTOOL_WEIGHTS names another weights file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from blurtool import BlurDetector, read_image
from blurtool.io import write_kind_colour, write_map


def main(photo: Path, out_dir: Path) -> dict:
    detector = BlurDetector.from_weights(device="cpu")  # shipped model, threshold and working size from its card
    image = read_image(photo)  # float32 (H, W, 3) RGB in [0, 1], EXIF orientation applied
    result = detector.predict(image)  # result.blur: (H, W) in [0, 1], 1 = blurred; result.kind: 0/1/2

    summary = result.summary()
    print(f"{photo.name}: {image.shape[1]} x {image.shape[0]} px")
    print(f"  blurred {summary['blurred_fraction']:.0%} (defocus {summary['defocus_fraction']:.0%}, "
          f"motion {summary['motion_fraction']:.0%}), blur degree {summary['degree']:.2f}, "
          f"mostly {summary['dominant_kind']}")

    # The sharpest tenth of the photo: where the subject usually is.
    sharp = result.blur <= np.quantile(result.blur, 0.1)
    ys, xs = sharp.nonzero()
    print(f"  sharpest 10% of pixels centred near x={xs.mean():.0f}, y={ys.mean():.0f}")

    out_dir.mkdir(parents=True, exist_ok=True)
    write_map(out_dir / f"{photo.stem}.blur.png", result.blur)
    write_kind_colour(out_dir / f"{photo.stem}.kind.png", result.kind)
    print(f"  maps written to {out_dir}")
    return summary


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    photo = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "dandelion.jpg"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else here / "output"
    main(photo, out)
