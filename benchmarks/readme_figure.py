"""The README's hero picture: for each example photo, the photo | blur map | kind map | blur amount (with weights
that have one: grey = amount, the detect output's scale, shown in a colour map), made by blurtool itself.

Usage: python benchmarks/readme_figure.py [--out examples/outputs/detect_examples.jpg] [PHOTO ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from blurtool.amount import to_png
from blurtool.inference import BlurDetector
from blurtool.io import kind_to_colour, read_image, write_image

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ["dandelion.jpg", "dogs_shaken.jpg", "mountains.jpg"]


def label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.rectangle(tile, (0, 0), (8 + 11 * len(text), 26), (0, 0, 0), -1)
    cv2.putText(tile, text, (5, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("photos", nargs="*", default=[str(ROOT / "examples" / p) for p in PHOTOS])
    ap.add_argument("--out", default=str(ROOT / "examples" / "outputs" / "detect_examples.jpg"))
    ap.add_argument("--width", type=int, default=320, help="width of each tile, px")
    ap.add_argument("--weights", default=None)
    args = ap.parse_args()
    det = BlurDetector.from_weights(args.weights, device="cpu")
    rows = []
    for p in args.photos:
        img = read_image(p)
        res = det.predict(img)
        s = res.summary()
        w = args.width
        h = round(img.shape[0] * w / img.shape[1])
        photo = cv2.resize((img * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_AREA)
        blur = cv2.resize((res.blur * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_AREA)
        kind = cv2.resize(kind_to_colour(res.kind), (w, h), interpolation=cv2.INTER_NEAREST)
        tiles = [
            label(photo, Path(p).name),
            label(np.repeat(blur[..., None], 3, 2), f"blur map (degree {s['degree']:.2f})"),
            label(kind, f"kind: {s['dominant_kind']}"),
        ]
        if res.amount is not None:
            grey = cv2.resize(to_png(res.amount), (w, h), interpolation=cv2.INTER_AREA)
            colour = cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)[..., ::-1]  # 0 black ... 25.5 pale yellow
            tiles.append(label(colour, f"amount {s['amount']:.1f} ({s['amount_level']})"))
        rows.append(np.concatenate(tiles, 1))
    rows = [np.pad(r, ((0, 4), (0, 0), (0, 0)), constant_values=255) for r in rows]
    write_image(args.out, np.concatenate(rows, 0).astype(np.float32) / 255, quality=85)
    print(args.out)


if __name__ == "__main__":
    main()
