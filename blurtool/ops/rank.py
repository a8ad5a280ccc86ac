"""Blur scores of one photo and the verdict "is this blur wanted?" (numpy in, numpy out, no torch).

Scores come from the network's blur map (float32 HxW, 1 = blurred) and kind map (uint8 HxW: 0 sharp, 1 defocus,
2 motion). They are computed on a fixed grid (the map is area-resized to ``GRID`` pixels on its long side first),
so a photo and its resized copy get the same scores whatever resolution the map came at.

* Blur degree ``S`` = mean of the blur map: the image-level blur degree of Ma et al., "Deep Blur Mapping: Exploiting
  High-Level Semantics by Deep Neural Networks", IEEE TIP 2018, where S predicts how blurred a photo looks.
* The verdict follows the four levels of Zhang and Lu et al., "Learning to Understand Image Blur", CVPR 2018
  (no blur, bad blur, ok blur, good blur): blur is *good* when a sharp subject stands against a defocused
  background on purpose, *ok* when it only touches small or unimportant regions, *bad* when it hits the subject or
  the whole frame. The paper learns the levels from labelled photos; here they are explicit rules on the scores
  (documented in :class:`RankRules`), whose thresholds are CLI options.
* With a blur-amount map (blurtool.amount: blur radius per pixel, px at a 1000 px long side) the scores also say
  *how badly* the photo is blurred, and a blur too slight to spoil it (the "low" level) makes a photo ok-blur
  ("slightly soft") where the map alone would call it bad-blur.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from enum import Enum

import numpy as np

from blurtool.amount import region_amount
from blurtool.errors import InputError
from blurtool.kinds import Kind

# Long side of the grid every score is computed on. 128 px keeps the subject's shape and position (a subject that
# fills 5 % of the frame is still ~20x20 grid pixels) while making scoring ~free next to the network.
GRID = 128


class Verdict(str, Enum):
    """The four levels of Zhang et al. 2018, in the order a photo library should be culled (worst first)."""

    BAD = "bad-blur"
    OK = "ok-blur"
    GOOD = "good-blur"
    NONE = "no-blur"

    @property
    def rank(self) -> int:
        """0 for bad-blur ... 3 for no-blur: how little the blur harms the photo."""
        return list(Verdict).index(self)


@dataclass(frozen=True)
class RankRules:
    """Thresholds of the verdict rules. Every field is a ``blurtool rank`` option of the same name.

    Fractions are of the whole frame unless said otherwise; amounts are in blurtool.amount's unit (blur radius in px
    at a 1000 px long side). The rules are tried in this order, first match wins:

    1. **no-blur**: ``blurred_fraction <= no_blur_max``: the whole photo is sharp (a few percent of blurred pixels are
       noise of the map at flat or saturated areas).
    2. **bad-blur, whole frame**: ``blurred_fraction >= frame_blurred_min`` and no *subject* (see below): nothing in
       focus. A small subject on a defocused frame (a ladybird covering 1 % of a macro shot) leaves less than 3 %
       sharp, so the subject is asked for first.
    3. **bad-blur, camera shake**: ``motion_fraction >= shake_motion_min``: motion blur over most of the frame, which
       a hand-held camera moving during the exposure gives (Zhang et al. list it as the typical bad blur).
    4. **bad-blur, motion-blurred subject**: ``centre_motion >= subject_motion_max``: motion blur over a large part of
       the central third, where the subject usually is.
    5. **bad-blur, missed focus**: ``centre_sharp < centre_sharp_min`` and no subject: the lens focused on the
       periphery/background and the subject is soft.

       Rules 2, 5 and 8 give **ok-blur, slightly soft** instead when the blur they judge is slight defocus: its
       amount (``amount`` for rules 2 and 8, ``centre_amount`` for 5; medians over the blurred pixels) is below
       ``soft_amount_max`` (the "low" level, details still visible) and most of the blur is defocus
       (``defocus_share >= 0.5``). Motion blur is never forgiven as slight
       (rules 3 and 4 always give bad-blur): a camera shake doubles edges however short it is, and the amount
       under-reads real shake (trajectories that linger, as a hand's do, read 2-4 where a straight streak of the
       same extent reads 8 and more). Without an amount map rules 2-5 and 8 always give bad-blur.
    6. **ok-blur**: ``blurred_fraction <= ok_blurred_max``: blur only on small regions that do not hold the subject.
    7. **good-blur**: the blur is mostly defocus (``defocus_share >= good_defocus_share_min``) and a sharp subject
       exists: shallow depth of field, the bokeh a photographer wants.
    8. **bad-blur** otherwise: no sharp subject, or mixed defocus and motion blur around it (ok-blur "slightly soft"
       when that blur is slight, as for rules 2 and 5).

    The *subject* is the largest 8-connected sharp region (:func:`has_subject`). It counts when all of these hold:

    * it is large enough: ``subject_area >= subject_area_min`` (0.5 % of the frame: a macro subject of 1 % counts;
      on a 24 MP photo 0.5 % is a region of ~350 x 350 px);
    * it is clearly sharp, not a region the map leaves just below the threshold (what a shaken or misfocused
      frame's map leaves here and there): ``subject_sharpness >= subject_sharpness_min``, i.e. its mean blur map is
      at most 70 % of the threshold by default;
    * its centroid is neither in a corner nor hugging an edge: ``subject_offset <= subject_offset_max`` (distance
      from the centre normalised so that a rule-of-thirds point is 1/3, the middle of an edge 0.71 and a corner 1;
      the default 0.6 accepts a subject anywhere on the thirds lines out to ~11 % of the frame from its edge, and
      keeps out a sharp patch at the frame's margin, where a focus point that missed the subject often lands);
    * and it is placed as a subject is: it reaches into the central third (``subject_centre >=
      subject_centre_min``: the large subjects of portraits and close-ups, which may run off the frame's edges),
      **or** it stands free in the blur (``subject_enclosed >= subject_enclosed_min``: at least 80 % of its outline
      borders blurred pixels rather than the frame's edge: a small subject on a thirds point or near an edge). A
      sharp strip along an edge or a sharp frame around a soft centre (the lens focused on the foreground or the
      surroundings) does neither, so it is no subject and the photo is missed focus.
    """

    no_blur_max: float = 0.05
    frame_blurred_min: float = 0.97
    shake_motion_min: float = 0.5
    subject_motion_max: float = 0.3
    centre_sharp_min: float = 0.3
    subject_area_min: float = 0.005
    subject_sharpness_min: float = 0.3
    subject_offset_max: float = 0.6
    subject_centre_min: float = 0.05
    subject_enclosed_min: float = 0.8
    ok_blurred_max: float = 0.3
    good_defocus_share_min: float = 0.6
    soft_amount_max: float = 4.0  # blurtool.amount.LEVEL_BOUNDS[1]: the top of the "low" level

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            top = _RULE_MAXIMA.get(f.name, 1.0)
            if not (isinstance(v, (int, float)) and 0.0 <= v <= top and not math.isnan(v)):
                raise InputError(f"rank rule {f.name} must be a number in [0, {top:g}], got {v!r}")


# Rules that are not fractions, and their largest sensible value.
_RULE_MAXIMA = {"soft_amount_max": 100.0}


@dataclass(frozen=True)
class BlurScores:
    """Scores of one photo (fractions in [0, 1], amounts in blurtool.amount's unit); see :func:`score_maps`."""

    degree: float  # S = mean blur map (Ma et al. 2018)
    sharp_fraction: float  # share of the frame below the decision threshold
    blurred_fraction: float  # 1 - sharp_fraction
    defocus_fraction: float  # share of the frame blurred by defocus
    motion_fraction: float  # share of the frame blurred by motion
    defocus_share: float  # defocus / blurred (1.0 when nothing is blurred)
    centre_sharp: float  # sharp share of the central third (middle 1/3 x 1/3 box)
    centre_motion: float  # motion-blurred share of the central third
    subject_area: float  # largest 8-connected sharp region, as a share of the frame
    subject_offset: float  # its centroid's distance from the centre (0 centre, 1/3 thirds point, 1 corner); 1 if none
    subject_centre: float  # share of the central third the subject covers (0 when it is a ring around a soft centre)
    sharp_offset: float  # same for the centroid of all sharp pixels; 1 if none
    # Share of the subject's outline that borders blurred pixels rather than the frame's edge: 1 for a subject that
    # stands free in the blur, ~0.4 for a strip along an edge or a sharp frame around a soft centre; 0 if none.
    subject_enclosed: float = 0.0
    # How clearly the subject is sharp: 1 - (mean blur map over it) / threshold; 1 where the map is 0, near 0 for
    # a region just below the threshold (what a blurred frame's map leaves here and there); 0 if none.
    subject_sharpness: float = 0.0
    # Median blur amount (blurtool.amount.region_amount) over the blurred pixels of the frame / of the central third
    # (0 where none is blurred); None without an amount map.
    amount: float | None = None
    centre_amount: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _check_maps(blur: np.ndarray, kind: np.ndarray | None) -> None:
    if not isinstance(blur, np.ndarray) or blur.ndim != 2 or blur.size == 0:
        raise InputError(f"blur map must be a non-empty 2-D array, got {getattr(blur, 'shape', type(blur))}")
    if kind is not None and (not isinstance(kind, np.ndarray) or kind.shape != blur.shape):
        raise InputError(f"kind map must have the blur map's shape {blur.shape}, got {getattr(kind, 'shape', kind)}")


def to_grid(blur: np.ndarray, kind: np.ndarray | None = None, grid: int = GRID):
    """Resize ``blur`` (area average) and ``kind`` (nearest) so that the long side is ``grid`` px.

    Maps already at most ``grid`` on the long side are returned as they are (never upsampled).
    """
    import cv2

    _check_maps(blur, kind)
    h, w = blur.shape
    if max(h, w) <= grid:
        return blur.astype(np.float32, copy=False), kind
    s = grid / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    b = cv2.resize(blur.astype(np.float32, copy=False), size, interpolation=cv2.INTER_AREA)
    k = None if kind is None else cv2.resize(kind.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    return np.clip(b, 0.0, 1.0), k


def _offset(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> float:
    if ys.size == 0:
        return 1.0
    # Pixel centres: the centre of an HxW grid is at ((h-1)/2, (w-1)/2).
    dy = (ys.mean() - (h - 1) / 2) / max((h - 1) / 2, 0.5)
    dx = (xs.mean() - (w - 1) / 2) / max((w - 1) / 2, 0.5)
    return float(min(1.0, math.hypot(dx, dy) / math.sqrt(2.0)))


def _enclosed(region: np.ndarray) -> float:
    """Share of the pixels just outside ``region`` (its 8-neighbours, the frame's edge counted as outside pixels)
    that lie inside the frame. The region is a whole 8-connected component, so those are all blurred pixels."""
    import cv2

    padded = np.pad(region, 1).astype(np.uint8)
    outline = (cv2.dilate(padded, np.ones((3, 3), np.uint8)) > 0) & ~padded.astype(bool)
    total = int(outline.sum())
    return float(outline[1:-1, 1:-1].sum() / total) if total else 0.0


def score_maps(
    blur: np.ndarray,
    kind: np.ndarray | None,
    threshold: float = 0.5,
    grid: int = GRID,
    amount: np.ndarray | None = None,
) -> BlurScores:
    """Scores of one photo from its blur map, kind map and optionally amount map (any resolution, the same for all
    three; see module doc).

    A pixel is blurred when ``blur >= threshold`` (the detector's decision threshold). A blurred pixel counts as
    motion when the kind map says 2 and as defocus otherwise (the kind map may call a pixel just above the threshold
    sharp; defocus is the common kind). Without a kind map all blur counts as defocus.
    """
    import cv2

    if not 0.0 < threshold < 1.0:
        raise InputError(f"blur threshold must be in (0, 1), got {threshold}")
    if amount is not None and (not isinstance(amount, np.ndarray) or amount.shape != blur.shape):
        raise InputError(f"amount map must have the blur map's shape {blur.shape}, got {getattr(amount, 'shape', amount)}")
    b, k = to_grid(blur, kind, grid)
    a = None
    if amount is not None:  # area-averaged onto the same grid (to_grid's clipping is for the [0, 1] blur map)
        a = amount.astype(np.float32)
        if a.shape != b.shape:
            a = cv2.resize(a, b.shape[::-1], interpolation=cv2.INTER_AREA)
    h, w = b.shape
    blurred = b >= threshold
    sharp = ~blurred
    motion = blurred & (k == Kind.MOTION) if k is not None else np.zeros_like(blurred)
    n = float(b.size)
    blurred_fraction = float(blurred.sum() / n)
    motion_fraction = float(motion.sum() / n)
    defocus_fraction = blurred_fraction - motion_fraction

    # Central third: rows/cols [h/3, 2h/3), at least one pixel.
    y0, y1 = h // 3, max(h // 3 + 1, (2 * h + 2) // 3)
    x0, x1 = w // 3, max(w // 3 + 1, (2 * w + 2) // 3)
    centre_sharp = float(sharp[y0:y1, x0:x1].mean())
    centre_motion = float(motion[y0:y1, x0:x1].mean())

    ys, xs = np.nonzero(sharp)
    sharp_offset = _offset(ys, xs, h, w)
    subject_area, subject_offset, subject_centre, subject_enclosed, subject_sharpness = 0.0, 1.0, 0.0, 0.0, 0.0
    if ys.size:
        n_lab, labels, stats, centroids = cv2.connectedComponentsWithStats(sharp.astype(np.uint8), connectivity=8)
        if n_lab > 1:
            i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            region = labels == i
            subject_area = float(stats[i, cv2.CC_STAT_AREA] / n)
            cx, cy = centroids[i]
            subject_offset = _offset(np.array([cy]), np.array([cx]), h, w)
            subject_centre = float(region[y0:y1, x0:x1].mean())
            subject_enclosed = _enclosed(region)
            subject_sharpness = float(np.clip(1.0 - b[region].mean() / threshold, 0.0, 1.0))

    def amount_of(rows=slice(None), cols=slice(None)):
        return region_amount(a[rows, cols], blurred[rows, cols])

    return BlurScores(
        degree=float(b.mean()),
        sharp_fraction=1.0 - blurred_fraction,
        blurred_fraction=blurred_fraction,
        defocus_fraction=defocus_fraction,
        motion_fraction=motion_fraction,
        defocus_share=defocus_fraction / blurred_fraction if blurred_fraction > 0 else 1.0,
        centre_sharp=centre_sharp,
        centre_motion=centre_motion,
        subject_area=subject_area,
        subject_offset=subject_offset,
        subject_centre=subject_centre,
        sharp_offset=sharp_offset,
        subject_enclosed=subject_enclosed,
        subject_sharpness=subject_sharpness,
        amount=None if a is None else amount_of(),
        centre_amount=None if a is None else amount_of(slice(y0, y1), slice(x0, x1)),
    )


def has_subject(s: BlurScores, rules: RankRules | None = None) -> bool:
    """Whether the largest sharp region is a *subject* (see :class:`RankRules`)."""
    r = rules or RankRules()
    return (
        s.subject_area >= r.subject_area_min
        and s.subject_sharpness >= r.subject_sharpness_min
        and s.subject_offset <= r.subject_offset_max
        and (s.subject_centre >= r.subject_centre_min or s.subject_enclosed >= r.subject_enclosed_min)
    )


def verdict(s: BlurScores, rules: RankRules | None = None) -> tuple[Verdict, str]:
    """The verdict and a short reason, by the ordered rules of :class:`RankRules`."""
    r = rules or RankRules()

    def bad(reason: str, amount: float | None, motion: bool):
        if amount is not None and amount < r.soft_amount_max and not motion:
            return Verdict.OK, "slightly soft"
        return Verdict.BAD, reason

    if s.blurred_fraction <= r.no_blur_max:
        return Verdict.NONE, "all sharp"
    subject_ok = has_subject(s, r)
    mostly_motion = s.defocus_share < 0.5
    if s.blurred_fraction >= r.frame_blurred_min and not subject_ok:
        return bad("whole frame blurred", s.amount, mostly_motion)
    if s.motion_fraction >= r.shake_motion_min:
        return bad("camera shake", s.amount, motion=True)
    if s.centre_motion >= r.subject_motion_max:
        return bad("motion-blurred subject", s.centre_amount, motion=True)
    if s.centre_sharp < r.centre_sharp_min and not subject_ok:
        return bad("missed focus", s.centre_amount, mostly_motion)
    if s.blurred_fraction <= r.ok_blurred_max:
        return Verdict.OK, "small blurred regions"
    if s.defocus_share >= r.good_defocus_share_min and subject_ok:
        return Verdict.GOOD, "sharp subject, defocused background"
    if not subject_ok:
        return bad("no sharp subject", s.amount, mostly_motion)
    return bad("mixed blur around the subject", s.amount, mostly_motion)


def rank_maps(blur, kind, threshold: float = 0.5, rules: RankRules | None = None, grid: int = GRID, amount=None):
    """Convenience: ``(scores, verdict, reason)`` of one photo's maps."""
    s = score_maps(blur, kind, threshold, grid, amount)
    v, why = verdict(s, rules)
    return s, v, why
