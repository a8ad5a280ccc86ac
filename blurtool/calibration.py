"""Choose a model's default decision threshold on the photos it was never trained on, and check the choice honestly.

The held-out photos are the weights card's validation stems (``training.val_stems``); each CUHK-layout folder given
contributes the ones it holds. The threshold is the one of 255 levels that maximises mean per-image accuracy (Kim et
al.'s single-threshold protocol), with **each folder weighing the same**: the mean over folders of their photos' mean
accuracy. A plain mean over photos would let the folder with most photos (CUHK's 80, against 18 photos sharp
everywhere) choose alone; CUHK's maps lean to a lower threshold, and a low threshold is what turns a flat sky or a
plain vault blurred. Weighing the folders alike makes a sky called blurred cost as much as a missed background. The check: chosen on one half of the photos and applied to the other (and the reverse),
it should beat 0.5 there too; a threshold that only wins on the photos that chose it is overfitted.

A network with a blur-amount channel also gets an amount calibration (blurtool.amount.AmountCalibration): the
network's reading against the true radius of known kernels, fitted per blur kind as a monotone curve. It is fitted
on *training* photos (not the held-out ones, which the amount benchmark `blurtool eval --amount` keeps for itself),
each blurred as a whole by random kernels over the range the amount is taught on, and checked the same way: fitted
on one half of the photos, scored on the other.

Library API:

    calibrate_threshold(detector, folders, *, on_image=None) -> ThresholdCalibration
    write_threshold(weights_path, calibration) -> sha256    (rewrites the card atomically, as weights.update_card)
    calibrate_amount(detector, folders, *, on_image=None) -> AmountFit
    write_amount(weights_path, fit) -> sha256
    calibrate_weights(weights_path, folders, *, device, write, on_image) -> both of one file
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .amount import AmountCalibration, fit_curve, level_index
from .cuhk import list_samples
from .errors import InputError, WeightsError
from .evaluate import amount_view, evaluate, val_stems
from .io import IMAGE_EXTENSIONS
from .train import metrics as M
from .train.data import is_frame_folder

FIGURES = ("accuracy", "f1", "miou")
# How the threshold was chosen, stored in the card beside it.
THRESHOLD_NOTE = ("maximises mean per-image accuracy on the held-out photos of training.val_stems, each folder "
                  "weighing the same (blurtool calibrate)")


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


def _folder_weights(records) -> np.ndarray:
    """One weight per record, 1 / (records of its folder): every folder weighs the same in a mean."""
    folders = [r["folder"] for r in records]
    return np.array([1.0 / folders.count(f) for f in folders])


def _best_level(records) -> int:
    return M.best_level(records, weights=_folder_weights(records))


def _figures(records, level: int) -> dict:
    s = M.summarise(records, level=level)  # summarise(level=k) reports the figures at k as best_<metric>
    return {k: round(s["best_" + k], 4) for k in FIGURES}


def calibrate_threshold(
    detector,
    folders: Iterable[str | os.PathLike],
    *,
    on_image: Callable[[int, int, str], None] | None = None,
) -> ThresholdCalibration:
    """The threshold that maximises mean per-image accuracy, each folder weighing the same, on the held-out photos of
    ``detector.card`` found in ``folders`` (CUHK layout; frame folders, which hold no labelled photos, are skipped),
    with the half-and-half check. The figures reported (halves, sweep) are plain means over photos. The detector's own threshold is not used: every threshold is tried on the same soft maps."""
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
            found = evaluate(detector, folder, stems=here, threshold=0.5, on_image=on_image).records
            records += [{**r, "folder": str(folder)} for r in found]
            per_folder[str(folder)] = len(here)
    if not records:
        raise InputError("none of the folders holds a held-out photo of this model (training.val_stems)")
    # Sorted by folder and kind, then alternated: both halves are stratified by both.
    records.sort(key=lambda r: (r["folder"], r["group"] or "", r["name"]))
    a, b = records[0::2], records[1::2]
    halves = []
    for choose, test in ((a, b), (b, a)):
        if not choose or not test:
            continue
        level = _best_level(choose)
        halves.append(HalfCheck(level / 255, len(choose), len(test), _figures(test, 128), _figures(test, level)))
    level = _best_level(records)
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


