"""Blur magnification: make a photo's existing defocus stronger (Bae & Durand 2007; Kim et al. 2019 Sec. 6.3;
Ma et al. 2018 Sec. IV-C3).

The added blur grows with the blur map: each pixel gets a disk (lens-like) blur whose radius rises from 0 at
``sharp_below`` to ``strength`` at blur confidence 1. Disk kernels rather than Gaussians, and blurring in linear
light (sRGB gamma undone, near-clipped highlights boosted), make small highlights bloom into bokeh discs as in a
real lens. A spatially varying disk blur is approximated by a small stack of disk-blurred layers at increasing radii,
interpolated per pixel by the wanted radius.

The sharp subject is recomposed through its alpha matte (:mod:`blurtool.ops.matting`): the background layers are
normalised convolutions weighted by (1 - alpha), so the subject's colours do not smear into the magnified background
(no halo), and the subject's matted foreground is laid back on top. Pixels whose blur confidence is below
``sharp_below`` are returned bit-identical to the input.

:func:`magnify_naive` is Ma et al.'s simple variant (one Gaussian on every pixel above 0.1), for comparison.
numpy in, numpy out; no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# OpenCV is imported inside the functions: the CLI imports this module for its option defaults, and
# `blurtool --help` must not pay for loading OpenCV.

from blurtool.errors import InputError
from blurtool.ops.matting import MatteOptions, check_image_and_map, matte

__all__ = [
    "MagnifyOptions",
    "disk_kernel",
    "linear_to_srgb",
    "magnify_blur",
    "magnify_naive",
    "max_radius",
    "parse_strength",
    "srgb_to_linear",
]


@dataclass(frozen=True)
class MagnifyOptions:
    """Options of :func:`magnify_blur`. The CLI reads its defaults from here."""

    # Largest added disk radius, as a fraction of the image diagonal (1.5% ~ 19 px on a 1000x750 photo,
    # ~75 px on 12 MP); ``strength_px`` overrides it with a radius in pixels.
    strength: float = 0.015
    strength_px: float | None = None
    # Pixels with blur confidence below this are left untouched (Ma et al. 2018 blur pixels above 0.1).
    sharp_below: float = 0.1
    # Number of disk-blurred layers (besides the unblurred one) the per-pixel radius interpolates between.
    levels: int = 8
    # Linear-light gain on near-clipped highlights, which the camera clipped and so are brighter than stored:
    # it is what turns point lights into visible bokeh discs. 0 disables it.
    highlight_gain: float = 3.0
    # Layers with a larger radius are blurred at a reduced scale (disk radius <= this many px after scaling):
    # keeps 12 MP photos at a few seconds per layer while discs stay crisp.
    max_kernel_radius: int = 24


def parse_strength(text: str) -> tuple[float, float | None]:
    """'0.02' -> (0.02, None): fraction of the diagonal; '15px' -> (default fraction, 15.0): pixels."""
    t = text.strip().lower()
    try:
        if t.endswith("px"):
            px = float(t[:-2])
            if not px > 0:
                raise ValueError
            return MagnifyOptions.strength, px
        frac = float(t)
    except ValueError:
        raise InputError(f"--strength must be a positive fraction of the image diagonal (e.g. 0.02) or a radius "
                         f"in pixels (e.g. 15px), got {text!r}")
    if not 0 < frac < 1:
        raise InputError(f"--strength as a fraction of the image diagonal must be in (0, 1), got {text!r} "
                         "(write e.g. '15px' for pixels)")
    return frac, None


def max_radius(options: MagnifyOptions, height: int, width: int) -> float:
    """Largest added disk radius in pixels for a photo of this size."""
    if options.strength_px is not None:
        return float(options.strength_px)
    return options.strength * math.hypot(height, width)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding."""
    x = np.asarray(x, np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB encoding (input clipped to [0, 1])."""
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def disk_kernel(radius: float) -> np.ndarray:
    """Normalised disk of the given radius with an anti-aliased rim (pixel coverage approximated by the distance
    to the rim). Hand-written: cv2.getStructuringElement gives only binary, integer-radius ellipses."""
    import cv2

    if radius <= 0:
        return np.ones((1, 1), np.float32)
    n = int(math.ceil(radius + 0.5))
    y, x = np.mgrid[-n:n + 1, -n:n + 1].astype(np.float32)
    k = np.clip(radius + 0.5 - np.hypot(x, y), 0.0, 1.0)
    return (k / k.sum()).astype(np.float32)


def _disk_blur(stack: np.ndarray, radius: float, max_kernel_radius: int) -> np.ndarray:
    """Disk blur of a (H, W, C) float32 stack; large radii are blurred on a downscaled copy."""
    import cv2

    h, w = stack.shape[:2]
    scale = min(1.0, max_kernel_radius / radius)
    if scale < 1.0:
        small = cv2.resize(stack, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        out = cv2.filter2D(small, -1, disk_kernel(radius * scale), borderType=cv2.BORDER_REFLECT)
        return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR).reshape(stack.shape)
    return cv2.filter2D(stack, -1, disk_kernel(radius), borderType=cv2.BORDER_REFLECT).reshape(stack.shape)


def magnify_blur(
    image: np.ndarray,
    blur: np.ndarray,
    options: MagnifyOptions | None = None,
    *,
    alpha: np.ndarray | None = None,
    foreground: np.ndarray | None = None,
) -> np.ndarray:
    """Photo with its defocus magnified. ``alpha`` (1 = sharp subject) and ``foreground`` come from
    :func:`blurtool.ops.matting.matte`; when ``alpha`` is None that matte is computed here."""
    o = options or MagnifyOptions()
    check_image_and_map(image, blur)
    if o.levels < 1:
        raise InputError(f"magnify needs at least 1 blur level, got {o.levels}")
    h, w = blur.shape
    image = np.ascontiguousarray(image, dtype=np.float32)
    r_max = max_radius(o, h, w)
    moving = blur >= o.sharp_below
    if r_max <= 0 or not moving.any():
        return image.copy()

    if alpha is None:
        m = matte(image, blur, MatteOptions())
        alpha, foreground = m.alpha, m.foreground
    if alpha.shape != (h, w):
        raise InputError(f"alpha is {alpha.shape} but the photo is {(h, w)}")
    if foreground is None:
        foreground = image

    lin = srgb_to_linear(image)
    if o.highlight_gain > 0:
        # Highlights near sRGB 1.0 were clipped by the camera: boost them (smoothly from linear 0.8) so that
        # once spread over a disk they stay bright, as real point lights do.
        peak = lin.max(axis=2, keepdims=True)
        lin = lin * (1.0 + o.highlight_gain * np.clip((peak - 0.8) / 0.2, 0.0, 1.0) ** 2)

    # Normalised convolution weighted by (1 - alpha): the background is blurred as if the subject were not in
    # front of it, so the subject's colours do not leak outward as a halo. Channel 3 carries the weights.
    weight = (1.0 - alpha.astype(np.float32))[..., None]
    stack = np.concatenate([lin * weight, weight], axis=2)
    del weight

    # Per-pixel position in the layer stack: 0 at sharp_below, `levels` at blur confidence 1.
    levels = min(o.levels, max(1, math.ceil(r_max)))  # no point in layers closer than ~1 px apart
    t = o.sharp_below
    u = np.clip((blur.astype(np.float32) - t) / max(1.0 - t, 1e-6), 0.0, 1.0) * levels

    background = np.zeros_like(lin)
    for k in range(levels + 1):
        wk = np.clip(1.0 - np.abs(u - k), 0.0, 1.0)
        if not wk.any():
            continue
        if k == 0:
            layer = lin
        else:
            blurred = _disk_blur(stack, r_max * k / levels, o.max_kernel_radius)
            den = blurred[..., 3:]
            # Where the disk saw only subject (den ~ 0) the background is unknown; alpha ~ 1 hides it anyway.
            layer = np.where(den > 1e-3, blurred[..., :3] / np.maximum(den, 1e-3), lin)
        background += wk[..., None] * layer
    del stack

    a = alpha.astype(np.float32)[..., None]
    out_lin = a * srgb_to_linear(foreground) + (1.0 - a) * background
    out = linear_to_srgb(out_lin)
    # Sharp pixels stay bit-identical to the input (not merely close after the gamma round trip).
    out[~moving] = image[~moving]
    return out


def magnify_naive(image: np.ndarray, blur: np.ndarray, sigma: float, threshold: float = 0.1) -> np.ndarray:
    """Ma et al. 2018's blur magnification: one Gaussian of ``sigma`` px applied to every pixel whose blur
    confidence is above ``threshold``; the rest is left unchanged."""
    import cv2

    check_image_and_map(image, blur)
    if sigma <= 0:
        raise InputError(f"sigma must be positive, got {sigma}")
    image = np.ascontiguousarray(image, dtype=np.float32)
    blurred = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return np.where((blur > threshold)[..., None], blurred, image).astype(np.float32)
