"""`blurtool rank` through typer's CliRunner, with a fake detector (the red channel is the blur map)."""

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "library"))
from rank_fakes import AmountDetector, FakeDetector, library, photo, write

import blurtool.cli.rank as rank_cli
from blurtool.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["rank", *map(str, args)])


def lines(result):
    return [json.loads(x) for x in result.stdout.splitlines() if x.strip()]


def test_rank_folder_json_sorted_by_degree(tmp_path, fake):
    lib = library(tmp_path / "lib")
    r = run(tmp_path / "lib", "--json")
    assert r.exit_code == 0, r.output
    rows = lines(r)
    assert [x["rank"] for x in rows] == [1, 2, 3, 4]
    assert [x["degree"] for x in rows] == sorted((x["degree"] for x in rows), reverse=True)
    assert {Path(x["path"]).name: x["verdict"] for x in rows} == {p.name: v for v, p in lib.items()}
    for key in ("sharp_fraction", "defocus_fraction", "motion_fraction", "subject_area", "reason", "width"):
        assert key in rows[0]


def test_by_verdict_top_and_csv(tmp_path, fake):
    library(tmp_path / "lib")
    r = run(tmp_path / "lib", "--by", "verdict", "--top", "2", "--json", "--csv", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    assert [x["verdict"] for x in lines(r)] == ["bad-blur", "ok-blur"]
    with open(tmp_path / "s.csv") as f:
        rows = list(csv.DictReader(f))
    assert [x["verdict"] for x in rows] == ["bad-blur", "ok-blur"] and "subject_offset" in rows[0]
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "s.csv").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_detect_outputs_next_to_the_photos_are_not_ranked(tmp_path, fake):
    # Every picture `blurtool detect --save` can write next to a photo (the amount map included) is left out when
    # rank expands the folder, so detect then rank on one folder ranks the photos only.
    from blurtool.cli.detect import SAVE_CHOICES

    lib = library(tmp_path / "lib")
    stem = lib["good-blur"].with_suffix("")
    suffixes = [s for files in SAVE_CHOICES.values() for s in files.values() if s.endswith((".png", ".jpg"))]
    assert ".amount.png" in suffixes
    for suffix in suffixes:
        write(Path(str(stem) + suffix), photo(np.ones((96, 128), bool)))
    r = run(tmp_path / "lib", "--json")
    assert r.exit_code == 0, r.output
    assert sorted(Path(x["path"]).name for x in lines(r)) == sorted(p.name for p in lib.values())


def test_table_output_and_rule_option(tmp_path, fake):
    lib = library(tmp_path / "lib")
    r = run(lib["ok-blur"], "--no-blur-max", "0.2")
    assert r.exit_code == 0, r.output
    assert "no-blur" in r.stdout and "ok-blur" not in r.stdout


def test_move_dry_run_then_move_then_undo(tmp_path, fake):
    lib = library(tmp_path / "lib")
    before = sorted(p.name for p in (tmp_path / "lib").iterdir())
    r = run(tmp_path / "lib", "--move", tmp_path / "sorted", "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == before and not (tmp_path / "sorted").exists()
    log = tmp_path / "moves.jsonl"
    r = run(tmp_path / "lib", "--move", tmp_path / "sorted", "--log", log, "--json")
    assert r.exit_code == 0, r.output
    for verdict, p in lib.items():
        assert (tmp_path / "sorted" / verdict / p.name).is_file() and not p.exists()
    assert {Path(x["sorted_to"]).parent.name for x in lines(r)} == set(lib)
    r = run("--undo", log, "--dry-run")
    assert r.exit_code == 0 and "would restore 4" in r.stderr
    assert not any((tmp_path / "lib").glob("*.png"))  # a dry-run undo changes nothing
    r = run("--undo", log)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == before and not (tmp_path / "sorted").exists()
    r = run("--undo", log, tmp_path / "lib")
    assert r.exit_code == 1 and "--undo takes only the log" in r.stderr


def test_copy_by_degree_threshold_with_clash(tmp_path, fake):
    lib = library(tmp_path / "lib")
    (tmp_path / "out" / "blurred").mkdir(parents=True)
    (tmp_path / "out" / "blurred" / "shake.png").write_bytes(b"someone else's file")
    r = run(tmp_path / "lib", "--copy", tmp_path / "out", "--degree-threshold", "0.5", "--json")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "blurred" / "shake.png").read_bytes() == b"someone else's file"
    assert (tmp_path / "out" / "blurred" / "shake-1.png").read_bytes() == lib["bad-blur"].read_bytes()
    assert (tmp_path / "out" / "sharp" / "sharp.png").is_file() and lib["no-blur"].exists()
    assert list((tmp_path / "out").glob("blurtool-rank-*.jsonl"))


