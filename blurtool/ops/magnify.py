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

from blurtool.checks import check_image_and_map

# OpenCV is imported inside the functions: the CLI imports this module for its option defaults, and
# `blurtool --help` must not pay for loading OpenCV.
from blurtool.errors import InputError
from blurtool.ops.matting import MatteOptions, matte

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
    # keeps the cost per layer low on 12 MP photos while a disc's rim stays within ~1/12 of its radius.
    max_kernel_radius: int = 12


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
        raise InputError(f"`strength` must be a positive fraction of the image diagonal (e.g. 0.02) or a radius "
                         f"in pixels (e.g. 15px), got {text!r}") from None
    if not 0 < frac < 1:
        raise InputError(f"`strength` as a fraction of the image diagonal must be in (0, 1), got {text!r} "
                         "(write e.g. '15px' for pixels)")
    return frac, None


def max_radius(options: MagnifyOptions, height: int, width: int) -> float:
    """Largest added disk radius in pixels for a photo of this size."""
    if options.strength_px is not None:
        return float(options.strength_px)
    return options.strength * math.hypot(height, width)


def _srgb_decode(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


_DECODE_LUT: np.ndarray | None = None


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding (input clipped to [0, 1]).

    Through a 65536-entry table (error < 2e-5): a float power over a 12 MP photo costs seconds, a table look-up
    a tenth of that."""
    global _DECODE_LUT
    if _DECODE_LUT is None:
        _DECODE_LUT = _srgb_decode(np.linspace(0.0, 1.0, 65536, dtype=np.float64)).astype(np.float32)
    x = np.asarray(x, np.float32)
    idx = np.clip(x, 0.0, 1.0) * np.float32(65535.0) + np.float32(0.5)
    return _DECODE_LUT[idx.astype(np.uint16)]


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB encoding (input clipped to [0, 1])."""
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def disk_kernel(radius: float) -> np.ndarray:
    """Normalised disk of the given radius with an anti-aliased rim (pixel coverage approximated by the distance
    to the rim). Hand-written: cv2.getStructuringElement gives only binary, integer-radius ellipses."""
    if radius <= 0:
        return np.ones((1, 1), np.float32)
    n = math.ceil(radius + 0.5)
    y, x = np.mgrid[-n:n + 1, -n:n + 1].astype(np.float32)
    k = np.clip(radius + 0.5 - np.hypot(x, y), 0.0, 1.0)
    return (k / k.sum()).astype(np.float32)


def _disk_blur_at(stack: np.ndarray, radius: float, max_kernel_radius: int, idx: np.ndarray) -> np.ndarray:
    """Disk blur of a (H, W, C) float32 stack, evaluated only at the pixels of flat indices idx: (N, C).

    Large radii are blurred on a downscaled copy (the disk stays max_kernel_radius px or less there) and the
    wanted pixels are sampled from it bilinearly, so no full-size copy of a blurred layer is ever made."""
    import cv2

    h, w, c = stack.shape
    scale = min(1.0, max_kernel_radius / radius)
    if scale == 1.0:
        out = cv2.filter2D(stack, -1, disk_kernel(radius), borderType=cv2.BORDER_REFLECT)
        return out.reshape(-1, c)[idx]
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(stack, (sw, sh), interpolation=cv2.INTER_AREA)
    small = cv2.filter2D(small, -1, disk_kernel(radius * scale), borderType=cv2.BORDER_REFLECT)
    ys, xs = np.divmod(idx, w)
    # Pixel centres of the full image in the small image's coordinates (cv2.resize's half-pixel convention).
    mx = ((xs + 0.5) * (sw / w) - 0.5).astype(np.float32)
    my = ((ys + 0.5) * (sh / h) - 0.5).astype(np.float32)
    out = np.empty((len(idx), c), np.float32)
    # cv2.remap's maps are images whose sides must stay below 32767: sample in chunks laid out 1024 wide.
    chunk, width = 1 << 20, 1024
    for i in range(0, len(idx), chunk):
        n = min(chunk, len(idx) - i)
        pad = (-n) % width
        mxc = np.pad(mx[i:i + n], (0, pad)).reshape(-1, width)
        myc = np.pad(my[i:i + n], (0, pad)).reshape(-1, width)
        sampled = cv2.remap(small, mxc, myc, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[i:i + n] = sampled.reshape(-1, c)[:n]
    return out


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
        lin *= 1.0 + o.highlight_gain * np.clip((peak - 0.8) / 0.2, 0.0, 1.0) ** 2
        del peak

    # Normalised convolution weighted by (1 - alpha): the background is blurred as if the subject were not in
    # front of it, so the subject's colours do not leak outward as a halo. Channel 3 carries the weights.
    weight = (1.0 - alpha.astype(np.float32))[..., None]
    stack = np.concatenate([lin * weight, weight], axis=2)
    del weight

    # Only the pixels that change are computed (flat indices): sharp ones are copied from the input at the end.
    idx = np.flatnonzero(moving)
    # Position of each pixel in the layer stack: 0 at sharp_below, `levels` at blur confidence 1; it is
    # interpolated linearly between layers k0 and k0 + 1.
    levels = min(o.levels, max(1, math.ceil(r_max)))  # no point in layers closer than ~1 px apart
    t = o.sharp_below
    u = np.clip((blur.reshape(-1)[idx].astype(np.float32) - t) / max(1.0 - t, 1e-6), 0.0, 1.0) * levels
    k0 = np.minimum(np.floor(u), levels - 1).astype(np.int16)
    # Sorted by layer, the pixels that use layer k (k0 = k - 1 or k) are one contiguous slice: no scattered
    # indexing of millions of pixels per layer.
    order = np.argsort(k0, kind="stable")
    idx, k0 = idx[order], k0[order]
    frac = (u[order] - k0).astype(np.float32)[:, None]
    del u, order
    starts = np.searchsorted(k0, np.arange(levels + 1))  # starts[j]: first pixel with k0 >= j
    lin_m = lin.reshape(-1, 3)[idx]
    del lin

    background = np.zeros_like(lin_m)
    for k in range(levels + 1):
        sl = slice(starts[k - 1] if k > 0 else 0, starts[k + 1] if k < levels else len(idx))
        if sl.start == sl.stop:
            continue
        wk = np.where(k0[sl, None] == k, 1.0 - frac[sl], frac[sl])
        if k == 0:
            layer = lin_m[sl]
        else:
            blurred = _disk_blur_at(stack, r_max * k / levels, o.max_kernel_radius, idx[sl])
            den = blurred[:, 3:]
            # Where the disk saw only subject (den ~ 0) the background is unknown; alpha ~ 1 hides it anyway.
            layer = np.where(den > 1e-3, blurred[:, :3] / np.maximum(den, 1e-3), lin_m[sl])
        background[sl] += wk * layer
    del stack

    a = alpha.reshape(-1)[idx].astype(np.float32)[:, None]
    fg_lin = srgb_to_linear(np.asarray(foreground, np.float32).reshape(-1, 3)[idx])
    out = image.copy()  # sharp pixels stay bit-identical to the input, not merely close after a gamma round trip
    out.reshape(-1, 3)[idx] = linear_to_srgb(a * fg_lin + (1.0 - a) * background)
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
