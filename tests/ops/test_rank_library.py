"""blurtool.library (ranking pipeline, cache, sort order) and blurtool.ops.sheet, with a fake detector."""

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rank_fakes import FakeDetector, library, photo, write

from blurtool.library import Failure, model_key, rank_photos, sort_groups, sort_records
from blurtool.ops.cache import ScoreCache
from blurtool.ops.rank import Verdict
from blurtool.ops.sheet import Tile, render_sheet, write_sheet


def test_each_photo_gets_its_verdict_and_bad_files_fail(tmp_path):
    lib = library(tmp_path / "lib")
    (tmp_path / "lib" / "broken.jpg").write_bytes(b"not a jpeg")
    paths = [*lib.values(), tmp_path / "lib" / "broken.jpg"]
    run = rank_photos(paths, FakeDetector(), batch_size=3)
    assert {r.path.name: r.verdict.value for r in run.records} == {p.name: v for v, p in lib.items()}
    assert [r.path for r in run.records] == list(lib.values())  # input order
    assert len(run.failures) == 1 and isinstance(run.failures[0], Failure)
    assert "broken.jpg" in run.failures[0].error
    assert run.records[0].mini.dtype == np.uint8 and max(run.records[0].mini.shape) <= 64


def test_parallel_photo_workers_give_the_same_records_in_order(tmp_path):
    lib = library(tmp_path / "lib")
    (tmp_path / "lib" / "broken.jpg").write_bytes(b"not a jpeg")
    paths = [*lib.values(), tmp_path / "lib" / "broken.jpg", *lib.values()]
    batched = rank_photos(paths, FakeDetector(), batch_size=3)
    parallel = rank_photos(paths, FakeDetector(), photo_workers=3)
    assert [r.to_json() for r in parallel.records] == [r.to_json() for r in batched.records]
    assert len(parallel.records) == 8 and len(parallel.failures) == 1


def test_sort_orders(tmp_path):
    run = rank_photos(list(library(tmp_path).values()), FakeDetector())
    by_degree = [r.verdict.value for r in sort_records(run.records, "degree")]
    assert by_degree[0] == "bad-blur" and by_degree[-1] == "no-blur"
    assert [r.verdict for r in sort_records(run.records, "verdict")] == [
        Verdict.BAD, Verdict.OK, Verdict.GOOD, Verdict.NONE,
    ]
    sharp = [r.scores.sharp_fraction for r in sort_records(run.records, "sharp")]
    assert sharp == sorted(sharp, reverse=True)
    assert sort_records(run.records, "degree", reverse=True)[0].verdict is Verdict.NONE
    groups = dict(sort_groups(run.records, degree_threshold=0.5))
    assert set(groups.values()) == {"blurred", "sharp"}


def test_resized_copy_ranks_the_same(tmp_path):
    lib = library(tmp_path, h=240, w=320)
    big = cv2.imread(str(lib["good-blur"]))
    small = write(tmp_path / "small.png", cv2.cvtColor(cv2.resize(big, (160, 120), interpolation=cv2.INTER_AREA),
                                                       cv2.COLOR_BGR2RGB))
    a, b = rank_photos([lib["good-blur"], small], FakeDetector()).records
    assert a.verdict == b.verdict
    for k, v in a.scores.to_dict().items():
        assert v == pytest.approx(b.scores.to_dict()[k], abs=0.02), k


def test_cache_skips_known_photos_and_sees_changes(tmp_path):
    lib = library(tmp_path / "lib")
    det = FakeDetector()
    db = tmp_path / "cache.sqlite"
    with ScoreCache(db, model_key(det, 0.5)) as c:
        first = rank_photos(list(lib.values()), det, cache=c).records
    assert det.calls == 4
    with ScoreCache(db, model_key(det, 0.5)) as c:
        again = rank_photos(list(lib.values()), det, cache=c).records
        assert c.hits == 4
    assert det.calls == 4  # nothing re-run
    assert [r.to_json() for r in again] == [r.to_json() for r in first]
    assert all(r.cached for r in again) and again[0].mini is not None
    # A changed photo (new content, new mtime) and a new photo are recomputed; others still come from the cache.
    write(lib["no-blur"], photo(np.ones((96, 128), bool)))
    os.utime(lib["no-blur"], ns=(1, 1))
    new = write(tmp_path / "lib" / "new.png", photo(np.zeros((96, 128), bool)))
    with ScoreCache(db, model_key(det, 0.5)) as c:
        third = rank_photos([*lib.values(), new], det, cache=c).records
    assert det.calls == 6
    assert third[0].verdict is Verdict.BAD
    # Another threshold is another model key: no reuse.
    with ScoreCache(db, model_key(det, 0.4)) as c:
        rank_photos(list(lib.values()), det, cache=c, threshold=0.4)
    assert det.calls == 10


def test_cache_finds_a_moved_photo_by_name_size_and_mtime(tmp_path):
    lib = library(tmp_path / "lib")
    det = FakeDetector()
    db = tmp_path / "cache.sqlite"
    with ScoreCache(db, model_key(det, 0.5)) as c:
        first = rank_photos(list(lib.values()), det, cache=c).records
    moved = tmp_path / "sorted" / "x" / lib["good-blur"].name
    moved.parent.mkdir(parents=True)
    os.rename(lib["good-blur"], moved)  # keeps the mtime, as --move does
    with ScoreCache(db, model_key(det, 0.5)) as c:
        again = rank_photos([moved], det, cache=c).records
        assert c.hits == 1
    assert det.calls == 4 and again[0].path == moved and again[0].scores == first[1].scores


def test_corrupt_cache_is_an_input_error(tmp_path):
    from blurtool.errors import InputError

    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(InputError):
        ScoreCache(bad, "k")


def test_contact_sheet_image_and_html(tmp_path):
    run = rank_photos(list(library(tmp_path / "lib").values()), FakeDetector())
    tiles = [
        Tile(np.full((30, 40, 3), 128, np.uint8), r.mini, f"#{i + 1} S={r.scores.degree:.2f}", r.verdict.value,
             r.path.name)
        for i, r in enumerate(sort_records(run.records))
    ]
    sheet = render_sheet(tiles, columns=3, thumb=64)
    assert sheet.dtype == np.uint8 and sheet.shape[1] == 3 * (64 + 12) and sheet.shape[0] == 2 * (64 + 12 + 32)
    assert write_sheet(tmp_path / "s.jpg", tiles, columns=3, thumb=64) == 4
    assert cv2.imread(str(tmp_path / "s.jpg")).shape == sheet.shape
    write_sheet(tmp_path / "s.html", tiles, thumb=64)
    text = (tmp_path / "s.html").read_text()
    assert text.count("<figure") == 4 and "bad-blur" in text and "data:image/jpeg;base64," in text


def test_pair_shots_keeps_the_pair_only_in_one_folder():
    from blurtool.library import pair_shots

    a, b = Path("a"), Path("b")
    paths = [a / "X.CR2", a / "X.JPG", a / "X.dng", a / "Y.jpg", b / "X.nef", a / "Z.heic", a / "Z.arw",
             a / "W.png", a / "W.orf"]
    scored, shots = pair_shots(paths)
    assert scored == [a / "X.JPG", a / "Y.jpg", b / "X.nef", a / "Z.heic", a / "W.png", a / "W.orf"]
    assert shots == {a / "X.JPG": (a / "X.CR2", a / "X.dng"), a / "Z.heic": (a / "Z.arw",)}
