"""Sharp-region segmentation: GrabCut seeded by the blur map (Ma et al. 2018, "Deep blur mapping", Sec. IV-C1).

Ma et al. turn the blur map into GrabCut's four-label initial mask: blur confidence in [0, 0.1) is foreground
(sharp), [0.1, 0.5) probable foreground, [0.5, 0.9) probable background, [0.9, 1] background. GrabCut
(Rother et al. 2004, cv2.grabCut) then refines the probable labels with colour models and a graph cut, so the mask
follows the photo's edges instead of the network's coarse map.

GrabCut's cost grows with the pixel count, so it runs at a bounded working resolution and its mask is brought back
to full size with a guided filter on the photo. numpy in, numpy out; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blurtool.checks import check_image_and_map

# OpenCV is imported inside the functions: the CLI imports this module for its option defaults, and
# `blurtool --help` must not pay for loading OpenCV.
from blurtool.errors import InputError
from blurtool.guided import guided_upsample
from blurtool.ops.matting import resize_to_pixels

__all__ = ["SegmentOptions", "SegmentResult", "blur_trimap", "segment_sharp", "threshold_mask"]

# GrabCut's Gaussian mixtures have 5 components each (fixed inside OpenCV); k-means needs at least that many
# samples per class, and a handful of pixels gives meaningless colour models anyway.
_MIN_CLASS_PIXELS = 50


@dataclass(frozen=True)
class SegmentOptions:
    """Options of :func:`segment_sharp`. The CLI reads its defaults from here."""

    # Trimap thresholds on blur confidence, from Ma et al. 2018 (Sec. IV-C1).
    sure_sharp_below: float = 0.1  # [0, 0.1) -> GC_FGD
    probably_sharp_below: float = 0.5  # [0.1, 0.5) -> GC_PR_FGD, [0.5, 0.9) -> GC_PR_BGD
    sure_blurred_from: float = 0.9  # [0.9, 1] -> GC_BGD
    # GrabCut iterations (OpenCV's sample uses 5; the energy changes little after that).
    iterations: int = 5
    # GrabCut runs at most at this many pixels (~2-4 s for 5 iterations on one CPU core).
    max_pixels: int = 500_000
    # False: skip GrabCut and return the thresholded map (it is the better mask when subject and background
    # share colours, e.g. motion blur, where GrabCut gains nothing on CUHK).
    grabcut: bool = True

    def __post_init__(self) -> None:
        _check_thresholds(self)  # an impossible combination is refused once, before any photo


@dataclass
class SegmentResult:
    """Result of :func:`segment_sharp`, at the photo's full size."""

    mask: np.ndarray  # bool (H, W), True = sharp region
    trimap: np.ndarray  # uint8 (H, W) GrabCut labels (cv2.GC_BGD/FGD/PR_BGD/PR_FGD) from the blur map
    method: str  # "grabcut" | "threshold" (GrabCut impossible: one class absent)
    note: str | None = None  # human-readable reason when the thresholded map was used


def _check_thresholds(o: SegmentOptions) -> None:
    if not 0.0 <= o.sure_sharp_below <= o.probably_sharp_below <= o.sure_blurred_from <= 1.0:
        raise InputError(
            "segment thresholds must satisfy 0 <= sure_sharp_below <= probably_sharp_below <= sure_blurred_from "
            f"<= 1, got {o.sure_sharp_below}, {o.probably_sharp_below}, {o.sure_blurred_from}"
        )
    if o.iterations < 1:
        raise InputError(f"GrabCut needs at least 1 iteration, got {o.iterations}")


def blur_trimap(blur: np.ndarray, options: SegmentOptions | None = None) -> np.ndarray:
    """GrabCut's initial mask from a blur map (uint8 labels, Ma et al. 2018): sharp is foreground."""
    import cv2

    o = options or SegmentOptions()
    labels = np.full(blur.shape, cv2.GC_PR_BGD, np.uint8)
    labels[blur < o.probably_sharp_below] = cv2.GC_PR_FGD
    labels[blur < o.sure_sharp_below] = cv2.GC_FGD
    labels[blur >= o.sure_blurred_from] = cv2.GC_BGD
    return labels


def threshold_mask(blur: np.ndarray, options: SegmentOptions | None = None) -> np.ndarray:
    """The plain thresholded map (the baseline GrabCut refines): sharp where blur < probably_sharp_below."""
    o = options or SegmentOptions()
    return blur < o.probably_sharp_below


def segment_sharp(image: np.ndarray, blur: np.ndarray, options: SegmentOptions | None = None) -> SegmentResult:
    """Mask of the sharp region of ``image`` (RGB float32 in [0, 1]) given its blur map (1 = blurred)."""
    import cv2

    o = options or SegmentOptions()
    check_image_and_map(image, blur)
    trimap = blur_trimap(blur, o)
    h, w = blur.shape

    if not o.grabcut:
        return SegmentResult(mask=threshold_mask(blur, o), trimap=trimap, method="threshold")
    fg = int(np.count_nonzero((trimap == cv2.GC_FGD) | (trimap == cv2.GC_PR_FGD)))
    bg = trimap.size - fg
    if fg < _MIN_CLASS_PIXELS or bg < _MIN_CLASS_PIXELS:
        # cv2.grabCut asserts "!bgdSamples.empty() && !fgdSamples.empty()" when a class is absent.
        what = "sharp" if fg < _MIN_CLASS_PIXELS else "blurred"
        return SegmentResult(
            mask=threshold_mask(blur, o), trimap=trimap, method="threshold",
            note=f"the blur map has (almost) no {what} pixels, so GrabCut cannot model both regions; "
            "the mask is the thresholded blur map",
        )

    small = resize_to_pixels(np.ascontiguousarray(image, dtype=np.float32), o.max_pixels)
    sh, sw = small.shape[:2]
    # Labels at working resolution from the area-averaged map (resizing labels would alias thin regions).
    blur_small = resize_to_pixels(blur.astype(np.float32), o.max_pixels) if (sh, sw) != (h, w) else blur
    labels = blur_trimap(blur_small, o)
    fg_small = np.count_nonzero((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD))
    if fg_small == 0 or fg_small == labels.size:
        labels = cv2.resize(trimap, (sw, sh), interpolation=cv2.INTER_NEAREST)

    img8 = np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # GrabCut models colour in OpenCV's BGR order; the order does not change the result but keep it canonical.
    img8 = cv2.cvtColor(img8, cv2.COLOR_RGB2BGR)
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(img8, labels, None, bgd_model, fgd_model, o.iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:  # e.g. too few distinct colours in one class for its k-means initialisation
        return SegmentResult(
            mask=threshold_mask(blur, o), trimap=trimap, method="threshold",
            note=f"GrabCut failed ({str(exc).strip().splitlines()[-1]}); the mask is the thresholded blur map",
        )
    sharp_small = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.float32)

    if (sh, sw) == (h, w):
        mask = sharp_small > 0.5
    else:
        # Edge-aware upsampling: the mask's boundary lands on the full-resolution photo's edges.
        soft = guided_upsample(sharp_small, small, image, radius=2, eps=1e-3)
        mask = soft > 0.5
    # The sure labels of the full-size map stand, as GrabCut never changes GC_FGD / GC_BGD pixels.
    mask[trimap == cv2.GC_FGD] = True
    mask[trimap == cv2.GC_BGD] = False
    return SegmentResult(mask=mask, trimap=trimap, method="grabcut")
