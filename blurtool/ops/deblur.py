"""Deblur only the blurred region of a partially blurred photo (Kim et al. 2019, Sec. 6.1).

A uniform blind-deblurring method applied to a partially blurred photo estimates one kernel from every pixel: the
sharp pixels vote for a delta, the blurred ones for the real kernel, the result fits neither and the whole frame rings
(Kim et al., Fig. 11c). With a blur map the same uniform method works when it is restricted to the blurred region:

1. region: ``blur >= threshold`` (optionally one kind only), cleaned, turned into a soft mask with a feathered edge
   (exactly 0 beyond half the feather width outside the region);
2. kernel: blind estimation from the region's pixels only (:func:`blurtool.ops.kernel_estimation.estimate_kernel`,
   Pan et al. 2014 with a masked data term) on grayscale at a bounded resolution, or a disk fit for defocus;
   then the region keeps only the pixels the kernel explains (:func:`explained_region`; more than the photo's own
   sharp detail where the map is unsure): where the map calls a flat sky or a sharp wall blurred, the kernel has
   nothing there to undo, and deconvolving it would only ring;
3. deconvolution: hyper-Laplacian (Krishnan & Fergus 2009) per colour channel on the region's bounding box plus a
   margin, with the sharp surroundings inside the box re-blurred by the kernel first so that the box obeys the uniform
   blur model and the mask border does not ring;
4. blend: ``out = mask * deblurred + (1 - mask) * input``; pixels with mask 0 are copied from the input bit for bit.

Blind mode checks first that the region holds enough edges above its noise level for the estimate to mean anything
(:func:`check_region_kernel`); when it does not, the photo is returned unchanged with ``reliable = False`` and a reason.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

# OpenCV is imported inside the functions: the CLI imports this package for its option defaults, and
# `blurtool --help` must not pay for loading OpenCV.
from blurtool.checks import check_image, check_map
from blurtool.errors import InputError
from blurtool.kinds import Kind
from blurtool.ops.deconvolution import DeconvolutionConfig, deconvolve
from blurtool.ops.kernel_estimation import (
    KernelEstimationConfig,
    _region_weight,
    center_kernel,
    conv2_circular,
    disk_kernel,
    estimate_disk_radius,
    estimate_kernel,
    resize_kernel,
)

KINDS = ("any", "motion", "defocus")
KERNEL_MODELS = ("auto", "free", "disk")


@dataclass
class DeblurConfig:
    """Options of :func:`deblur`; the CLI reads its defaults from here."""

    threshold: float = 0.5  # blur-map value at which a pixel counts as blurred (BlurDetector passes its own)
    kind: str = "any"  # deblur "any" blurred pixel, or only "motion" / only "defocus" ones (needs the kind map)
    kernel_size: int | None = None  # full-resolution kernel side (odd); None = 4% of the longer image side, 11..101
    kernel_model: str = "auto"  # "free" blind kernel, "disk" defocus radius; "auto" = disk when kind is defocus
    max_side: int = 512  # kernel estimation works on at most a max_side x max_side window of the region...
    max_work_kernel: int = 41  # ...downscaled so that the kernel spans at most this many pixels (Pan et al.'s sizes)
    feather: int | None = None  # mask edge width in pixels; None = 1% of the longer side, at least 3
    min_area: float = 0.002  # blurred components smaller than this fraction of the image are ignored
    check: bool = True  # blind mode: too few edges above the noise for a trustworthy kernel = leave the photo alone
    check_min_edges: float = 10.0  # strong gradients needed per orientation, in kernel sides (see check_region_kernel)
    explained_min: float = 0.2  # region pixels whose detail the kernel explains less than this are left alone (0: off)
    sharp_percentile: float = 90.0  # ...and, where the map is unsure, less than this percentile of the photo's sharp
    # detail (see explained_region; 0: the fixed bound only)
    estimation: KernelEstimationConfig = field(default_factory=KernelEstimationConfig)
    deconvolution: DeconvolutionConfig = field(default_factory=DeconvolutionConfig)


@dataclass
class DeblurResult:
    image: np.ndarray  # float32 (H, W, 3) in [0, 1]
    kernel: np.ndarray  # float64 (k, k), sums to 1; the kernel used at full resolution
    mask: np.ndarray  # float32 (H, W) in [0, 1], the soft blend mask
    box: tuple[int, int, int, int] | None  # (y0, y1, x0, x1) of the deconvolved crop, None if nothing was blurred
    region_fraction: float  # fraction of the image inside the (hard) blurred region of the map
    seconds: dict[str, float] = field(default_factory=dict)  # time per stage
    reliable: bool | None = None  # verdict of the kernel check (None: not checked: non-blind, --no-check, no region)
    reason: str | None = None  # one line explaining the verdict
    edges: float | None = None  # edge evidence measured by the check (strong gradients per orientation / kernel side)
    deblurred_fraction: float = 0.0  # fraction of the image deconvolved: the region's pixels the kernel explains

    @property
    def changed(self) -> bool:
        return self.box is not None


def default_kernel_size(shape: tuple[int, ...]) -> int:
    """4% of the longer side, odd, clamped to 11..101: covers CUHK-style motion blur (15-30 px at 640 px)."""
    k = int(round(0.04 * max(shape[:2])))
    k = min(max(k, 11), 101)
    return k + (k % 2 == 0)


def default_feather(shape: tuple[int, ...]) -> int:
    return max(3, int(round(0.01 * max(shape[:2]))))


def hard_region(blur: np.ndarray, kind: np.ndarray | None = None, which: str = "any", threshold: float = 0.5,
                min_area: float = 0.002) -> np.ndarray:
    """Bool (H, W) blurred region: ``blur >= threshold`` (and of kind ``which``), without tiny islands and holes."""
    if which not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, got {which!r}")
    blur = check_map(np.asarray(blur, np.float32))
    region = blur >= threshold
    if which != "any":
        if kind is None:
            raise InputError(f"`which` {which!r} needs the kind map (from the detector), but none was given")
        kind = check_map(kind, "kind map", blur.shape)
        region &= kind == Kind[which.upper()]
    return _clean(region, min_area)


def soft_mask(region: np.ndarray, feather: int) -> np.ndarray:
    """Feathered float mask: a linear ramp of width ``feather`` centred on the region's edge, exactly 0/1 beyond."""
    import cv2
    region = np.asarray(region, bool)
    if feather <= 0 or not region.any() or region.all():
        return region.astype(np.float32)
    inside = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
    outside = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 5)
    signed = np.where(region, inside - 0.5, -(outside - 0.5))
    return np.clip(0.5 + signed / feather, 0.0, 1.0).astype(np.float32)