def test_unreadable_photo_is_reported_and_exit_is_nonzero(tmp_path, fake):
    library(tmp_path / "lib")
    (tmp_path / "lib" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    r = run(tmp_path / "lib", "--json")
    assert r.exit_code == 1
    assert len(lines(r)) == 4
    assert "broken.jpg" in r.stderr and "Traceback" not in r.output


def test_cache_reuses_scores(tmp_path, fake):
    library(tmp_path / "lib")
    db = tmp_path / "c.sqlite"
    assert run(tmp_path / "lib", "--cache", db, "--json").exit_code == 0
    write(tmp_path / "lib" / "new.png", photo(np.zeros((96, 128), bool)))
    r = run(tmp_path / "lib", "--cache", db, "--json")
    assert r.exit_code == 0 and len(lines(r)) == 5
    assert fake.calls == 5 and "4 from the cache" in r.stderr


def test_sheet(tmp_path, fake):
    library(tmp_path / "lib")
    r = run(tmp_path / "lib", "--sheet", tmp_path / "sheet.html", "--json")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "sheet.html").read_text().count("<figure") == 4
    r = run(tmp_path / "lib", "--sheet", tmp_path / "sheet.jpg", "--sheet-thumb", "64", "--json")
    assert r.exit_code == 0 and (tmp_path / "sheet.jpg").stat().st_size > 1000


def test_sheet_after_move_shows_the_moved_photos(tmp_path, fake):
    library(tmp_path / "lib")
    r = run(tmp_path / "lib", "--move", tmp_path / "out", "--sheet", tmp_path / "sheet.html", "--json")
    assert r.exit_code == 0, r.output
    html = (tmp_path / "sheet.html").read_text()
    assert 'href="out/bad-blur/shake.png"' in html


def test_a_folder_means_its_top_level_and_recursive_its_sub_folders(tmp_path, fake):
    """The input rule of every command: rank reads folders as detect, segment, matte, magnify and deblur do."""
    library(tmp_path / "lib" / "2024")
    write(tmp_path / "lib" / "top.png", photo(np.zeros((96, 128), bool)))
    assert len(lines(run(tmp_path / "lib", "--json"))) == 1
    assert len(lines(run(tmp_path / "lib", "--no-recursive", "--json"))) == 1
    assert len(lines(run(tmp_path / "lib", "--recursive", "--json"))) == 5
    assert len(lines(run(tmp_path / "lib", "-r", "--json"))) == 5
    r = run(tmp_path / "lib" / "2024" / "..", "--json")
    assert r.exit_code == 0
    (tmp_path / "lib" / "top.png").unlink()
    r = run(tmp_path / "lib", "--json")
    assert r.exit_code == 1 and "add --recursive" in r.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "no photos"),
        (["{lib}", "--move", "{tmp}/a", "--copy", "{tmp}/b"], "exclude each other"),
        (["{tmp}/nothing-here.jpg"], "file not found"),
        (["{tmp}/*.nomatch"], "no image files match"),
        (["{lib}", "--degree-threshold", "0.5"], "--move or --copy"),
        (["--undo", "{tmp}/missing.jsonl"], "no such log"),
        (["{lib}", "--sheet", "{tmp}/sheet.gif"], "contact sheet must be"),
    ],
)
def test_bad_input_is_one_red_line(tmp_path, fake, args, message):
    library(tmp_path / "lib")
    r = run(*[a.format(lib=tmp_path / "lib", tmp=tmp_path) for a in args])
    assert r.exit_code == 1, r.output
    assert message in r.stderr and "Traceback" not in r.output


def test_bad_option_value_is_a_usage_error(tmp_path, fake):
    r = run(tmp_path, "--no-blur-max", "2")
    assert r.exit_code == 2


def test_rank_runs_one_pass_unless_flip_average_is_asked(monkeypatch, tmp_path):
    seen = []

    def fake_loader(weights, device, threshold, working_size, flip_average=False):
        seen.append(flip_average)
        return FakeDetector()

    monkeypatch.setattr(rank_cli, "_load_detector", fake_loader)
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), np.full((40, 60, 3), 128, np.uint8))
    assert run(tmp_path).exit_code == 0
    assert run(tmp_path, "--flip-average").exit_code == 0
    assert seen == [False, True]


# ------------------------------------------------------------------------------------------ RAW+JPEG pairs


