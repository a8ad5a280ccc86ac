"""XMP for photo managers (blurtool.library.xmp), read back with ExifTool as a photo manager would read it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rank_fakes import FakeDetector, library, photo, write

from blurtool.errors import InputError, OutputError
from blurtool.library import exiftool as exiftool_mod
from blurtool.library import rank_photos
from blurtool.library.exiftool import ExifTool
from blurtool.library.sort import _Log, undo
from blurtool.library.xmp import XmpMapping, _decide, plan_xmp, sidecar_path, write_xmp

# Skipped where ExifTool is missing, except in CI, which installs it (.ci/run): a missing install fails there.
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None and not os.environ.get("CI"),
                                    reason="ExifTool not installed (apt install libimage-exiftool-perl)")

# A sidecar as darktable writes it (attributes form, history with two steps, an empty masks list), with keywords,
# Lightroom develop settings and a namespace no program knows.
DARKTABLE_SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmlns:foo="http://example.com/unknown/1.0/"
    xmpMM:DerivedFrom="shake.png"
    darktable:import_timestamp="63848613600"
    darktable:xmp_version="5"
    darktable:history_end="2"
    crs:Exposure2012="+0.35"
    crs:Temperature="5400"
    foo:Thing="keep me">
   <darktable:masks_history>
    <rdf:Seq/>
   </darktable:masks_history>
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:num="0" darktable:operation="exposure" darktable:enabled="1" darktable:modversion="6"
      darktable:params="0000000000000000cdcc4c3e00000000" darktable:multi_name="" darktable:multi_priority="0"
      darktable:blendop_version="11" darktable:blendop_params="gz11eJxjYGBgkGAAgRNODESDBnsIHll8ANNSGQM="/>
     <rdf:li darktable:num="1" darktable:operation="colorin" darktable:enabled="1" darktable:modversion="7"
      darktable:params="gz48eJzjZhgFowABWAbaAaNgwAEAEDgAAg==" darktable:multi_name="" darktable:multi_priority="0"
      darktable:blendop_version="11" darktable:blendop_params="gz11eJxjYGBgkGAAgRNODESDBnsIHll8ANNSGQM="/>
    </rdf:Seq>
   </darktable:history>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>holiday</rdf:li>
     <rdf:li>beach</rdf:li>
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def read_back(*files):
    """What a photo manager sees: ExifTool (without blurtool's config) as JSON, tags named Group:Tag."""
    out = subprocess.run(["exiftool", "-j", "-n", "-G1", "-struct", *map(str, files)], capture_output=True,
                         text=True, check=True).stdout
    return {Path(r["SourceFile"]).name: r for r in json.loads(out)}


def without_volatile(row):
    return {k: v for k, v in row.items()
            if not k.startswith(("System:", "ExifTool:", "File:", "XMP-x:", "SourceFile"))}


@pytest.fixture
def et():
    if shutil.which("exiftool") is None and not os.environ.get("CI"):  # CI installs it (.ci/run): fail there
        pytest.skip("ExifTool not installed")
    with ExifTool() as e:
        yield e


def ranked(folder):
    lib = library(folder)
    return lib, {r.path.name: r for r in rank_photos(sorted(lib.values()), FakeDetector()).records}


def run_xmp(records, et, log_path, **kw):
    plan = plan_xmp(records, et, model_sha256="abc123", version="0.1.0", **kw)
    log = _Log(log_path)
    try:
        rep = write_xmp(plan, et, log, backup_dir=log_path.with_suffix(".originals"))
    finally:
        log.close()
    assert not rep.failed and not plan.failed, (rep.failed, plan.failed)
    return plan


def test_mapping_defaults_and_options():
    m = XmpMapping()
    assert m.wanted("bad-blur") == {"Rating": 1, "Label": "Red", "PickLabel": 1}
    assert m.wanted("ok-blur") == {"Rating": 3, "Label": None, "PickLabel": None}
    assert m.wanted("good-blur") == m.wanted("no-blur") == {"Rating": None, "Label": None, "PickLabel": None}
    assert m.wanted("no-blur", "alternate")["Label"] == "Yellow" and m.wanted("bad-blur", "alternate")["Label"] == "Red"
    assert m.wanted("good-blur", "pick")["PickLabel"] == 3
    m = XmpMapping.from_options(rating=["bad-blur=-1", "ok-blur=none", "good-blur=4"], label=["ok-blur=Blue"],
                                pick=["alternate=pending"])
    assert m.wanted("bad-blur")["Rating"] == -1 and m.wanted("ok-blur") == {"Rating": None, "Label": "Blue",
                                                                           "PickLabel": None}
    assert m.wanted("good-blur")["Rating"] == 4 and m.wanted("no-blur", "alternate")["PickLabel"] == 2
    for kw in ({"rating": ["bad-blur=7"]}, {"rating": ["sharp=1"]}, {"pick": ["bad-blur=maybe"]}, {"label": ["x"]}):
        with pytest.raises(InputError):
            XmpMapping.from_options(**kw)


def test_decide_keeps_hand_set_values_and_updates_its_own():
    want = {"Rating": 1, "Label": "Red", "PickLabel": None}
    # nothing there: written, and recorded as blurtool's
    put, own, kept = _decide({}, {}, want, overwrite=False, new_file=False)
    assert put == {"Rating": 1, "Label": "Red"} and own == {"Rating": 1, "Label": "Red"} and not kept
    # a rating nobody recorded: the user's judgement of the photo, kept, and no Red label or rejection beside it
    put, own, kept = _decide({"Rating": 4}, {}, want, overwrite=False, new_file=False)
    assert put == {} and kept == {"Rating": 4} and own == {}
    # blurtool's own earlier values: updated while nobody else touched the photo's fields
    put, own, kept = _decide({"Rating": 3, "Label": "Red"}, {"Rating": 3, "Label": "Red"}, want, False, False)
    assert put == {"Rating": 1} and own == {"Rating": 1} and not kept
    # a label the user changed since: kept, blurtool's record of it dropped, and its own rating left as it is
    put, own, kept = _decide({"Rating": 3, "Label": "Green"}, {"Rating": 3, "Label": "Red"}, want, False, False)
    assert put == {} and kept == {"Label": "Green"} and own == {"Label": None}
    # a new sidecar for a photo rated in the file itself carries that rating, and nothing of blurtool's beside it
    put, own, kept = _decide({"Rating": 5}, {}, want, overwrite=False, new_file=True)
    assert put == {"Rating": 5} and kept == {"Rating": 5}
    # --overwrite-ratings
    put, own, kept = _decide({"Rating": 4}, {}, want, overwrite=True, new_file=False)
    assert put["Rating"] == 1 and not kept
    # the verdict no longer asks for a rating: blurtool takes its own back, never the user's
    put, own, _ = _decide({"Rating": 1, "PickLabel": 3}, {"Rating": 1}, {}, False, False)
    assert put == {"Rating": None} and own == {"Rating": None}
    # the user rated blurtool's rejected photo by hand: its own Red label and "rejected" are taken back
    put, own, kept = _decide({"Rating": 4, "Label": "Red", "PickLabel": 1}, {"Rating": 1, "Label": "Red",
                             "PickLabel": 1}, {"Rating": 1, "Label": "Red", "PickLabel": 1}, False, False)
    assert put == {"Label": None, "PickLabel": None} and kept == {"Rating": 4}
    assert own == {"Rating": None, "Label": None, "PickLabel": None}


@needs_exiftool
def test_new_sidecars_carry_ratings_labels_pick_labels_and_blurtool_namespace(tmp_path, et):
    lib, recs = ranked(tmp_path / "lib")
    run_xmp(list(recs.values()), et, tmp_path / "log.jsonl")
    seen = read_back(*sorted((tmp_path / "lib").glob("*.xmp")))
    assert set(seen) == {p.name + ".xmp" for p in lib.values()}
    bad, ok, good, none = (seen[lib[v].name + ".xmp"] for v in ("bad-blur", "ok-blur", "good-blur", "no-blur"))
    assert (bad["XMP-xmp:Rating"], bad["XMP-xmp:Label"], bad["XMP-digiKam:PickLabel"]) == (1, "Red", 1)
    assert ok["XMP-xmp:Rating"] == 3 and "XMP-xmp:Label" not in ok and "XMP-digiKam:PickLabel" not in ok
    for row in (good, none):
        assert not any(k in row for k in ("XMP-xmp:Rating", "XMP-xmp:Label", "XMP-digiKam:PickLabel"))
    r = recs["shake.png"]
    assert bad["XMP-blurtool:Verdict"] == "bad-blur" and bad["XMP-blurtool:Reason"] == r.reason
    assert bad["XMP-blurtool:Degree"] == pytest.approx(r.scores.degree, abs=1e-4)
    assert bad["XMP-blurtool:MotionFraction"] == pytest.approx(r.scores.motion_fraction, abs=1e-4)
    assert bad["XMP-blurtool:BlurredFraction"] == pytest.approx(r.scores.blurred_fraction, abs=1e-4)
    assert "XMP-blurtool:DefocusFraction" in bad and bad["XMP-blurtool:ModelSHA256"] == "abc123"
    assert bad["XMP-blurtool:Rating"] == 1 and good["XMP-blurtool:Verdict"] == "good-blur"
    # the namespace URI a photo manager stores is blurtool's
    assert "http://ns.blurtool.org/1.0/" in (tmp_path / "lib" / "shake.png.xmp").read_text()
    # a second run with the same verdicts changes nothing
    plan = plan_xmp(list(recs.values()), et, model_sha256="abc123", version="0.1.0")
    assert not plan.changes and len(plan.unchanged) == 4


@needs_exiftool
def test_stem_naming(tmp_path, et):
    lib, recs = ranked(tmp_path / "lib")
    run_xmp([recs["shake.png"]], et, tmp_path / "log.jsonl", naming="stem")
    assert sidecar_path(lib["bad-blur"], "stem") == tmp_path / "lib" / "shake.xmp"
    assert read_back(tmp_path / "lib" / "shake.xmp")["shake.xmp"]["XMP-xmp:Rating"] == 1
    # photo.xmp shared by two photos of one stem: written for the first only, the second is a failure
    write(tmp_path / "lib" / "shake.jpg", photo(np.ones((96, 128), bool)))
    more = rank_photos([tmp_path / "lib" / "shake.png", tmp_path / "lib" / "shake.jpg"], FakeDetector()).records
    plan = plan_xmp(more, et, model_sha256="abc123", version="0.1.0", naming="stem")
    assert len(plan.failed) == 1 and "also the sidecar of" in plan.failed[0][1]


@needs_exiftool
def test_merge_keeps_every_other_field_of_a_darktable_sidecar_and_undo_restores_it(tmp_path, et):
    _, recs = ranked(tmp_path / "lib")
    side = tmp_path / "lib" / "shake.png.xmp"
    side.write_text(DARKTABLE_SIDECAR)
    os.chmod(side, 0o640)
    os.utime(side, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before_bytes, before_stat = side.read_bytes(), side.stat()
    before = without_volatile(read_back(side)["shake.png.xmp"])
    log = tmp_path / "log.jsonl"
    run_xmp([recs["shake.png"]], et, log)
    after = without_volatile(read_back(side)["shake.png.xmp"])
    # Every field survives with its value: history, keywords, develop settings, the unknown namespace. ExifTool
    # drops an empty list (darktable's <rdf:Seq/> of masks), which holds no value.
    assert before.pop("XMP-darktable:Masks_history") == ""
    for k, v in before.items():
        assert after.get(k) == v, k
    assert after["XMP-dc:Subject"] == ["holiday", "beach"] and after["XMP-foo:Thing"] == "keep me"
    assert after["XMP-darktable:History"][1]["Params"] == "gz48eJzjZhgFowABWAbaAaNgwAEAEDgAAg=="
    assert after["XMP-xmp:Rating"] == 1 and after["XMP-xmp:Label"] == "Red"
    assert set(after) - set(before) >= {"XMP-xmp:Rating", "XMP-blurtool:Verdict", "XMP-digiKam:PickLabel"}
    assert side.stat().st_mode & 0o777 == 0o640
    assert not [p for p in side.parent.iterdir() if "blurtool-tmp" in p.name]
    # undo: the previous bytes, mode and modification time, exactly; the sidecars blurtool created are removed
    rep = undo(log)
    assert rep.restored_xmp == [side] and not rep.refused
    assert side.read_bytes() == before_bytes and side.stat().st_mtime_ns == before_stat.st_mtime_ns
    assert side.stat().st_mode & 0o777 == 0o640
    assert undo(log).already == 1


@needs_exiftool
def test_hand_set_rating_is_kept_unless_overwrite_ratings(tmp_path, et):
    _, recs = ranked(tmp_path / "lib")
    side = tmp_path / "lib" / "shake.png.xmp"
    side.write_text(DARKTABLE_SIDECAR.replace('darktable:history_end="2"', 'darktable:history_end="2" xmp:Rating="4"'))
    run_xmp([recs["shake.png"]], et, tmp_path / "a.jsonl")
    row = read_back(side)["shake.png.xmp"]
    # the rating set by hand is kept, and no Red label or rejection is put beside it
    assert row["XMP-xmp:Rating"] == 4 and "XMP-xmp:Label" not in row and "XMP-digiKam:PickLabel" not in row
    assert "XMP-blurtool:Rating" not in row and row["XMP-blurtool:Verdict"] == "bad-blur"
    run_xmp([recs["shake.png"]], et, tmp_path / "b.jsonl", overwrite_ratings=True)
    row = read_back(side)["shake.png.xmp"]
    assert row["XMP-xmp:Rating"] == 1 and row["XMP-blurtool:Rating"] == 1
    # the photo manager's user changes blurtool's rating: from now on it is theirs
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-xmp:Rating=5", str(side)], check=True)
    run_xmp([recs["shake.png"]], et, tmp_path / "c.jsonl")
    assert read_back(side)["shake.png.xmp"]["XMP-xmp:Rating"] == 5


@needs_exiftool
def test_a_hand_rating_given_later_takes_back_blurtools_label_and_pick_never_the_users(tmp_path, et):
    _, recs = ranked(tmp_path / "lib")
    side = tmp_path / "lib" / "shake.png.xmp"
    side.write_text(DARKTABLE_SIDECAR)
    managed = ("XMP-xmp:Rating", "XMP-xmp:Label", "XMP-digiKam:PickLabel")

    def hand(*tags):  # the photo manager's edit
        subprocess.run(["exiftool", "-q", "-overwrite_original", *tags, str(side)], check=True)

    def rerun(name, **kw):
        run_xmp([recs["shake.png"]], et, tmp_path / name, **kw)
        return read_back(side)["shake.png.xmp"]

    row = rerun("a.jsonl")
    assert tuple(row.get(k) for k in managed) == (1, "Red", 1)
    # the user overrules the verdict with 4 stars: blurtool's Red and "rejected" go, and what it recorded of them
    hand("-XMP-xmp:Rating=4")
    row = rerun("b.jsonl")
    assert tuple(row.get(k) for k in managed) == (4, None, None)
    assert not any(k in row for k in ("XMP-blurtool:Rating", "XMP-blurtool:Label", "XMP-blurtool:PickLabel"))
    assert row["XMP-blurtool:Verdict"] == "bad-blur" and row["XMP-dc:Subject"] == ["holiday", "beach"]
    assert not plan_xmp([recs["shake.png"]], et, model_sha256="abc123", version="0.1.0").changes  # settled
    # a pick label set by hand stays, blurtool's own label goes
    rerun("c.jsonl", overwrite_ratings=True)
    hand("-XMP-xmp:Rating=5", "-XMP-digiKam:PickLabel=3")
    row = rerun("d.jsonl")
    assert tuple(row.get(k) for k in managed) == (5, None, 3)
    # a label set by hand stays, blurtool's own "rejected" goes (its own rating stays, as before)
    rerun("e.jsonl", overwrite_ratings=True)
    hand("-XMP-xmp:Label=Green")
    row = rerun("f.jsonl")
    assert tuple(row.get(k) for k in managed) == (1, "Green", None) and row["XMP-blurtool:Rating"] == 1


@needs_exiftool
def test_own_rating_follows_a_new_verdict(tmp_path, et):
    lib, recs = ranked(tmp_path / "lib")
    run_xmp([recs["shake.png"]], et, tmp_path / "a.jsonl")
    write(lib["bad-blur"], photo(np.zeros((96, 128), bool)))  # the photo is now sharp: no-blur
    again = rank_photos([lib["bad-blur"]], FakeDetector()).records
    run_xmp(again, et, tmp_path / "b.jsonl")
    row = read_back(tmp_path / "lib" / "shake.png.xmp")["shake.png.xmp"]
    assert row["XMP-blurtool:Verdict"] == "no-blur"
    assert not any(k in row for k in ("XMP-xmp:Rating", "XMP-xmp:Label", "XMP-digiKam:PickLabel",
                                      "XMP-blurtool:Rating"))


@needs_exiftool
def test_embedding_keeps_the_photos_other_metadata_and_undo_restores_its_bytes(tmp_path, et):
    from PIL import Image

    folder = tmp_path / "lib"
    folder.mkdir()
    jpg = folder / "shaken.jpg"
    exif = Image.Exif()
    exif[0x0110] = "TestCam"
    exif.get_ifd(0x8769)[0x9003] = "2024:06:01 10:15:00"
    Image.fromarray(photo(np.ones((96, 128), bool), motion=True)).save(jpg, exif=exif, quality=95)
    png = write(folder / "also.png", photo(np.ones((96, 128), bool), motion=True))
    original, mtime = jpg.read_bytes(), jpg.stat().st_mtime_ns
    recs = rank_photos([jpg, png], FakeDetector()).records
    log = tmp_path / "log.jsonl"
    run_xmp(recs, et, log, embed=True)
    row = read_back(jpg)["shaken.jpg"]
    assert row["XMP-xmp:Rating"] == 1 and row["XMP-blurtool:Verdict"] == "bad-blur"
    assert row["IFD0:Model"] == "TestCam" and row["ExifIFD:DateTimeOriginal"] == "2024:06:01 10:15:00"
    assert jpg.stat().st_mtime_ns == mtime  # the photo keeps its modification time
    assert not (folder / "shaken.jpg.xmp").exists() and (folder / "also.png.xmp").is_file()  # PNG: a sidecar
    rep = undo(log)
    assert sorted(p.name for p in rep.restored_xmp) == ["also.png.xmp", "shaken.jpg"]
    assert jpg.read_bytes() == original and not (folder / "also.png.xmp").exists()
    assert not log.with_suffix(".originals").exists()


@needs_exiftool
def test_embedding_also_merges_a_sidecar_already_beside_the_photo(tmp_path, et):
    # darktable reads photo.jpg.xmp before the JPEG: an embedded verdict alone would not show there.
    folder = tmp_path / "lib"
    folder.mkdir()
    jpg = folder / "shake.jpg"
    write(jpg, photo(np.ones((96, 128), bool), motion=True))
    lone = write(folder / "lone.jpg", photo(np.ones((96, 128), bool), motion=True))
    side = folder / "shake.jpg.xmp"
    side.write_text(DARKTABLE_SIDECAR)
    before = side.read_bytes()
    recs = rank_photos([jpg, lone], FakeDetector()).records
    log = tmp_path / "log.jsonl"
    plan = run_xmp(recs, et, log, embed=True)
    assert sorted((c.path.name, c.embedded) for c in plan.changes) == [
        ("lone.jpg", True), ("shake.jpg", True), ("shake.jpg.xmp", False)]
    rows = read_back(jpg, side)
    for name in ("shake.jpg", "shake.jpg.xmp"):
        assert rows[name]["XMP-xmp:Rating"] == 1 and rows[name]["XMP-blurtool:Verdict"] == "bad-blur"
    assert rows["shake.jpg.xmp"]["XMP-darktable:History"][1]["Params"] == "gz48eJzjZhgFowABWAbaAaNgwAEAEDgAAg=="
    assert rows["shake.jpg.xmp"]["XMP-dc:Subject"] == ["holiday", "beach"]
    assert not (folder / "lone.jpg.xmp").exists()  # no new sidecar for an embedded photo
    undo(log)
    assert side.read_bytes() == before


@needs_exiftool
def test_undo_leaves_a_sidecar_changed_since(tmp_path, et):
    _, recs = ranked(tmp_path / "lib")
    log = tmp_path / "log.jsonl"
    run_xmp([recs["shake.png"]], et, log)
    side = tmp_path / "lib" / "shake.png.xmp"
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject=edited", str(side)], check=True)
    rep = undo(log)
    assert not rep.restored_xmp and "changed after blurtool wrote it" in rep.refused[0][1] and side.exists()


@needs_exiftool
def test_a_file_exiftool_cannot_write_is_one_failure_and_the_others_go_on(tmp_path, et):
    _, recs = ranked(tmp_path / "lib")
    (tmp_path / "lib" / "shake.png.xmp").write_text("<x:xmpmeta> not closed")
    plan = plan_xmp(list(recs.values()), et, model_sha256="abc", version="0")
    log = _Log(tmp_path / "log.jsonl")
    failed = []
    rep = write_xmp(plan, et, log, on_failed=lambda p, why: failed.append((p, why)))
    log.close()
    assert len(rep.done) == 3 and len(rep.failed) == 1 and failed == rep.failed
    assert (tmp_path / "lib" / "shake.png.xmp").read_text() == "<x:xmpmeta> not closed"
    assert "ExifTool" in rep.failed[0][1] or "changed" in rep.failed[0][1]


def test_missing_exiftool_is_one_line(monkeypatch):
    monkeypatch.setattr(exiftool_mod.shutil, "which", lambda name: None)
    monkeypatch.delenv("BLURTOOL_EXIFTOOL", raising=False)
    with pytest.raises(OutputError, match="^writing XMP needs ExifTool: apt install libimage-exiftool-perl$"):
        ExifTool()


@needs_exiftool
def test_a_raw_jpeg_pair_gets_the_sidecars_of_both_files(tmp_path, et):
    _, recs = ranked(tmp_path / "lib")
    rec = recs["shake.png"]
    raw = tmp_path / "lib" / "shake.cr2"
    raw.write_bytes(b"not really a CR2")  # only its name matters here
    rec.companions = (raw,)
    run_xmp([rec], et, tmp_path / "a.jsonl")
    seen = read_back(tmp_path / "lib" / "shake.png.xmp", tmp_path / "lib" / "shake.cr2.xmp")
    assert {r["XMP-xmp:Rating"] for r in seen.values()} == {1}
    plan = plan_xmp([rec], et, model_sha256="abc123", version="0.1.0", naming="stem")
    assert [c.path.name for c in plan.changes] == ["shake.xmp"] and not plan.failed  # one sidecar for the shot