def region_mask(blur: np.ndarray, kind: np.ndarray | None = None, which: str = "any", threshold: float = 0.5,
                feather: int | None = None, min_area: float = 0.002) -> np.ndarray:
    """Soft (H, W) float32 mask of the region to deblur (see :func:`hard_region` and :func:`soft_mask`)."""
    hard = hard_region(blur, kind, which, threshold, min_area)
    return soft_mask(hard, default_feather(hard.shape) if feather is None else feather)


def kernel_to_image(kernel: np.ndarray) -> np.ndarray:
    """uint8 picture of a kernel, its maximum at 255 (for saving as PNG)."""
    k = np.clip(np.asarray(kernel, np.float64), 0, None)
    m = k.max()
    return np.zeros(k.shape, np.uint8) if m <= 0 else np.round(k / m * 255).astype(np.uint8)


def kernel_from_image(img: np.ndarray, name: str = "kernel image") -> np.ndarray:
    """Kernel from a (gray or RGB) picture: mean over channels, non-negative, odd-sized, centred, sum 1."""
    k = np.asarray(img, np.float64)
    if k.ndim == 3:
        k = k.mean(axis=2)
    if k.ndim != 2:
        raise InputError(f"{name}: expected a 2-D image, got shape {k.shape}")
    k = np.clip(k, 0, None)
    if k.sum() <= 0:
        raise InputError(f"{name}: the kernel image is entirely black")
    side = max(k.shape)
    side += side % 2 == 0
    sq = np.zeros((side, side))
    y0, x0 = (side - k.shape[0]) // 2, (side - k.shape[1]) // 2
    sq[y0 : y0 + k.shape[0], x0 : x0 + k.shape[1]] = k
    return center_kernel(sq / sq.sum())


