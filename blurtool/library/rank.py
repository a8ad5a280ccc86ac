"""Rank a photo library by blur: the library function behind ``blurtool rank``.

``rank_photos(paths, detector)`` scores every photo (``blurtool.ops.rank``) and returns :class:`RankRecord` s plus the
failures; ``iter_rank`` is the streaming form the CLI drives a progress bar with. The pipeline:

* cache hits (``blurtool.library.cache``: same path, size, mtime, weights and threshold) skip decoding and the network;
* JPEGs are decoded at 1/2, 1/4 or 1/8 size when that still covers the detector's working resolution (libjpeg DCT
  scaling: a 12 MP JPEG decodes several times faster at 1/4), and the network's working-size map is used as it is
  (``full_size=False``: no guided upsampling to 12 MP);
* on CPU, several photos go through decode + network + scores at once, one per thread, with torch on one thread
  each (see :func:`iter_rank`); on GPU, photos are decoded ahead while the network runs on batches;
* scores are computed on a fixed grid (``blurtool.ops.rank.GRID``), so a photo and a resized copy rank the same;
* a RAW file with a JPEG (or HEIC) of the same shot beside it (same folder, same stem: what a camera set to RAW+JPEG
  writes) is one photo (:func:`pair_shots`): scored once, from the JPEG (decoding it is faster than anything done
  with the RAW), the RAW riding along as the record's ``companions``, so it is sorted into the same folder.

Sorting the records (``sort_records``) and planning folders (``sort_groups``) live here too; the file moves
themselves are in ``blurtool.library.sort``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from blurtool.errors import BlurtoolError, InputError, naming
from blurtool.lookahead import lookahead
from blurtool.ops.rank import GRID, BlurScores, RankRules, Verdict, score_maps, to_grid, verdict

# Long side of the small blur map kept per photo for contact-sheet insets (and stored in the cache).
MINI = 64
# Version of what the cache stores; bump when score definitions change so old rows are not reused.
SCORES_VERSION = 4  # 2: the blur amount (BlurScores.amount, centre_amount); 3: subject_enclosed, subject_sharpness;
# 4: the amounts are medians over the blurred pixels, not means


class SortKey(str, Enum):
    degree = "degree"  # most blurred first (blur degree S, descending)
    sharp = "sharp"  # sharpest first (sharp fraction, descending)
    verdict = "verdict"  # bad-blur, ok-blur, good-blur, no-blur; most blurred first within a level
    amount = "amount"  # most strongly blurred first (median blur amount over the blurred pixels, descending)


@dataclass
class RankRecord:
    path: Path
    scores: BlurScores
    verdict: Verdict
    reason: str
    height: int  # of the photo as displayed (EXIF orientation applied), from its header
    width: int
    mini: np.ndarray | None = field(default=None, repr=False)  # uint8 blur map, long side MINI (255 = blurred)
    cached: bool = False
    # Other files of the same shot (the RAW of a RAW+JPEG pair, `path` being the JPEG): judged with it, sorted with it.
    companions: tuple[Path, ...] = ()
    phash: int | None = None  # perceptual hash (blurtool.library.bursts.phash), when asked for (``fingerprint``)
    burst: dict[str, Any] | None = None  # set by blurtool.library.bursts.mark_bursts: burst number, role, size, time

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "verdict": self.verdict.value,
            "reason": self.reason,
            # The amounts are None for weights without an amount channel: left out, not written as null.
            **{k: round(v, 4) for k, v in self.scores.to_dict().items() if v is not None},
            "width": self.width,
            "height": self.height,
            "companions": [str(p) for p in self.companions],
            **(self.burst or {}),
        }

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file of the shot: the scored one first."""
        return (self.path, *self.companions)


