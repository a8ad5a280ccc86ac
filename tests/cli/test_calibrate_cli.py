"""`blurtool calibrate` on the weights of a tiny training run (its held-out photos are in the card)."""

import json

import pytest
from typer.testing import CliRunner

from blurtool.cli import app
from blurtool.weights import load_weights

runner = CliRunner()


@pytest.fixture
def trained(cuhk_folder, tmp_path):
    """A one-step run without calibration: its card holds the training default threshold."""
    out = tmp_path / "run"
    args = ["train", "--data", str(cuhk_folder), "--encoder-init", "", "--out", str(out), "--steps", "1",
            "--batch-size", "2", "--crop", "64", "--working-size", "128", "--val-share", "0.4", "--workers", "0",
            "--warmup-steps", "1", "--no-calibrate"]
    assert runner.invoke(app, args).exit_code == 0
    return out / "latest-weights.pt"


def test_train_without_calibration_keeps_the_default_threshold(trained):
    _, card = load_weights(trained)
    assert card["threshold"] == 0.5 and "threshold_note" not in card
    assert card["flip_average"] is True


def test_dry_run_reports_and_leaves_the_file(trained, cuhk_folder):
    before = trained.read_bytes()
    result = runner.invoke(app, ["calibrate", str(trained), "--data", str(cuhk_folder), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["written"] is False and report["images"] == 2 and 0 < report["threshold"] <= 1
    assert trained.read_bytes() == before


def test_calibrate_writes_the_threshold_into_the_card(trained, cuhk_folder):
    result = runner.invoke(app, ["calibrate", str(trained), "--data", str(cuhk_folder), "--json"])
    assert result.exit_code == 0, result.output
    threshold = json.loads(result.stdout)["threshold"]
    _, card = load_weights(trained)
    assert card["threshold"] == threshold and "blurtool calibrate" in card["threshold_note"]


def test_a_folder_without_held_out_photos_is_one_line(trained, tmp_path):
    (tmp_path / "other" / "images").mkdir(parents=True)
    result = runner.invoke(app, ["calibrate", str(trained), "--data", str(tmp_path / "other")])
    assert result.exit_code == 1
    assert "held-out photo" in result.output and "Traceback" not in result.output