def _clean(region: np.ndarray, min_area: float) -> np.ndarray:
    """Close pinholes and open specks at ~0.5% of the image side (a blur map has soft, noisy edges), then drop
    components smaller than ``min_area`` of the image."""
    import cv2
    h, w = region.shape
    r = max(1, int(round(0.005 * max(h, w))))
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    m = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE, se)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, se)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area * h * w
    return keep[labels]


# Sobel's response to white noise of sigma: 12 sigma^2 per direction, so |grad|^2 averages 24 sigma^2; detail below
# three times that is noise, not something blurred.
_SOBEL_NOISE_ENERGY = 24.0
_NOISE_MARGIN = 3.0
_MIN_NOISE_SIGMA = 0.5 / 255  # half an 8-bit level: the floor for photos without measurable noise (synthetic ones)


def _wide_gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``x`` for a wide ``sigma``, at a fraction of OpenCV's cost: a big kernel's window (sigma 36
    for a 60 px shake) takes OpenCV's direct filter 0.7 s on 6 MP on an idle 2-core CPU (many times that when the
    cores are shared), and the region test needs two, so past sigma 8 the map is averaged down by
    f = sigma // 4 (INTER_AREA: a box of f px, variance f^2 / 12, under 1 % of sigma^2), blurred there by sigma / f
    (4-8 px) and brought back by linear interpolation, smooth at that width."""
    import cv2
    if sigma < 8:
        return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    f = int(sigma // 4)
    h, w = x.shape
    small = cv2.resize(x, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def explained_ratio(gray: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Per pixel, how much of the local detail of ``gray`` survives blurring it once more by ``kernel`` (float32, in
    [0, ~1]): local gradient energy of ``gray * kernel`` over that of ``gray`` plus a noise floor.

    The test of whether the kernel explains a pixel: content already blurred by the kernel loses little when
    blurred by it again (two passes of a streak of length L against one: about 2/3 of an edge's gradient energy
    stays), sharp content loses most (a step edge keeps about 1/L), and a flat area, whose only detail is noise,
    keeps almost nothing. Both energies are averaged over a Gaussian window of twice the kernel's spread (the root
    of its second moment about its centre of mass; 0.6 L for a streak of length L): the blur moves an edge's energy
    into the flat pixels beside it, and only a window that holds the whole spread compares like with like."""
    import cv2
    g = np.ascontiguousarray(gray, np.float32)
    k = np.asarray(kernel, np.float64)
    k = k / k.sum()
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]]
    cy, cx = (yy * k).sum(), (xx * k).sum()
    sigma = max(1.0, 2.0 * math.sqrt(float((((yy - cy) ** 2 + (xx - cx) ** 2) * k).sum())))
    k = k.astype(np.float32)
    # filter2D correlates; the flipped kernel makes it the convolution the deconvolution models.
    reblurred = cv2.filter2D(g, -1, np.ascontiguousarray(k[::-1, ::-1]), borderType=cv2.BORDER_REFLECT)

    def energy(x):
        gx = cv2.Sobel(x, cv2.CV_32F, 1, 0, borderType=cv2.BORDER_REFLECT)
        gy = cv2.Sobel(x, cv2.CV_32F, 0, 1, borderType=cv2.BORDER_REFLECT)
        return _wide_gaussian(gx * gx + gy * gy, sigma)

    noise = max(noise_sigma(g.astype(np.float64), np.ones(g.shape, bool)), _MIN_NOISE_SIGMA)
    floor = np.float32(_NOISE_MARGIN * _SOBEL_NOISE_ENERGY * noise**2)
    detail = energy(g)
    # Where the detail is no more than noise there is nothing to explain (and nothing a deconvolution could restore).
    return np.where(detail > floor, energy(reblurred) / (detail + floor), np.float32(0))


