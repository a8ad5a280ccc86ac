"""calibrate_threshold() with a fake detector whose maps are known, so the best threshold is known exactly."""

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from blurtool.calibration import calibrate_threshold, write_threshold
from blurtool.errors import InputError
from blurtool.model import create_model
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


def _photo(folder, stem, red_blurred, red_sharp):
    """8 x 8: the left half blurred in the ground truth; the map says red_blurred there, red_sharp elsewhere."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "gt").mkdir(parents=True, exist_ok=True)
    gt = np.zeros((8, 8), np.uint8)
    gt[:, :4] = 255
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
