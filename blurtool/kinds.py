"""The blur kinds of the kind map, one definition for the model, inference, ops and training.

Kind maps are uint8 (H, W) arrays of these values; `Kind` is an IntEnum, so it compares with and is stored in numpy
arrays as the plain numbers 0, 1, 2 (Kim et al. 2019's three classes, in the order of the network's outputs)."""

from __future__ import annotations

from enum import IntEnum


class Kind(IntEnum):
    SHARP = 0
    DEFOCUS = 1
    MOTION = 2


# "sharp", "defocus", "motion": the class names in the weights card and the reports, indexed by Kind.
KIND_NAMES = tuple(k.name.lower() for k in Kind)
