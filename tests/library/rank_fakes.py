"""A fake detector for rank tests: the photo's red channel *is* its blur map, so every score is known exactly."""

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class FakeResult:
    blur: np.ndarray
    kind: np.ndarray
    threshold: float
    amount: np.ndarray | None = None


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


class AmountDetector(FakeDetector):
    """FakeDetector with a blur amount where blurred: the blue channel's 8-bit value / 10 (blurtool.amount's unit)."""

    sha256 = "fake-amount"

    def predict(self, image, full_size=True):
        res = super().predict(image, full_size)
        res.amount = np.where(res.kind > 0, image[..., 2].astype(np.float32) * 25.5, 0).astype(np.float32)
        return res


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


class SharpnessDetector:
    """blur = 1 - local edge energy (a Laplacian, smoothed): blurring a photo really raises its blur degree, which
    burst tests need (the sharpest frame must be the pick)."""

    threshold = 0.5
    working_size = 128
    sha256 = "fake-sharpness"

    def predict(self, image, full_size=True):
        grey = np.ascontiguousarray(image[..., :3].mean(axis=2), dtype=np.float32)
        energy = cv2.GaussianBlur(np.abs(cv2.Laplacian(grey, cv2.CV_32F)), (0, 0), 3)
        blur = np.clip(1.0 - energy / 0.08, 0.0, 1.0).astype(np.float32)
        return FakeResult(blur, (blur >= 0.5).astype(np.uint8), self.threshold)


def scene(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A textured RGB uint8 scene (random 8 px blocks): each seed gives a different picture."""
    rng = np.random.default_rng(seed)
    small = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def save_with_time(path, rgb, when: str | None, subsec: str | None = None, quality: int = 95):
    """Save a JPEG with EXIF DateTimeOriginal (+ SubSecTimeOriginal), as a camera writes them."""
    from PIL import Image

    exif = Image.Exif()
    if when is not None:
        exif.get_ifd(0x8769)[0x9003] = when
        if subsec is not None:
            exif.get_ifd(0x8769)[0x9291] = subsec
    Image.fromarray(rgb).save(path, exif=exif, quality=quality)
    return path


def burst(folder, sigmas=(0, 1.0, 2.0, 3.5), start="2024:06:01 10:15:00", step_ms=300, seed=1, name="IMG_"):
    """One scene shot len(sigmas) times `step_ms` apart, frame i Gaussian-blurred by sigmas[i] (0: sharp);
    returns the frame paths in shooting order."""
    folder.mkdir(parents=True, exist_ok=True)
    base = scene(seed)
    paths = []
    for i, s in enumerate(sigmas):
        img = base if s == 0 else cv2.GaussianBlur(base, (0, 0), s)
        ms = i * step_ms
        when = start[:-2] + f"{int(start[-2:]) + ms // 1000:02d}"
        paths.append(save_with_time(folder / f"{name}{i:04d}.jpg", img, when, f"{ms % 1000:03d}"))
    return paths
