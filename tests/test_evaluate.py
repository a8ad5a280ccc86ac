"""evaluate() on a tiny synthetic CUHK-layout folder with a fake detector whose answers are known exactly."""

import json
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from blurtool.errors import BlurtoolError, InputError, WeightsError
from blurtool.evaluate import draw_pr_curve, evaluate, read_stem_list, val_stems
from blurtool.train import metrics as M


@dataclass
class FakeResult:
    blur: np.ndarray
    kind: np.ndarray
    probs: np.ndarray
    threshold: float


class FakeDetector:
    """The blur map is the photo's red channel; the green channel > 0.5 says motion, else defocus."""

    threshold = 0.5

    def predict(self, image):
        blur = image[..., 0].astype(np.float32)
        motion = image[..., 1] > 0.5
        probs = np.stack([1 - blur, blur * ~motion, blur * motion], -1).astype(np.float32)
        kind = np.where(blur >= self.threshold, np.where(motion, 2, 1), 0).astype(np.uint8)
        return FakeResult(blur, kind, probs, self.threshold)


def _write(folder, stem, red, green, gt, gt_ext=".png", rgba=False):
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "gt").mkdir(parents=True, exist_ok=True)
    rgb = np.stack([red, green, np.zeros_like(red)], -1).astype(np.uint8)
    cv2.imwrite(str(folder / "images" / f"{stem}.png"), rgb[..., ::-1])
    g = (np.asarray(gt, bool) * 255).astype(np.uint8)
    if rgba:  # like 13 of the CUHK masks: white / black RGB with an opaque alpha
        g = cv2.cvtColor(g, cv2.COLOR_GRAY2BGRA)
    cv2.imwrite(str(folder / "gt" / f"{stem}{gt_ext}"), g)


@pytest.fixture
def cuhk(tmp_path):
    """motion0001: left half blurred, detector exact, says motion.
    out_of_focus0001: top row blurred; detector finds half of it and says defocus.
    Both 4 x 4."""
    gt_m = np.zeros((4, 4), bool)
    gt_m[:, :2] = True
    red_m = np.where(gt_m, 230, 20)
    _write(tmp_path, "motion0001", red_m, np.full((4, 4), 255), gt_m)
    gt_d = np.zeros((4, 4), bool)
    gt_d[0] = True
    red_d = np.full((4, 4), 20)
    red_d[0, :2] = 230
    _write(tmp_path, "out_of_focus0001", red_d, np.zeros((4, 4)), gt_d, rgba=True)
    return tmp_path


def test_evaluate_hand_checked(cuhk):
    seen = []
    rep = evaluate(FakeDetector(), cuhk, on_image=lambda i, n, s: seen.append((i, n, s)))
    assert seen == [(1, 2, "motion0001"), (2, 2, "out_of_focus0001")]
    assert rep.threshold == 0.5
    # motion: perfect. defocus: tp 2, fn 2, fp 0, tn 12 -> accuracy 14/16, recall .5, precision 1, F1 2/3
    m, d = rep.groups["motion"], rep.groups["defocus"]
    assert m["accuracy"] == 1.0 and m["f1"] == 1.0 and m["images"] == 1
    assert d["accuracy"] == pytest.approx(14 / 16)
    assert d["recall"] == pytest.approx(0.5) and d["precision"] == 1.0
    assert d["f1"] == pytest.approx(2 / 3)
    assert rep.overall["accuracy"] == pytest.approx((1 + 14 / 16) / 2)
    # MAE defocus: blurred-but-missed pixels |20/255 - 1| x 2, others |230/255 - 1| x 2 and 20/255 x 12
    mae_d = (2 * (1 - 20 / 255) + 2 * (1 - 230 / 255) + 12 * 20 / 255) / 16
    assert d["mae"] == pytest.approx(mae_d, abs=1e-6)
    # kind maps: motion image perfect; defocus: the two found pixels are defocus, the two missed are sharp
    assert m["kind_accuracy"] == 1.0 and d["kind_accuracy"] == pytest.approx(14 / 16)
    # pixel level: positives at levels 230 (10) and 20 (2), negatives at 20 (20): AP = 10/12 + 2/12 * 12/32
    assert rep.overall["ap"] == pytest.approx(10 / 12 + (2 / 12) * (12 / 32))
    # the 255-level protocol: levels 21..230 all give the partition found at 0.5
    assert rep.overall["best_accuracy"] == pytest.approx(rep.overall["accuracy"])
    d = rep.to_dict()
    json.dumps(d, allow_nan=False)
    assert [r["name"] for r in d["images"]] == ["motion0001", "out_of_focus0001"]


