"""Folders in the layout of the CUHK blur detection benchmark (Shi et al. 2014), the one reader behind `blurtool eval`
and `blurtool train`:

    FOLDER/images/<stem>.<ext>   photos, any format blurtool reads (io.IMAGE_EXTENSIONS)
    FOLDER/gt/<stem>.<ext>       masks, > 127 = blurred (io.MASK_EXTENSIONS; colour and RGBA masks read as grayscale)

The name says the kind of the blur (the CUHK convention, which other sets follow when renamed to it): a stem starting
with ``motion`` is motion blur, ``out_of_focus`` defocus; any other name says no kind, which is right for photos sharp
everywhere (all-black masks) and leaves a blurred one without a kind (evaluation then skips its kind figures,
training refuses it)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .io import IMAGE_EXTENSIONS, MASK_EXTENSIONS
from .kinds import Kind

LAYOUT = "a CUHK-layout folder with images/ and gt/"


def kind_from_name(stem: str) -> Kind | None:
    """motion* -> Kind.MOTION, out_of_focus* -> Kind.DEFOCUS, anything else -> None (case-insensitive)."""
    s = str(stem).lower()
    if s.startswith("motion"):
        return Kind.MOTION
    if s.startswith("out_of_focus"):
        return Kind.DEFOCUS
    return None


@dataclass(frozen=True)
class Sample:
    stem: str
    image: Path
    gt: Path
    kind: Kind | None  # from the name (kind_from_name)

    @property
    def group(self) -> str | None:
        """'defocus' or 'motion', the name evaluation reports the photo under; None without a kind."""
        return None if self.kind is None else self.kind.name.lower()


def _files_by_stem(folder: Path, exts: Iterable[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in exts and not p.name.startswith("."):
            if p.stem in found:
                raise InputError(f"{folder}: two files share the name {p.stem!r} ({found[p.stem].name}, {p.name})")
            found[p.stem] = p
    return found


def _few(names: Sequence[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def list_samples(folder: str | os.PathLike, stems: Iterable[str] | None = None) -> list[Sample]:
    """The (photo, mask) pairs of a CUHK-layout folder, sorted by stem; only ``stems`` when given.

    InputError for a missing folder, no images/ or gt/, two files of one stem, no photos, a requested stem that is
    not there, or a photo without a mask."""
    root = Path(folder)
    if not root.exists():
        raise InputError(f"{root}: folder not found")
    if not root.is_dir():
        raise InputError(f"{root}: is not a folder (expected {LAYOUT})")
    images_dir, gt_dir = root / "images", root / "gt"
    for d in (images_dir, gt_dir):
        if not d.is_dir():
            raise InputError(f"{root}: no {d.name}/ folder (expected {LAYOUT})")
    images = _files_by_stem(images_dir, IMAGE_EXTENSIONS)
    if stems is not None:
        wanted = list(dict.fromkeys(stems))
        missing = [s for s in wanted if s not in images]
        if missing:
            raise InputError(f"{images_dir}: {len(missing)} requested image(s) not found: {_few(missing)}")
        images = {s: images[s] for s in sorted(wanted)}
    if not images:
        raise InputError(f"{images_dir}: no images")
    gts = _files_by_stem(gt_dir, MASK_EXTENSIONS)
    no_gt = [s for s in images if s not in gts]
    if no_gt:
        raise InputError(f"{gt_dir}: no ground-truth mask for {len(no_gt)} image(s): {_few(no_gt)}")
    return [Sample(s, images[s], gts[s], kind_from_name(s)) for s in images]


def read_gt(path: str | os.PathLike) -> np.ndarray:
    """A ground-truth mask as bool (H, W), True = blurred (> 127). Colour / RGBA masks read as grayscale."""
    import cv2

    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)  # imdecode rather than imread: non-ASCII paths work everywhere
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    g = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if g is None:
        raise InputError(f"{path}: not a readable mask image")
    return g > 127
