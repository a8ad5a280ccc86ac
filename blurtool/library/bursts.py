"""Bursts: frames shot in quick succession that show the same scene; the sharpest is the burst's pick.

Two photos are frames of one burst when

* their capture times (EXIF ``DateTimeOriginal`` + ``SubSecTimeOriginal``) are at most ``gap`` seconds apart
  (:class:`BurstRules`; 2 s by default: a camera's burst mode shoots 3-30 frames a second, and a photographer who
  presses again after a pause of a few seconds has usually re-framed), and
* they look alike: the Hamming distance of their 64-bit perceptual hashes is at most ``max_distance``.

Photos without an EXIF capture time are never in a burst: a file's modification time says when it was copied or
edited, not when it was shot, and two unrelated photos copied together would otherwise pair up.

The hash is a DCT pHash (Zauner 2010, the pHash library's image hash): the photo shrunk to 32 x 32 grey, its 2-D DCT,
and one bit per coefficient of the lowest 8 x 8 frequencies (DC left out) saying whether it is above their median.
Blur removes high frequencies, which the hash never looks at, so frames of one burst blurred by shake or missed
focus keep nearly the same hash, while another scene differs in about half of the 64 bits. OpenCV has such hashes
only in its contrib build (``cv2.img_hash``), which blurtool does not depend on; the hash is ten lines on
``cv2.dct``.

Frames are taken in time order; each joins the open burst whose last frame is within ``gap`` and looks most alike
(comparing with the last frame follows a slow pan), so an unrelated photo shot in the middle of a burst (a glance
at something else) stays out of it without splitting it. The **pick** is the sharpest frame: not bad-blur if any
frame is not, then the lowest blur degree S, then the larger sharp share, then the earliest; the others are
**alternates**.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blurtool.errors import InputError

HASH_SIDE = 32  # the photo is shrunk to this square before the DCT
HASH_LOW = 8  # ...and the lowest HASH_LOW x HASH_LOW frequencies give the 64 bits


@dataclass(frozen=True)
class BurstRules:
    """``gap``: seconds between two frames of a burst, at most. ``max_distance``: differing hash bits (of 64), at
    most, for two frames to look alike."""

    gap: float = 2.0
    max_distance: int = 12

    def __post_init__(self):
        if not (isinstance(self.gap, (int, float)) and 0 < self.gap < math.inf):
            raise InputError(f"burst gap must be a positive number of seconds, got {self.gap!r}")
        if not (isinstance(self.max_distance, int) and 0 <= self.max_distance <= 64):
            raise InputError(f"burst hash distance must be a whole number from 0 to 64, got {self.max_distance!r}")


def phash(image: np.ndarray) -> int:
    """64-bit DCT perceptual hash of an RGB (or grey) float/uint8 image (see module doc)."""
    import cv2

    a = np.asarray(image)
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    if a.ndim == 3:
        a = cv2.cvtColor(np.ascontiguousarray(a[..., :3]), cv2.COLOR_RGB2GRAY)  # 50x faster than a numpy mean
    small = cv2.resize(a, (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:HASH_LOW, :HASH_LOW].ravel()
    bits = low > np.median(low[1:])
    bits[0] = False  # the DC term (mean brightness) says nothing about the scene's layout
    return int(np.packbits(bits).view(">u8")[0])


def hash_distance(a: int, b: int) -> int:
    return (int(a) ^ int(b)).bit_count()


def parse_exif_time(when: str | bytes | None, subsec: str | bytes | None = None) -> float | None:
    """Seconds (on an arbitrary but common clock) of an EXIF ``YYYY:MM:DD HH:MM:SS`` time plus its sub-seconds."""
    if isinstance(when, bytes):
        when = when.decode("ascii", "replace")
    if not when or not isinstance(when, str):
        return None
    try:
        t = _dt.datetime.strptime(when.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    s = t.replace(tzinfo=_dt.timezone.utc).timestamp()
    if isinstance(subsec, bytes):
        subsec = subsec.decode("ascii", "replace")
    digits = "".join(ch for ch in str(subsec or "").strip() if ch.isdigit())
    if digits:
        s += int(digits) / 10 ** len(digits)  # "25" is .25 s, "025" is .025 s (EXIF: the digits after the point)
    return s


def capture_time(path: Path | str) -> float | None:
    """The photo's EXIF capture time in seconds, or None (no EXIF time, or a format Pillow cannot read).

    The file is opened as ``read_image`` opens it (``blurtool.io._open_header``), so a HEIC is read through
    pillow-heif even in a process that has not decoded one yet (a phone's burst is HEIC)."""
    from blurtool.errors import BlurtoolError
    from blurtool.io import _open_header

    try:
        with _open_header(Path(path), None) as im:
            exif = im.getexif()
            ifd = exif.get_ifd(0x8769)  # the Exif sub-IFD holds DateTimeOriginal and SubSecTimeOriginal
            return parse_exif_time(ifd.get(0x9003), ifd.get(0x9291))
    except (BlurtoolError, OSError, ValueError, SyntaxError, KeyError, TypeError):
        return None


def capture_times(paths: Sequence[Path], exiftool=None) -> dict[Path, float | None]:
    """Capture times of many photos: Pillow for what it reads, then (``exiftool`` an ``ExifTool``) ExifTool for the
    rest in one command (RAW files)."""
    times = {Path(p): capture_time(p) for p in paths}
    rest = [p for p, t in times.items() if t is None]
    if rest and exiftool is not None:
        rows = exiftool.read_json(rest, ("ExifIFD:DateTimeOriginal", "ExifIFD:SubSecTimeOriginal"))
        for p in rest:
            row = rows.get(str(Path(p).absolute()), {})
            times[p] = parse_exif_time(row.get("ExifIFD:DateTimeOriginal"), row.get("ExifIFD:SubSecTimeOriginal"))
    return times


def group_bursts(frames: Sequence[tuple[object, float | None, int | None]], rules: BurstRules | None = None):
    """Bursts of ``(key, capture time, hash)`` frames: a list of key lists (time order, two frames or more)."""
    rules = rules or BurstRules()
    timed = sorted(((t, str(k), k, h) for k, t, h in frames if t is not None and h is not None),
                   key=lambda x: (x[0], x[1]))
    open_: list[list] = []  # [last time, last hash, [keys]]
    done: list[list] = []
    for t, _, key, h in timed:
        still = []
        for b in open_:
            (still if t - b[0] <= rules.gap else done).append(b)
        open_ = still
        best, best_d = None, None
        for b in open_:
            d = hash_distance(b[1], h)
            if d <= rules.max_distance and (best_d is None or d < best_d):
                best, best_d = b, d
        if best is None:
            open_.append([t, h, [key]])
        else:
            best[0], best[1] = t, h
            best[2].append(key)
    done += open_
    groups = [b[2] for b in done if len(b[2]) >= 2]
    order = {k: i for i, (_, _, k, _) in enumerate(timed)}
    return sorted(groups, key=lambda g: order[g[0]])


def _pick_key(record, t: float):
    s = record.scores
    return (record.verdict.value == "bad-blur", s.degree, -s.sharp_fraction, t)


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    d = _dt.datetime.fromtimestamp(t, _dt.timezone.utc).replace(tzinfo=None)
    return d.isoformat(timespec="milliseconds" if d.microsecond else "seconds")


def mark_bursts(records: Sequence, times: Mapping[Path, float | None], hashes: Mapping[Path, int | None],
                rules: BurstRules | None = None) -> int:
    """Set ``record.burst`` on every record: ``{"burst": n or None, "burst_role": "pick" / "alternate" / None,
    "burst_size": frames, "burst_id": stable id or None, "taken": ISO time or None}``; returns the number of bursts.

    ``n`` numbers the bursts of this run in time order; ``burst_id`` (first frame's file name and time) names a burst
    the same way on every run (it goes into XMP).
    """
    by_path = {Path(r.path): r for r in records}
    groups = group_bursts([(p, times.get(p), hashes.get(p)) for p in by_path], rules)
    for p, r in by_path.items():
        r.burst = {"burst": None, "burst_role": None, "burst_size": None, "burst_id": None,
                   "taken": _iso(times.get(p))}
    for n, g in enumerate(groups, 1):
        pick = min(g, key=lambda p: _pick_key(by_path[p], times[p]))
        first = g[0]
        bid = f"{Path(first).name}@{_iso(times[first])}"
        for p in g:
            by_path[p].burst.update(burst=n, burst_role="pick" if p == pick else "alternate", burst_size=len(g),
                                    burst_id=bid)
    return len(groups)


def hash_photo(path: Path) -> int | None:
    """pHash of a photo read from disk at small size (for records whose hash was not computed while ranking)."""
    from blurtool.errors import BlurtoolError
    from blurtool.io import read_image

    try:
        return phash(read_image(path, min_size=HASH_SIDE * 4))
    except BlurtoolError:
        return None
