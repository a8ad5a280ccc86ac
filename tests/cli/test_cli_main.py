"""The app shell (--help, --version, error handling) and the shared batch runner in blurtool.cli._batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from blurtool.cli import COMMANDS, _Group, app
from blurtool.cli._batch import (
    JsonOpt,
    MapProvider,
    OutDirOpt,
    OverwriteOpt,
    PhotosArg,
    RecursiveOpt,
    SharedOptions,
    run_batch,
    shared_options,
)
from blurtool.errors import InputError

runner = CliRunner()


def test_help_lists_commands_and_imports_no_heavy_module():
    code = (
        "import sys, blurtool.cli as c; "
        "print(sorted(m for m in ('torch', 'cv2', 'scipy', 'pymatting', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2]).stdout
    assert out.strip() == "[]"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    import importlib.util

    for name in COMMANDS:
        if importlib.util.find_spec(f"blurtool.cli.{name}") is not None:
            assert name in result.stdout


def test_version_and_python_m():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("blurtool ")
    proc = subprocess.run([sys.executable, "-m", "blurtool", "--version"], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2])
    assert proc.returncode == 0 and proc.stdout.startswith("blurtool ")


def _toy_app(calls: list) -> typer.Typer:
    """A command built on run_batch the way real commands are: writes a '.inv.png' (inverted photo)."""
    toy = typer.Typer(cls=_Group)

    @toy.command()
    def invert(photos: PhotosArg, out: OutDirOpt = None, recursive: RecursiveOpt = False,
               overwrite: OverwriteOpt = False, json_output: JsonOpt = False) -> None:
        from blurtool.io import read_image, write_image

        def process(job):
            calls.append(job.path)
            img = read_image(job.path)
            write_image(job.outputs["inv"], 1.0 - img)
            return {"mean": float(img.mean())}

        report = run_batch(photos, process, outputs={"inv": ".inv.png"}, out_dir=out, recursive=recursive,
                           overwrite=overwrite, json_output=json_output, columns=[("mean", "mean", "{:.2f}")])
        raise typer.Exit(report.exit_code)

    @toy.command()
    def other() -> None:
        raise InputError("some/file.jpg: a reason")

    return toy


def _png(path: Path, value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((8, 10, 3), value, np.uint8))
    return path


def test_batch_outputs_skip_overwrite_and_failures(tmp_path):
    calls: list = []
    toy = _toy_app(calls)
    a = _png(tmp_path / "a.png")
    b = _png(tmp_path / "b.png", 200)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")

    r = runner.invoke(toy, ["invert", str(a), str(bad), str(b), str(tmp_path / "missing.jpg")])
    assert r.exit_code == 1
    assert (tmp_path / "a.inv.png").exists() and (tmp_path / "b.inv.png").exists()
    assert not (tmp_path / "bad.inv.png").exists()
    assert "2 of 4 inputs failed" in r.stderr
    assert f"{bad}: not a JPEG" in r.stderr and "missing.jpg: file not found" in r.stderr
    assert "a.png" in r.stdout and "0.39" in r.stdout  # the table
    assert "Traceback" not in r.output

    # Second run: outputs exist -> skipped, unless --overwrite.
    calls.clear()
    r = runner.invoke(toy, ["invert", str(a), "--json"])
    assert r.exit_code == 0 and calls == []
    rec = json.loads(r.stdout.strip())
    assert rec["status"] == "skipped" and rec["outputs"]["inv"] == str(tmp_path / "a.inv.png")
    r = runner.invoke(toy, ["invert", str(a), "--json", "--overwrite"])
    rec = json.loads(r.stdout.strip())
    assert r.exit_code == 0 and calls == [a] and rec["status"] == "ok" and abs(rec["mean"] - 100 / 255) < 1e-6


def test_batch_folders_out_dir_and_own_outputs(tmp_path):
    calls: list = []
    toy = _toy_app(calls)
    src = tmp_path / "photos"
    _png(src / "x" / "1.png")
    _png(src / "y" / "1.png")
    _png(src / "x" / "1.jpg")  # same stem as 1.png in the same folder
    r = runner.invoke(toy, ["invert", str(src)])
    assert r.exit_code == 1 and "--recursive" in r.stderr

    out = tmp_path / "out"
    r = runner.invoke(toy, ["invert", str(src), "-r", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["x/1.inv.png", "x/1.png.inv.png", "y/1.inv.png"]

    # Outputs written next to the photos are not taken as photos on the next recursive run.
    calls.clear()
    r = runner.invoke(toy, ["invert", str(src), "-r"])
    assert r.exit_code == 0 and len(calls) == 3
    r = runner.invoke(toy, ["invert", str(src), "-r", "--json"])
    assert [json.loads(line)["status"] for line in r.stdout.splitlines()] == ["skipped"] * 3


def test_batch_never_overwrites_an_input(tmp_path):
    calls: list = []
    toy = _toy_app(calls)
    a = _png(tmp_path / "a.png", 10)
    victim = _png(tmp_path / "a.inv.png", 77)  # an input named like a's output
    r = runner.invoke(toy, ["invert", str(a), str(victim)])
    assert r.exit_code == 0, r.output
    assert cv2.imread(str(victim))[0, 0, 0] == 77  # untouched
    assert (tmp_path / "a.png.inv.png").exists() and (tmp_path / "a.inv.inv.png").exists()


def test_unwritable_out_dir_is_one_line(tmp_path):
    toy = _toy_app([])
    a = _png(tmp_path / "a.png")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = runner.invoke(toy, ["invert", str(a), "--out", str(blocker / "sub")])
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "cannot create the output folder" in r.stderr


def test_blurtool_error_is_one_red_line():
    r = runner.invoke(_toy_app([]), ["other"])
    assert r.exit_code == 1
    assert r.stderr == "error: some/file.jpg: a reason\n"


def test_map_provider_reads_saved_maps(tmp_path):
    from blurtool.io import write_labels, write_map

    blur = np.tile(np.linspace(0, 1, 10, dtype=np.float32), (8, 1))
    photo = tmp_path / "p.jpg"
    maps = tmp_path / "maps"
    maps.mkdir()
    write_map(maps / "p.blur.png", blur)
    write_labels(maps / "p.labels.png", (blur > 0.5).astype(np.uint8))
    image = np.zeros((8, 10, 3), np.float32)

    m = MapProvider(map_path=maps, threshold=0.4)(photo, image)
    np.testing.assert_allclose(m.blur, blur, atol=1 / 255)
    assert m.threshold == 0.4 and m.kind is not None and m.kind.sum() == 8 * 5

    single = MapProvider(map_path=maps / "p.blur.png", threshold=0.5)
    assert single(photo, image).blur.shape == (8, 10)
    with pytest.raises(InputError, match="one photo"):
        single(tmp_path / "other.jpg", image)
    with pytest.raises(InputError, match="photo is 11 x 8"):
        MapProvider(map_path=maps, threshold=0.5)(photo, np.zeros((8, 11, 3), np.float32))
    with pytest.raises(InputError, match="no saved blur map"):
        MapProvider(map_path=maps, threshold=0.5)(tmp_path / "q.jpg", image)


@pytest.mark.parametrize("command", ["segment", "matte", "magnify", "deblur", "detect", "eval"])
def test_fast_option_is_offered(command):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert "--fast" in result.stdout


def test_map_provider_fast_turns_the_mirrored_pass_off(tmp_path):
    from blurtool.model import create_model
    from blurtool.weights import save_weights

    path = tmp_path / "w.pt"
    save_weights(path, create_model("blurnet"), {"threshold": 0.5, "working_size": 64, "flip_average": True})
    assert MapProvider(weights=path, device="cpu").detector.flip_average
    assert not MapProvider(weights=path, device="cpu", fast=True).detector.flip_average


def test_library_parameters_are_shown_as_the_options_that_set_them():
    import typer.main

    from blurtool.cli._batch import options_named

    train = typer.main.get_command(app).get_command(None, "train")
    msg = "`val_share` 0:must be above 0; `crop` 48: a multiple of 32; `p_frames`, `rating`"
    assert options_named(msg, {"rating": "--xmp-rating"}, train) == (
        "--val-share 0:must be above 0; --crop 48: a multiple of 32; --p-frames, --xmp-rating"
    )
    assert options_named("no parameter named here, none `in` code") == "no parameter named here, none --in code"


SHARED_TAIL = ["--weights", "--device", "--working-size", "--fast", "--recursive", "--overwrite", "--json"]


@pytest.mark.parametrize(("command", "head", "threshold"), [
    ("detect", ["photos", "--out"], True),
    ("segment", ["photos", "--out", "--map"], False),
    ("matte", ["photos", "--out", "--map"], True),
    ("magnify", ["photos", "--out", "--map"], True),
    ("deblur", ["photos", "--out", "--map"], True),
])
def test_photo_commands_share_their_options_in_one_order(command, head, threshold):
    import typer.main

    params = typer.main.get_command(app).get_command(None, command).params
    names = [p.opts[0] if p.opts[0].startswith("-") else p.name for p in params]
    own = names[len(head): len(names) - len(SHARED_TAIL) - threshold]
    assert names == [*head, *own, *(["--threshold"] if threshold else []), *SHARED_TAIL]
    assert own and "shared" not in names


def test_shared_options_hand_the_command_one_object(tmp_path):
    toy, got = typer.Typer(), []

    @toy.command()
    @shared_options(threshold=False)
    def show(shared: SharedOptions, level: int = 3) -> None:
        """The toy's help."""
        got.append((shared, level))

    a, b = _png(tmp_path / "a.png"), str(tmp_path / "b.jpg")  # b: missing, still handed on (a is a photo)
    r = runner.invoke(toy, [str(a), b, "--level", "5", "-o", str(tmp_path), "--map", "m", "--json", "-r"])
    assert r.exit_code == 0, r.output
    (shared, level), = got
    assert level == 5 and shared.photos == [str(a), b] and shared.out == tmp_path
    assert shared.map_path == Path("m") and shared.json_output and shared.recursive and not shared.overwrite
    assert shared.device == "auto" and shared.threshold is None and shared.weights is None
    r = runner.invoke(toy, ["--help"])
    assert "The toy's help." in r.stdout and "--threshold" not in r.stdout and "--working-size" in r.stdout


def test_no_photo_at_all_is_reported_before_the_command_loads_anything(tmp_path):
    toy, got = typer.Typer(), []

    @toy.command()
    @shared_options()
    def show(shared: SharedOptions) -> None:
        got.append(shared)  # where a command loads its model

    (tmp_path / "empty").mkdir()
    _png(tmp_path / "only.blur.png")  # a folder holding only blurtool's outputs gives no photo either
    r = runner.invoke(toy, [str(tmp_path / "typo.jpg"), str(tmp_path / "empty"), str(tmp_path / "*.png")])
    assert r.exit_code == 1 and not got
    assert "typo.jpg: file not found" in r.stderr and "empty" in r.stderr
    assert runner.invoke(toy, [str(tmp_path / "typo.jpg"), str(tmp_path / "only.blur.png")]).exit_code == 0 and got
