"""calibrate_threshold() with a fake detector whose maps are known, so the best threshold is known exactly."""

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from blurtool.calibration import calibrate_threshold, write_threshold
from blurtool.errors import InputError
from blurtool.evaluate import evaluate
from blurtool.model import create_model
from blurtool.train import metrics as M
from blurtool.weights import load_weights, save_weights


@dataclass
class FakeResult:
    blur: np.ndarray
    kind: np.ndarray
    threshold: float


class FakeDetector:
    """The blur map is the photo's red channel; `card` names the held-out photos."""

    threshold = 0.5

    def __init__(self, val_stems):
        self.card = {"training": {"val_stems": list(val_stems)}}

    def predict(self, image):
        blur = image[..., 0].astype(np.float32)
        return FakeResult(blur, (blur >= self.threshold).astype(np.uint8), self.threshold)


def _photo(folder, stem, red_blurred, red_sharp, blurred_columns=4):
    """8 x 8: the left `blurred_columns` blurred in the ground truth (half by default, 0: a photo sharp everywhere);
    the map says red_blurred there, red_sharp elsewhere."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "gt").mkdir(parents=True, exist_ok=True)
    gt = np.zeros((8, 8), np.uint8)
    gt[:, :blurred_columns] = 255
    red = np.where(gt > 0, red_blurred, red_sharp).astype(np.uint8)
    cv2.imwrite(str(folder / "images" / f"{stem}.png"), np.dstack([np.zeros_like(red)] * 2 + [red]))  # BGR
    cv2.imwrite(str(folder / "gt" / f"{stem}.png"), gt)


def test_the_threshold_separates_the_held_out_maps_and_ignores_trained_photos(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for i in range(4):
        _photo(a, f"out_of_focus{i:04d}", 200, 150)  # any level in (150, 200] is perfect; ties go to the highest
        _photo(b, f"motion{i:04d}", 200, 150)
    _photo(a, "out_of_focus0099", 40, 250)  # trained on: not in val_stems, must not pull the threshold
    val = [f"out_of_focus{i:04d}" for i in range(4)] + [f"motion{i:04d}" for i in range(4)]
    frames = tmp_path / "frames-folder"
    (frames / "frames").mkdir(parents=True)  # a frame folder holds no labelled photos: skipped

    cal = calibrate_threshold(FakeDetector(val), [a, b, frames])

    assert cal.threshold == round(200 / 255, 4)
    assert cal.images == 8 and cal.folders == {str(a): 4, str(b): 4}
    assert len(cal.halves) == 2 and all(h.chosen_on == 4 and h.tested_on == 4 for h in cal.halves)
    assert all(h.at_threshold["accuracy"] == 1.0 for h in cal.halves)
    assert all(h.at_half["accuracy"] == 0.5 for h in cal.halves)  # at 0.5 the whole map says sharp
    assert cal.to_dict()["sweep"][-1]["threshold"] == pytest.approx(128 / 255)


def test_every_folder_weighs_the_same_however_many_photos_it_holds(tmp_path):
    # Six photos of one folder separate at (60, 120] (above 120 the blurred half is missed: accuracy 0.5); two
    # photos sharp everywhere read 130, so they need a threshold above 130. A plain mean over the eight photos
    # picks 120 (6 x 1 + 2 x 0 beats 6 x 0.5 + 2 x 1); with the folders weighing alike, the sharp photos' 1 and
    # the big folder's 0.5 beat 1 and 0.
    big, sharp = tmp_path / "cuhk", tmp_path / "sharp"
    for i in range(6):
        _photo(big, f"out_of_focus{i:04d}", 120, 60)
    for i in range(2):
        _photo(sharp, f"sharp{i:04d}", 130, 130, blurred_columns=0)
    val = [f"out_of_focus{i:04d}" for i in range(6)] + ["sharp0000", "sharp0001"]

    cal = calibrate_threshold(FakeDetector(val), [big, sharp])

    assert cal.threshold > 130 / 255
    records = [r for r in evaluate(FakeDetector(val), big, stems=val[:6]).records] + [
        r for r in evaluate(FakeDetector(val), sharp, stems=val[6:]).records]
    assert M.best_level(records) == 120  # what the plain mean would have chosen


def test_a_half_check_shows_a_threshold_that_does_not_carry_over(tmp_path):
    # Half the photos separate at (100, 150], the other half at (150, 200]: each half's choice fails the other.
    for i in range(4):
        _photo(tmp_path, f"out_of_focus{2 * i:04d}", 150, 100)
        _photo(tmp_path, f"out_of_focus{2 * i + 1:04d}", 200, 150)
    cal = calibrate_threshold(FakeDetector([f"out_of_focus{i:04d}" for i in range(8)]), [tmp_path])
    assert all(h.at_threshold["accuracy"] < 1.0 for h in cal.halves)


def test_folders_without_held_out_photos_are_one_error(tmp_path):
    _photo(tmp_path, "out_of_focus0001", 150, 100)
    with pytest.raises(InputError, match="held-out photo"):
        calibrate_threshold(FakeDetector(["motion0042"]), [tmp_path])
    with pytest.raises(InputError, match="CUHK layout"):
        calibrate_threshold(FakeDetector(["motion0042"]), [tmp_path / "gt"])


def test_write_threshold_stores_it_in_the_card_and_keeps_the_weights(tmp_path):
    _photo(tmp_path, "out_of_focus0001", 150, 100)
    _photo(tmp_path, "out_of_focus0002", 150, 100)
    path = tmp_path / "m.pt"
    save_weights(path, create_model(), {"threshold": 0.5, "working_size": 64})
    before, _ = load_weights(path)
    write_threshold(path, calibrate_threshold(FakeDetector(["out_of_focus0001", "out_of_focus0002"]), [tmp_path]))
    after, card = load_weights(path)
    assert card["threshold"] == round(150 / 255, 4) and "2 photos" in card["threshold_note"]
    assert all((before.state_dict()[k] == v).all() for k, v in after.state_dict().items())


# ------------------------------------------------------------------------------------------ blur amount
@dataclass
class FakeAmountResult:
    work_amount: np.ndarray
    work_probs: np.ndarray


class FakeAmountDetector:
    """Reads the blur amount from the loss of local contrast, deliberately wrong in scale: the fit must invert it.
    Streaks (gradients along one axis only) are called motion."""

    has_amount = True
    working_size = 96

    def __init__(self, val_stems):
        self.card = {"training": {"val_stems": list(val_stems)}}
        self.amount_calibration = "its own"  # must not be applied while fitting, and must be put back
        self.seen = []

    def predict(self, image, full_size=True):
        assert self.amount_calibration is None
        self.seen.append(image.shape)
        g = image.mean(-1)
        energy = cv2.blur(np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1)), (9, 9))
        raw = np.clip(0.6 / (energy + 0.05) - 0.5, 0, None).astype(np.float32)
        probs = np.zeros((*g.shape, 3), np.float32)
        probs[..., 1] = 1.0
        return FakeAmountResult(raw, probs)


def _textured_photo(folder, stem, seed):
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "gt").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (128, 96), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(folder / "images" / f"{stem}.png"), img)
    cv2.imwrite(str(folder / "gt" / f"{stem}.png"), np.zeros((96, 128), np.uint8))


def test_the_amount_is_fitted_on_training_photos_and_checked_half_against_half(tmp_path, monkeypatch):
    import blurtool.calibration as C

    monkeypatch.setattr(C, "AMOUNT_PHOTOS_PER_FOLDER", 6)
    for i in range(7):
        _textured_photo(tmp_path, f"sharp{i:04d}", i)
    det = FakeAmountDetector(["sharp0006"])  # held out: the amount benchmark's, never fitted on

    fit = C.calibrate_amount(det, [tmp_path])

    assert fit.photos == 6 and fit.folders == {str(tmp_path): 6} and det.amount_calibration == "its own"
    assert fit.readings == 6 * (1 + 2 * C.AMOUNT_KERNELS_PER_KIND) == len(det.seen)
    assert all(shape[:2] == (72, 96) for shape in det.seen)  # at the working size
    for half in fit.halves:  # a curve fitted on three photos reads the other three far better than the raw amount
        assert half["fitted_on"] == half["tested_on"] == 3
        assert half["calibrated"]["mae"] < 0.5 * half["raw"]["mae"]
        assert half["calibrated"]["level_accuracy"] >= half["raw"]["level_accuracy"]
    raw, cal = fit.calibration.defocus
    assert raw[0] == cal[0] == 0 and list(raw) == sorted(raw) and list(cal) == sorted(cal)


def test_an_amount_calibration_needs_an_amount_channel(tmp_path):
    from blurtool.calibration import calibrate_amount
    from blurtool.errors import WeightsError

    with pytest.raises(WeightsError, match="amount"):
        calibrate_amount(FakeDetector([]), [tmp_path])


def test_write_amount_stores_a_calibration_the_detector_applies(tmp_path):
    from blurtool.amount import AmountCalibration
    from blurtool.calibration import AmountFit, write_amount
    from blurtool.inference import BlurDetector

    path = tmp_path / "m.pt"
    save_weights(path, create_model(amount_head=True), {"threshold": 0.5, "working_size": 64})
    curve = AmountCalibration(((0.0, 2.0), (0.0, 4.0)), ((0.0, 2.0), (0.0, 6.0)))
    write_amount(path, AmountFit(curve, photos=5, readings=35, folders={}, halves=[]))
    _, card = load_weights(path)
    assert card["amount_calibration"]["defocus"] == [[0.0, 2.0], [0.0, 4.0]] and "5 photos" in card[
        "amount_calibration"]["note"]
    det = BlurDetector.from_weights(path, device="cpu")
    assert det.amount_calibration.defocus == curve.defocus and det.amount_calibration.motion == curve.motion
    # The maps it gives are the raw amount through the curve: compare with the same network uncalibrated.
    img = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    calibrated = det.predict(img, full_size=False)
    det.amount_calibration = None
    raw = det.predict(img, full_size=False)
    np.testing.assert_allclose(calibrated.work_amount, curve.apply(raw.work_amount, raw.work_probs), rtol=1e-5)
