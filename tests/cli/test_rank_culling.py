"""`blurtool rank --xmp` and `--bursts` through the CLI, read back with ExifTool as a photo manager reads them."""

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "library"))
from rank_fakes import SharpnessDetector, burst, library, save_with_time, scene
from test_xmp import DARKTABLE_SIDECAR, read_back, without_volatile

import blurtool.cli.rank as rank_cli
from blurtool.cli import app
from blurtool.library import exiftool as exiftool_mod

runner = CliRunner()
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None and not os.environ.get("CI"),
                                    reason="ExifTool not installed (apt install libimage-exiftool-perl)")


def run(*args):
    return runner.invoke(app, ["rank", *map(str, args)])


def lines(result):
    return [json.loads(x) for x in result.stdout.splitlines() if x.strip()]


def snapshot(root: Path):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def sharpness(monkeypatch):
    det = SharpnessDetector()
    monkeypatch.setattr(rank_cli, "_load_detector", lambda *a, **k: det)
    return det


@pytest.fixture
def shoot(tmp_path):
    """A burst of four frames blurred by increasing amounts (the second is the sharp one), another scene shot in
    the middle of it, the first scene again 9 s later, and a photo without EXIF time."""
    lib = tmp_path / "lib"
    frames = burst(lib, sigmas=(1.5, 0, 3.0, 5.0))
    others = [save_with_time(lib / "other.jpg", scene(7), "2024:06:01 10:15:00", "450"),
              save_with_time(lib / "late.jpg", scene(1), "2024:06:01 10:15:09"),
              save_with_time(lib / "untimed.jpg", scene(1), None)]
    return lib, frames, others


@needs_exiftool
def test_xmp_writes_sidecars_a_photo_manager_reads_and_undo_removes_them(tmp_path, fake, monkeypatch):
    lib = library(tmp_path / "lib")
    monkeypatch.chdir(tmp_path)
    r = run(tmp_path / "lib", "--xmp", "--json")
    assert r.exit_code == 0, r.output
    assert len(lines(r)) == 4 and "XMP: 4 written (4 new sidecar(s))" in r.stderr
    seen = read_back(*sorted((tmp_path / "lib").glob("*.xmp")))
    bad = seen["shake.png.xmp"]
    assert (bad["XMP-xmp:Rating"], bad["XMP-xmp:Label"], bad["XMP-digiKam:PickLabel"]) == (1, "Red", 1)
    assert bad["XMP-blurtool:Verdict"] == "bad-blur" and len(bad["XMP-blurtool:ModelSHA256"]) > 0
    assert seen["corner.png.xmp"]["XMP-xmp:Rating"] == 3 and "XMP-xmp:Rating" not in seen["portrait.png.xmp"]
    logs = list(tmp_path.glob("blurtool-rank-*.jsonl"))  # --xmp alone: the log is in the current folder
    assert len(logs) == 1 and f"undo with: blurtool rank --undo {logs[0]}" in r.stderr
    r = run("--undo", logs[0])
    assert r.exit_code == 0 and "the XMP of 4 file(s)" in r.stderr, r.output
    assert not list((tmp_path / "lib").glob("*.xmp")) and all(p.exists() for p in lib.values())


@needs_exiftool
def test_xmp_dry_run_shows_the_changes_and_writes_nothing(tmp_path, fake, monkeypatch):
    library(tmp_path / "lib")
    (tmp_path / "lib" / "shake.png.xmp").write_text(DARKTABLE_SIDECAR)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    r = run(tmp_path / "lib", "--xmp", "--dry-run", "--move", tmp_path / "sorted")
    assert r.exit_code == 0, r.output
    assert "would update" in r.stderr and "shake.png.xmp: Rating 1, Label 'Red', PickLabel 1" in r.stderr
    assert "would create" in r.stderr and "dry run: 4 XMP file(s) would be written" in r.stderr
    assert "shake.png.xmp -> " in r.stderr  # the sidecar would go with its photo
    assert snapshot(tmp_path) == before and not (tmp_path / "sorted").exists()


