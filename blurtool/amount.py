"""The blur amount's public unit and levels (numpy only).

The network estimates the blur radius in px of the photo as it sees it (the working size: a disk's radius, or half a
motion streak's length). That number depends on the working size, so blurtool reports it relative to the photo: in
px at a 1000 px long side, i.e. per mille of the long side (a 12 MP photo and its 2 MP copy agree), and as a
fraction of the diagonal.

Levels after Zhang et al. 2018 ("Learning to understand image blur"), bounded in that unit: none (< 1: under a pixel
on a 1000 px view), low (details still visible), medium (details gone), high (>= 10, 1 % of the long side: textures
changed, shapes distorted). Each bound is 2.5 times the one below.

A weights card may carry an amount calibration (AmountCalibration, fitted by `blurtool calibrate`): a monotone
correction per blur kind of what the network reads against the known kernels that made the blur, so a streak is not
read shorter than a disk of the same reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REFERENCE_LONG_SIDE = 1000  # px: the amount is a radius at this long side (per mille of the long side)
LEVEL_BOUNDS = (1.0, 4.0, 10.0)  # lower bounds of low, medium, high, in the reference unit
LEVELS = ("none", "low", "medium", "high")
PNG_LEVELS_PER_UNIT = 10  # photo.amount.png: grey level = 10 x amount (0.1 steps), saturating at 25.5


def to_reference(radius_px, long_side: float):
    """A radius in px of an image whose long side is `long_side` px, in the reference unit."""
    return np.asarray(radius_px, np.float32) * np.float32(REFERENCE_LONG_SIDE / float(long_side))


def diagonal_fraction(amount, height: int, width: int) -> float:
    """An amount in the reference unit as a fraction of the diagonal of an (height, width) photo."""
    long_side = max(height, width)
    return float(amount) * long_side / REFERENCE_LONG_SIDE / float(np.hypot(height, width))


def level_index(amount):
    """0..3 (LEVELS) of amounts in the reference unit; scalar or array."""
    return np.searchsorted(np.asarray(LEVEL_BOUNDS), amount, side="right")


def level_name(amount: float) -> str:
    return LEVELS[int(level_index(amount))]


def region_amount(amount: np.ndarray, where: np.ndarray) -> float:
    """The blur amount of a region (a photo's blurred pixels, its central third's): the median over the pixels of
    ``where`` (bool, amount's shape), 0 when it is empty.

    The median, not the mean: on a flat region (sky, a plain wall) the network sees no blur, and the amount there is
    a guess from the context that runs high. A photo blurred as a whole by a 2.3 px disk (the "low" level) read a mean
    of 4.1-4.8 ("medium") on 3 of 17 training photos, pulled up by their flat parts; the median reads 4.1 on 1 of them."""
    where = np.asarray(where, bool)
    return float(np.median(np.asarray(amount)[where])) if where.any() else 0.0


def to_png(amount: np.ndarray) -> np.ndarray:
    """uint8 image of an amount map (reference unit): grey = PNG_LEVELS_PER_UNIT x amount, saturating at 255."""
    return np.clip(np.rint(np.asarray(amount, np.float32) * PNG_LEVELS_PER_UNIT), 0, 255).astype(np.uint8)


def from_png(grey: np.ndarray) -> np.ndarray:
    """The amount map (reference unit) of a photo.amount.png (saturated values read as 25.5)."""
    return np.asarray(grey, np.float32) / PNG_LEVELS_PER_UNIT


# ------------------------------------------------------------------------------------------ calibration
# A fitted curve keeps at most this many knots: enough for a smooth monotone curve, few enough to read in a card.
CALIBRATION_KNOTS = 12


def _through(amount, knots) -> np.ndarray:
    """Piecewise-linear in log(1 + amount) through (raw, calibrated) knots starting at (0, 0); past the last knot
    the calibrated value keeps the last knot's ratio of (1 + amount), so the curve never saturates."""
    x = np.log1p(np.asarray(knots[0], np.float64))
    y = np.log1p(np.asarray(knots[1], np.float64))
    a = np.log1p(np.maximum(np.asarray(amount, np.float64), 0.0))
    out = np.interp(a, x, y)
    out = np.where(a > x[-1], a + (y[-1] - x[-1]), out)
    return np.expm1(out).astype(np.float32)


@dataclass(frozen=True)
class AmountCalibration:
    """Per blur kind, increasing (raw, calibrated) amounts in the reference unit, each starting at (0, 0).

    apply() weighs the two curves by how likely each kind is at the pixel (p(motion) / (p(defocus) + p(motion))),
    so the correction changes smoothly where the kind map changes."""

    defocus: tuple[tuple[float, ...], tuple[float, ...]]
    motion: tuple[tuple[float, ...], tuple[float, ...]]
    note: str = ""

    def apply(self, amount: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Calibrated amount map; amount (H, W) raw, probs (H, W, 3) sharp / defocus / motion probabilities."""
        pd, pm = probs[..., 1], probs[..., 2]
        share = pm / np.maximum(pd + pm, 1e-6)
        out = (1.0 - share) * _through(amount, self.defocus) + share * _through(amount, self.motion)
        return out.astype(np.float32)

    def to_card(self) -> dict:
        return {"defocus": [list(v) for v in self.defocus], "motion": [list(v) for v in self.motion], "note": self.note}

    @classmethod
    def from_card(cls, entry: dict) -> AmountCalibration:
        """From a card's ``amount_calibration``; ValueError if malformed (not increasing, not from (0, 0))."""
        curves = []
        for kind in ("defocus", "motion"):
            raw, cal = (tuple(float(v) for v in vs) for vs in entry[kind])
            if len(raw) != len(cal) or len(raw) < 2 or raw[0] != 0 or cal[0] != 0:
                raise ValueError(f"amount calibration of {kind}: knots must be pairs starting at (0, 0)")
            if np.any(np.diff(raw) <= 0) or np.any(np.diff(cal) < 0):
                raise ValueError(f"amount calibration of {kind}: knots must increase")
            curves.append((raw, cal))
        return cls(*curves, note=str(entry.get("note", "")))


def fit_curve(raw, true) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The monotone curve (knots for AmountCalibration) that best maps raw readings to true amounts: an isotonic
    regression (SciPy) in log(1 + amount), thinned to CALIBRATION_KNOTS knots at quantiles of the raw readings."""
    from scipy.optimize import isotonic_regression

    raw = np.log1p(np.maximum(np.asarray(raw, np.float64), 0.0))
    true = np.log1p(np.maximum(np.asarray(true, np.float64), 0.0))
    if raw.size < 2:
        raise ValueError("an amount calibration needs at least two readings")
    order = np.argsort(raw, kind="stable")
    x, y = raw[order], isotonic_regression(true[order], increasing=True).x
    picks = np.unique(np.quantile(x, np.linspace(0.0, 1.0, CALIBRATION_KNOTS - 1)))
    # The fitted value at a pick: the mean over readings equal to it (isotonic ties share one value anyway).
    fitted = np.array([y[np.searchsorted(x, q, side="left"):np.searchsorted(x, q, side="right")].mean()
                       if np.any(x == q) else np.interp(q, x, y) for q in picks])
    fitted = np.maximum.accumulate(np.maximum(fitted, 0.0))
    knots_x, knots_y = [0.0], [0.0]
    for qx, qy in zip(picks, fitted, strict=True):
        if qx > np.log1p(knots_x[-1]) + 1e-3:
            knots_x.append(float(qx))
            knots_y.append(float(max(qy, knots_y[-1])))
    if len(knots_x) < 2:
        raise ValueError("an amount calibration needs readings above zero")
    return tuple(round(float(np.expm1(v)), 4) for v in knots_x), tuple(round(float(np.expm1(v)), 4) for v in knots_y)
