"""What a demanding user tries (issue 18): files blurtool must not replace, symlink cycles, destinations that cannot
be written, foreign files given to --undo, impossible options, interrupted runs, piped output. Every case ends with
one clear line per problem and never a traceback.

Fast on purpose: tiny images built here, saved maps (segment --map) or a fake detector (rank) instead of the
network, except for the `detect` cases, which use a small random BlurNet. Running as root (where chmod does not stop
writes), "cannot be written" is made with a path whose parent is a file; the chmod variant is skipped then.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "library"))
from rank_fakes import FakeDetector, library
from test_cli_main import _png

import blurtool.cli.rank as rank_cli
from blurtool.cli import _Group, app
from blurtool.cli._batch import OutDirOpt, OverwriteOpt, PhotosArg, RecursiveOpt, run_batch
from blurtool.errors import InputError
from blurtool.io import write_map

runner = CliRunner()
REPO = Path(__file__).parents[2]


def no_traceback(r) -> None:
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output


def errors(r) -> list[str]:
    return [line for line in r.stderr.splitlines() if line.startswith("error:")]


def detect(*args):
    return runner.invoke(app, ["detect", *map(str, args), "--device", "cpu"])


def segment_with_maps(tmp_path, *photos: Path, extra=()):
    """segment --map: the maps are all-blurred-right-half maps of each photo's size, saved in tmp_path/maps."""
    maps = tmp_path / "maps"
    maps.mkdir(exist_ok=True)
    for p in photos:
        img = cv2.imread(str(p)) if p.is_file() else None
        if img is not None:
            h, w = img.shape[:2]
            blur = np.zeros((h, w), np.float32)
            blur[:, w // 2:] = 1
            write_map(maps / f"{p.stem}.blur.png", blur)
    return runner.invoke(app, ["segment", *map(str, photos), "--map", str(maps), "--no-grabcut", *map(str, extra)])


# ------------------------------------------------------------------------- 2, 3: files blurtool did not write


def test_a_foreign_file_at_an_output_path_is_never_replaced(weights, tmp_path):
    photo = _png(tmp_path / "part" / "LadyBird.png")
    notes = tmp_path / "part" / "LadyBird.overlay.jpg"
    notes.write_text("notes\n")
    r = detect(photo, "--weights", weights)
    no_traceback(r)
    assert r.exit_code == 1
    assert notes.read_text() == "notes\n"
    assert not (tmp_path / "part" / "LadyBird.blur.png").exists()  # the photo is refused whole, not half-written
    line = errors(r)[0]
    assert str(photo) in line and str(notes) in line and "--overwrite" in line
    r = detect(photo, "--weights", weights, "--overwrite")
    assert r.exit_code == 0, r.output
    assert notes.read_bytes()[:2] == b"\xff\xd8"  # asked for: replaced by the overlay


def test_a_partial_set_is_refused_by_every_command_but_a_complete_one_is_skipped(tmp_path):
    photo = _png(tmp_path / "a.png")
    cutout = tmp_path / "a.cutout.png"
    cutout.write_bytes(b"mine")
    r = segment_with_maps(tmp_path, photo)
    no_traceback(r)
    assert r.exit_code == 1 and cutout.read_bytes() == b"mine" and not (tmp_path / "a.mask.png").exists()
    assert f"{photo}: {cutout} already exists" in errors(r)[0]
    cutout.unlink()
    assert segment_with_maps(tmp_path, photo).exit_code == 0
    r = segment_with_maps(tmp_path, photo, extra=["--json"])
    assert r.exit_code == 0 and json.loads(r.stdout.splitlines()[-1])["status"] == "skipped"


def test_a_photo_named_like_an_output_is_reported_and_never_overwritten(weights, tmp_path):
    d = tmp_path / "d"
    _png(d / "Trip.png", 50)
    trip_overlay = _png(d / "Trip.overlay.png", 90)  # a photo, not an output (detect writes .overlay.jpg)
    _png(d / "Walk.jpg", 70)
    walk_overlay = d / "Walk.overlay.jpg"
    cv2.imwrite(str(walk_overlay), np.full((8, 10, 3), 200, np.uint8))  # the user's photo at Walk's output path
    before = walk_overlay.read_bytes()
    orphan = _png(d / "Beach.blur.png", 10)  # no Beach photo here: surely not an output
    r = detect(d, "--recursive", "--weights", weights)
    no_traceback(r)
    assert walk_overlay.read_bytes() == before
    assert f"left out {orphan}" in r.stderr  # each left-out file is reported
    assert "left out 2 files named like outputs of these photos" in r.stderr
    assert any(str(walk_overlay) in line and "Walk.jpg" in line for line in errors(r))
    assert (d / "Trip.blur.png").exists() and cv2.imread(str(trip_overlay))[0, 0, 0] == 90


def test_an_output_never_lands_on_a_named_input_even_with_overwrite(tmp_path):
    a = _png(tmp_path / "a.png", 10)
    victim = _png(tmp_path / "a.mask.png", 77)
    r = segment_with_maps(tmp_path, a, victim, extra=["--overwrite"])
    no_traceback(r)
    assert cv2.imread(str(victim))[0, 0, 0] == 77
    assert (tmp_path / "a.png.mask.png").exists()


# ----------------------------------------------------------------------------------------- 4: symlink cycles


def _loop(tmp_path) -> Path:
    loop = tmp_path / "loop"
    _png(loop / "a" / "x.jpg")
    _png(loop / "top.jpg")
    os.symlink("..", loop / "a" / "up")
    os.symlink(".", loop / "a" / "self")
    return loop


def _isolated(code: str, cwd: Path, timeout: float = 30) -> list:
    """Run `code` in a fresh interpreter (a regression would loop and eat memory: it is killed at the timeout);
    its last stdout line is JSON."""
    prelude = f"import sys, json; sys.path[:0] = [{str(REPO)!r}, {str(REPO / 'tests' / 'library')!r}]\n"
    out = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=cwd, capture_output=True,
                         text=True, timeout=timeout, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_globs_and_folder_walks_end_on_symlink_cycles_and_visit_each_file_once(tmp_path):
    _loop(tmp_path)
    found = _isolated("""
        from blurtool.io import iter_images
        print(json.dumps([[str(p) for p in iter_images([a], True)] for a in ("loop/**/*.jpg", "loop", "loop/**")]))
    """, tmp_path)
    assert found == [["loop/a/x.jpg", "loop/top.jpg"]] * 3


def test_rank_and_detect_on_a_symlink_cycle(tmp_path):
    _loop(tmp_path)
    rows = _isolated("""
        from typer.testing import CliRunner
        from rank_fakes import FakeDetector
        import blurtool.cli.rank as rank_cli
        from blurtool.cli import app
        rank_cli._load_detector = lambda *a, **k: FakeDetector()
        r = CliRunner().invoke(app, ["rank", "loop/**/*.jpg", "--recursive", "--json"])
        assert r.exit_code == 0, r.output
        print(json.dumps(sorted(json.loads(x)["path"] for x in r.stdout.splitlines())))
    """, tmp_path)
    assert rows == ["loop/a/x.jpg", "loop/top.jpg"]


# ------------------------------------------------------------------------------- 6: destinations not writable


def test_rank_move_into_a_folder_that_cannot_be_made_stops_before_scoring(tmp_path, fake):
    library(tmp_path / "lib")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for option in ("--move", "--copy", "--csv", "--sheet", "--log"):
        target = blocker / ("sorted" if option in ("--move", "--copy") else "out.html")
        extra = ["--move", tmp_path / "s"] if option == "--log" else []
        r = runner.invoke(app, ["rank", str(tmp_path / "lib"), option, str(target), *map(str, extra)])
        no_traceback(r)
        assert r.exit_code == 1 and r.stderr.count("\n") == 1 and str(blocker) in r.stderr, r.stderr
    assert fake.calls == 0 and len(list((tmp_path / "lib").iterdir())) == 4


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root writes anywhere")
def test_rank_move_into_a_read_only_folder_stops_before_scoring(tmp_path, fake):
    library(tmp_path / "lib")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        r = runner.invoke(app, ["rank", str(tmp_path / "lib"), "--move", str(ro / "sorted")])
    finally:
        ro.chmod(0o700)
    assert r.exit_code == 1 and "cannot write" in r.stderr and fake.calls == 0


def test_a_failed_move_is_one_line_and_the_others_go_on(tmp_path, fake):
    lib = library(tmp_path / "lib")
    dest = tmp_path / "sorted"
    dest.mkdir()
    (dest / "bad-blur").write_text("a file where the bad-blur folder should be")
    r = runner.invoke(app, ["rank", str(tmp_path / "lib"), "--move", str(dest), "--json"])
    no_traceback(r)
    assert r.exit_code == 1
    shake = lib.pop("bad-blur")
    assert shake.exists()
    assert all((dest / v / p.name).is_file() for v, p in lib.items())
    mine = [line for line in errors(r) if str(shake) in line]
    assert len(mine) == 2 and "cannot move" in mine[0]  # as it happened, and in the list at the end


# ------------------------------------------------------------------------------------ 7: foreign --undo files


@pytest.mark.parametrize("content, where", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)), ":1:"),  # a JPEG
    (b'{"v": 1, "op": "move", "state": "begin", "id": "x", "dst": "b.jpg", "size": 1, "mtime_ns": 1}\n', ":1:"),
    (b'{"v": 1, "op": "mkdir"}\n', ":1:"),
    (b'{"v": 1, "op": "tmp", "id": "x", "tmp": "t"}\n{"op": "move", "state": "done"}\n', ":2:"),
    (b"[1, 2]\n", ":1:"),
    (b"hello\nworld\n", ":1:"),
])
def test_undo_of_a_file_that_is_not_a_log_names_the_file_and_line(tmp_path, content, where):
    log = tmp_path / "not-a-log.jsonl"
    log.write_bytes(content)
    r = runner.invoke(app, ["rank", "--undo", str(log)])
    no_traceback(r)
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and f"{log}{where}" in r.stderr, r.stderr


