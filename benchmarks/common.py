"""What the benchmark scripts share: where things are, the test helpers some of them build inputs with, and the
measures and baseline of the deblurring benchmark (scaffolding of the measurements, not part of blurtool).

The scripts run as ``python benchmarks/<name>.py`` from an install of the repository (``pip install -e ".[dev]"``):
Python puts benchmarks/ on the path, so ``from common import ...`` works and blurtool is the installed package.

Data: each script takes its folders as arguments; the default is ``DATA``: $BLURTOOL_DATA if set, else a folder
``shared/data`` in the repository's parent folder, laid out as in docs/benchmarks.md."""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from types import ModuleType

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BLURTOOL_DATA") or REPO.parent / "shared" / "data")


def load_test_helper(name: str) -> ModuleType:
    """A helper module of the test suite (tests/<name>.py or tests/library/<name>.py: fake detectors, test DNGs), loaded
    from its file so that no path is added to sys.path."""
    for folder in (REPO / "tests", REPO / "tests" / "library"):
        path = folder / f"{name}.py"
        if path.is_file():
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise ModuleNotFoundError(f"no tests/{name}.py or tests/ops/{name}.py")


# ----------------------------------------------------------------------------------------- image quality
def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1], optionally over ``mask`` (bool (H, W)) only."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    if d.ndim == 3:
        d = d.mean(axis=2)
    mse = float(d[mask].mean() if mask is not None else d.mean())
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def _luma(img) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.asarray(img, np.float32), cv2.COLOR_RGB2GRAY).astype(np.float64)


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03) on luma, mean over ``mask``."""
    import cv2

    x = _luma(a) if np.ndim(a) == 3 else np.asarray(a, np.float64)
    y = _luma(b) if np.ndim(b) == 3 else np.asarray(b, np.float64)
    c1, c2 = 0.01**2, 0.03**2

    def g(z):
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = g(x), g(y)
    sxx, syy, sxy = g(x * x) - mx * mx, g(y * y) - my * my, g(x * y) - mx * my
    smap = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(smap[mask].mean() if mask is not None else smap.mean())


# ---------------------------------------------------------------------------------------- deblur baseline
def deblur_uniform(image: np.ndarray, kernel_size: int | None = None, config=None):
    """Naive uniform baseline (Kim et al. Fig. 11c): one kernel from the WHOLE image, applied to the whole image.
    Returns a blurtool.ops.deblur.DeblurResult."""
    import time

    from blurtool.ops.deblur import DeblurConfig, DeblurResult, default_kernel_size, estimate_region_kernel
    from blurtool.ops.deconvolution import deconvolve

    cfg = config or DeblurConfig()
    image = np.asarray(image, np.float32)
    ksize = kernel_size or cfg.kernel_size or default_kernel_size(image.shape)
    ksize += ksize % 2 == 0
    t0 = time.perf_counter()
    everything = np.ones(image.shape[:2], bool)
    k = estimate_region_kernel(image, everything, ksize, "free", cfg.max_side, cfg.max_work_kernel, cfg.estimation)
    t1 = time.perf_counter()
    out = deconvolve(image, k, cfg.deconvolution)
    t2 = time.perf_counter()
    return DeblurResult(out, k, everything.astype(np.float32), (0, image.shape[0], 0, image.shape[1]), 1.0,
                        {"kernel": t1 - t0, "deconvolution": t2 - t1})