def test_raw_jpeg_pair_is_one_photo_scored_once_moved_and_undone_together(tmp_path, fake):
    pytest.importorskip("rawpy")
    pytest.importorskip("tifffile")
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from raw_files import write_dng

    lib = tmp_path / "lib"
    lib.mkdir()
    shaken = np.ones((96, 128), bool)
    write(lib / "IMG_1.jpg", photo(shaken, motion=True))  # bad-blur
    # The RAW of the same shot: a picture the fake detector would call sharp, so that a score from it would show.
    write_dng(lib / "IMG_1.dng", photo(np.zeros((96, 128), bool)))
    write(lib / "IMG_2.jpg", photo(np.zeros((96, 128), bool)))  # no-blur, alone
    write_dng(lib / "IMG_3.dng", photo(shaken, motion=True))  # a RAW alone: scored from itself
    r = run(lib, "--json", "--csv", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    rows = {Path(x["path"]).name: x for x in lines(r)}
    assert set(rows) == {"IMG_1.jpg", "IMG_2.jpg", "IMG_3.dng"} and fake.calls == 3  # the pair scored once
    assert rows["IMG_1.jpg"]["verdict"] == "bad-blur" and rows["IMG_1.jpg"]["companions"] == [str(lib / "IMG_1.dng")]
    assert rows["IMG_3.dng"]["verdict"] == "bad-blur" and rows["IMG_3.dng"]["companions"] == []
    assert (tmp_path / "s.csv").read_text().count(str(lib / "IMG_1.dng")) == 1
    assert "IMG_1.jpg +.dng" in run(lib).stdout  # the table says the RAW goes with it

    # A name taken at the destination: the pair gets the same suffix, so it stays a pair there.
    dest = tmp_path / "sorted"
    (dest / "bad-blur").mkdir(parents=True)
    write(dest / "bad-blur" / "IMG_1.jpg", photo(shaken))
    r = run(lib, "--move", dest, "--dry-run")
    assert "dry run: 3 photo(s) (+1 RAW file(s) of RAW+JPEG pairs) would be moved" in r.stderr
    log = tmp_path / "moves.jsonl"
    r = run(lib, "--move", dest, "--log", log, "--json")
    assert r.exit_code == 0, r.output
    assert "moved 3 photo(s) (+1 RAW file(s) of RAW+JPEG pairs)" in r.stderr
    assert sorted(p.name for p in (dest / "bad-blur").iterdir()) == ["IMG_1-1.dng", "IMG_1-1.jpg", "IMG_1.jpg",
                                                                     "IMG_3.dng"]
    row = next(x for x in lines(r) if Path(x["path"]).name == "IMG_1.jpg")
    assert row["sorted_to"] == str(dest / "bad-blur" / "IMG_1-1.jpg")
    assert row["companions_sorted_to"] == [str(dest / "bad-blur" / "IMG_1-1.dng")]
    assert not (lib / "IMG_1.dng").exists()

    r = run("--undo", log)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in lib.iterdir()) == ["IMG_1.dng", "IMG_1.jpg", "IMG_2.jpg", "IMG_3.dng"]
    assert sorted(p.name for p in (dest / "bad-blur").iterdir()) == ["IMG_1.jpg"]  # the file that was there before

    # --copy takes both too.
    r = run(lib, "--copy", tmp_path / "copies", "--log", tmp_path / "copies.jsonl")
    assert r.exit_code == 0, r.output
    assert {p.name for p in (tmp_path / "copies" / "bad-blur").iterdir()} == {"IMG_1.jpg", "IMG_1.dng", "IMG_3.dng"}



def test_rank_by_amount_and_a_slightly_soft_photo_is_ok_blur(tmp_path, monkeypatch):
    det = AmountDetector()
    monkeypatch.setattr(rank_cli, "_load_detector", lambda *a, **k: det)
    lib = tmp_path / "lib"
    lib.mkdir()
    everywhere = np.ones((96, 128), bool)
    for name, blue in (("soft.png", 20), ("hopeless.png", 150), ("shaken.png", 80)):
        img = photo(everywhere)
        img[..., 2] = blue  # amount = blue / 10: 2.0 (low), 15.0 (high), 8.0 (medium)
        write(lib / name, img)
    r = run(lib, "--json", "--by", "amount")
    assert r.exit_code == 0, r.output
    rows = lines(r)
    assert [Path(x["path"]).name for x in rows] == ["hopeless.png", "shaken.png", "soft.png"]
    assert [x["amount"] for x in rows] == pytest.approx([15.0, 8.0, 2.0], abs=0.01)
    assert [(x["verdict"], x["reason"]) for x in rows] == [
        ("bad-blur", "whole frame blurred"), ("bad-blur", "whole frame blurred"), ("ok-blur", "slightly soft")]
    # The bound is an option: at 1.5 even the slight blur is bad.
    r = run(lib, "--json", "--soft-amount-max", "1.5")
    assert {x["verdict"] for x in lines(r)} == {"bad-blur"}
    # The table shows the amount; weights without one show no amount column and write no amount field.
    r = run(lib)
    assert r.exit_code == 0 and "amount" in r.stdout
    monkeypatch.setattr(rank_cli, "_load_detector", lambda *a, **k: FakeDetector())
    r = run(lib, "--json", "--no-cache")
    assert all("amount" not in x for x in lines(r))
