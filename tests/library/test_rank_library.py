"""blurtool.library.rank (the ranking pipeline, sort order, RAW+JPEG pairs), with a fake detector."""

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rank_fakes import FakeDetector, library, write

from blurtool.library import Failure, rank_photos, sort_groups, sort_records
from blurtool.ops.rank import Verdict


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


def test_pair_shots_keeps_the_pair_only_in_one_folder():
    from blurtool.library import pair_shots

    a, b = Path("a"), Path("b")
    paths = [a / "X.CR2", a / "X.JPG", a / "X.dng", a / "Y.jpg", b / "X.nef", a / "Z.heic", a / "Z.arw",
             a / "W.png", a / "W.orf"]
    scored, shots = pair_shots(paths)
    assert scored == [a / "X.JPG", a / "Y.jpg", b / "X.nef", a / "Z.heic", a / "W.png", a / "W.orf"]
    assert shots == {a / "X.JPG": (a / "X.CR2", a / "X.dng"), a / "Z.heic": (a / "Z.arw",)}
