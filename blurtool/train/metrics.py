"""Blur-detection metrics: pure numpy functions, small enough to check by hand.

Positive class = blurred (gt 255 / mask True / blur map near 1). All functions are NaN-free.

Public API (used by ``blurtool.train.loop`` for validation and by ``blurtool.evaluate``):

    binary_metrics(pred_mask, gt_mask, beta2=0.3) -> dict
        accuracy, precision, recall, f1, fbeta, iou_blur, iou_sharp, miou (+ tp, fp, fn, tn) of one image.
    counts_to_metrics(tp, fp, fn, tn, beta2=0.3) -> dict
        the same from confusion counts; vectorised (arrays in -> arrays out).
    soft_mae(blur, gt_mask) -> float
        mean |blur - gt| of the soft map.
    kind_metrics(pred_kind, gt_kind) -> dict
        three-class (0 sharp, 1 defocus, 2 motion) accuracy, per-class IoU and mIoU of one image.
    gt_kind_map(gt_mask, kind) -> uint8 HxW
        blurred pixels take ``kind`` (the one a CUHK name says, blurtool.cuhk.kind_from_name), the rest 0.
    level_histograms(blur, gt_mask) -> (pos_hist, neg_hist)
        256-bin histograms of the quantised map (level = round(255 * blur)) over blurred / sharp gt pixels.
    pr_curve(pos_hist, neg_hist) -> dict(levels, thresholds, precision, recall)
    average_precision(pos_hist, neg_hist) -> float | None
    max_f(pos_hist, neg_hist, beta2) -> (f, threshold)
    pr_curve_of(records) -> dict  (pr_curve of summed histograms + ap and ODS points, for plotting)
    best_level(records, criterion="accuracy") -> int in 1..255  (single best threshold level for a set)
    image_record(blur, gt_mask, threshold=0.5, pred_kind=None, gt_kind=None, name="", group=None) -> dict
        everything later summaries need from one image (counts, MAE, histograms, kind confusion).
    MetricAccumulator(threshold=0.5)   .add(...same as image_record...)  .records  .summary()
        streaming: holds only per-image counts and 2 x 256 histograms, never the maps.
    summarise(records, level=None, criterion="accuracy") -> dict     full summary (see its docstring)
    summarise_validation(records) -> dict(accuracy, f1, miou, mae, kind_accuracy)   short, for the train loop
    progressive_case(image, where, estimate, unit) -> list ;  progressive_amount_scores(cases) -> dict
        the progressive-blur benchmark of the blur amount: known disks and streaks, and the agreement of estimated
        with true amounts (Spearman, MAE, four-level accuracy, no-saturation share).

Conventions for empty classes (documented here once, tested in tests/train/test_metrics.py):
    * precision = 1 when nothing is predicted blurred (no false alarm is possible);
    * recall    = 1 when nothing is blurred in the ground truth (nothing can be missed);
    * F = 0 when precision + recall = 0;
    * IoU of a class = 1 when that class is absent from both prediction and ground truth.
  So an image with no blur at all, predicted with no blur, scores 1 everywhere; predicting some blur there
  gives precision 0, F 0. A three-class mIoU averages only the classes present in prediction or ground truth.
  Pixel-level AP / max F over a set with no blurred pixel at all are undefined and reported as None.

Per-image metrics are averaged over images ("per image then averaged"); ``accuracy_var`` is the population
variance (ddof=0) of the per-image accuracies. ODS max F and AP pool all pixels of all images (via the summed
histograms), as in blur-detection benchmarks since Shi et al. 2014.
"""

from __future__ import annotations

import numpy as np

from ..kinds import KIND_NAMES, Kind

# Fβ with β² = 0.3 weighs precision over recall, the saliency / defocus-blur-detection convention
# (Achanta et al. 2009; used for CUHK by Zhao et al. 2018 BTBNet and later work).
BETA2 = 0.3
LEVELS = 256  # the blur map is quantised to 8 bits: level = round(255 * blur)

_BINARY_KEYS = ("accuracy", "precision", "recall", "f1", "fbeta", "iou_blur", "iou_sharp", "miou")


