import dataclasses

from typer.testing import CliRunner

from blurtool.cli import app
from blurtool.train.config import TrainConfig
from blurtool.weights import load_weights

runner = CliRunner()


def test_every_train_config_field_is_an_option():
    result = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for f in dataclasses.fields(TrainConfig):
        assert "--" + f.name.replace("_", "-") in result.output


def test_train_runs_two_steps_and_prints_the_weights_path(cuhk_folder, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--data", str(cuhk_folder), "--encoder-init", "", "--out", str(out), "--steps", "2",
            "--batch-size", "2", "--crop", "64", "--working-size", "128", "--val-count", "2", "--val-every", "2",
            "--workers", "0", "--warmup-steps", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("best.pt")
    _, card = load_weights(out / "best.pt")
    assert card["training"]["steps"] == 2


def test_missing_data_folder_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "nope"), "--encoder-init", ""])
    assert result.exit_code == 1
    assert "training folder not found" in result.output
    assert "Traceback" not in result.output


def test_sample_shares_past_one_are_a_one_line_error(cuhk_folder, tmp_path):
    args = ["train", "--data", str(cuhk_folder), "--encoder-init", "", "--out", str(tmp_path / "run"),
            "--p-mixed", "0.6", "--p-receding", "0.5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "sum to at most 1" in result.output and "--p-receding 0.5" in result.output
    assert not (tmp_path / "run").exists()  # refused before anything is written