@needs_exiftool
def test_xmp_with_move_takes_each_sidecar_along_and_undo_puts_everything_back(tmp_path, fake, monkeypatch):
    library(tmp_path / "lib")
    side = tmp_path / "lib" / "shake.png.xmp"
    side.write_text(DARKTABLE_SIDECAR.replace('darktable:history_end="2"', 'darktable:history_end="2" xmp:Rating="4"'))
    lightroom = tmp_path / "lib" / "portrait.xmp"  # Lightroom's name for portrait.png's sidecar
    lightroom.write_text(DARKTABLE_SIDECAR)
    before_darktable = without_volatile(read_back(side)["shake.png.xmp"])
    before = snapshot(tmp_path / "lib")
    log = tmp_path / "run.jsonl"
    r = run(tmp_path / "lib", "--xmp", "--move", tmp_path / "sorted", "--log", log, "--json")
    assert r.exit_code == 0, r.output
    moved = tmp_path / "sorted" / "bad-blur" / "shake.png.xmp"
    assert moved.is_file() and not side.exists()
    assert (tmp_path / "sorted" / "good-blur" / "portrait.xmp").is_file() and not lightroom.exists()
    row = without_volatile(read_back(moved)["shake.png.xmp"])
    assert row["XMP-xmp:Rating"] == 4 and "XMP-xmp:Label" not in row  # the rating set by hand is kept, alone
    assert row["XMP-dc:Subject"] == before_darktable["XMP-dc:Subject"]
    assert row["XMP-darktable:History"] == before_darktable["XMP-darktable:History"]
    assert "4 photo(s) (+5 XMP sidecar(s))" in r.stderr
    r = run("--undo", log)
    assert r.exit_code == 0, r.output
    assert "restored 4 photo(s) (+5 XMP sidecar(s)), the XMP of 4 file(s)" in r.stderr
    assert snapshot(tmp_path / "lib") == before and not (tmp_path / "sorted").exists()


@needs_exiftool
def test_overwrite_ratings_and_mapping_options(tmp_path, fake, monkeypatch):
    library(tmp_path / "lib")
    side = tmp_path / "lib" / "shake.png.xmp"
    side.write_text(DARKTABLE_SIDECAR.replace('darktable:history_end="2"', 'darktable:history_end="2" xmp:Rating="4"'))
    monkeypatch.chdir(tmp_path)
    r = run(tmp_path / "lib", "--xmp", "--overwrite-ratings", "--xmp-rating", "bad-blur=-1", "--xmp-label",
            "bad-blur=Purple", "--xmp-pick", "bad-blur=none", "--xmp-naming", "ext")
    assert r.exit_code == 0, r.output
    row = read_back(side)["shake.png.xmp"]
    assert row["XMP-xmp:Rating"] == -1 and row["XMP-xmp:Label"] == "Purple" and "XMP-digiKam:PickLabel" not in row


@needs_exiftool
def test_xmp_stem_naming_and_embedding(tmp_path, fake, monkeypatch):
    lib = tmp_path / "lib"
    library(lib)
    save_with_time(lib / "camera.jpg", scene(3), "2024:06:01 10:15:00")
    monkeypatch.chdir(tmp_path)
    r = run(lib, "--xmp", "--xmp-naming", "stem", "--xmp-embed")
    assert r.exit_code == 0, r.output
    assert (lib / "shake.xmp").is_file() and not (lib / "camera.xmp").exists()
    row = read_back(lib / "camera.jpg")["camera.jpg"]
    assert "XMP-blurtool:Verdict" in row and row["ExifIFD:DateTimeOriginal"] == "2024:06:01 10:15:00"


@pytest.mark.parametrize("args, message", [
    (["--xmp-embed"], "--xmp-embed changes what --xmp writes: add --xmp"),
    (["--overwrite-ratings"], "--overwrite-ratings changes what --xmp writes"),
    (["--xmp-naming", "stem"], "--xmp-naming changes what --xmp writes"),
    (["--alternates-only"], "use it with --bursts and --move or --copy"),
    (["--bursts", "--alternates-only"], "use it with --bursts and --move or --copy"),
    (["--xmp", "--xmp-rating", "bad-blur=9"], "a rating is a whole number from -1"),
    (["--xmp", "--xmp-label", "blurry=Red"], "KEY one of bad-blur, ok-blur"),
])
def test_impossible_options_are_one_line_before_any_work(tmp_path, fake, args, message):
    library(tmp_path / "lib")
    r = run(tmp_path / "lib", *args)
    assert r.exit_code == 1 and message in r.stderr and "Traceback" not in r.output, r.output
    assert fake.calls == 0