def test_threshold_override_rederives_kind_from_probs(cuhk):
    rep = evaluate(FakeDetector(), cuhk, threshold=0.95)  # above every blur value: nothing blurred
    assert rep.threshold == 0.95
    assert rep.groups["motion"]["recall"] == 0.0
    # nothing predicted blurred -> kind maps all sharp: motion image 8/16 right
    assert rep.groups["motion"]["kind_accuracy"] == pytest.approx(0.5)


def test_stems_filter_and_list_file(cuhk, tmp_path):
    lst = tmp_path / "val.txt"
    lst.write_text("# held out\nimages/out_of_focus0001.jpg\n\n")
    stems = read_stem_list(lst)
    assert stems == ["out_of_focus0001"]
    rep = evaluate(FakeDetector(), cuhk, stems=stems)
    assert rep.overall["images"] == 1 and set(rep.groups) == {"defocus"}
    with pytest.raises(InputError, match="requested image"):
        evaluate(FakeDetector(), cuhk, stems=["motion9999"])


def test_val_stems_from_card():
    assert val_stems({"training": {"val_stems": ["a", "b"]}}) == ["a", "b"]
    with pytest.raises(WeightsError, match="val_stems"):
        val_stems({"training": {}})


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("no_gt_file", "no ground-truth mask for 1 image"),  # the folder's own errors: tests/test_cuhk.py
        ("size", "differs from image"),
        ("bad_gt", "not a readable mask"),
    ],
)
def test_bad_input_is_one_clear_error(cuhk, breakage, message):
    root = cuhk
    if breakage == "no_gt_file":
        (cuhk / "gt" / "motion0001.png").unlink()
    elif breakage == "size":
        cv2.imwrite(str(cuhk / "gt" / "motion0001.png"), np.zeros((5, 4), np.uint8))
    elif breakage == "bad_gt":
        (cuhk / "gt" / "motion0001.png").write_bytes(b"not a png")
    with pytest.raises(BlurtoolError, match=message):
        evaluate(FakeDetector(), root)


def test_pr_curve_png(cuhk, tmp_path):
    rep = evaluate(FakeDetector(), cuhk)
    out = tmp_path / "pr.png"
    draw_pr_curve(rep.curves(), out, title="synthetic")
    img = cv2.imread(str(out))
    assert img.shape == (600, 760, 3)
    # the three curve colours (BGR) appear: all (dark gray), motion (blue), defocus (red)
    for colour in [(40, 40, 40), (200, 90, 20), (40, 40, 210)]:
        assert np.any(np.all(img == colour, axis=-1)), colour
    assert set(rep.curves()) == {"all", "motion", "defocus"}
    c = M.pr_curve_of(rep.records)
    assert c["ap"] == pytest.approx(rep.overall["ap"])


@dataclass
class _AmountResult:
    work_amount: np.ndarray


class GradientAmountDetector:
    """Estimates the blur amount as the inverse of the local gradient energy: it falls as the kernels grow, so it
    ranks them right (Spearman 1) whatever its scale."""

    has_amount = True
    working_size = 96

    def __init__(self, constant=False):
        self.constant, self.sizes = constant, []

    def predict(self, image, full_size=True):
        assert not full_size
        self.sizes.append(image.shape[:2])
        grey = cv2.cvtColor(np.float32(image), cv2.COLOR_RGB2GRAY)
        energy = cv2.GaussianBlur(np.abs(cv2.Laplacian(grey, cv2.CV_32F)), (0, 0), 4)
        amount = np.full(grey.shape, 3.0, np.float32) if self.constant else 0.05 / (energy + 1e-4)
        return _AmountResult(amount)


def test_evaluate_amount_scores_known_kernels_where_the_ground_truth_is_sharp(tmp_path):
    from blurtool.evaluate import evaluate_amount

    rng = np.random.default_rng(0)
    for d in ("images", "gt"):
        (tmp_path / d).mkdir()
    for i in range(3):
        texture = cv2.resize(rng.random((40, 50, 3)), (200, 160), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(tmp_path / "images" / f"out_of_focus{i}.png"), np.uint8(texture * 255))
        gt = np.zeros((160, 200), np.uint8)
        gt[:, 150:] = 255  # a blurred strip: its amount is unknown, so it is not read
        cv2.imwrite(str(tmp_path / "gt" / f"out_of_focus{i}.png"), gt)
    det = GradientAmountDetector()
    scores = evaluate_amount(det, tmp_path)
    assert scores["images"] == 3 and scores["cases"] == 30  # 6 disks + 4 streaks each
    assert set(det.sizes) == {(77, 96)}  # each photo at the working size
    assert scores["spearman"] == pytest.approx(1.0) and scores["no_saturation"] == 1.0
    flat = evaluate_amount(GradientAmountDetector(constant=True), tmp_path)
    assert flat["spearman"] == 0.0 and flat["no_saturation"] == 0.0
    with pytest.raises(WeightsError):
        evaluate_amount(FakeDetector(), tmp_path)
