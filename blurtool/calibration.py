"""Choose a model's default decision threshold on the photos it was never trained on, and check the choice honestly.

The held-out photos are the weights card's validation stems (``training.val_stems``); each CUHK-layout folder given
contributes the ones it holds, so with photos sharp everywhere among them a sky called blurred weighs as much as a
missed background. The threshold is the one of 255 levels that maximises mean per-image accuracy (Kim et al.'s
single-threshold protocol). The check: chosen on one half of the photos and applied to the other (and the reverse),
it should beat 0.5 there too; a threshold that only wins on the photos that chose it is overfitted.

Library API:

    calibrate_threshold(detector, folders, *, on_image=None) -> ThresholdCalibration
    write_threshold(weights_path, calibration) -> sha256    (rewrites the card atomically, as weights.update_card)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .evaluate import evaluate, val_stems
from .io import IMAGE_EXTENSIONS
from .train import metrics as M
from .train.data import is_frame_folder

FIGURES = ("accuracy", "f1", "miou")
# How the threshold was chosen, stored in the card beside it.
THRESHOLD_NOTE = "maximises mean per-image accuracy on the held-out photos of training.val_stems (blurtool calibrate)"


@dataclass
class HalfCheck:
    """A threshold chosen on `chosen_on` photos, scored on the other `tested_on` at 0.5 and at itself."""

    threshold: float
    chosen_on: int
    tested_on: int
    at_half: dict
    at_threshold: dict


@dataclass
class ThresholdCalibration:
    threshold: float  # chosen on all held-out photos
    images: int
    folders: dict[str, int]  # folder -> held-out photos it held
    halves: list[HalfCheck]
    sweep: list[tuple[float, dict]] = field(repr=False)  # (threshold, figures) around the choice, and 0.5

    def to_dict(self) -> dict:
        return {
            "threshold": self.threshold,
            "images": self.images,
            "folders": self.folders,
            "halves": [h.__dict__ for h in self.halves],
            "sweep": [{"threshold": t, **f} for t, f in self.sweep],
        }


def _figures(records, level: int) -> dict:
    s = M.summarise(records, level=level)  # summarise(level=k) reports the figures at k as best_<metric>
    return {k: round(s["best_" + k], 4) for k in FIGURES}


def calibrate_threshold(
    detector,
    folders: Iterable[str | os.PathLike],
    *,
    on_image: Callable[[int, int, str], None] | None = None,
) -> ThresholdCalibration:
    """The threshold that maximises mean per-image accuracy on the held-out photos of ``detector.card`` found in
    ``folders`` (CUHK layout; frame folders, which hold no labelled photos, are skipped), with the half-and-half
    check. The detector's own threshold is not used: every threshold is tried on the same soft maps."""
    stems = set(val_stems(getattr(detector, "card", None)))
    records, per_folder = [], {}
    for folder in folders:
        if is_frame_folder(folder):
            continue
        images = Path(folder) / "images"
        if not images.is_dir():
            raise InputError(f"{folder}: no images/ folder (folders must be in CUHK layout)")
        here = sorted(p.stem for p in images.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.stem in stems)
        if here:
            records += evaluate(detector, folder, stems=here, threshold=0.5, on_image=on_image).records
            per_folder[str(folder)] = len(here)
    if not records:
        raise InputError("none of the folders holds a held-out photo of this model (training.val_stems)")
    # Sorted by kind, then alternated: both halves are stratified by kind.
    records.sort(key=lambda r: (r["group"] or "", r["name"]))
    a, b = records[0::2], records[1::2]
    halves = []
    for choose, test in ((a, b), (b, a)):
        if not choose or not test:
            continue
        level = M.best_level(choose)
        halves.append(HalfCheck(level / 255, len(choose), len(test), _figures(test, 128), _figures(test, level)))
    level = M.best_level(records)
    sweep = [(k / 255, _figures(records, k)) for k in range(level - 25, level + 26, 5) if 1 <= k <= 255]
    sweep.append((128 / 255, _figures(records, 128)))
    return ThresholdCalibration(round(level / 255, 4), len(records), per_folder, halves, sweep)


def write_threshold(weights_path: str | os.PathLike, calibration: ThresholdCalibration) -> str:
    """Store the calibrated threshold in the weights file's card (and its JSON copy); returns the new sha256."""
    from .weights import update_card

    return update_card(
        weights_path,
        threshold=calibration.threshold,
        threshold_note=f"{THRESHOLD_NOTE}: {calibration.images} photos",
    )