def test_xmp_without_exiftool_is_one_line_before_scoring(tmp_path, fake, monkeypatch):
    library(tmp_path / "lib")
    monkeypatch.setattr(exiftool_mod.shutil, "which", lambda name: None)
    monkeypatch.delenv("BLURTOOL_EXIFTOOL", raising=False)
    r = run(tmp_path / "lib", "--xmp")
    assert r.exit_code == 1 and fake.calls == 0
    assert r.stderr.strip() == "error: --xmp needs ExifTool: apt install libimage-exiftool-perl"


def test_bursts_in_json_csv_and_sheet(tmp_path, sharpness, shoot):
    lib, frames, others = shoot
    r = run(lib, "--bursts", "--json", "--csv", tmp_path / "s.csv", "--sheet", tmp_path / "sheet.html")
    assert r.exit_code == 0, r.output
    rows = {Path(x["path"]).name: x for x in lines(r)}
    assert [rows[p.name]["burst_role"] for p in frames] == ["alternate", "pick", "alternate", "alternate"]
    assert {rows[p.name]["burst"] for p in frames} == {1} and rows[frames[0].name]["burst_size"] == 4
    for p in others:  # another scene in the gap, the same scene 9 s later, a photo without time
        assert rows[p.name]["burst"] is None and rows[p.name]["burst_role"] is None
    assert rows["untimed.jpg"]["taken"] is None and rows[frames[1].name]["taken"] == "2024-06-01T10:15:00.300"
    assert "bursts: 1 (3 alternate frame(s)); 1 photo(s) without an EXIF capture time" in r.stderr
    with open(tmp_path / "s.csv") as f:
        table = {Path(x["path"]).name: x for x in csv.DictReader(f)}
    assert table[frames[1].name]["burst_role"] == "pick" and table["late.jpg"]["burst_role"] == ""
    html = (tmp_path / "sheet.html").read_text()
    assert html.count("burst 1 pick") == 1 and html.count("burst 1 alt") == 3
    r = run(lib)  # the table says it too
    assert "burst 1 pick" not in r.stdout
    r = run(lib, "--bursts")
    assert r.stdout.count("burst 1 alt") == 3


def test_bursts_move_sets_alternates_aside_and_undo(tmp_path, sharpness, shoot):
    lib, frames, others = shoot
    before = snapshot(lib)
    log = tmp_path / "log.jsonl"
    r = run(lib, "--bursts", "--move", tmp_path / "sorted", "--alternates-only", "--log", log)
    assert r.exit_code == 0, r.output
    aside = sorted(p.name for p in (tmp_path / "sorted" / "alternates").iterdir())
    assert aside == sorted(frames[i].name for i in (0, 2, 3))
    assert sorted(p.name for p in lib.iterdir()) == sorted([frames[1].name, *(p.name for p in others)])
    assert run("--undo", log).exit_code == 0
    assert snapshot(lib) == before
    r = run(lib, "--bursts", "--copy", tmp_path / "all", "--json")
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "all" / "alternates").iterdir())) == 3
    assert (tmp_path / "all").joinpath(lines(r)[0]["sorted_to"]).exists()


