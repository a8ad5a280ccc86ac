"""Measure a blur detector on a folder in CUHK layout (read by ``blurtool.cuhk``: images/ and gt/ masks, the blur kind
in the name) and draw its precision-recall curve. A photo whose name says its kind gives three-class ground truth
for the kind map and the per-kind summaries.

Library API (numpy in, numpy out). The detector is any object with ``.predict(image) -> result`` where
``result.blur`` is the float32 HxW map, ``result.kind`` the uint8 kind map, ``result.threshold`` its decision
threshold and, optionally, ``result.probs`` the HxWx3 class probabilities:

    read_stem_list(path) -> list[str] ;  val_stems(card) -> list[str]
    evaluate(detector, data_dir, *, stems=None, threshold=None, on_image=None) -> EvalReport
    evaluate_amount(detector, data_dir, *, stems=None, on_image=None) -> dict
        the blur amount against known kernels (needs a detector with an amount channel, see its docstring)
    draw_pr_curve(curves, path, title="") -> None        (OpenCV only; no matplotlib)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cuhk import list_samples, read_gt
from .errors import InputError, WeightsError
from .io import IMAGE_EXTENSIONS, MASK_EXTENSIONS
from .train import metrics as M

GROUPS = ("motion", "defocus")


def read_stem_list(path: str | os.PathLike) -> list[str]:
    """Stems from a text file, one a line; blank lines and '#' comments are skipped; a path or extension is
    dropped (``images/motion0002.jpg`` -> ``motion0002``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: list file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the list ({e})") from None
    stems = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = Path(line.replace("\\", "/")).name
        stems.append(Path(name).stem if Path(name).suffix.lower() in IMAGE_EXTENSIONS | MASK_EXTENSIONS else name)
    if not stems:
        raise InputError(f"{path}: the list holds no names")
    return stems


def val_stems(card: dict | None, source: str = "weights card") -> list[str]:
    """The validation stems a model was never trained on (``card["training"]["val_stems"]``)."""
    stems = ((card or {}).get("training") or {}).get("val_stems")
    if not stems:
        raise WeightsError(f"{source}: records no validation images (training.val_stems); give `stems` instead")
    return [str(s) for s in stems]


# ----------------------------------------------------------------------------------------------- evaluation
@dataclass
class EvalReport:
    """Summaries (flat dicts of ``metrics.summarise``) for all images and per kind, plus the image records."""

    data_dir: str
    threshold: float
    overall: dict
    groups: dict[str, dict]
    records: list[dict] = field(repr=False)

    def curves(self) -> dict[str, dict]:
        """PR curves for drawing: 'all' and one per kind present."""
        out = {"all": M.pr_curve_of(self.records)}
        for g in GROUPS:
            recs = [r for r in self.records if r["group"] == g]
            if recs:
                out[g] = M.pr_curve_of(recs)
        return out

    def per_image(self) -> list[dict]:
        rows = []
        for r in self.records:
            m = M.counts_to_metrics(r["tp"], r["fp"], r["fn"], r["tn"])
            row = {
                "name": r["name"],
                "kind": r["group"],
                **{k: round(m[k], 4) for k in ("accuracy", "f1", "miou")},
            }
            row["mae"] = round(r["mae"], 4)
            if r["kind_cm"] is not None:
                row["kind_accuracy"] = round(M.kind_metrics_from_confusion(r["kind_cm"])["kind_accuracy"], 4)
            rows.append(row)
        return rows

    def to_dict(self, per_image: bool = True) -> dict:
        """JSON-ready: summaries rounded to 6 decimals, optionally the per-image figures."""
        groups = {"all": self.overall, **self.groups}
        d = {"data_dir": self.data_dir, "threshold": self.threshold}
        d.update(
            {
                g: {k: round(v, 6) if isinstance(v, float) else v for k, v in s.items()}
                for g, s in groups.items()
            }
        )
        if per_image:
            d["images"] = self.per_image()
        return d


def _kind_at(result, blur: np.ndarray, threshold: float) -> np.ndarray:
    """The kind map at ``threshold``: the detector's own when thresholds agree, else re-derived from its class
    probabilities (blurred pixels take the likelier of defocus / motion)."""
    own = getattr(result, "threshold", None)
    probs = getattr(result, "probs", None)
    if probs is not None and (own is None or abs(float(own) - threshold) > 1e-9):
        probs = np.asarray(probs)
        return np.where(blur >= threshold, 1 + np.argmax(probs[..., 1:], axis=-1), 0).astype(np.uint8)
    return np.asarray(result.kind, dtype=np.uint8)


def evaluate(
    detector,
    data_dir: str | os.PathLike,
    *,
    stems: Iterable[str] | None = None,
    threshold: float | None = None,
    criterion: str = "accuracy",
    on_image: Callable[[int, int, str], None] | None = None,
) -> EvalReport:
    """Run ``detector`` over a CUHK-layout folder and aggregate the metrics of ``blurtool.train.metrics``.

    ``threshold``: decision threshold on the blur map (blurred iff blur >= threshold); None takes the
    detector's (from its weights card). ``criterion``: what the best single threshold of 255 levels maximises.
    ``on_image(i, n, stem)`` is called after each image (progress)."""
    from .io import read_image

    samples = list_samples(data_dir, stems)
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold must be in [0, 1], got {threshold}")
    records: list[dict] = []
    for i, s in enumerate(samples):
        gt = read_gt(s.gt)
        image = read_image(s.image)
        if gt.shape != image.shape[:2]:
            raise InputError(
                f"{s.gt}: mask size {gt.shape[1]}x{gt.shape[0]} differs from image {s.image.name} "
                f"{image.shape[1]}x{image.shape[0]}"
            )
        result = detector.predict(image)
        blur = np.asarray(result.blur, dtype=np.float32)
        if blur.shape != gt.shape:
            raise RuntimeError(f"{s.image}: detector returned a {blur.shape} map for a {gt.shape} image")
        if threshold is None:
            threshold = getattr(result, "threshold", None)
            if threshold is None:
                raise ValueError("no threshold given and the detector's result has none")
            threshold = float(threshold)
        pred_kind = gt_kind = None
        if s.kind is not None:
            pred_kind, gt_kind = _kind_at(result, blur, threshold), M.gt_kind_map(gt, s.kind)
        records.append(M.image_record(blur, gt, threshold, pred_kind, gt_kind, name=s.stem, group=s.group))
        if on_image is not None:
            on_image(i + 1, len(samples), s.stem)

    overall = M.summarise(records, criterion=criterion)
    # Per kind: the same single threshold as the whole set (one threshold for the method, as in the protocol).
    groups = {
        g: M.summarise(recs, level=overall["best_level"], criterion=criterion)
        for g in GROUPS
        if (recs := [r for r in records if r["group"] == g])
    }
    return EvalReport(str(data_dir), float(threshold), overall, groups, records)


# Pixels an amount is read from must be this share of the photo (sharp in the ground truth and textured), else the
# photo is left out of the amount benchmark.
AMOUNT_MIN_SHARE = 0.05


def amount_view(sample, working_size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A labelled photo as the amount is measured on it: (float32 RGB at the working size, bool mask of the pixels
    sharp in the ground truth and textured, where a known kernel's blur is visible), or None when those pixels are
    under AMOUNT_MIN_SHARE of the photo."""
    import cv2

    from .io import read_image
    from .train.synth import textured

    image, gt = read_image(sample.image), read_gt(sample.gt)
    h, w = gt.shape
    f = working_size / max(h, w)
    shape = (max(1, round(w * f)), max(1, round(h * f)))
    image = cv2.resize(image, shape, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    where = ~cv2.resize(gt.astype(np.uint8), shape, interpolation=cv2.INTER_NEAREST).astype(bool)
    where &= textured(image)
    return (image, where) if where.mean() >= AMOUNT_MIN_SHARE else None


def amount_cases(
    detector,
    data_dir: str | os.PathLike,
    *,
    stems: Iterable[str] | None = None,
    on_image: Callable[[int, int, str], None] | None = None,
) -> list[list[tuple]]:
    """The progressive-blur readings of the blur amount on a CUHK-layout folder: per photo with enough sharp texture,
    metrics.progressive_case's list of (kind, true amount, estimated amount), in blurtool.amount's unit.

    Each photo, at the detector's working size, is blurred as a whole by disks of radius 1, 2, 3, 5, 7, 10 px and
    motion streaks of 5, 11, 21, 31 px (blurtool.train.synth.progressive_blurs); the estimate of each is the median
    amount over the pixels that are sharp in the ground truth (blurred now by exactly the known kernel) and textured
    (a flat region shows no blur whatever its amount).

    The detector needs ``has_amount`` and ``working_size`` and a ``predict(image, full_size=False)`` whose result has
    ``work_amount``."""
    from .amount import to_reference

    if not getattr(detector, "has_amount", False):
        raise WeightsError("these weights have no blur-amount channel")
    samples = list_samples(data_dir, stems)
    crops = []
    for i, s in enumerate(samples):
        view = amount_view(s, int(detector.working_size))
        if view is not None:
            image, where = view

            def estimate(blurred):
                return detector.predict(np.clip(blurred, 0, 1), full_size=False).work_amount

            crops.append(M.progressive_case(image, where, estimate, to_reference(1.0, max(image.shape[:2]))))
        if on_image is not None:
            on_image(i + 1, len(samples), s.stem)
    return crops


def evaluate_amount(
    detector,
    data_dir: str | os.PathLike,
    *,
    stems: Iterable[str] | None = None,
    on_image: Callable[[int, int, str], None] | None = None,
) -> dict:
    """The progressive-blur benchmark of the blur amount (Zhang et al. 2018's levels) on a CUHK-layout folder
    (:func:`amount_cases`). Returns metrics.progressive_amount_scores (spearman, mae, level_accuracy, no_saturation)
    plus `images` and `cases`."""
    crops = amount_cases(detector, data_dir, stems=stems, on_image=on_image)
    scores = M.progressive_amount_scores(crops)
    return {**scores, "images": len(crops), "cases": sum(len(c) for c in crops)}


# ------------------------------------------------------------------------------------------- PR curve plot
# BGR colours for 'all', 'motion', 'defocus' (blue motion / red defocus as in the kind maps), then extras.
_COLOURS = {"all": (40, 40, 40), "motion": (200, 90, 20), "defocus": (40, 40, 210)}
_EXTRA = [(40, 150, 40), (160, 40, 160), (0, 140, 200)]


def draw_pr_curve(curves: dict[str, dict], path: str | os.PathLike, title: str = "", size=(760, 600)) -> None:
    """Draw precision-recall curves (``{label: metrics.pr_curve_of(...)}``) with axes, ticks, a legend (AP and
    ODS F per curve) and each curve's ODS point, and write the PNG atomically. Drawn with OpenCV because
    blurtool depends on it already and a plotting library would be a heavy extra dependency."""
    import cv2

    from .io import write_image

    w, h = size
    left, right, top, bottom = 78, 24, 46 if title else 20, 62
    pw, ph = w - left - right, h - top - bottom
    img = np.full((h, w, 3), 255, np.uint8)
    font, aa = cv2.FONT_HERSHEY_SIMPLEX, cv2.LINE_AA

    def to_px(r, p):
        x = left + np.asarray(r, dtype=np.float64) * pw
        y = top + (1.0 - np.asarray(p, dtype=np.float64)) * ph
        return np.stack([x, y], -1)

    def text(s, org, scale=0.45, colour=(0, 0, 0), thick=1, anchor="left"):
        (tw, th), _ = cv2.getTextSize(s, font, scale, thick)
        x, y = org
        if anchor == "center":
            x -= tw // 2
        elif anchor == "right":
            x -= tw
        cv2.putText(img, s, (int(x), int(y)), font, scale, colour, thick, aa)
        return tw, th

    # grid, ticks and tick labels every 0.1
    for i in range(11):
        v = i / 10
        x, y = int(round(left + v * pw)), int(round(top + (1 - v) * ph))
        cv2.line(img, (x, top), (x, top + ph), (232, 232, 232), 1)
        cv2.line(img, (left, y), (left + pw, y), (232, 232, 232), 1)
        cv2.line(img, (x, top + ph), (x, top + ph + 5), (0, 0, 0), 1)
        cv2.line(img, (left - 5, y), (left, y), (0, 0, 0), 1)
        text(f"{v:.1f}", (x, top + ph + 20), anchor="center")
        text(f"{v:.1f}", (left - 9, y + 5), anchor="right")
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    text("Recall", (left + pw // 2, h - 14), 0.55, anchor="center")
    # vertical axis label: draw horizontally on a strip, rotate it into place
    (tw, th), base = cv2.getTextSize("Precision", font, 0.55, 1)
    strip = np.full((th + base + 4, tw + 4, 3), 255, np.uint8)
    cv2.putText(strip, "Precision", (2, th + 2), font, 0.55, (0, 0, 0), 1, aa)
    strip = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    y0 = top + (ph - strip.shape[0]) // 2
    img[y0 : y0 + strip.shape[0], 8 : 8 + strip.shape[1]] = strip
    if title:
        text(title, (left + pw // 2, 28), 0.55, anchor="center")

    legend = []
    for n, (label, c) in enumerate(curves.items()):
        colour = _COLOURS.get(label, _EXTRA[n % len(_EXTRA)])
        # walk the thresholds from high to low (recall rises); drop those where nothing blurred is found yet
        r, p = c["recall"][::-1], c["precision"][::-1]
        keep = r > 0
        if not keep.any():
            continue
        pts = np.round(to_px(r[keep], p[keep])).astype(np.int32)
        cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, colour, 2, aa)
        desc = label
        if c.get("ap") is not None:
            desc += f"  AP {c['ap']:.3f}"
        if c.get("ods_fbeta") is not None:
            k = int(round(c["ods_fbeta_threshold"] * 255))
            x, y = np.round(to_px(c["recall"][k], c["precision"][k])).astype(int)
            cv2.circle(img, (int(x), int(y)), 6, colour, -1, aa)
            cv2.circle(img, (int(x), int(y)), 6, (255, 255, 255), 1, aa)
            desc += f"  ODS F {c['ods_fbeta']:.3f} (t={c['ods_fbeta_threshold']:.2f})"
        legend.append((desc, colour))

    if legend:
        # lower left: PR curves of a useful detector stay in the upper right
        line_h = 22
        widths = [cv2.getTextSize(d, font, 0.45, 1)[0][0] for d, _ in legend]
        bw, bh = max(widths) + 54, line_h * (len(legend) + 1) + 6
        x0, y0 = left + 12, top + ph - bh - 12
        cv2.rectangle(img, (x0, y0), (x0 + bw, y0 + bh), (255, 255, 255), -1)
        cv2.rectangle(img, (x0, y0), (x0 + bw, y0 + bh), (120, 120, 120), 1)
        for i, (desc, colour) in enumerate(legend):
            y = y0 + 20 + i * line_h
            cv2.line(img, (x0 + 8, y - 4), (x0 + 36, y - 4), colour, 2, aa)
            text(desc, (x0 + 44, y), colour=(0, 0, 0))
        y = y0 + 20 + len(legend) * line_h
        cv2.circle(img, (x0 + 22, y - 4), 6, (90, 90, 90), -1, aa)
        text("ODS: best F (beta^2 = 0.3) over thresholds", (x0 + 44, y), colour=(0, 0, 0))

    write_image(path, img[..., ::-1].copy())  # BGR drawing -> RGB for write_image
