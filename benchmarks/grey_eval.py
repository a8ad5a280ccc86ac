"""Greyscale photos: how much worse does the network judge a photo once its colour is gone?

Takes every fourth validation image of the weights card (20 of 80; never trained on), runs the network once (no
mirror pass) on the photo and on its Rec. 601 grey version at the card's threshold, and prints the mean per-image
pixel accuracy of each against the ground truth; then the blurred share of one motion photo (default motion0002,
a training image whose blur the first models lost in grey) in colour and in grey.

Usage: python benchmarks/grey_eval.py [--weights FILE] [--data DATA/cuhk-train] [--photo motion0002]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from common import DATA

from blurtool.cuhk import read_gt
from blurtool.evaluate import val_stems
from blurtool.inference import BlurDetector
from blurtool.io import read_image


def grey(rgb: np.ndarray) -> np.ndarray:
    """The photo as a colour photo of grey pixels (what a greyscale file reads as)."""
    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--data", default=str(DATA / "cuhk-train"))
    ap.add_argument("--photo", default="motion0002")
    args = ap.parse_args()
    data = Path(args.data)
    detector = BlurDetector.from_weights(args.weights, flip_average=False)
    stems = val_stems(detector.card)[::4][:20]

    def blurred(image: np.ndarray) -> np.ndarray:
        return detector.predict(image).mask

    acc = {"colour": [], "grey": []}
    for stem in stems:
        rgb = read_image(data / "images" / f"{stem}.jpg")
        truth = read_gt(data / "gt" / f"{stem}.png")
        acc["colour"].append(float((blurred(rgb) == truth).mean()))
        acc["grey"].append(float((blurred(grey(rgb)) == truth).mean()))
    print(
        f"{len(stems)} validation images, one pass, threshold {detector.threshold:.3f}: mean pixel accuracy "
        f"colour {np.mean(acc['colour']):.3f}, grey {np.mean(acc['grey']):.3f}"
    )
    rgb = read_image(data / "images" / f"{args.photo}.jpg")
    print(f"{args.photo}: blurred share colour {blurred(rgb).mean():.3f}, grey {blurred(grey(rgb)).mean():.3f}")


if __name__ == "__main__":
    main()