@needs_exiftool
def test_bursts_go_into_xmp(tmp_path, sharpness, shoot, monkeypatch):
    lib, frames, _ = shoot
    monkeypatch.chdir(tmp_path)
    r = run(lib, "--bursts", "--xmp")
    assert r.exit_code == 0, r.output
    seen = read_back(*(p.with_name(p.name + ".xmp") for p in frames))
    pick, alt = seen[frames[1].name + ".xmp"], seen[frames[3].name + ".xmp"]
    assert pick["XMP-blurtool:BurstRole"] == "pick" and pick["XMP-digiKam:PickLabel"] == 3
    assert alt["XMP-blurtool:BurstRole"] == "alternate" and alt["XMP-blurtool:BurstSize"] == 4
    assert alt["XMP-blurtool:Burst"] == pick["XMP-blurtool:Burst"] == "IMG_0000.jpg@2024-06-01T10:15:00"
    if alt["XMP-blurtool:Verdict"] != "bad-blur":
        assert alt["XMP-xmp:Label"] == "Yellow"
    # the next run without --bursts takes the burst fields back out
    r = run(lib, "--xmp")
    assert r.exit_code == 0, r.output
    again = read_back(frames[3].with_name(frames[3].name + ".xmp"))[frames[3].name + ".xmp"]
    assert "XMP-blurtool:Burst" not in again and "XMP-xmp:Label" not in again or again["XMP-xmp:Label"] == "Red"


@needs_exiftool
def test_xmp_move_dry_run_plans_the_sidecars_xmp_would_create(tmp_path, fake, monkeypatch):
    # `--xmp --move --dry-run` shows the sidecars that --xmp would create moving with their photos, as the real run
    # moves them: the plan and its count are the real run's, not only the sidecars already there.
    library(tmp_path / "lib")
    (tmp_path / "lib" / "shake.png.xmp").write_text(DARKTABLE_SIDECAR)
    monkeypatch.chdir(tmp_path)
    dest = tmp_path / "sorted"
    r = run(tmp_path / "lib", "--xmp", "--dry-run", "--move", dest)
    assert r.exit_code == 0, r.output
    planned = {line.split(" -> ")[1] for line in r.stderr.splitlines() if line.startswith("would move ")}
    assert "dry run: 4 photo(s) (+4 XMP sidecar(s)) would be moved" in r.stderr, r.stderr
    r = run(tmp_path / "lib", "--xmp", "--move", dest, "--log", tmp_path / "run.jsonl")
    assert r.exit_code == 0, r.output
    assert "moved 4 photo(s) (+4 XMP sidecar(s))" in r.stderr
    assert planned == {str(p) for p in dest.rglob("*") if p.is_file() and p.parent != dest}


@needs_exiftool
def test_an_unreadable_sidecar_is_one_line_naming_it_once(tmp_path, fake, monkeypatch):
    # ExifTool's own message ends each line with the file's name, and the reason repeated the path before it: the
    # error line named the sidecar four times. Now once, with ExifTool's reason, and the batch goes on.
    lib = library(tmp_path / "lib")
    broken = tmp_path / "lib" / "shake.png.xmp"
    broken.write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf'
                      '-syntax-ns#"><rdf:Description rdf:about="" ')
    before = broken.read_bytes()
    monkeypatch.chdir(tmp_path)
    r = run(tmp_path / "lib", "--xmp")
    assert r.exit_code == 1, r.output
    bad = [x for x in r.stderr.splitlines() if "XMP not written" in x]
    assert bad and all(x.count(str(broken)) == 1 and ".blurtool-tmp" not in x for x in bad), bad
    assert "ExifTool could not write it" in bad[0] and "format error" in bad[0].lower()
    assert broken.read_bytes() == before and (tmp_path / "lib" / "sharp.png.xmp").is_file() and lib


@needs_exiftool
def test_a_second_xmp_run_that_changes_nothing_leaves_no_log(tmp_path, fake, monkeypatch):
    # The log lands in the current folder with --xmp alone; a run with every sidecar up to date left an empty one
    # there each time, without saying so.
    library(tmp_path / "lib")
    monkeypatch.chdir(tmp_path)
    assert run(tmp_path / "lib", "--xmp").exit_code == 0
    logs = set(tmp_path.glob("blurtool-rank-*.jsonl"))
    assert len(logs) == 1
    for log in logs:
        log.rename(tmp_path / "first.jsonl")
    r = run(tmp_path / "lib", "--xmp")
    assert r.exit_code == 0 and "0 written (0 new sidecar(s)), 4 already up to date" in r.stderr, r.output
    assert not list(tmp_path.glob("blurtool-rank-*.jsonl")) and "undo with" not in r.stderr
