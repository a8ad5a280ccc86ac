"""Alpha matte of the sharp subject from a blur map, and composites onto new backgrounds.

Kim et al. 2019 (Sec. 6.2) use the defocus map to matte the in-focus subject: the thresholded map gives a trimap
(sure sharp, sure blurred, an unknown band along the boundary) and closed-form matting (Levin et al. 2008, via
pymatting's ``estimate_alpha_cf``) solves alpha in the band. ``estimate_foreground_ml`` (Germer et al. 2020) then
removes the old background's colour from the subject's edge so that composites show no fringe.

Closed-form matting builds a sparse Laplacian over the unknown band, so it is solved at a bounded working
resolution (``MatteOptions.max_pixels``) and alpha is brought back to full size with a guided filter on the photo
(blurtool.guided with a colour guide: He et al. 2013, and the "fast guided filter" of He & Sun 2015 for the
upsampling), which keeps alpha's edges on the photo's edges.

numpy in, numpy out; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# OpenCV is imported inside the functions: the CLI imports this module for its option defaults, and
# `blurtool --help` must not pay for loading OpenCV.
from blurtool.checks import check_image_and_map
from blurtool.errors import InputError
from blurtool.guided import guided_filter, guided_upsample

__all__ = [
    "MatteOptions",
    "MatteResult",
    "composite",
    "cutout",
    "fit_background",
    "make_trimap",
    "matte",
    "parse_color",
    "resize_to_pixels",
    "warm_up",
]


@dataclass(frozen=True)
class MatteOptions:
    """Options of :func:`matte`. The CLI reads its defaults from here."""

    # Blur confidence below this is the sharp subject (the decision threshold of a probability map).
    threshold: float = 0.5
    # Half-width of the unknown band as a fraction of the image diagonal: the network's map is coarse (it is
    # predicted at a working resolution and upsampled), so its boundary is uncertain by ~1-2% of the diagonal.
    band: float = 0.02
    # Closed-form matting is solved at most at this many pixels (~0.5 MP: a few seconds on a laptop CPU).
    max_pixels: int = 500_000
    # Regularisation of the matting Laplacian (Levin et al. use 1e-7; pymatting's default).
    epsilon: float = 1e-7
    # Guided filter used to bring alpha back to full size: radius in working-resolution pixels, and eps
    # (smaller keeps more of the photo's edges in alpha).
    guided_radius: int = 2
    guided_eps: float = 1e-4
    # Remove the old background's colour from the subject's edge (estimate_foreground_ml).
    estimate_foreground: bool = True


@dataclass
class MatteResult:
    """Result of :func:`matte`, all at the photo's full size."""

    alpha: np.ndarray  # float32 (H, W) in [0, 1], 1 = sharp subject
    foreground: np.ndarray  # float32 (H, W, 3): subject colours with the background's bleeding removed
    trimap: np.ndarray  # float32 (H, W): 1 sure sharp, 0 sure blurred, 0.5 unknown band
    method: str  # "closed-form" | "threshold" (degenerate trimap) | "uniform" (no boundary at all)
    note: str | None = None  # human-readable reason when a fallback was used


def resize_to_pixels(array: np.ndarray, max_pixels: int, interpolation: int | None = None) -> np.ndarray:
    """Downscale so that height * width <= max_pixels (unchanged if already small enough); area averaging unless
    another cv2 interpolation is given."""
    import cv2

    if interpolation is None:
        interpolation = cv2.INTER_AREA
    h, w = array.shape[:2]
    if h * w <= max_pixels:
        return array
    scale = (max_pixels / (h * w)) ** 0.5
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    return cv2.resize(array, size, interpolation=interpolation)