def sharp_detail_ratio(ratio: np.ndarray, blur: np.ndarray, threshold: float, percentile: float) -> float | None:
    """The ``percentile`` of :func:`explained_ratio` over the pixels the map calls clearly sharp (under half the
    threshold) that hold detail above the noise: how high this photo's own sharp texture reads. None when fewer than
    1 % of the pixels qualify (a photo blurred nearly everywhere has no sharp reference).

    The two-pass ratio of sharp texture depends on the photo: crisp urban detail reads 0.1-0.15 at its 90th
    percentile, soft hazy reeds and water 0.3-0.4, as high as texture a short shake blurred. The photo's own sharp
    part tells which it is."""
    sharp = (np.asarray(blur) < threshold / 2) & (ratio > 0)
    if sharp.sum() < 0.01 * sharp.size:
        return None
    return float(np.percentile(ratio[sharp], percentile))


def explained_region(image: np.ndarray, region: np.ndarray, kernel: np.ndarray, explained_min: float = 0.2,
                     min_area: float = 0.002, blur: np.ndarray | None = None, threshold: float = 0.5,
                     sharp_percentile: float = 90.0) -> np.ndarray:
    """The pixels of ``region`` (bool) whose detail ``kernel`` explains (:func:`explained_ratio` at or above a bound),
    cleaned as :func:`hard_region` cleans.

    A blur map calls some sharp pixels blurred: mostly flat ones (sky, fog, a plain wall), where the network sees no
    evidence either way, and some sharp texture next to a blurred part. Deconvolving them rings around every cloud
    edge and changes pixels that were fine. On natural texture the two-pass ratio is about 0.35-0.6 where the kernel
    blurred it and 0.1-0.25 where it is sharp (a 15 px shake); the fixed bound ``explained_min`` (0.2) was chosen on 8
    *training* photos half shaken (docs/benchmarks.md). Soft sharp texture (distant reeds, water, cartoon-like flat
    shapes) reads higher, 0.2-0.4, so with the map (``blur``, its ``threshold``) the bound also follows the photo:
    where the map is barely sure (at its threshold) a pixel must read above ``sharp_percentile`` % of the photo's own
    sharp detail (:func:`sharp_detail_ratio`), where it is certain (1.0) ``explained_min`` is enough, linearly in
    between — the map's confidence and the kernel's evidence weigh against each other. Measured on the region's
    bounding box plus a kernel-sized margin, or on the whole photo when the map is given (its sharp part is the
    reference)."""
    region = np.asarray(region, bool)
    if explained_min <= 0 or not region.any():
        return region
    with_reference = blur is not None and sharp_percentile > 0
    if with_reference:
        y0, y1, x0, x1 = 0, region.shape[0], 0, region.shape[1]
    else:
        y0, y1, x0, x1 = _box(region, 2 * max(kernel.shape))
    ratio = explained_ratio(_gray(image[y0:y1, x0:x1]), kernel)
    bound: float | np.ndarray = explained_min
    if with_reference:
        blur = np.asarray(blur, np.float32)
        reference = sharp_detail_ratio(ratio, blur, threshold, sharp_percentile)
        if reference is not None and reference > explained_min:
            certainty = np.clip((blur - threshold) / max(1.0 - threshold, 1e-6), 0.0, 1.0)
            bound = reference + (explained_min - reference) * certainty
    keep = np.zeros_like(region)
    keep[y0:y1, x0:x1] = region[y0:y1, x0:x1] & (ratio >= bound)
    return _clean(keep, min_area)


def _box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask > 0)
    h, w = mask.shape
    return (max(0, ys.min() - margin), min(h, ys.max() + 1 + margin),
            max(0, xs.min() - margin), min(w, xs.max() + 1 + margin))


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2
    return cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2GRAY).astype(np.float64)


def _best_window(gray: np.ndarray, region: np.ndarray, side: int) -> tuple[int, int, int, int]:
    """The ``side`` x ``side`` window (clipped to the array) holding the most region-weighted gradient energy."""
    import cv2

    h, w = gray.shape
    wh, ww = min(h, side), min(w, side)
    if (wh, ww) == (h, w):
        return 0, h, 0, w
    gy, gx = np.gradient(gray)
    score = (np.hypot(gx, gy) * (region > 0.5)).astype(np.float64)
    integral = cv2.integral(score)
    sums = integral[wh:, ww:] - integral[:-wh, ww:] - integral[wh:, :-ww] + integral[:-wh, :-ww]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(y), int(y) + wh, int(x), int(x) + ww


