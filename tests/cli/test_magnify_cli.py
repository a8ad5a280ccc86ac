import json

import cv2
import numpy as np
from typer.testing import CliRunner

from blurtool.cli import app
from blurtool.io import read_image, write_image, write_map

runner = CliRunner()


def _photo(tmp_path, h=120, w=160):
    """A sharp texture disk (map 0) on a blurred background (map 1), saved as PNG."""
    rng = np.random.default_rng(6)
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - h // 2) ** 2 + (xx - w // 2) ** 2 < 35**2
    tex = rng.random((h, w, 3)).astype(np.float32)
    bg = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2)
    photo = tmp_path / "photo.png"
    write_image(photo, np.where(disk[..., None], tex, bg))
    map_file = tmp_path / "photo.blur.png"
    write_map(map_file, cv2.GaussianBlur((~disk).astype(np.float32), (0, 0), 2))
    return photo, map_file


def _run(*args):
    return runner.invoke(app, ["magnify", *map(str, args), "--threshold", "0.5"])


def test_magnify_keeps_sharp_pixels_bit_identical_in_the_file(tmp_path):
    photo, map_file = _photo(tmp_path)
    res = _run(photo, "--map", map_file, "--out", tmp_path / "o", "--strength", "6px", "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.strip().splitlines()[-1])
    assert row["status"] == "ok" and row["max_radius_px"] == 6.0
    before = cv2.imread(str(photo))
    after = cv2.imread(str(tmp_path / "o" / "photo.magnified.png"))
    sharp = cv2.imread(str(map_file), cv2.IMREAD_UNCHANGED) / 255.0 < 0.1
    assert sharp.sum() > 2000
    assert np.array_equal(before[sharp], after[sharp])
    lap = lambda a: np.abs(cv2.Laplacian(a.mean(axis=2), cv2.CV_64F))[10:30, 10:30].mean()
    assert lap(after) < 0.7 * lap(before)  # the background got blurrier


def test_a_16_bit_photo_or_a_raw_gives_a_16_bit_png_with_sharp_pixels_identical(tmp_path):
    """What an editing command writes keeps the photo's depth: a 16-bit PNG (or a RAW, developed at 16 bits) gives a
    16-bit PNG whose untouched pixels are the ones blurtool read; an 8-bit photo an 8-bit one (test above)."""
    import pytest

    photo, map_file = _photo(tmp_path)
    deep = tmp_path / "deep.png"
    write_image(deep, (read_image(photo) * 65535 + 0.5).astype(np.uint16) - 7)  # not a multiple of 257
    res = _run(deep, "--map", map_file, "--out", tmp_path / "o", "--strength", "6px")
    assert res.exit_code == 0, res.output
    before = cv2.imread(str(deep), cv2.IMREAD_UNCHANGED)
    after = cv2.imread(str(tmp_path / "o" / "deep.magnified.png"), cv2.IMREAD_UNCHANGED)
    sharp = cv2.imread(str(map_file), cv2.IMREAD_UNCHANGED) / 255.0 < 0.1
    assert after.dtype == np.uint16 and np.array_equal(before[sharp], after[sharp])

    pytest.importorskip("rawpy")
    pytest.importorskip("tifffile")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from raw_files import write_dng

    dng = write_dng(tmp_path / "shot.dng", read_image(photo))
    res = _run(dng, "--map", map_file, "--out", tmp_path / "o", "--strength", "6px")
    assert res.exit_code == 0, res.output
    after = cv2.imread(str(tmp_path / "o" / "shot.magnified.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    developed = (read_image(dng) * 65535 + 0.5).astype(np.uint16)
    assert after.dtype == np.uint16 and np.array_equal(developed[sharp], after[sharp])


def test_magnify_gaussian_method_and_jpg(tmp_path):
    photo, map_file = _photo(tmp_path)
    res = _run(photo, "--map", map_file, "--out", tmp_path / "o", "--method", "gaussian", "--format", "jpg")
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "o" / "photo.magnified.jpg").shape == (120, 160, 3)


def test_magnify_bad_inputs(tmp_path):
    photo, map_file = _photo(tmp_path)
    res = _run(photo, "--map", map_file, "--strength", "huge")
    assert res.exit_code == 1 and "--strength" in res.stderr and "Traceback" not in res.output
    res = _run(tmp_path / "nope.png", "--map", map_file)
    assert res.exit_code == 1 and "nope.png" in res.stderr
    write_map(map_file, np.zeros((60, 80), np.float32))
    res = _run(photo, "--map", map_file, "--out", tmp_path / "o")
    assert res.exit_code == 1 and "80 x 60" in res.stderr


def test_magnify_all_sharp_map_changes_nothing(tmp_path):
    photo, map_file = _photo(tmp_path)
    write_map(map_file, np.zeros((120, 160), np.float32))
    res = _run(photo, "--map", map_file, "--out", tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert np.array_equal(cv2.imread(str(photo)), cv2.imread(str(tmp_path / "o" / "photo.magnified.png")))