# ------------------------------------------------------------------------------------------ blur amount
# Training photos per folder and kernels per photo and kind the amount curve is fitted on: 3 folders x 25 photos x
# (1 + 2 x 3) readings, about two minutes of network time on 2 CPU cores.
AMOUNT_PHOTOS_PER_FOLDER = 25
AMOUNT_KERNELS_PER_KIND = 3
# At most this many pixels of a reading are kept to score a curve (a reading is the median over them).
_PIXELS_PER_READING = 4000
AMOUNT_NOTE = "fitted on training photos blurred by random known kernels (blurtool calibrate)"


@dataclass
class _Reading:
    photo: int
    kind: int  # Kind.SHARP for the unblurred photo, else the kernel's kind
    truth: float  # reference unit
    raw: np.ndarray  # float32 raw amount of the measured pixels (subsampled)
    probs: np.ndarray  # (n, 3) their probabilities

    @property
    def raw_median(self) -> float:
        return float(np.median(self.raw))


@dataclass
class AmountFit:
    calibration: AmountCalibration
    photos: int
    readings: int
    folders: dict[str, int]  # folder -> training photos measured
    halves: list[dict]  # fitted on one half, scored on the other: level accuracy / MAE raw and calibrated

    def to_dict(self) -> dict:
        return {"calibration": self.calibration.to_card(), "photos": self.photos, "readings": self.readings,
                "folders": self.folders, "halves": self.halves}


def _fit(readings) -> AmountCalibration:
    from .kinds import Kind

    curves = {}
    for kind in (Kind.DEFOCUS, Kind.MOTION):
        mine = [r for r in readings if r.kind in (kind, Kind.SHARP)]
        curves[kind] = fit_curve([r.raw_median for r in mine], [r.truth for r in mine])
    return AmountCalibration(curves[Kind.DEFOCUS], curves[Kind.MOTION], note=AMOUNT_NOTE)


def _scores(readings, calibration: AmountCalibration | None) -> dict:
    est = np.array([
        r.raw_median if calibration is None else float(np.median(calibration.apply(r.raw, r.probs)))
        for r in readings
    ])
    truth = np.array([r.truth for r in readings])
    return {"level_accuracy": round(float(np.mean(level_index(est) == level_index(truth))), 4),
            "mae": round(float(np.mean(np.abs(est - truth))), 3)}