def _working_view(image: np.ndarray, region: np.ndarray, ksize: int, max_side: int, max_work_kernel: int
                  ) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Grayscale window of the region where the kernel is estimated: (gray, soft region, scale, working kernel side).

    Bounded cost on multi-megapixel photos, in two ways: the region's box is downscaled only as far as needed for the
    kernel to be at most ``max_work_kernel`` pixels (a downscaled-then-upsampled kernel loses its thin trajectory, so
    the scale stays as fine as the budget allows), and estimation then runs on the ``max_side`` square window of the
    region with the most gradient energy (blur kernels are estimated from edges; Pan et al. also work on crops).
    """
    import cv2

    y0, y1, x0, x1 = _box(region, ksize)
    gray = _gray(image[y0:y1, x0:x1])
    reg = region[y0:y1, x0:x1].astype(np.float32)
    scale = min(1.0, max_work_kernel / ksize)
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray.astype(np.float32), size, interpolation=cv2.INTER_AREA).astype(np.float64)
        reg = cv2.resize(reg, size, interpolation=cv2.INTER_AREA)
    wy0, wy1, wx0, wx1 = _best_window(gray, reg, max_side)
    ks = int(math.ceil(ksize * scale))
    return gray[wy0:wy1, wx0:wx1], reg[wy0:wy1, wx0:wx1], scale, max(ks + (ks % 2 == 0), 5)


def _estimate_working(gray: np.ndarray, reg: np.ndarray, ks: int, ksize: int, scale: float, model: str,
                      config: KernelEstimationConfig | None) -> np.ndarray:
    """Kernel estimated at the working scale, returned at full resolution (side ``ksize``, larger for big disks)."""
    if model == "disk":
        radius, _ = estimate_disk_radius(gray, reg > 0.5, ks / 2, config)
        full_r = radius / scale
        return disk_kernel(full_r, max(ksize, 2 * int(math.ceil(full_r)) + 1))
    k = estimate_kernel(gray, reg > 0.5, ks, config)
    return resize_kernel(k, ksize) if scale < 1.0 else k


def estimate_region_kernel(image: np.ndarray, region: np.ndarray, ksize: int, model: str = "free",
                           max_side: int = 512, max_work_kernel: int = 41,
                           config: KernelEstimationConfig | None = None) -> np.ndarray:
    """Blind full-resolution kernel of side ``ksize`` from the pixels of ``image`` inside ``region`` (bool).

    Works on the window chosen by :func:`_working_view`; the kernel found is resampled back to full resolution.
    """
    if model not in ("free", "disk"):
        raise InputError(f"kernel model must be 'free' or 'disk', got {model!r}")
    gray, reg, scale, ks = _working_view(image, region, ksize, max_side, max_work_kernel)
    return _estimate_working(gray, reg, ks, ksize, scale, model, config)


def noise_sigma(gray: np.ndarray, region: np.ndarray) -> float:
    """Noise standard deviation of ``gray`` inside ``region`` (bool), robust to edges and texture.

    Donoho's estimator: the median absolute diagonal Haar detail over 0.6745. Diagonal details of 2x2 blocks are near
    zero for smooth areas and straight edges, so the median sees the noise, not the content.
    """
    g = gray[: gray.shape[0] // 2 * 2, : gray.shape[1] // 2 * 2]
    r = region[: g.shape[0], : g.shape[1]]
    hh = (g[0::2, 0::2] - g[1::2, 0::2] - g[0::2, 1::2] + g[1::2, 1::2]) / 2
    inside = r[0::2, 0::2] & r[1::2, 0::2] & r[0::2, 1::2] & r[1::2, 1::2]
    return float(np.median(np.abs(hh[inside])) / 0.6745) if inside.any() else 0.0


@dataclass
class KernelCheck:
    """Verdict of :func:`check_region_kernel`."""

    reliable: bool
    edges: float  # strong gradients in the weakest orientation, in units of the kernel side (the score)
    noise: float  # noise sigma measured in the region (working scale)
    reason: str  # one line, for the user


def check_region_kernel(image: np.ndarray, region: np.ndarray, ksize: int, max_side: int = 512,
                        max_work_kernel: int = 41, min_edges: float = 10.0, noise_factor: float = 5.0
                        ) -> KernelCheck:
    """Does the region hold enough edge evidence for a blind kernel estimate? Measured on what the estimator sees.

    Pan et al. (after Cho & Lee) estimate the kernel from the strongest gradients: their threshold keeps ``20 * k``
    gradients in each of four orientations. They pick the count, not a noise level, so in a region with few edges
    the "strongest gradients" are noise and the kernel fits noise (deconvolution then rings: -9 to -13 dB on a
    smooth benchmark crop). Here a gradient counts as an edge only above ``noise_factor`` times the region's noise
    sigma (5 sigma: noise alone practically never gets there), and every orientation must hold ``min_edges * k`` of
    them among the pixels that vote (whole kernel footprint in the region), at the working scale and in the window.
    A direction without edges leaves the kernel undetermined along it, hence the minimum over orientations.
    """
    gray, reg, _, ks = _working_view(image, region, ksize, max_side, max_work_kernel)
    return _check_view(gray, reg, ks, min_edges, noise_factor)


def _check_view(gray: np.ndarray, reg: np.ndarray, ks: int, min_edges: float = 10.0, noise_factor: float = 5.0
                ) -> KernelCheck:
    """:func:`check_region_kernel` on the estimator's working view (see :func:`_working_view`)."""
    hard = reg > 0.5
    votes = _region_weight(hard, ks) > 0
    if not votes.any():
        return KernelCheck(False, 0.0, 0.0, "region too small to estimate a kernel (narrower than the kernel)")
    sigma = noise_sigma(gray, hard)
    gx = np.diff(gray, axis=1, append=gray[:, -1:])
    gy = np.diff(gray, axis=0, append=gray[-1:, :])
    strong = votes & (np.hypot(gx, gy) > noise_factor * max(sigma, 1e-4))  # floor: noise-free synthetic images
    ang = np.arctan2(gy[strong], gx[strong]) % np.pi
    counts = np.bincount(np.minimum((ang / (np.pi / 4)).astype(int), 3), minlength=4)
    edges = float(counts.min()) / ks
    if edges < min_edges:
        return KernelCheck(False, edges, sigma, f"too few strong edges to trust the blind kernel ({edges:.1f} x "
                                                f"kernel size above the noise in the weakest direction, need "
                                                f"{min_edges:g})")
    return KernelCheck(True, edges, sigma, f"enough strong edges ({edges:.1f} x kernel size, need {min_edges:g})")