# ------------------------------------------------------------------------------------------ 8, 9: messages


def test_rank_into_the_library_itself_says_what_is_wrong(tmp_path, fake):
    lib = library(tmp_path / "lib")
    for dest in (tmp_path / "lib", tmp_path):
        r = runner.invoke(app, ["rank", str(tmp_path / "lib"), "--move", str(dest)])
        no_traceback(r)
        assert r.exit_code == 1 and "inside the sorting destination" in r.stderr, r.stderr
        assert "contains no images" not in r.stderr
    assert all(p.exists() for p in lib.values()) and fake.calls == 0


def test_every_per_photo_error_names_its_photo(tmp_path, monkeypatch):
    tiny = _png(tmp_path / "one.png")
    cv2.imwrite(str(tiny), np.zeros((1, 1, 3), np.uint8))
    r = segment_with_maps(tmp_path, tiny)
    no_traceback(r)
    assert r.exit_code == 1 and errors(r)[0].startswith(f"error: {tiny}: ") and "too small" in r.stderr

    class Failing(FakeDetector):
        def predict(self, image, full_size=True):
            raise InputError("the network refused this one")

    monkeypatch.setattr(rank_cli, "_load_detector", lambda *a, **k: Failing())
    library(tmp_path / "lib")
    r = runner.invoke(app, ["rank", str(tmp_path / "lib"), "--workers", "1"])
    no_traceback(r)
    assert r.exit_code == 1
    assert len({line for line in errors(r)}) == 4
    assert all(".png: the network refused" in line for line in errors(r))