def calibrate_amount(
    detector,
    folders: Iterable[str | os.PathLike],
    *,
    seed: int = 0,
    on_image: Callable[[int, int, str], None] | None = None,
) -> AmountFit:
    """The amount calibration of ``detector`` fitted on up to AMOUNT_PHOTOS_PER_FOLDER training photos (not in the
    card's ``training.val_stems``) of each CUHK-layout folder: each photo at the working size, unblurred and blurred
    as a whole by AMOUNT_KERNELS_PER_KIND random disks and streaks (blurtool.train.synth.graded_kernel, the amount's
    training range), read as blurtool.evaluate.evaluate_amount reads it (the median over the pixels sharp in the
    ground truth and textured). The detector's own amount calibration, if any, is not used."""
    from .amount import to_reference
    from .kinds import Kind
    from .train.synth import blur, graded_kernel

    if not getattr(detector, "has_amount", False):
        raise WeightsError("these weights have no blur-amount channel")
    held = set(val_stems(getattr(detector, "card", None)))
    chosen, per_folder = [], {}
    for folder in folders:
        if is_frame_folder(folder):
            continue
        samples = [s for s in list_samples(folder) if s.stem not in held]
        step = max(1, len(samples) // AMOUNT_PHOTOS_PER_FOLDER)
        picked = samples[::step][:AMOUNT_PHOTOS_PER_FOLDER]
        chosen += picked
        per_folder[str(folder)] = len(picked)
    readings, photos = [], 0
    saved, detector.amount_calibration = getattr(detector, "amount_calibration", None), None
    try:
        for i, sample in enumerate(chosen):
            view = amount_view(sample, int(detector.working_size))
            if view is not None:
                image, where = view
                unit = float(to_reference(1.0, max(image.shape[:2])))
                rng = np.random.default_rng([seed, i])
                keep = np.flatnonzero(where.ravel())
                keep = rng.choice(keep, min(keep.size, _PIXELS_PER_READING), replace=False)
                cases = [(Kind.SHARP, 0.0, image)]
                for kind in (Kind.DEFOCUS, Kind.MOTION):
                    for _ in range(AMOUNT_KERNELS_PER_KIND):
                        kernel, radius, _ = graded_kernel(rng, kind)
                        cases.append((kind, radius * unit, np.clip(blur(image, kernel), 0, 1)))
                for kind, truth, blurred in cases:
                    result = detector.predict(blurred, full_size=False)
                    raw = result.work_amount.ravel()[keep]
                    probs = result.work_probs.reshape(-1, 3)[keep]
                    readings.append(_Reading(photos, int(kind), truth, raw, probs))
                photos += 1
            if on_image is not None:
                on_image(i + 1, len(chosen), sample.stem)
    finally:
        detector.amount_calibration = saved
    if photos < 2:
        raise InputError("too few training photos with sharp, textured pixels to calibrate the blur amount")
    try:
        halves = []
        for parity in (0, 1):
            fit_on = [r for r in readings if r.photo % 2 == parity]
            test = [r for r in readings if r.photo % 2 != parity]
            halves.append({"fitted_on": len({r.photo for r in fit_on}), "tested_on": len({r.photo for r in test}),
                           "raw": _scores(test, None), "calibrated": _scores(test, _fit(fit_on))})
        calibration = _fit(readings)
    except ValueError:  # an untrained amount channel reads 0 everywhere: there is no curve to fit
        raise InputError("the network reads no blur amount on these photos: nothing to calibrate") from None
    return AmountFit(calibration, photos, len(readings), per_folder, halves)


def write_amount(weights_path: str | os.PathLike, fit: AmountFit) -> str:
    """Store the amount calibration in the weights file's card (and its JSON copy); returns the new sha256."""
    from .weights import update_card

    note = f"{AMOUNT_NOTE}: {fit.photos} photos, {fit.readings} readings"
    return update_card(weights_path, amount_calibration={**fit.calibration.to_card(), "note": note})


def calibrate_weights(weights, folders, *, device: str = "auto", write: bool = True, on_image=None) -> dict:
    """Threshold (held-out photos) and, for a network with an amount channel, amount calibration (training photos)
    of one weights file; stored in its card unless write=False. Returns {"threshold": ThresholdCalibration,
    "amount": AmountFit or None, "amount_skipped": why there is none, or None}. A network whose amount channel
    reads nothing (barely trained) keeps its threshold calibration and gets no amount calibration."""
    from .inference import BlurDetector

    # As the card runs it (mirror pass or not): the threshold is for those maps.
    detector = BlurDetector.from_weights(weights, device=device)
    cal = calibrate_threshold(detector, folders, on_image=on_image)
    fit, skipped = None, None if detector.has_amount else "these weights have no blur-amount channel"
    if detector.has_amount:
        try:
            fit = calibrate_amount(detector, folders, on_image=on_image)
        except InputError as e:
            skipped = str(e)
    if write:
        write_threshold(weights, cal)
        if fit is not None:
            write_amount(weights, fit)
    return {"threshold": cal, "amount": fit, "amount_skipped": skipped}
