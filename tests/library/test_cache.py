"""blurtool.library.cache (the SQLite score cache) as rank_photos uses it, with a fake detector."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rank_fakes import FakeDetector, library, photo, write

from blurtool.library import model_key, rank_photos
from blurtool.library.cache import ScoreCache
from blurtool.ops.rank import Verdict


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


def test_a_new_cache_in_a_folder_that_does_not_exist_yet(tmp_path):
    # `rank --cache ~/.cache/blurtool.sqlite`, as the README writes it, on an account without ~/.cache.
    db = tmp_path / "home" / ".cache" / "blurtool.sqlite"
    with ScoreCache(db, "k") as c:
        assert c.get(tmp_path / "nothing.jpg") is None
    assert db.is_file()


def test_a_cache_whose_folder_cannot_be_made_is_an_output_error(tmp_path):
    from blurtool.errors import OutputError

    (tmp_path / "f").write_text("a file, not a folder")
    with pytest.raises(OutputError, match="cannot create the cache's folder"):
        ScoreCache(tmp_path / "f" / "c.sqlite", "k")