# ----------------------------------------------------------------------------------------------- basic checks
def _as_mask(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (H, W) mask, got shape {a.shape}")
    if a.dtype != bool:
        a = a > 0.5 if a.dtype.kind == "f" else a != 0
    return a


def _as_map(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (H, W) blur map, got shape {a.shape}")
    return a


def _same_shape(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        raise ValueError(f"{what}: empty arrays")


def _ratio(num, den, empty_value):
    """num / den elementwise, ``empty_value`` where den == 0 (never NaN)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.divide(num, den, out=np.full(np.broadcast(num, den).shape, float(empty_value)), where=den > 0)
    return out


def _f(p, r, beta2):
    return _ratio((1.0 + beta2) * p * r, beta2 * p + r, 0.0)


def _last_argmax(a) -> int:
    """Index of the maximum, the highest index among ties: on a plateau of equal scores (empty histogram bins)
    the highest level is the one that sits at an observed value, the natural threshold to report."""
    a = np.asarray(a)
    return int(a.size - 1 - np.argmax(a[::-1]))


def _scalar(d: dict) -> dict:
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in d.items()}


# ----------------------------------------------------------------------------------------------- binary
def confusion(pred_mask, gt_mask) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) pixel counts, positive = blurred."""
    pred = _as_mask(pred_mask, "pred_mask")
    gt = _as_mask(gt_mask, "gt_mask")
    _same_shape(pred, gt, "confusion(pred_mask, gt_mask)")
    tp = int(np.count_nonzero(pred & gt))
    fp = int(np.count_nonzero(pred & ~gt))
    fn = int(np.count_nonzero(~pred & gt))
    tn = int(pred.size - tp - fp - fn)
    return tp, fp, fn, tn


def counts_to_metrics(tp, fp, fn, tn, beta2: float = BETA2) -> dict:
    """Binary metrics from confusion counts; scalars give floats, arrays give arrays (same shape)."""
    tp, fp, fn, tn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn, tn))
    precision = _ratio(tp, tp + fp, 1.0)
    recall = _ratio(tp, tp + fn, 1.0)
    iou_blur = _ratio(tp, tp + fp + fn, 1.0)
    iou_sharp = _ratio(tn, tn + fp + fn, 1.0)
    out = {
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn, 1.0),
        "precision": precision,
        "recall": recall,
        "f1": _f(precision, recall, 1.0),
        "fbeta": _f(precision, recall, beta2),
        "iou_blur": iou_blur,
        "iou_sharp": iou_sharp,
        "miou": (iou_blur + iou_sharp) / 2.0,
    }
    return _scalar(out)


