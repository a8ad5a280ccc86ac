"""`blurtool eval` through Typer's CliRunner, with a fake detector in place of the network."""

import json
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import blurtool.cli.eval as eval_cli
from blurtool.cli import app

runner = CliRunner()


@dataclass
class _Result:
    blur: np.ndarray
    kind: np.ndarray
    threshold: float
    probs: None = None


class _Detector:
    """Blur map = red channel of the photo; blurred pixels are called motion."""

    def __init__(self, threshold):
        self.threshold = 0.5 if threshold is None else threshold

    def predict(self, image):
        blur = image[..., 0].astype(np.float32)
        return _Result(blur, np.where(blur >= self.threshold, 2, 0).astype(np.uint8), self.threshold)


@pytest.fixture
def data(tmp_path, monkeypatch):
    """motion0001 (left half blurred, found exactly), out_of_focus0001 (top row blurred, half of it found)."""
    root = tmp_path / "cuhk"
    (root / "images").mkdir(parents=True)
    (root / "gt").mkdir()
    for stem, gt, found in [
        ("motion0001", np.s_[:, :2], np.s_[:, :2]),
        ("out_of_focus0001", np.s_[0, :], np.s_[0, :2]),
    ]:
        g = np.zeros((4, 4), np.uint8)
        g[gt] = 255
        red = np.full((4, 4), 20, np.uint8)
        red[found] = 230
        cv2.imwrite(str(root / "images" / f"{stem}.png"), np.stack([np.zeros_like(red)] * 2 + [red], -1))
        cv2.imwrite(str(root / "gt" / f"{stem}.png"), g)
    card = {"threshold": 0.5, "training": {"val_stems": ["out_of_focus0001"]}}
    monkeypatch.setattr(eval_cli, "_load_detector", lambda w, d, t, s, fast=False: (_Detector(t), card))
    return root


def test_table_output(data):
    r = runner.invoke(app, ["eval", str(data)])
    assert r.exit_code == 0, r.output
    for word in ("accuracy", "motion", "defocus", "kind accuracy", "0.9375"):  # (1 + 14/16) / 2 = 0.9375
        assert word in r.stdout


def test_json_split_val_and_pr_curve(data, tmp_path):
    png = tmp_path / "pr.png"
    r = runner.invoke(app, ["eval", str(data), "--json", "--split", "val", "--pr-curve", str(png)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["split"] == "val" and d["all"]["images"] == 1
    assert d["all"]["accuracy"] == pytest.approx(14 / 16)
    assert set(d) >= {"all", "defocus"} and "motion" not in d
    assert [i["name"] for i in d["images"]] == ["out_of_focus0001"]
    assert cv2.imread(str(png)) is not None


def test_threshold_and_list(data, tmp_path):
    lst = tmp_path / "stems.txt"
    lst.write_text("motion0001\n")
    r = runner.invoke(app, ["eval", str(data), "--json", "--list", str(lst), "--threshold", "0.95"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["threshold"] == 0.95 and d["all"]["recall"] == 0.0 and d["all"]["images"] == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["{root}/nowhere"], "folder not found"),
        (["{root}/images"], "no images/ folder"),
        (["{root}", "--list", "{root}/missing.txt"], "list file not found"),
        (["{root}", "--list", "{root}/gt/motion0001.png", "--split", "val"], "either --list or --split val"),
    ],
)
def test_bad_input_is_one_red_line(data, args, message):
    r = runner.invoke(app, ["eval", *(a.format(root=data) for a in args)])
    assert r.exit_code == 1
    assert message in r.stderr
    assert "Traceback" not in r.output and len(r.stderr.strip().splitlines()) == 1


def test_card_without_validation_stems(data, monkeypatch):
    monkeypatch.setattr(eval_cli, "_load_detector", lambda w, d, t, s, fast=False: (_Detector(t), {"threshold": 0.5}))
    r = runner.invoke(app, ["eval", str(data), "--split", "val"])
    assert r.exit_code == 1 and "val_stems" in r.stderr


def test_missing_weights_file_is_one_red_line(tmp_path):
    # the real loader (no fake): the folder is checked first, then the weights
    root = tmp_path / "cuhk"
    (root / "images").mkdir(parents=True)
    (root / "gt").mkdir()
    cv2.imwrite(str(root / "images" / "motion0001.png"), np.zeros((4, 4, 3), np.uint8))
    cv2.imwrite(str(root / "gt" / "motion0001.png"), np.zeros((4, 4), np.uint8))
    r = runner.invoke(app, ["eval", str(root), "--weights", str(tmp_path / "missing.pt")])
    assert r.exit_code == 1 and "weights file not found" in r.stderr
    assert "Traceback" not in r.output


def test_split_val_measures_only_the_held_out_images_of_this_folder(data, monkeypatch):
    # A card of a model trained on several folders names held-out images of each; another folder's are skipped.
    card = {"threshold": 0.5, "training": {"val_stems": ["out_of_focus0001", "sharp_photo_elsewhere"]}}
    monkeypatch.setattr(eval_cli, "_load_detector", lambda w, d, t, s, fast=False: (_Detector(t), card))
    r = runner.invoke(app, ["eval", str(data), "--json", "--split", "val"])
    assert r.exit_code == 0, r.output
    assert [i["name"] for i in json.loads(r.stdout)["images"]] == ["out_of_focus0001"]
    card["training"]["val_stems"] = ["sharp_photo_elsewhere"]
    r = runner.invoke(app, ["eval", str(data), "--split", "val"])
    assert r.exit_code == 1 and "none of the validation images" in r.stderr


def test_amount_needs_weights_with_an_amount_channel_and_reports_the_benchmark(data, weights, tmp_path, monkeypatch):
    r = runner.invoke(app, ["eval", str(data), "--amount"])  # the fake detector has no amount channel
    assert r.exit_code != 0 and "no blur-amount channel" in r.output
    # A real (tiny, untrained) network with the channel: the plumbing, not the figures, is under test. The fixture's
    # 4 x 4 photos are too small to read an amount from, so use photos of a size the network can see.
    root = tmp_path / "big"
    for d in ("images", "gt"):
        (root / d).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for stem in ("out_of_focus1", "out_of_focus2"):
        cv2.imwrite(str(root / "images" / f"{stem}.png"),
                    cv2.resize(np.uint8(rng.random((24, 32, 3)) * 255), (128, 96), interpolation=cv2.INTER_NEAREST))
        cv2.imwrite(str(root / "gt" / f"{stem}.png"), np.zeros((96, 128), np.uint8))
    from blurtool.inference import BlurDetector

    real = BlurDetector.from_weights(weights, device="cpu")
    monkeypatch.setattr(eval_cli, "_load_detector", lambda w, d, t, s, fast=False: (real, {}))
    r = runner.invoke(app, ["eval", str(root), "--amount", "--json"])
    assert r.exit_code == 0, r.output
    amount = json.loads(r.stdout)["amount"]
    assert amount["images"] == 2 and amount["cases"] == 20
    assert set(amount) >= {"spearman", "mae", "level_accuracy", "no_saturation"}
    r = runner.invoke(app, ["eval", str(root), "--amount"])
    assert r.exit_code == 0 and "Blur amount, 2 photos" in r.stdout
