"""Metrics on tiny arrays whose answers are worked out by hand in the comments."""

import json

import numpy as np
import pytest

from blurtool.train import metrics as M


def test_binary_metrics_hand_example():
    gt = np.array([[1, 1, 1, 0]], bool)
    pred = np.array([[1, 0, 0, 0]], bool)
    # tp=1 fp=0 fn=2 tn=1 -> acc 2/4, P 1, R 1/3, F1 = 2*(1/3)/(4/3) = 1/2,
    # Fβ(β²=.3) = 1.3*(1/3) / (.3 + 1/3) = 13/19, IoU blur = 1/3, IoU sharp = 1/(1+0+2) = 1/3
    m = M.binary_metrics(pred, gt)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 0, 2, 1)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["precision"] == pytest.approx(1.0)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(0.5)
    assert m["fbeta"] == pytest.approx(13 / 19)
    assert m["iou_blur"] == pytest.approx(1 / 3)
    assert m["iou_sharp"] == pytest.approx(1 / 3)
    assert m["miou"] == pytest.approx(1 / 3)


def test_binary_metrics_second_example_and_uint8_masks():
    gt = np.array([[255, 255, 0], [0, 0, 0]], np.uint8)  # 0/255 PNG-style ground truth
    pred = np.array([[1, 0, 1], [0, 0, 0]], np.uint8)
    # tp=1 fp=1 fn=1 tn=3: acc 4/6, P=R=F=1/2, IoU blur 1/3, IoU sharp 3/5, mIoU 7/15
    m = M.binary_metrics(pred, gt)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx(0.5) and m["fbeta"] == pytest.approx(0.5)
    assert m["miou"] == pytest.approx(7 / 15)


@pytest.mark.parametrize(
    "pred, gt, expect",
    [
        # both empty: nothing to find, nothing found -> a perfect score
        ([[0, 0]], [[0, 0]], dict(precision=1, recall=1, f1=1, fbeta=1, iou_blur=1, iou_sharp=1, miou=1)),
        # no blur in the truth, some predicted: a false alarm -> precision 0, recall 1 (nothing missed), F 0
        ([[1, 0]], [[0, 0]], dict(precision=0, recall=1, f1=0, iou_blur=0, iou_sharp=0.5, accuracy=0.5)),
        # blur in the truth, none predicted: recall 0, precision 1 (no false alarm), F 0
        ([[0, 0]], [[1, 0]], dict(precision=1, recall=0, f1=0, fbeta=0, iou_blur=0, iou_sharp=0.5)),
        # everything blurred and found: sharp class absent from both -> IoU sharp 1
        ([[1, 1]], [[1, 1]], dict(f1=1, iou_sharp=1, miou=1)),
    ],
)
def test_binary_metrics_empty_classes_are_defined_and_nan_free(pred, gt, expect):
    m = M.binary_metrics(np.array(pred), np.array(gt))
    for k, v in expect.items():
        assert m[k] == pytest.approx(v), k
    assert all(np.isfinite(v) for v in m.values())


