"""The blur amount's public unit and levels (numpy only).

The network estimates the blur radius in px of the photo as it sees it (the working size: a disk's radius, or half a
motion streak's length). That number depends on the working size, so blurtool reports it relative to the photo: in
px at a 1000 px long side, i.e. per mille of the long side (a 12 MP photo and its 2 MP copy agree), and as a
fraction of the diagonal.

Levels after Zhang et al. 2018 ("Learning to understand image blur"), bounded in that unit: none (< 1: under a pixel
on a 1000 px view), low (details still visible), medium (details gone), high (>= 10, 1 % of the long side: textures
changed, shapes distorted). Each bound is 2.5 times the one below.
"""

from __future__ import annotations

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


def to_png(amount: np.ndarray) -> np.ndarray:
    """uint8 image of an amount map (reference unit): grey = PNG_LEVELS_PER_UNIT x amount, saturating at 255."""
    return np.clip(np.rint(np.asarray(amount, np.float32) * PNG_LEVELS_PER_UNIT), 0, 255).astype(np.uint8)


def from_png(grey: np.ndarray) -> np.ndarray:
    """The amount map (reference unit) of a photo.amount.png (saturated values read as 25.5)."""
    return np.asarray(grey, np.float32) / PNG_LEVELS_PER_UNIT