def _disk(radius: int) -> np.ndarray:
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def make_trimap(blur: np.ndarray, threshold: float = MatteOptions.threshold, band_px: int = 8) -> np.ndarray:
    """Trimap of the sharp subject: 1 sure sharp, 0 sure blurred, 0.5 in a band of ``band_px`` each side of the
    boundary of ``blur < threshold`` (erosion of either side by a disk)."""
    import cv2

    sharp = (blur < threshold).astype(np.uint8)
    trimap = np.full(blur.shape, 0.5, np.float64)
    if band_px > 0:
        kernel = _disk(band_px)
        # BORDER_REPLICATE: the photo's border is not a boundary between sharp and blurred.
        sure_fg = cv2.erode(sharp, kernel, borderType=cv2.BORDER_REPLICATE)
        sure_bg = cv2.erode(1 - sharp, kernel, borderType=cv2.BORDER_REPLICATE)
    else:
        sure_fg, sure_bg = sharp, 1 - sharp
    trimap[sure_fg > 0] = 1.0
    trimap[sure_bg > 0] = 0.0
    return trimap


def _upsample_alpha(image: np.ndarray, small: np.ndarray, alpha_small: np.ndarray, o: MatteOptions) -> np.ndarray:
    if alpha_small.shape == image.shape[:2]:
        return alpha_small.astype(np.float32)
    alpha = guided_upsample(alpha_small, small, image, radius=o.guided_radius, eps=o.guided_eps)
    return np.clip(alpha, 0.0, 1.0, out=alpha)


def warm_up() -> float:
    """Import pymatting and run it once on a tiny image, so that numba's start-up cost is paid before timing or
    batch work. Returns the seconds it took.

    pymatting's kernels are numba functions with explicit signatures: they compile when pymatting is imported
    (minutes on a slow CPU the first time; later runs load numba's on-disk cache in about a second)."""
    import time

    t0 = time.perf_counter()
    from pymatting import estimate_alpha_cf, estimate_foreground_ml

    rng = np.random.default_rng(0)
    img = rng.random((24, 24, 3))
    tri = np.full((24, 24), 0.5)
    tri[:, :6], tri[:, -6:] = 1.0, 0.0
    alpha = estimate_alpha_cf(img, tri)
    estimate_foreground_ml(img, alpha)
    return time.perf_counter() - t0