def test_counts_to_metrics_is_vectorised():
    m = M.counts_to_metrics(np.array([1, 0]), np.array([0, 0]), np.array([2, 0]), np.array([1, 4]))
    assert m["f1"] == pytest.approx([0.5, 1.0])  # second: no blur anywhere, none predicted


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shapes differ"):
        M.binary_metrics(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        M.soft_mae(np.zeros((2, 2, 3)), np.zeros((2, 2)))


def test_soft_mae():
    blur = np.array([[0.25, 1.0], [0.5, 0.0]], np.float32)
    gt = np.array([[0, 1], [1, 0]], bool)
    assert M.soft_mae(blur, gt) == pytest.approx((0.25 + 0 + 0.5 + 0) / 4)


def test_kind_metrics_hand_example():
    gt = np.array([[0, 2], [2, 0]], np.uint8)
    pred = np.array([[0, 2], [1, 1]], np.uint8)
    # confusion (rows truth): sharp -> {sharp 1, defocus 1}, motion -> {motion 1, defocus 1}; accuracy 2/4
    # IoU sharp 1/2, defocus 0/2 = 0, motion 1/2 -> mIoU over the three present classes 1/3
    m = M.kind_metrics(pred, gt)
    assert M.kind_confusion(pred, gt).tolist() == [[1, 1, 0], [0, 0, 0], [0, 1, 1]]
    assert m["kind_accuracy"] == pytest.approx(0.5)
    assert m["kind_iou_defocus"] == 0.0
    assert m["kind_miou"] == pytest.approx(1 / 3)
    # perfect prediction: defocus absent from both is left out of the mean, not counted as 0
    assert M.kind_metrics(gt, gt)["kind_miou"] == pytest.approx(1.0)


def test_gt_kind_map():
    assert M.gt_kind_map(np.array([[True, False]]), 2).tolist() == [[2, 0]]
    with pytest.raises(ValueError):
        M.gt_kind_map(np.array([[True]]), 0)


def _four_pixels():
    # levels 200, 150, 100, 50 with truth blurred, sharp, blurred, sharp
    blur = np.array([[200, 150], [100, 50]], np.float32) / 255
    gt = np.array([[1, 0], [1, 0]], bool)
    return blur, gt


def test_histograms_pr_curve_ap_and_ods():
    blur, gt = _four_pixels()
    pos, neg = M.level_histograms(blur, gt)
    assert pos.sum() == 2 and pos[200] == 1 and pos[100] == 1 and neg[150] == 1 and neg[50] == 1
    # descending: 200 (P 1, R .5), 150 (P .5, R .5), 100 (P 2/3, R 1), 50 (P .5, R 1)
    # AP = .5 * 1 + 0 + .5 * 2/3 + 0 = 5/6 (sklearn's average_precision_score gives the same)
    assert M.average_precision(pos, neg) == pytest.approx(5 / 6)
    c = M.pr_curve(pos, neg)
    assert c["precision"][100] == pytest.approx(2 / 3) and c["recall"][100] == 1.0
    assert c["precision"][201] == 1.0 and c["recall"][201] == 0.0  # nothing predicted above the top value
    assert np.all(np.diff(c["recall"]) <= 0)
    # F1 best at level 100: P 2/3, R 1 -> 0.8 (the plateau 51..100 reports its top, 100)
    f1, t1 = M.max_f(pos, neg, 1.0)
    assert f1 == pytest.approx(0.8) and t1 == pytest.approx(100 / 255)
    # Fβ: level 200 gives 1.3*.5/(.3+.5) = 0.8125, level 100 gives 1.3*(2/3)/(.2+1) = 0.7222
    fb, tb = M.max_f(pos, neg, 0.3)
    assert fb == pytest.approx(0.8125) and tb == pytest.approx(200 / 255)


def _ap_by_sorting(scores, labels):
    """Independent reference: sklearn's definition on sorted distinct thresholds."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[distinct]
    fp = (distinct + 1) - tp
    prec, rec = tp / (tp + fp), tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, rec]) * prec))


def test_ap_matches_sorting_reference_on_random_quantised_maps():
    rng = np.random.default_rng(0)
    gt = rng.random((30, 40)) < 0.4
    blur = np.clip(0.35 * gt + 0.65 * rng.random(gt.shape), 0, 1).astype(np.float32)
    pos, neg = M.level_histograms(blur, gt)
    ref = _ap_by_sorting(M.quantise(blur).ravel().astype(float), gt.ravel())
    assert M.average_precision(pos, neg) == pytest.approx(ref, abs=1e-12)


def test_best_level_matches_brute_force():
    rng = np.random.default_rng(1)
    recs = []
    for i in range(3):
        gt = rng.random((12, 10)) < 0.5
        blur = np.clip(0.3 * gt + 0.7 * rng.random(gt.shape), 0, 1).astype(np.float32)
        recs.append((blur, gt, M.image_record(blur, gt, name=str(i))))
    level = M.best_level([r for _, _, r in recs], "f1")
    brute = [
        np.mean([M.binary_metrics(M.quantise(b) >= k, g)["f1"] for b, g, _ in recs]) for k in range(1, 256)
    ]
    assert np.max(brute) == pytest.approx(brute[level - 1])
    s = M.summarise([r for _, _, r in recs], criterion="f1")
    assert s["best_level"] == level and s["best_f1"] == pytest.approx(np.max(brute))


def test_summarise_two_images_by_hand():
    # image a: perfect; image b: tp=1 fp=0 fn=2 tn=1 (the first example) -> accuracy 1 and .5
    gt_a = np.array([[1, 0]], bool)
    blur_a = np.array([[1.0, 0.0]], np.float32)
    gt_b = np.array([[1, 1, 1, 0]], bool)
    blur_b = np.array([[0.9, 0.2, 0.2, 0.1]], np.float32)
    acc = M.MetricAccumulator(threshold=0.5)
    acc.add(blur_a, gt_a, pred_kind=np.array([[1, 0]], np.uint8), gt_kind=np.array([[1, 0]], np.uint8))
    acc.add(blur_b, gt_b, pred_kind=np.array([[2, 0, 0, 0]], np.uint8), gt_kind=M.gt_kind_map(gt_b, 2))
    s = acc.summary()
    assert s["images"] == 2
    assert s["accuracy"] == pytest.approx(0.75)
    assert s["accuracy_var"] == pytest.approx(0.0625)  # ((1-.75)^2 + (.5-.75)^2) / 2
    assert s["f1"] == pytest.approx(0.75)
    assert s["miou"] == pytest.approx((1 + 1 / 3) / 2)
    # MAE: a 0; b (0.1 + 0.8 + 0.8 + 0.1) / 4 = 0.45 -> mean 0.225
    assert s["mae"] == pytest.approx(0.225)
    # kind: a perfect (1); b 2 of 4 pixels right -> .75
    assert s["kind_accuracy"] == pytest.approx(0.75)
    assert s["kind_confusion"] == [[2, 0, 0], [0, 1, 0], [2, 0, 1]]
    json.dumps(s, allow_nan=False)  # JSON-ready, no NaN
    v = M.summarise_validation(acc.records)
    assert set(v) == {"accuracy", "f1", "miou", "mae", "kind_accuracy"}
    assert v["accuracy"] == pytest.approx(0.75)


def test_summary_without_blur_or_kinds_is_nan_free():
    gt = np.zeros((4, 4), bool)
    s = M.summarise([M.image_record(np.zeros((4, 4), np.float32), gt)])
    assert s["ap"] is None and s["ods_f1"] is None
    assert s["kind_accuracy"] is None and s["accuracy"] == 1.0
    json.dumps(s, allow_nan=False)


def test_progressive_amount_scores_by_hand():
    # One photo: disks of true amount 1.5, 3, 8, 16 estimated 1.2, 3.5, 9, 12 (ranked right, so Spearman 1);
    # streaks 5, 10, 20 estimated 6, 5, 22 (one swap: Spearman 0.5).
    crop = [(1, 1.5, 1.2), (1, 3.0, 3.5), (1, 8.0, 9.0), (1, 16.0, 12.0), (2, 5.0, 6.0), (2, 10.0, 5.0), (2, 20.0, 22.0)]
    s = M.progressive_amount_scores([crop])
    assert s["spearman"] == pytest.approx(0.75)
    assert s["mae"] == pytest.approx((0.3 + 0.5 + 1 + 4 + 1 + 5 + 2) / 7)
    # Levels (none < 1 <= low < 4 <= medium < 10 <= high): right for 1.5, 3, 8, 16, 5, 20; wrong for 10 -> 5.
    assert s["level_accuracy"] == pytest.approx(6 / 7)
    assert s["no_saturation"] == 1.0  # the largest disk (16) above the one nearest half of it (8)