def _reblur_surroundings(crop: np.ndarray, region: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Inside the crop, replace sharp pixels by their blur with ``kernel``.

    The crop then looks uniformly blurred, which is what deconvolution assumes: the blurred pixels next to the mask
    edge are explained by sharp neighbours that have themselves been blurred, instead of producing ringing that would
    bleed into the region (the reflection of a sharp edge through the inverse filter).
    """
    pad = max(kernel.shape)
    padded = np.pad(crop.astype(np.float64), ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    blurred = np.stack([conv2_circular(padded[..., c], kernel) for c in range(3)], axis=2)[pad:-pad, pad:-pad]
    return np.where(region[..., None], crop, blurred)


def deblur(image: np.ndarray, blur: np.ndarray | None = None, kind: np.ndarray | None = None, *,
           kernel: np.ndarray | None = None, region: np.ndarray | None = None,
           config: DeblurConfig | None = None) -> DeblurResult:
    """Deblur the blurred region of ``image`` (RGB float32 (H, W, 3) in [0, 1]).

    The region comes from ``blur`` (+ ``kind`` when ``config.kind`` is not "any"), or directly from ``region`` (bool
    (H, W)). ``kernel`` (2-D, any normalisation) skips blind estimation (non-blind mode). Pixels outside the feathered
    mask are returned unchanged.
    """
    cfg = config or DeblurConfig()
    image = check_image(np.asarray(image)).astype(np.float32, copy=False)
    h, w = image.shape[:2]
    if cfg.kernel_model not in KERNEL_MODELS:
        raise InputError(f"kernel model must be one of {', '.join(KERNEL_MODELS)}, got {cfg.kernel_model!r}")
    t0 = time.perf_counter()
    if region is None:
        if blur is None:
            raise InputError("deblur needs a blur map or a region mask")
        if np.shape(blur) != (h, w):
            raise InputError(f"blur map shape {np.shape(blur)} differs from image shape {(h, w)}")
        region = hard_region(blur, kind, cfg.kind, cfg.threshold, cfg.min_area)
    else:
        region = np.asarray(region, bool)
        if region.shape != (h, w):
            raise InputError(f"region mask shape {region.shape} differs from image shape {(h, w)}")
    feather = default_feather(image.shape) if cfg.feather is None else cfg.feather
    mask = soft_mask(region, feather)
    seconds = {"region": time.perf_counter() - t0}
    frac = float(region.mean())
    if not region.any():
        delta = np.ones((1, 1))
        return DeblurResult(image.copy(), delta, mask, None, 0.0, seconds)

    t0 = time.perf_counter()
    if kernel is not None:
        k = kernel_from_image(kernel)
    else:
        ksize = cfg.kernel_size or default_kernel_size(image.shape)
        ksize += ksize % 2 == 0
        model = cfg.kernel_model
        if model == "auto":
            model = "disk" if cfg.kind == "defocus" else "free"
        if model not in ("free", "disk"):
            raise InputError(f"kernel model must be 'free' or 'disk', got {model!r}")
        # One working view serves the estimate and the check: the check must judge what the estimator saw.
        gray, reg, scale, ks = _working_view(image, region, ksize, cfg.max_side, cfg.max_work_kernel)
        k = _estimate_working(gray, reg, ks, ksize, scale, model, cfg.estimation)
    seconds["kernel"] = time.perf_counter() - t0
    checked = (None, None, None)
    if kernel is None and cfg.check:
        t0 = time.perf_counter()
        verdict = _check_view(gray, reg, ks, cfg.check_min_edges)
        seconds["check"] = time.perf_counter() - t0
        checked = (verdict.reliable, verdict.reason, verdict.edges)
        if not verdict.reliable:
            # Deconvolving with a kernel fitted to noise rings and can cost the region 10 dB: leave the photo as it
            # is, but still return the estimate and the mask so the user can inspect them or retry (--kernel).
            return DeblurResult(image.copy(), k, mask, None, frac, seconds, *checked)

    t0 = time.perf_counter()
    explained = explained_region(image, region, k, cfg.explained_min, cfg.min_area, blur, cfg.threshold,
                                 cfg.sharp_percentile)
    if explained is not region:  # the mask follows the smaller region (explained_region returns it as is when off)
        region, mask = explained, soft_mask(explained, feather)
    seconds["explained"] = time.perf_counter() - t0
    if not region.any():  # the kernel explains none of it: nothing there to undo
        return DeblurResult(image.copy(), k, mask, None, frac, seconds, *checked)

    t0 = time.perf_counter()
    # Deconvolve a box larger than the mask by twice the kernel size: the ring of real context lets the inverse
    # filter see what lies beyond the mask edge, and whatever artefacts the box edge makes stay outside the mask.
    box = _box(mask, 2 * max(k.shape) + 2)
    y0, y1, x0, x1 = box
    crop = image[y0:y1, x0:x1]
    observed = _reblur_surroundings(crop, region[y0:y1, x0:x1], k)
    sharp = deconvolve(observed, k, cfg.deconvolution)
    out = image.copy()
    m = mask[y0:y1, x0:x1, None]
    blended = m * sharp + (1.0 - m) * crop
    out[y0:y1, x0:x1] = np.where(m > 0, blended, crop).astype(np.float32)
    seconds["deconvolution"] = time.perf_counter() - t0
    return DeblurResult(out, k, mask, box, frac, seconds, *checked, deblurred_fraction=float(region.mean()))