def matte(image: np.ndarray, blur: np.ndarray, options: MatteOptions | None = None) -> MatteResult:
    """Alpha matte of the sharp subject (alpha 1 where the photo is sharp) from the photo and its blur map."""
    import cv2
    from pymatting import estimate_alpha_cf, estimate_foreground_ml

    o = options or MatteOptions()
    check_image_and_map(image, blur)
    image = np.ascontiguousarray(image, dtype=np.float32)
    h, w = blur.shape
    sharp = blur < o.threshold
    n_sharp = int(sharp.sum())

    if n_sharp == 0 or n_sharp == sharp.size:
        value = 1.0 if n_sharp else 0.0
        what = "no blurred region" if n_sharp else "no sharp region"
        return MatteResult(
            alpha=np.full((h, w), value, np.float32),
            foreground=image.copy(),
            trimap=np.full((h, w), value, np.float32),
            method="uniform",
            note=f"{what} (blur map {'below' if n_sharp else 'at or above'} {o.threshold} everywhere): "
            f"alpha is {int(value)} everywhere",
        )

    # Clipped: area resampling can overshoot 1 by a rounding error, which pymatting warns about.
    small = np.clip(resize_to_pixels(image, o.max_pixels), 0.0, 1.0)
    blur_small = resize_to_pixels(blur.astype(np.float32), o.max_pixels)
    sh, sw = blur_small.shape
    band_px = max(1, round(o.band * float(np.hypot(sh, sw))))
    trimap_small = make_trimap(blur_small, o.threshold, band_px)
    has_fg = bool((trimap_small == 1.0).any())
    has_bg = bool((trimap_small == 0.0).any())

    if has_fg and has_bg:
        alpha_small = estimate_alpha_cf(
            small.astype(np.float64), trimap_small, laplacian_kwargs={"epsilon": o.epsilon}
        )
        method, note = "closed-form", None
    else:
        # The sharp (or blurred) region is thinner than the band: closed-form matting has no sample of one of
        # the two layers. Fall back to the thresholded map, softened along the photo's edges.
        side = "sharp" if not has_fg else "blurred"
        # Radius 1: a wider window would average a thin region away.
        alpha_small = guided_filter(small, (blur_small < o.threshold).astype(np.float32), 1, o.guided_eps)
        alpha_small = np.clip(alpha_small, 0, 1)
        method = "threshold"
        note = (f"the {side} region is thinner than the {band_px}px unknown band, so the matte is the "
                "thresholded blur map smoothed along the photo's edges")

    alpha = _upsample_alpha(image, small, alpha_small.astype(np.float32), o)
    # Far from the boundary the trimap's decision stands; this also removes guided-filter ripples there.
    trimap = cv2.resize(trimap_small.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST)
    alpha[trimap == 1.0] = 1.0
    alpha[trimap == 0.0] = 0.0

    if o.estimate_foreground:
        # Solved at working resolution; the full-size foreground is the photo plus the upsampled correction,
        # which keeps the subject's full-resolution detail (the correction is ~0 where alpha is 1).
        alpha_s = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA) if (sh, sw) != (h, w) else alpha
        fg_small = estimate_foreground_ml(small.astype(np.float64), alpha_s.astype(np.float64))
        correction = (fg_small - small).astype(np.float32)
        if correction.shape[:2] != (h, w):
            correction = cv2.resize(correction, (w, h), interpolation=cv2.INTER_LINEAR)
        foreground = np.clip(image + correction, 0.0, 1.0)
    else:
        foreground = image.copy()
    return MatteResult(alpha=alpha, foreground=foreground, trimap=trimap, method=method, note=note)


def cutout(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA float32 (H, W, 4): the subject's colours with alpha as the fourth channel."""
    if foreground.shape[:2] != alpha.shape:
        raise InputError(f"foreground {foreground.shape[:2]} and alpha {alpha.shape} differ in size")
    return np.concatenate([foreground.astype(np.float32), alpha[..., None].astype(np.float32)], axis=2)


def parse_color(spec: str) -> tuple[float, float, float]:
    """A colour name ("white", any CSS name) or "#RRGGBB" / "#RGB" as RGB floats in [0, 1]."""
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(spec.strip())
    except ValueError:
        raise InputError(f"{spec!r} is neither an image file nor a colour (a name like 'white' or '#RRGGBB')") from None
    return tuple(c / 255.0 for c in rgb[:3])  # type: ignore[return-value]


def fit_background(background: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``background`` (keeping its aspect ratio) so it covers (height, width), then centre-crop it."""
    import cv2

    bh, bw = background.shape[:2]
    scale = max(height / bh, width / bw)
    nh, nw = max(height, round(bh * scale)), max(width, round(bw * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(background.astype(np.float32), (nw, nh), interpolation=interp)
    y0, x0 = (nh - height) // 2, (nw - width) // 2
    return np.ascontiguousarray(resized[y0:y0 + height, x0:x0 + width])


def composite(foreground: np.ndarray, alpha: np.ndarray,
              background: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """alpha * foreground + (1 - alpha) * background; ``background`` is an RGB image of any size (resized and
    cropped to fill) or an RGB colour."""
    h, w = alpha.shape
    if isinstance(background, np.ndarray):
        if background.ndim != 3 or background.shape[2] != 3:
            raise InputError(f"expected an RGB background of shape (H, W, 3), got {background.shape}")
        bg = fit_background(background, h, w)
    else:
        bg = np.broadcast_to(np.asarray(background, np.float32), (h, w, 3))
    a = alpha[..., None].astype(np.float32)
    return np.clip(a * foreground + (1.0 - a) * bg, 0.0, 1.0).astype(np.float32)