# What a camera writes beside a RAW as the rendered picture of the same shot, in order of preference.
_RENDERED = (".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".hif")


def pair_shots(paths: Sequence[Path | str]) -> tuple[list[Path], dict[Path, tuple[Path, ...]]]:
    """RAW+JPEG pairs as one photo each: -> (the paths to score, {scored path: its companion RAW files}).

    A RAW file (``blurtool.raw.RAW_EXTENSIONS``) with a JPEG (else a HEIC) of the same stem in the same folder among
    `paths` is left out of the paths to score and becomes that JPEG's companion; every RAW of that stem does (a
    camera's CR2 and a DNG converted from it), the JPEG standing for all of them. Order is kept otherwise.
    """
    from blurtool.raw import is_raw

    paths = [Path(p) for p in paths]
    rendered: dict[tuple[Path, str], Path] = {}
    for p in paths:
        ext = p.suffix.lower()
        if ext in _RENDERED:
            key = (p.parent.resolve(), p.stem)
            best = rendered.get(key)
            if best is None or _RENDERED.index(ext) < _RENDERED.index(best.suffix.lower()):
                rendered[key] = p
    scored: list[Path] = []
    companions: dict[Path, list[Path]] = {}
    for p in paths:
        jpeg = rendered.get((p.parent.resolve(), p.stem)) if is_raw(p) else None
        if jpeg is not None:
            companions.setdefault(jpeg, []).append(p)
        else:
            scored.append(p)
    return scored, {k: tuple(v) for k, v in companions.items()}


@dataclass
class Failure:
    path: Path
    error: str


def _detector_attr(detector, *names, default=None):
    for n in names:
        v = getattr(detector, n, None)
        if v is not None:
            return v
    card = getattr(detector, "card", None)
    if isinstance(card, dict):
        for n in names:
            if card.get(n) is not None:
                return card[n]
    return default


def weights_sha256(detector) -> str:
    """sha256 of the detector's weights file (hashed once per run: ~20 ms for a 10 MB file)."""
    sha = _detector_attr(detector, "sha256", "weights_sha256")
    if sha is None:
        card = getattr(detector, "card", None)
        path = card.get("path") if isinstance(card, dict) else None
        if path and Path(path).is_file():
            from blurtool.weights import sha256_of

            sha = sha256_of(Path(path))
    return str(sha or "unknown")


def model_key(detector, threshold: float) -> str:
    """What cached scores depend on besides the photo: weights, threshold, working size, score definitions."""
    sha = weights_sha256(detector)
    ws = _detector_attr(detector, "working_size", default="?")
    return f"{sha}|t={threshold:.4f}|ws={ws}|grid={GRID}|v={SCORES_VERSION}"


def _mini(blur: np.ndarray) -> np.ndarray:
    b, _ = to_grid(blur, None, MINI)
    return (np.clip(b, 0, 1) * 255 + 0.5).astype(np.uint8)


def record_from_maps(path, blur, kind, threshold, rules, size, amount=None) -> RankRecord:
    s = score_maps(blur, kind, threshold, amount=amount)
    v, why = verdict(s, rules)
    return RankRecord(Path(path), s, v, why, size[0], size[1], _mini(blur))


def _record_from_cache(path: Path, data: dict, mini, rules: RankRules) -> RankRecord | None:
    try:
        s = BlurScores(**data["scores"])
    except (KeyError, TypeError):
        return None  # a row from another scores version: recompute
    v, why = verdict(s, rules)
    return RankRecord(path, s, v, why, int(data["height"]), int(data["width"]), mini, cached=True,
                      phash=data.get("phash"))


def _predict(detector, images: list[np.ndarray]) -> list:
    # full_size=False: the scores use the working-size map, so BlurDetector skips its guided upsampling to the
    # photo's full size (the costliest step after the network for a 12 MP photo).
    many = getattr(detector, "predict_many", None)
    if many is not None and len(images) > 1:
        return list(many(images, full_size=False, batch_size=len(images)))
    return [detector.predict(im, full_size=False) for im in images]


def iter_rank(
    paths: Sequence[Path | str],
    detector,
    *,
    rules: RankRules | None = None,
    threshold: float | None = None,
    cache=None,
    photo_workers: int = 0,
    batch_size: int = 4,
    decode_workers: int = 2,
    companions: Mapping[Path, Sequence[Path]] | None = None,
    fingerprint: bool = False,
) -> Iterator[RankRecord | Failure]:
    """Yield one RankRecord (or Failure, for an unreadable photo) per path, cache hits first, then in input order.

    ``detector``: a ``BlurDetector`` (or anything with ``predict(image, full_size=False)`` returning ``.blur`` and
    ``.kind``). ``threshold``: decision threshold for the scores, default the detector's. ``cache``: a
    ``ScoreCache`` (keyed by :func:`model_key`). A ``BlurtoolError`` while reading a photo gives a Failure; other
    exceptions are bugs and propagate.

    Two ways to keep the hardware busy:

    * ``photo_workers=N`` (CPU): N threads each take a whole photo (decode, network, scores). Meant for torch set to
      one intra-op thread (``torch.set_num_threads(1)``): parallel photos need no synchronisation inside the network,
      whereas torch's intra-op threads meet at every layer, which costs a lot as soon as another program shares the
      cores (see benchmarks/bench_rank.py). The network releases the GIL, so the threads run in parallel.
    * ``photo_workers=0`` (GPU): ``decode_workers`` threads decode ahead while the network runs on batches of
      ``batch_size`` photos (``BlurDetector.predict_many``).

    ``companions``: {path: the other files of its shot}, from :func:`pair_shots`; set on each record.

    ``fingerprint``: also compute each photo's perceptual hash (``record.phash``, for burst detection) from the
    decoded image (~0.1 ms); cache rows keep it.
    """
    from blurtool.io import image_size, read_image

    shots = {Path(k): tuple(map(Path, v)) for k, v in (companions or {}).items()}

    rules = rules or RankRules()
    if threshold is None:
        threshold = float(_detector_attr(detector, "threshold", default=0.5))
    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}")
    working = _detector_attr(detector, "working_size")
    min_size = int(working) if working else None

    todo: list[Path] = []
    for p in map(Path, paths):
        hit = cache.get(p) if cache is not None else None
        rec = _record_from_cache(p, *hit, rules) if hit is not None else None
        if rec is not None:
            rec.companions = shots.get(p, ())
            yield rec
        else:
            todo.append(p)
    if not todo:
        return

    hashes: dict[Path, int] = {}  # filled by the decoding threads, read by finish()

    def decode(p: Path):
        try:
            image = read_image(p, min_size=min_size)
            if fingerprint:
                from blurtool.library.bursts import phash

                hashes[p] = phash(image)
            return image, image_size(p)
        except BlurtoolError as e:
            return Failure(p, naming(p, str(e)))

    def finish(p: Path, res, size) -> RankRecord:
        rec = record_from_maps(p, res.blur, res.kind, threshold, rules, size, getattr(res, "amount", None))
        rec.companions = shots.get(p, ())
        rec.phash = hashes.pop(p, None)
        if cache is not None:
            data = {"scores": rec.scores.to_dict(), "height": rec.height, "width": rec.width}
            if rec.phash is not None:
                data["phash"] = rec.phash
            cache.put(p, data, rec.mini)
        return rec

    if photo_workers > 0:
        def whole(p: Path):
            got = decode(p)
            if isinstance(got, Failure):
                return got
            try:
                return p, detector.predict(got[0], full_size=False), got[1]
            except BlurtoolError as e:
                return Failure(p, naming(p, str(e)))

        # At most two photos a thread alive: bounded memory.
        ahead = 2 * photo_workers
        with closing(lookahead(whole, todo, workers=photo_workers, ahead=ahead, name="blurtool-rank")) as done:
            for got in done:
                yield got if isinstance(got, Failure) else finish(*got)
        return

    def predict_batch(batch: list[tuple[Path, np.ndarray, tuple[int, int]]]) -> Iterator[RankRecord | Failure]:
        try:
            results = _predict(detector, [im for _, im, _ in batch])
        except BlurtoolError as e:
            for p, _, _ in batch:
                yield Failure(p, naming(p, str(e)))
            return
        for (p, _, size), res in zip(batch, results):
            yield finish(p, res, size)

    # Decoding runs ahead of the network by two batches: enough to hide decode time, bounded memory
    # (a reduced 12 MP JPEG is ~1000 x 750 float32 = 9 MB).
    batch: list[tuple[Path, np.ndarray, tuple[int, int]]] = []
    with closing(lookahead(lambda p: (p, decode(p)), todo, workers=decode_workers, ahead=2 * batch_size,
                           name="blurtool-decode")) as decoded:
        for p, got in decoded:
            if isinstance(got, Failure):
                yield got
                continue
            batch.append((p, *got))
            if len(batch) == batch_size:
                yield from predict_batch(batch)
                batch = []
    if batch:
        yield from predict_batch(batch)