def binary_metrics(pred_mask, gt_mask, beta2: float = BETA2) -> dict:
    """Metrics of one binary prediction against one binary ground truth (bool or 0/1 or 0/255 arrays)."""
    tp, fp, fn, tn = confusion(pred_mask, gt_mask)
    return {**counts_to_metrics(tp, fp, fn, tn, beta2), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def soft_mae(blur, gt_mask) -> float:
    """Mean absolute error between the soft blur map in [0, 1] and the 0/1 ground truth."""
    b = _as_map(blur, "blur")
    gt = _as_mask(gt_mask, "gt_mask")
    _same_shape(b, gt, "soft_mae(blur, gt_mask)")
    return float(np.mean(np.abs(b.astype(np.float64) - gt)))


# ----------------------------------------------------------------------------------------------- kind
def gt_kind_map(gt_mask, kind: int) -> np.ndarray:
    """uint8 kind map: blurred gt pixels take ``kind`` (1 defocus, 2 motion), the rest 0 (sharp)."""
    gt = _as_mask(gt_mask, "gt_mask")
    if kind not in (Kind.DEFOCUS, Kind.MOTION):
        raise ValueError(f"kind must be 1 (defocus) or 2 (motion), got {kind!r}")
    return (gt.astype(np.uint8) * np.uint8(kind)).astype(np.uint8)


def kind_confusion(pred_kind, gt_kind) -> np.ndarray:
    """3 x 3 pixel counts, rows = ground truth, columns = prediction (0 sharp, 1 defocus, 2 motion)."""
    p = np.asarray(pred_kind)
    g = np.asarray(gt_kind)
    if p.ndim != 2:
        raise ValueError(f"pred_kind: expected a 2-D (H, W) kind map, got shape {p.shape}")
    _same_shape(p, g, "kind_confusion(pred_kind, gt_kind)")
    if p.max(initial=0) > 2 or g.max(initial=0) > 2 or p.min(initial=0) < 0 or g.min(initial=0) < 0:
        raise ValueError("kind maps must hold 0 (sharp), 1 (defocus) or 2 (motion)")
    idx = g.astype(np.int64).ravel() * 3 + p.astype(np.int64).ravel()
    return np.bincount(idx, minlength=9).reshape(3, 3)


def kind_metrics_from_confusion(cm) -> dict:
    cm = np.asarray(cm, dtype=np.float64)
    inter = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - inter
    iou = _ratio(inter, union, 1.0)
    present = union > 0
    total = cm.sum()
    out = {
        "kind_accuracy": float(inter.sum() / total) if total > 0 else 1.0,
        "kind_miou": float(iou[present].mean()) if present.any() else 1.0,
    }
    for name, v in zip(KIND_NAMES, iou, strict=True):
        out[f"kind_iou_{name}"] = float(v)
    return out


def kind_metrics(pred_kind, gt_kind) -> dict:
    """Three-class accuracy and mIoU (over classes present in prediction or ground truth) of one image."""
    return kind_metrics_from_confusion(kind_confusion(pred_kind, gt_kind))


# ----------------------------------------------------------------------------------------------- curves
def quantise(blur) -> np.ndarray:
    """Blur map in [0, 1] -> uint8 levels round(255 * blur), as when the map is saved as an 8-bit PNG."""
    b = _as_map(blur, "blur")
    return np.clip(np.rint(b * 255.0), 0, 255).astype(np.uint8)


def level_histograms(blur, gt_mask) -> tuple[np.ndarray, np.ndarray]:
    """(pos_hist, neg_hist): int64[256] counts of levels over gt-blurred and gt-sharp pixels."""
    q = quantise(blur)
    gt = _as_mask(gt_mask, "gt_mask")
    _same_shape(q, gt, "level_histograms(blur, gt_mask)")
    pos = np.bincount(q[gt], minlength=LEVELS).astype(np.int64)
    neg = np.bincount(q[~gt], minlength=LEVELS).astype(np.int64)
    return pos, neg


def _cum_counts(pos_hist, neg_hist):
    """tp, fp, fn, tn (float64[..., 256]) for the rule "blurred iff level >= k", k = 0..255 (last axis)."""
    pos = np.asarray(pos_hist, dtype=np.float64)
    neg = np.asarray(neg_hist, dtype=np.float64)
    tp = np.flip(np.cumsum(np.flip(pos, -1), -1), -1)
    fp = np.flip(np.cumsum(np.flip(neg, -1), -1), -1)
    fn = pos.sum(-1, keepdims=True) - tp
    tn = neg.sum(-1, keepdims=True) - fp
    return tp, fp, fn, tn


def pr_curve(pos_hist, neg_hist) -> dict:
    """Pixel-level precision / recall for every threshold level k = 0..255 (blurred iff round(255 b) >= k).

    ``thresholds`` = k / 255. Recall falls as k rises; points where nothing is predicted get precision 1."""
    tp, fp, fn, _ = _cum_counts(pos_hist, neg_hist)
    levels = np.arange(LEVELS)
    return {
        "levels": levels,
        "thresholds": levels / 255.0,
        "precision": _ratio(tp, tp + fp, 1.0),
        "recall": _ratio(tp, tp + fn, 1.0),
    }


def average_precision(pos_hist, neg_hist) -> float | None:
    """Step-wise area under the PR curve, AP = sum_k (R_k - R_{k+1}) * P_k over thresholds (decreasing),
    as sklearn.metrics.average_precision_score computes it on the 8-bit-quantised scores (hand-written here to
    avoid a scikit-learn dependency). None when there is no blurred pixel (recall undefined)."""
    if np.asarray(pos_hist).sum() == 0:
        return None
    c = pr_curve(pos_hist, neg_hist)
    r = c["recall"]
    r_next = np.append(r[1:], 0.0)  # recall at the next higher threshold; 0 above the top level
    return float(np.sum((r - r_next) * c["precision"]))


def max_f(pos_hist, neg_hist, beta2: float = BETA2) -> tuple[float | None, float | None]:
    """(best F over the 256 threshold levels, its threshold in [0, 1]); (None, None) if nothing is blurred."""
    if np.asarray(pos_hist).sum() == 0:
        return None, None
    c = pr_curve(pos_hist, neg_hist)
    f = _f(c["precision"], c["recall"], beta2)
    k = _last_argmax(f)
    return float(f[k]), float(c["thresholds"][k])


# ----------------------------------------------------------------------------------------------- records
def image_record(
    blur,
    gt_mask,
    threshold: float = 0.5,
    pred_kind=None,
    gt_kind=None,
    name: str = "",
    group: str | None = None,
) -> dict:
    """All later summaries need from one image: counts at ``threshold`` (blurred iff blur >= threshold),
    soft MAE, 256-bin level histograms and, when both kind maps are given, the 3 x 3 kind confusion."""
    b = _as_map(blur, "blur")
    gt = _as_mask(gt_mask, "gt_mask")
    _same_shape(b, gt, f"{name or 'image'}: blur map vs ground truth")
    tp, fp, fn, tn = confusion(b >= threshold, gt)
    pos, neg = level_histograms(b, gt)
    rec = {
        "name": name,
        "group": group,
        "threshold": float(threshold),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "mae": soft_mae(b, gt),
        "pos_hist": pos,
        "neg_hist": neg,
        "kind_cm": None,
    }
    if pred_kind is not None and gt_kind is not None:
        rec["kind_cm"] = kind_confusion(pred_kind, gt_kind)
    return rec


class MetricAccumulator:
    """Streaming evaluation: ``add`` one image at a time, ``summary()`` at the end. Memory O(images x 512)."""

    def __init__(self, threshold: float = 0.5):
        self.threshold = float(threshold)
        self.records: list[dict] = []

    def add(
        self, blur, gt_mask, pred_kind=None, gt_kind=None, name: str = "", group: str | None = None
    ) -> dict:
        rec = image_record(blur, gt_mask, self.threshold, pred_kind, gt_kind, name, group)
        self.records.append(rec)
        return rec

    def __len__(self) -> int:
        return len(self.records)

    def summary(self, **kwargs) -> dict:
        return summarise(self.records, **kwargs)


def best_level(records, criterion: str = "accuracy", beta2: float = BETA2, weights=None) -> int:
    """The single level k in 1..255 (blurred iff round(255 b) >= k) that maximises the mean per-image
    ``criterion`` over ``records`` -- one threshold for the whole set, the protocol Kim et al. (2018) used to
    binarise the soft maps of baseline methods. ``weights`` (one per record) make it a weighted mean. Ties go to
    the highest level."""
    if criterion not in _BINARY_KEYS:
        raise ValueError(f"criterion must be one of {_BINARY_KEYS}, got {criterion!r}")
    if not records:
        raise ValueError("best_level: no records")
    pos = np.stack([r["pos_hist"] for r in records])
    neg = np.stack([r["neg_hist"] for r in records])
    tp, fp, fn, tn = (a[:, 1:] for a in _cum_counts(pos, neg))  # levels 1..255: 255 non-trivial thresholds
    m = np.average(counts_to_metrics(tp, fp, fn, tn, beta2)[criterion], axis=0, weights=weights)
    return _last_argmax(m) + 1


def _per_image_at_level(records, level: int, beta2: float):
    pos = np.stack([r["pos_hist"] for r in records])
    neg = np.stack([r["neg_hist"] for r in records])
    tp, fp, fn, tn = (a[:, level] for a in _cum_counts(pos, neg))
    return counts_to_metrics(tp, fp, fn, tn, beta2)


def summarise(records, level: int | None = None, criterion: str = "accuracy", beta2: float = BETA2) -> dict:
    """Aggregate image records into one flat dict (JSON-ready: floats, ints, None; no NaN).

    Keys: images; per-image means of accuracy, precision, recall, f1, fbeta, iou_blur, iou_sharp, miou, mae;
    accuracy_var; pixel-level ap, ods_f1 / ods_f1_threshold, ods_fbeta / ods_fbeta_threshold; per-image means
    at the single best level (``level`` if given, e.g. the level chosen on the whole set, else chosen here by
    ``criterion``) as best_<metric> plus best_threshold (= level / 255) and best_criterion; when kind maps
    were given, kind_images, per-image means kind_accuracy and kind_miou, and kind_confusion (3 x 3 counts,
    rows = truth)."""
    records = list(records)
    if not records:
        raise ValueError("summarise: no image records")
    tp, fp, fn, tn = (np.array([r[k] for r in records], dtype=np.float64) for k in ("tp", "fp", "fn", "tn"))
    per = counts_to_metrics(tp, fp, fn, tn, beta2)
    out: dict = {"images": len(records), "threshold": float(records[0]["threshold"])}
    for k in _BINARY_KEYS:
        out[k] = float(np.mean(per[k]))
    out["accuracy_var"] = float(np.var(per["accuracy"]))
    out["mae"] = float(np.mean([r["mae"] for r in records]))

    pos = np.sum([r["pos_hist"] for r in records], axis=0)
    neg = np.sum([r["neg_hist"] for r in records], axis=0)
    out["ap"] = average_precision(pos, neg)
    out["ods_f1"], out["ods_f1_threshold"] = max_f(pos, neg, 1.0)
    out["ods_fbeta"], out["ods_fbeta_threshold"] = max_f(pos, neg, beta2)

    level = best_level(records, criterion, beta2) if level is None else int(level)
    at = _per_image_at_level(records, level, beta2)
    for k in _BINARY_KEYS:
        out[f"best_{k}"] = float(np.mean(at[k]))
    out["best_threshold"] = level / 255.0
    out["best_level"] = level
    out["best_criterion"] = criterion

    kinds = [r["kind_cm"] for r in records if r.get("kind_cm") is not None]
    out["kind_images"] = len(kinds)
    if kinds:
        per_kind = [kind_metrics_from_confusion(cm) for cm in kinds]
        out["kind_accuracy"] = float(np.mean([m["kind_accuracy"] for m in per_kind]))
        out["kind_miou"] = float(np.mean([m["kind_miou"] for m in per_kind]))
        out["kind_confusion"] = np.sum(kinds, axis=0).astype(int).tolist()
    else:
        out["kind_accuracy"] = out["kind_miou"] = out["kind_confusion"] = None
    return out


def summarise_validation(per_image_records) -> dict:
    """Short summary for the training loop to print: accuracy, f1, miou, mae (per-image means at each record's
    threshold) and kind_accuracy (None when no record carried kind maps)."""
    s = summarise(per_image_records)
    return {k: s[k] for k in ("accuracy", "f1", "miou", "mae", "kind_accuracy")}


def pr_curve_of(records) -> dict:
    """Pixel-level PR curve of a set of records (summed histograms), with ap and the ODS points."""
    pos = np.sum([r["pos_hist"] for r in records], axis=0)
    neg = np.sum([r["neg_hist"] for r in records], axis=0)
    c = pr_curve(pos, neg)
    c["ap"] = average_precision(pos, neg)
    c["ods_fbeta"], c["ods_fbeta_threshold"] = max_f(pos, neg, BETA2)
    c["ods_f1"], c["ods_f1_threshold"] = max_f(pos, neg, 1.0)
    return c


def progressive_case(image: np.ndarray, where: np.ndarray, estimate, unit: float) -> list[tuple[int, float, float]]:
    """One photo of the progressive-blur benchmark: (kind, true amount, estimated amount) for each of
    synth.progressive_blurs of `image` (float32 RGB, at the scale the kernels are meant for). `estimate(blurred)`
    returns an amount map (blurtool.amount's unit) at the image's size; the estimate is its median over `where` (bool
    HxW: pixels the blur visibly changes and whose truth is known). `unit`: the reference amount of 1 px of `image`
    (blurtool.amount.to_reference(1, long side))."""
    from .synth import progressive_blurs

    return [
        (kind, radius * unit, float(np.median(estimate(blurred)[where])))
        for kind, radius, blurred in progressive_blurs(image)
    ]


def progressive_amount_scores(cases) -> dict:
    """cases: per photo, progressive_case's list of (kind, true amount, estimated amount). Returns the Spearman
    correlation of estimated with true amount (per photo and kind, averaged), MAE (blurtool.amount's unit), the
    four-level accuracy (blurtool.amount.LEVELS), and `no_saturation`: the share of photos whose largest disk is
    estimated above their disk of half that radius (r = 10 vs r = 5)."""
    from scipy.stats import spearmanr

    from ..amount import level_index

    rhos, errors, right, above = [], [], [], []
    for crop in cases:
        for kind in {k for k, _, _ in crop}:
            truth = [t for k, t, _ in crop if k == kind]
            est = [e for k, t, e in crop if k == kind]
            if len(truth) > 2:
                # A constant estimate tells nothing (and has no defined correlation): it scores 0.
                rhos.append(float(spearmanr(truth, est).statistic) if np.ptp(est) > 0 else 0.0)
        errors += [abs(e - t) for _, t, e in crop]
        right += [int(level_index(e) == level_index(t)) for _, t, e in crop]
        disks = sorted((t, e) for k, t, e in crop if k == Kind.DEFOCUS)
        if len(disks) >= 2:
            top_t, top_e = disks[-1]
            half = min(disks, key=lambda d: abs(d[0] - top_t / 2))
            above.append(top_e > half[1])
    return {
        "spearman": float(np.mean(rhos)) if rhos else None,
        "mae": float(np.mean(errors)) if errors else None,
        "level_accuracy": float(np.mean(right)) if right else None,
        "no_saturation": float(np.mean(above)) if above else None,
    }
