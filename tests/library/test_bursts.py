"""Bursts (blurtool.library.bursts): capture times, perceptual hashes, grouping and the pick."""

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rank_fakes import SharpnessDetector, burst, save_with_time, scene

from blurtool.errors import InputError
from blurtool.io import read_image
from blurtool.library import rank_photos
from blurtool.library.bursts import (
    BurstRules,
    capture_time,
    capture_times,
    group_bursts,
    hash_distance,
    mark_bursts,
    parse_exif_time,
    phash,
)

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_phash_ignores_blur_but_tells_scenes_apart():
    photo = read_image(EXAMPLES / "dandelion.jpg", min_size=256)
    h = phash(photo)
    for sigma in (2, 6, 12):
        assert hash_distance(h, phash(cv2.GaussianBlur(photo, (0, 0), sigma))) <= 4
    k = np.zeros((31, 31), np.float32)
    k[15, :] = 1 / 31
    assert hash_distance(h, phash(cv2.filter2D(photo, -1, k))) <= 4  # camera shake
    assert hash_distance(h, phash(photo[:, photo.shape[1] // 30:])) <= BurstRules().max_distance  # a small pan
    for other in ("mountains.jpg", "dogs_shaken.jpg"):
        assert hash_distance(h, phash(read_image(EXAMPLES / other, min_size=256))) > 2 * BurstRules().max_distance
    assert phash((photo * 255).astype(np.uint8)) == h or hash_distance(phash((photo * 255).astype(np.uint8)), h) <= 2


def test_exif_times():
    assert parse_exif_time("2024:06:01 10:15:01", "25") - parse_exif_time("2024:06:01 10:15:00") == pytest.approx(1.25)
    assert parse_exif_time("2024:06:01 10:15:00", "025") % 1 == pytest.approx(0.025, abs=1e-6)
    assert parse_exif_time("    :  :     :  :  ") is None and parse_exif_time(None) is None


def test_capture_time_from_a_cameras_exif(tmp_path):
    p = save_with_time(tmp_path / "a.jpg", scene(0), "2024:06:01 10:15:00", "500")
    q = save_with_time(tmp_path / "b.jpg", scene(0), None)
    cv2.imwrite(str(tmp_path / "c.png"), scene(0))
    assert capture_time(p) == pytest.approx(parse_exif_time("2024:06:01 10:15:00") + 0.5)
    assert capture_time(q) is None and capture_time(tmp_path / "c.png") is None
    assert capture_times([p, q]) == {p: capture_time(p), q: None}


def test_capture_time_of_a_heic_in_a_process_that_has_read_no_heic(tmp_path):
    # rank's main process reads capture times before (or without) decoding any HEIC itself: the time of a phone's
    # HEIC burst must not depend on pillow-heif having been registered by an earlier read (nor on ExifTool).
    import subprocess

    pytest.importorskip("pillow_heif")
    from blurtool.io import _register_heif

    _register_heif()
    p = save_with_time(tmp_path / "IMG_0001.heic", scene(0), "2024:06:01 10:15:00", "250")
    code = "import sys; from blurtool.library.bursts import capture_time; print(capture_time(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, check=True).stdout
    assert float(out) == pytest.approx(parse_exif_time("2024:06:01 10:15:00") + 0.25)


def test_grouping_by_time_and_look():
    a, b = 0x0F0F_0F0F_0F0F_0F0F, 0xF0F0_F0F0_F0F0_F0F0
    frames = [("a1", 0.0, a), ("a2", 0.3, a ^ 0b11), ("x", 0.45, b), ("a3", 0.6, a ^ 0b111000), ("a4", 2.5, a),
              ("late", 10.0, a), ("untimed", None, a), ("b2", 0.5, b ^ 1)]
    # x and b2 are another scene shot in the gap: their own burst, which does not split the first
    assert group_bursts(frames) == [["a1", "a2", "a3", "a4"], ["x", "b2"]]
    assert group_bursts(frames, BurstRules(gap=0.2)) == [["x", "b2"]]  # 0.05 s apart
    assert group_bursts(frames, BurstRules(max_distance=2)) == [["a1", "a2"], ["x", "b2"]]
    with pytest.raises(InputError):
        BurstRules(gap=0)
    with pytest.raises(InputError):
        BurstRules(max_distance=65)


def test_a_burst_blurred_by_increasing_amounts_picks_its_sharpest_frame(tmp_path):
    frames = burst(tmp_path, sigmas=(1.5, 0, 3.0, 5.0))  # the second frame is the sharp one
    other = save_with_time(tmp_path / "other.jpg", scene(7), "2024:06:01 10:15:00", "450")  # in the gap, unalike
    late = save_with_time(tmp_path / "late.jpg", scene(1), "2024:06:01 10:15:09")  # alike, 8 s later
    untimed = save_with_time(tmp_path / "untimed.jpg", scene(1), None)
    paths = [*frames, other, late, untimed]
    recs = rank_photos(paths, SharpnessDetector(), fingerprint=True).records
    degrees = [r.scores.degree for r in recs[:4]]
    assert degrees[1] < degrees[0] < degrees[2] < degrees[3]
    assert all(r.phash is not None for r in recs)
    n = mark_bursts(recs, capture_times(paths), {r.path: r.phash for r in recs})
    assert n == 1
    by = {r.path.name: r.burst for r in recs}
    assert [by[p.name]["burst_role"] for p in frames] == ["alternate", "pick", "alternate", "alternate"]
    assert {by[p.name]["burst"] for p in frames} == {1} and by[frames[0].name]["burst_size"] == 4
    assert by[frames[0].name]["burst_id"] == "IMG_0000.jpg@2024-06-01T10:15:00"
    assert by[frames[1].name]["taken"] == "2024-06-01T10:15:00.300"
    for name in ("other.jpg", "late.jpg", "untimed.jpg"):
        assert by[name]["burst"] is None and by[name]["burst_role"] is None
    assert recs[0].to_json()["burst_role"] == "alternate"
