"""Blind blur-kernel estimation restricted to a region (Kim et al. 2019, Sec. 6.1).

Kim et al. deblur a partially blurred photo by running Pan et al. (2014)'s L0-regularised blind deconvolution with the
data term masked by their blur map, so that sharp pixels do not vote for the kernel. This module does the same:

* latent-image step: Pan et al.'s half-quadratic L0-gradient restoration (FFT, closed form per step);
* kernel step: masked least squares in the gradient domain,
  ``min_k sum_i w_i ((grad S * k)_i - (grad Y)_i)^2 + gamma ||k||^2``, solved by conjugate gradient.

Why masked CG rather than "crop the largest blurred rectangle and run plain FFT estimation": real blurred regions are
irregular (a person, a car), so the largest inscribed rectangle is often a small fraction of the region and holds few
strong edges; the mask keeps every blurred pixel whose kernel footprint stays inside the region. Pan's FFT closed form
for the kernel needs a uniform data term, so with weights the normal equations are solved iteratively instead. No
library offers these two steps, so they are hand-written on top of NumPy FFTs; resizing/morphology use OpenCV.

Everything here works on grayscale float arrays at a bounded resolution chosen by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class _LazySciPyFFT:
    """``scipy.fft``, imported on first use: the CLI imports this module for option defaults only."""

    def __getattr__(self, name):
        from scipy import fft

        return getattr(fft, name)


sfft = _LazySciPyFFT()

# OpenCV is imported inside the functions: the CLI imports this package for its option defaults, and
# `blurtool --help` must not pay for loading OpenCV.


# --------------------------------------------------------------------------------------------- FFT helpers
def psf2otf(psf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Optical transfer function of ``psf`` for circular convolution on an array of ``shape`` (rfft2 layout)."""
    kh, kw = psf.shape
    pad = np.zeros(shape, dtype=np.float64)
    pad[:kh, :kw] = psf
    # Centre the kernel on pixel (0, 0) so that convolution does not shift the image.
    pad = np.roll(pad, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return sfft.rfft2(pad)


def _otf_adjoint(grad_full: np.ndarray, ksize: int) -> np.ndarray:
    """Restrict a full-size correlation result to the kernel support (adjoint of psf2otf's zero padding + roll)."""
    r = ksize // 2
    return np.roll(grad_full, (r, r), axis=(0, 1))[:ksize, :ksize]


def conv2_circular(img: np.ndarray, psf: np.ndarray) -> np.ndarray:
    return sfft.irfft2(sfft.rfft2(img) * psf2otf(psf, img.shape), s=img.shape)


def _grad(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward differences with circular wrap (matches the OTFs of [1, -1] used in the latent step)."""
    gx = np.roll(img, -1, axis=1) - img
    gy = np.roll(img, -1, axis=0) - img
    return gx, gy


# --------------------------------------------------------------------------------------------- kernels
def disk_kernel(radius: float, size: int | None = None) -> np.ndarray:
    """Anti-aliased uniform disk (defocus) kernel, normalised to sum 1."""
    radius = max(float(radius), 0.5)
    if size is None:
        size = 2 * int(math.ceil(radius)) + 1
    c = size // 2
    ss = 8  # supersampling for the anti-aliased edge
    yy, xx = np.mgrid[0 : size * ss, 0 : size * ss]
    yy = (yy + 0.5) / ss - 0.5 - c
    xx = (xx + 0.5) / ss - 0.5 - c
    inside = (xx**2 + yy**2 <= radius**2).astype(np.float64)
    k = inside.reshape(size, ss, size, ss).mean(axis=(1, 3))
    return k / k.sum()


def motion_kernel(points: list[tuple[float, float]] | np.ndarray, size: int, thickness: int = 1) -> np.ndarray:
    """Motion kernel drawn along a polyline given in kernel-centred pixel coordinates (x, y), normalised."""
    import cv2
    ss = 4
    canvas = np.zeros((size * ss, size * ss), np.float32)
    c = size // 2
    pts = np.array([((x + c + 0.5) * ss, (y + c + 0.5) * ss) for x, y in points], dtype=np.int32)
    cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, 1.0, thickness=thickness * ss)
    k = canvas.reshape(size, ss, size, ss).mean(axis=(1, 3)).astype(np.float64)
    if k.sum() <= 0:
        raise ValueError("motion kernel trajectory lies outside the kernel window")
    return center_kernel(k / k.sum())


def center_kernel(k: np.ndarray) -> np.ndarray:
    """Shift a kernel so that its centre of mass sits on the central pixel (Pan et al.'s adjust_psf_center).

    An off-centre kernel would deconvolve the region into a shifted image and tear it at the mask border.
    """
    import cv2
    k = np.clip(k, 0, None)
    s = k.sum()
    if s <= 0:
        return k
    yy, xx = np.mgrid[0 : k.shape[0], 0 : k.shape[1]]
    cy = (yy * k).sum() / s
    cx = (xx * k).sum() / s
    dy = k.shape[0] // 2 - cy
    dx = k.shape[1] // 2 - cx
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    out = cv2.warpAffine(k.astype(np.float32), m, (k.shape[1], k.shape[0]), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT).astype(np.float64)
    out = np.clip(out, 0, None)
    return out / out.sum() if out.sum() > 0 else k / s


def kernel_similarity(k1: np.ndarray, k2: np.ndarray) -> float:
    """Maximum normalised cross-correlation over all shifts (1 = identical up to translation)."""
    from scipy.signal import correlate

    a = np.asarray(k1, np.float64)
    b = np.asarray(k2, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 0.0
    return float(correlate(a, b, mode="full", method="direct").max() / (na * nb))


def resize_kernel(k: np.ndarray, size: int) -> np.ndarray:
    """Resample a kernel to ``size`` x ``size`` (odd), keeping it centred, non-negative and normalised."""
    import cv2
    if k.shape[0] == size:
        return k
    out = cv2.resize(k.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    out = np.clip(out, 0, None)
    if out.sum() <= 0:
        out = np.zeros((size, size))
        out[size // 2, size // 2] = 1.0
    return center_kernel(out / out.sum())


def _clean_kernel(k: np.ndarray, rel_thresh: float) -> np.ndarray:
    """Non-negativity, small values (< rel_thresh * max) and weak isolated blobs (Pan et al.: mass < 0.1) removed.

    Thresholding first lets the component test see the speckles that masked least squares scatters over the
    kernel window as separate blobs instead of one 8-connected carpet.
    """
    import cv2
    k = np.clip(k, 0, None)
    if k.sum() <= 0:
        return k
    if rel_thresh > 0:
        k[k < k.max() * rel_thresh] = 0
    k = k / k.sum()
    n, labels = cv2.connectedComponents((k > 0).astype(np.uint8), connectivity=8)
    if n > 2:
        sums = np.bincount(labels.ravel(), weights=k.ravel(), minlength=n)
        for lab in range(1, n):
            if sums[lab] < 0.1:
                k[labels == lab] = 0
    s = k.sum()
    return k / s if s > 0 else k


# --------------------------------------------------------------------------------------------- latent step
def l0_restoration(y: np.ndarray, k: np.ndarray, lam: float, kappa: float = 2.0, beta_max: float = 1e5
                   ) -> np.ndarray:
    """Pan et al. (2014) L0-gradient restoration: min ||S*k - Y||^2 + lam ||grad S||_0 by half-quadratic splitting.

    Port of their ``L0Restoration``: alternately hard-threshold the gradients (closed form of the L0 sub-problem) and
    solve the quadratic sub-problem exactly with FFTs; beta grows by ``kappa`` until ``beta_max``.
    """
    shape = y.shape
    otf_k = psf2otf(k, shape)
    otf_fx = psf2otf(np.array([[1.0, -1.0]]), shape)
    otf_fy = psf2otf(np.array([[1.0], [-1.0]]), shape)
    den_k = np.abs(otf_k) ** 2
    den_g = np.abs(otf_fx) ** 2 + np.abs(otf_fy) ** 2
    normin1 = np.conj(otf_k) * sfft.rfft2(y)
    s = y.copy()
    beta = 2 * lam
    while beta < beta_max:
        h = np.roll(s, -1, axis=1) - s
        v = np.roll(s, -1, axis=0) - s
        t = (h**2 + v**2) < lam / beta
        h[t] = 0
        v[t] = 0
        # Divergence-like adjoint of the forward differences.
        normin2 = (np.roll(h, 1, axis=1) - h) + (np.roll(v, 1, axis=0) - v)
        fs = (normin1 + beta * sfft.rfft2(normin2)) / (den_k + beta * den_g)
        s = sfft.irfft2(fs, s=shape)
        beta *= kappa
    return s


def _threshold_gradients(gx: np.ndarray, gy: np.ndarray, weight: np.ndarray, ksize: int,
                         threshold: float | None) -> tuple[np.ndarray, np.ndarray, float]:
    """Keep only salient gradients (Pan et al.'s threshold_pxpy_v1, after Cho & Lee 2009).

    The first call picks the threshold so that, inside the weighted region, each of four orientation bins keeps at
    least ``20 * ksize`` gradients — enough constraints for a ``ksize`` kernel; later calls lower it by 1.1.
    """
    pm = gx**2 + gy**2
    inside = weight > 0
    if threshold is None:
        ang = np.arctan2(gy, gx) % np.pi
        need = max(20 * ksize, 10)
        th = None
        vals = pm[inside]
        angs = ang[inside]
        if vals.size:
            mins = []
            for b in range(4):
                sel = vals[(angs >= b * np.pi / 4) & (angs < (b + 1) * np.pi / 4)]
                mins.append(np.sort(sel)[::-1][need - 1] if sel.size >= need else (sel.min() if sel.size else 0))
            th = float(min(mins))
        threshold = th if th and th > 0 else float(pm.max()) * 0.1
    m = pm < threshold
    while m.all() and threshold > 1e-12:
        threshold *= 0.81
        m = pm < threshold
    gx = np.where(m, 0.0, gx)
    gy = np.where(m, 0.0, gy)
    return gx, gy, threshold / 1.1


# --------------------------------------------------------------------------------------------- kernel step
def masked_kernel_ls(sx: np.ndarray, sy: np.ndarray, bx: np.ndarray, by: np.ndarray, weight: np.ndarray,
                     k0: np.ndarray, gamma_rel: float = 0.01, iters: int = 25) -> np.ndarray:
    """Solve ``min_k sum_i w_i ((grad S * k)_i - (grad B)_i)^2 + gamma ||k||^2`` by conjugate gradient.

    The operator is circular convolution through FFTs; ``weight`` is zero wherever a wrapped-around or sharp pixel
    would enter, so the circularity never reaches the data term. ``gamma`` is relative to the weighted gradient
    energy so that the prior strength does not depend on the region's size or contrast.
    """
    ksize = k0.shape[0]
    shape = sx.shape
    fsx = sfft.rfft2(sx)
    fsy = sfft.rfft2(sy)
    energy = float((weight * (sx**2 + sy**2)).sum())
    gamma = gamma_rel * max(energy, 1e-12)

    def apply(k):
        otf = psf2otf(k, shape)
        rx = weight * sfft.irfft2(fsx * otf, s=shape)
        ry = weight * sfft.irfft2(fsy * otf, s=shape)
        g = sfft.irfft2(np.conj(fsx) * sfft.rfft2(rx) + np.conj(fsy) * sfft.rfft2(ry), s=shape)
        return _otf_adjoint(g, ksize) + gamma * k

    g = sfft.irfft2(np.conj(fsx) * sfft.rfft2(weight * bx) + np.conj(fsy) * sfft.rfft2(weight * by), s=shape)
    rhs = _otf_adjoint(g, ksize)
    k = k0.copy()
    r = rhs - apply(k)
    p = r.copy()
    rs = float((r * r).sum())
    rs0 = rs
    for _ in range(iters):
        ap = apply(p)
        denom = float((p * ap).sum())
        if denom <= 0:
            break
        alpha = rs / denom
        k += alpha * p
        r -= alpha * ap
        rs_new = float((r * r).sum())
        if rs_new < 1e-10 * rs0:
            break
        p = r + (rs_new / rs) * p
        rs = rs_new
    return k


# --------------------------------------------------------------------------------------------- coarse-to-fine
@dataclass
class KernelEstimationConfig:
    """Parameters of the blind kernel estimation (defaults follow Pan et al. 2014's released code)."""

    lambda_grad: float = 4e-3  # L0 gradient weight, divided by 1.1 per iteration down to 1e-4 (Pan et al.)
    iters_per_scale: int = 5  # alternations latent/kernel per scale (Pan et al.'s xk_iter)
    cg_iters: int = 20  # conjugate-gradient iterations per kernel step
    gamma_rel: float = 0.01  # Tikhonov weight on the kernel, relative to the weighted gradient energy
    iter_thresh: float = 1 / 20  # drop kernel values below max/20 after every kernel step (Cho & Lee 2009 style)
    final_thresh: float = 0.1  # final cut at max/10 (Pan et al. use max/20; speckle from masked LS needs more)


def _downscale(img: np.ndarray, scale: float) -> np.ndarray:
    import cv2
    if scale == 1.0:
        return img
    h, w = img.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img.astype(np.float32), size, interpolation=cv2.INTER_AREA).astype(np.float64)


def _region_weight(mask: np.ndarray, ksize: int) -> np.ndarray:
    """Pixels whose whole kernel footprint lies inside the blurred region (1) — the only ones that vote."""
    import cv2
    m = (mask > 0.5).astype(np.uint8)
    r = ksize // 2 + 1
    if r > 0:
        m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1)), borderValue=0)
    return m.astype(np.float64)


def estimate_kernel(gray: np.ndarray, mask: np.ndarray | None, ksize: int,
                    config: KernelEstimationConfig | None = None) -> np.ndarray:
    """Blind estimate of a ``ksize`` x ``ksize`` blur kernel from the pixels of ``gray`` where ``mask`` is set.

    ``gray``: float (H, W) in [0, 1], already at the resolution the caller wants to work at (cost grows with H*W).
    ``mask``: bool/float (H, W), True where the region is blurred (None = whole image, the uniform baseline).
    Coarse-to-fine over scales of sqrt(1/2) from a 3-pixel kernel (Pan et al.'s pyramid).
    """
    cfg = config or KernelEstimationConfig()
    if ksize % 2 == 0:
        ksize += 1
    gray = np.asarray(gray, np.float64)
    if mask is None:
        mask = np.ones(gray.shape, bool)
    mask = np.asarray(mask, np.float64)

    ret = math.sqrt(0.5)
    n_scales = max(int(math.floor(math.log(5.0 / ksize) / math.log(ret))), 0) + 1
    ks_list = []
    for s in range(n_scales):
        kk = int(math.ceil(ksize * ret**s))
        ks_list.append(kk + (kk % 2 == 0))

    lam = cfg.lambda_grad
    k = None
    for s in range(n_scales - 1, -1, -1):
        kk = ks_list[s]
        if k is None:
            k = np.zeros((kk, kk))
            c = (kk - 1) // 2
            k[c, c - 1 : c + 1] = 0.5  # Pan et al.'s init_kernel: a 2-pixel horizontal segment
        else:
            k = resize_kernel(k, kk)
        scale = ret**s
        y = _downscale(gray, scale)
        m = _downscale(mask, scale)
        # Pad with reflection so that FFT wrap-around never touches voting pixels (their weight is 0 in the pad),
        # up to sizes with small prime factors (an FFT of a length like 2*5*29 is several times slower).
        hp, wp = (sfft.next_fast_len(n + 2 * kk, real=True) for n in y.shape)
        pads = ((kk, hp - y.shape[0] - kk), (kk, wp - y.shape[1] - kk))
        y = np.pad(y, pads, mode="reflect" if min(y.shape) > max(max(pads)) else "symmetric")
        m = np.pad(m, pads, mode="constant")
        weight = _region_weight(m, kk)
        if weight.sum() < 4 * kk * kk:
            # Too few fully-blurred pixels at this scale: use the whole padded region rather than nothing.
            weight = (m > 0.5).astype(np.float64)
        bx, by = _grad(y)
        threshold = None
        for _ in range(cfg.iters_per_scale):
            s_img = l0_restoration(y, k, lam)
            sx, sy = _grad(s_img)
            sx, sy, threshold = _threshold_gradients(sx, sy, weight, kk, threshold)
            k = masked_kernel_ls(sx, sy, bx, by, weight, k, cfg.gamma_rel, cfg.cg_iters)
            k = _clean_kernel(k, cfg.iter_thresh)
            if k.sum() <= 0:
                k = np.zeros((kk, kk))
                k[kk // 2, kk // 2] = 1.0
            lam = max(lam / 1.1, 1e-4)
        k = center_kernel(k)
    k = _clean_kernel(k, cfg.final_thresh)
    return center_kernel(k)


def estimate_disk_radius(gray: np.ndarray, mask: np.ndarray | None, max_radius: float,
                         config: KernelEstimationConfig | None = None) -> tuple[float, np.ndarray]:
    """Defocus estimate: fit a disk to the blind kernel (a disk is the pillbox PSF of a thin lens out of focus).

    The free-form estimate is robust to the exact shape; projecting it onto the one-parameter disk family by maximum
    normalised cross-correlation removes its noise and makes the radius the only unknown.
    """
    ksize = 2 * int(math.ceil(max_radius)) + 1
    k = estimate_kernel(gray, mask, ksize, config)
    best_r, best_s = 0.5, -1.0
    for r in np.arange(0.5, max_radius + 0.25, 0.25):
        sim = kernel_similarity(k, disk_kernel(r, ksize))
        if sim > best_s:
            best_r, best_s = float(r), sim
    return best_r, disk_kernel(best_r, ksize)
