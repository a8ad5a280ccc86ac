import dataclasses

import pytest
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
            "--batch-size", "2", "--crop", "64", "--working-size", "128", "--val-share", "0.4", "--val-every", "2",
            "--workers", "0", "--warmup-steps", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("best.pt")
    _, card = load_weights(out / "best.pt")
    assert card["training"]["steps"] == 2
    # Calibrated at the end on the held-out photos of the run (2 of the 5).
    assert "blurtool calibrate" in card["threshold_note"] and "2 photos" in card["threshold_note"]
    assert "calibrated on 2 held-out photos" in result.stderr


def test_missing_data_folder_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "nope"), "--encoder-init", ""])
    assert result.exit_code == 1
    assert "training folder not found" in result.output
    assert "Traceback" not in result.output


def test_sample_shares_past_one_are_a_one_line_error(cuhk_folder, tmp_path):
    args = ["train", "--data", str(cuhk_folder), "--encoder-init", "", "--out", str(tmp_path / "run"),
            "--p-mixed", "0.6", "--p-frames", "0.5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "sum to at most 1" in result.output and "--p-frames 0.5" in result.output
    assert not (tmp_path / "run").exists()  # refused before anything is written


def _args(cuhk_folder, out, *extra):
    return ["train", "--data", str(cuhk_folder), "--encoder-init", "", "--out", str(out), "--steps", "1",
            "--batch-size", "2", "--crop", "64", "--working-size", "128", "--val-share", "0.4", "--workers", "0",
            "--warmup-steps", "1", *extra]


@pytest.mark.parametrize(
    "extra,message",
    [(["--steps", "0"], "--steps 0: nothing to train"), (["--steps", "-1"], "--steps -1: must be at least 0"), (["--batch-size", "0"], "--batch-size"),
     (["--crop", "0"], "--crop"), (["--val-share", "0"], "--val-share"), (["--workers", "-1"], "--workers"),
     (["--val-every", "0"], "--val-every"), (["--lr", "-1"], "--lr"), (["--resume"], "no last.pt"),
     (["--val-share", "0.01"], "cannot be split")],
)
def test_bad_options_are_one_line_errors_and_write_nothing(cuhk_folder, tmp_path, extra, message):
    result = runner.invoke(app, _args(cuhk_folder, tmp_path / "run", *extra))
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_a_second_run_into_the_same_folder_is_refused(cuhk_folder, tmp_path):
    out = tmp_path / "run"
    assert runner.invoke(app, _args(cuhk_folder, out)).exit_code == 0
    best = (out / "best.pt").read_bytes()
    result = runner.invoke(app, _args(cuhk_folder, out))
    assert result.exit_code == 1 and "already holds a training run" in result.output
    assert (out / "best.pt").read_bytes() == best


def test_a_text_file_as_encoder_init_or_init_is_one_line(cuhk_folder, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for flag in ("--encoder-init", "--init"):
        args = _args(cuhk_folder, tmp_path / "run")
        args[args.index("--encoder-init") : args.index("--encoder-init") + 2] = [flag, str(text)]
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert str(text.name) in result.output


def test_two_init_files_and_zero_steps_average_them_into_a_calibrated_run(cuhk_folder, tmp_path):
    for name, seed in (("a", "0"), ("b", "1")):
        result = runner.invoke(app, _args(cuhk_folder, tmp_path / name, "--seed", seed))
        assert result.exit_code == 0, result.output
    args = _args(cuhk_folder, tmp_path / "soup", "--init", str(tmp_path / "a" / "best.pt"),
                 "--init", str(tmp_path / "b" / "best.pt"))
    args[args.index("--steps") + 1] = "0"
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    _, card = load_weights(tmp_path / "soup" / "best.pt")
    assert card["training"]["steps"] == 0 and len(card["training"]["init"]) == 2
    assert "calibrated on 2 held-out photos" in result.stderr