# ---------------------------------------------------------------------------------- 10: failures, as they come


def test_failures_are_printed_as_they_happen_and_listed_at_the_end(tmp_path, fake):
    good = _png(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    r = segment_with_maps(tmp_path, bad, good, tmp_path / "missing.png")
    lines = r.stderr.splitlines()
    summary = next(i for i, line in enumerate(lines) if "2 of 3 inputs failed" in line)
    for name in ("bad.png", "missing.png"):
        at = [i for i, line in enumerate(lines) if line.startswith("error:") and name in line]
        assert len(at) == 2 and at[0] < summary < at[1], r.stderr

    library(tmp_path / "lib")
    (tmp_path / "lib" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    r = runner.invoke(app, ["rank", str(tmp_path / "lib")])
    lines = r.stderr.splitlines()
    at = [i for i, line in enumerate(lines) if "broken.jpg" in line]
    summary = next(i for i, line in enumerate(lines) if "input(s) failed" in line)
    assert len(at) == 2 and at[0] < summary < at[1], r.stderr


# ----------------------------------------------------------------------------------- 11: impossible options


def test_an_impossible_option_combination_is_one_line_before_any_work(tmp_path):
    photos = [_png(tmp_path / f"p{i}.png") for i in range(3)]
    r = segment_with_maps(tmp_path, *photos, extra=["--sure-sharp-below", "0.9", "--sure-blurred-from", "0.1"])
    no_traceback(r)
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "thresholds" in r.stderr
    assert not list(tmp_path.glob("*.mask.png"))
    # one saved map for several photos
    r = runner.invoke(app, ["segment", *map(str, photos), "--map", str(tmp_path / "maps" / "p0.blur.png")])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "map of one photo" in r.stderr
    assert not list(tmp_path.glob("*.mask.png"))


@pytest.mark.parametrize("command", ["detect", "segment", "matte", "magnify", "deblur", "rank", "eval"])
def test_an_empty_device_is_an_error_not_auto(tmp_path, command):
    r = runner.invoke(app, [command, str(_png(tmp_path / "a.png")), "--device", ""])
    no_traceback(r)
    assert r.exit_code == 1 and "unknown device ''" in r.stderr, r.output


# -------------------------------------------------------------------------- 12: pipes, help, Ctrl-C


def test_a_piped_table_keeps_file_names_whole(tmp_path, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    photo = _png(tmp_path / ("a-rather-long-folder-name-" * 4) / ("IMG_2024-06-01_holiday-at-the-sea-" * 3 + ".png"))
    r = segment_with_maps(tmp_path, photo)
    assert r.exit_code == 0, r.output
    assert any(str(photo) in line for line in r.stdout.splitlines())


def test_help_shows_the_model_cards_values(monkeypatch):
    from blurtool.weights import default_weights_path

    card = json.loads(default_weights_path().with_suffix(".json").read_text())
    out = subprocess.run([sys.executable, "-m", "blurtool", "detect", "--help"], cwd=REPO, capture_output=True,
                         text=True, env={**os.environ, "COLUMNS": "250"}, check=True).stdout
    assert f"({card['threshold']} in blurnet.pt)" in out and f"({card['working_size']} in blurnet.pt)" in out


def _interruptible_app(calls: list) -> typer.Typer:
    """A batch command writing two outputs per photo that gets Ctrl-C half-way through its second photo."""
    toy = typer.Typer(cls=_Group)

    @toy.command()
    def two(photos: PhotosArg, out: OutDirOpt = None, recursive: RecursiveOpt = False,
            overwrite: OverwriteOpt = False) -> None:
        from blurtool.io import read_image, write_image

        def process(job):
            calls.append(job.path)
            img = read_image(job.path)
            write_image(job.outputs["a"], img)
            if len(calls) == 2:
                raise KeyboardInterrupt
            write_image(job.outputs["b"], img)

        raise typer.Exit(run_batch(photos, process, outputs={"a": ".a.png", "b": ".b.png"}, out_dir=out,
                                   recursive=recursive, overwrite=overwrite).exit_code)

    return toy


def test_ctrl_c_says_interrupted_and_what_was_kept(tmp_path):
    calls: list = []
    photos = [_png(tmp_path / f"p{i}.png") for i in range(3)]
    r = runner.invoke(_interruptible_app(calls), list(map(str, photos)))
    no_traceback(r)
    assert r.exit_code == 130
    assert "interrupted" in r.stderr and "1 photo finished" in r.stderr and "1 not started" in r.stderr
    assert (tmp_path / "p0.a.png").exists() and (tmp_path / "p0.b.png").exists()
    assert not (tmp_path / "p1.a.png").exists()  # the unfinished photo's outputs are gone: all or nothing
    # so that a re-run takes it as new rather than refusing a partial set
    r = runner.invoke(_interruptible_app([None, None]), list(map(str, photos)))
    assert r.exit_code == 0, r.output
    assert all((tmp_path / f"p{i}.b.png").exists() for i in range(3))


def test_ctrl_c_while_rank_moves_says_what_was_moved_and_exits_130(tmp_path, fake, monkeypatch):
    from blurtool.library import sort as library_sort

    library(tmp_path / "lib")
    real, calls = library_sort._do_one, []

    def do_one(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(library_sort, "_do_one", do_one)
    r = runner.invoke(app, ["rank", str(tmp_path / "lib"), "--move", str(tmp_path / "sorted")])
    no_traceback(r)
    assert r.exit_code == 130 and "interrupted" in r.stderr and "moved 1 photo(s)" in r.stderr
    assert len(list((tmp_path / "lib").iterdir())) == 3


# -------------------------------------------------------------------------------- no traceback, whatever given


@pytest.mark.parametrize("args", [
    ["detect", "{tmp}/nope.jpg", "--weights", "{tmp}/f.png"],
    ["segment", "{tmp}", "--map", "{tmp}", "--out", "{tmp}/f.png"],
    ["segment", "{tmp}/f.png", "--map", "{tmp}/nope"],
    ["matte", "{tmp}/f.png", "--background", "nope.jpg"],
    ["magnify", "{tmp}/f.png", "--strength", "-3"],
    ["deblur", "{tmp}/f.png", "--kernel", "{tmp}/nope.png"],
    ["rank", "{tmp}/f.png", "--move", "{tmp}/f.png"],
    ["rank", "--undo", "{tmp}/f.png"],
    ["rank", "{tmp}/nope/**/*.jpg", "--recursive"],
])
def test_no_user_input_gives_a_traceback(tmp_path, args):
    _png(tmp_path / "f.png")
    r = runner.invoke(app, [a.format(tmp=tmp_path) for a in args])
    no_traceback(r)
    assert r.exit_code in (1, 2) and r.stderr.strip(), r.output
