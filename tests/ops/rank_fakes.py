"""A fake detector for rank tests: the photo's red channel *is* its blur map, so every score is known exactly."""

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class FakeResult:
    blur: np.ndarray
    kind: np.ndarray
    threshold: float


class FakeDetector:
    """blur = red channel; kind = defocus where blurred, or motion where the green channel is > 0.5."""

    threshold = 0.5
    working_size = 64
    sha256 = "fake"

    def __init__(self):
        self.calls = 0

    def predict(self, image, full_size=True):
        self.calls += 1
        blur = np.ascontiguousarray(image[..., 0], dtype=np.float32)
        kind = np.where(blur >= 0.5, np.where(image[..., 1] > 0.5, 2, 1), 0).astype(np.uint8)
        return FakeResult(blur, kind, self.threshold)


def photo(blurred: np.ndarray, motion: bool = False) -> np.ndarray:
    """RGB uint8 photo whose red channel encodes ``blurred`` (0.9 / 0.1) for :class:`FakeDetector`."""
    h, w = blurred.shape
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.where(blurred, 230, 25)
    img[..., 1] = 200 if motion else 30
    img[..., 2] = 128
    return img


def write(path, rgb):
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def library(folder, h=96, w=128):
    """Four photos, one per verdict; returns {verdict value: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:h, 0:w]
    subject = ((xx - w / 2) / (w / 6)) ** 2 + ((yy - h / 2) / (h / 4)) ** 2 <= 1
    corner = np.zeros((h, w), bool)
    corner[: h // 3, : w // 3] = True
    return {
        "no-blur": write(folder / "sharp.png", photo(np.zeros((h, w), bool))),
        "good-blur": write(folder / "portrait.png", photo(~subject)),
        "ok-blur": write(folder / "corner.png", photo(corner)),
        "bad-blur": write(folder / "shake.png", photo(np.ones((h, w), bool), motion=True)),
    }