@dataclass
class RankRun:
    records: list[RankRecord]
    failures: list[Failure]


def rank_photos(paths: Sequence[Path | str], detector, **kwargs) -> RankRun:
    """Rank every photo (see :func:`iter_rank` for the arguments); records in input order."""
    positions: dict[str, deque] = {}
    for i, p in enumerate(paths):
        positions.setdefault(str(Path(p)), deque()).append(i)
    recs, fails = [], []
    for r in iter_rank(paths, detector, **kwargs):
        if isinstance(r, Failure):
            fails.append(r)
        else:
            recs.append((positions[str(r.path)].popleft(), r))
    return RankRun([r for _, r in sorted(recs, key=lambda x: x[0])], fails)


def sort_records(records: Iterable[RankRecord], by: SortKey | str = SortKey.degree, reverse: bool = False):
    """Rank order: by degree (most blurred first), sharp fraction (sharpest first), verdict (worst first) or amount
    (most strongly blurred first; photos without an amount last, by degree).

    Ties break by path, so the order is the same on every run. ``reverse`` flips the whole order.
    """
    by = SortKey(by)
    if by is SortKey.degree:
        key = lambda r: (-r.scores.degree, str(r.path))
    elif by is SortKey.sharp:
        key = lambda r: (-r.scores.sharp_fraction, r.scores.degree, str(r.path))
    elif by is SortKey.amount:
        key = lambda r: (r.scores.amount is None, -(r.scores.amount or 0.0), -r.scores.degree, str(r.path))
    else:
        key = lambda r: (r.verdict.rank, -r.scores.degree, str(r.path))
    out = sorted(records, key=key)
    return out[::-1] if reverse else out


def sort_groups(
    records: Iterable[RankRecord], degree_threshold: float | None = None, *, shots: bool = False
) -> list[tuple[Any, str]]:
    """(photo, sub-folder) pairs: the verdict name, or with ``degree_threshold`` "blurred"/"sharp" by degree S;
    a burst's alternate frames (``blurtool.library.bursts.mark_bursts``) go to "alternates", set aside from the picks.

    ``shots``: the photo is the tuple of every file of the shot (``RankRecord.files``), for ``plan_sort`` to keep a
    RAW+JPEG pair together."""
    def group(r: RankRecord) -> str:
        if (r.burst or {}).get("burst_role") == "alternate":
            return "alternates"
        if degree_threshold is None:
            return r.verdict.value
        return "blurred" if r.scores.degree >= degree_threshold else "sharp"

    return [(r.files if shots else r.path, group(r)) for r in records]
