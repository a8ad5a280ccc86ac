import json

import cv2
import numpy as np
from PIL import Image
from typer.testing import CliRunner

from blurtool.cli import app
from blurtool.io import read_image, write_image, write_map

runner = CliRunner()


def _photo(tmp_path, h=120, w=160):
    """A sharp reddish texture disk on a blurred bluish background, and a coarse blur map of it."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - h // 2) ** 2 + (xx - w // 2) ** 2 < 35**2
    tex = rng.random((h, w, 3)).astype(np.float32) * 0.3 + np.array([0.6, 0.1, 0.1], np.float32)
    bg = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32) * 0.3 + np.array([0.1, 0.2, 0.6], np.float32),
                          (0, 0), 3)
    photo = tmp_path / "photo.png"
    write_image(photo, np.clip(np.where(disk[..., None], tex, bg), 0, 1))
    map_file = tmp_path / "photo.blur.png"
    write_map(map_file, cv2.GaussianBlur((~disk).astype(np.float32), (0, 0), 4))
    return photo, map_file, disk


def _run(*args):
    return runner.invoke(app, ["matte", *map(str, args), "--threshold", "0.5"])


def test_matte_writes_alpha_cutout_and_colour_composite(tmp_path):
    photo, map_file, disk = _photo(tmp_path)
    out = tmp_path / "out"
    res = _run(photo, "--map", map_file, "--out", out, "--background", "#00FF00", "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.strip().splitlines()[-1])
    assert row["status"] == "ok" and row["method"] == "closed-form"
    alpha = cv2.imread(str(out / "photo.alpha.png"), cv2.IMREAD_UNCHANGED) / 255.0
    assert alpha.shape == disk.shape and np.abs(alpha - disk).mean() < 0.02
    rgba = np.asarray(Image.open(out / "photo.matte.png"))
    assert rgba.shape == disk.shape + (4,)
    comp = read_image(out / "photo.composite.jpg")
    assert comp[5, 5, 1] > 0.9 and comp[5, 5, 0] < 0.1  # green where the photo was blurred
    photo_px = read_image(photo)
    assert np.abs(comp[60, 80] - photo_px[60, 80]).max() < 0.06  # the subject where it was sharp (JPEG error)


def test_matte_composite_onto_image_background(tmp_path):
    photo, map_file, _ = _photo(tmp_path)
    bg = tmp_path / "beach.jpg"
    write_image(bg, np.full((300, 100, 3), [1.0, 1.0, 0.0], np.float32))  # another aspect ratio: cropped to fill
    res = _run(photo, "--map", map_file, "--out", tmp_path / "o", "--background", bg)
    assert res.exit_code == 0, res.output
    comp = read_image(tmp_path / "o" / "photo.composite.jpg")
    assert comp.shape == (120, 160, 3) and comp[5, 5, 2] < 0.1 and comp[5, 5, 0] > 0.9


def test_matte_bad_background(tmp_path):
    photo, map_file, _ = _photo(tmp_path)
    res = _run(photo, "--map", map_file, "--background", "missing.jpg")
    assert res.exit_code == 1 and "missing.jpg" in res.stderr and "not found" in res.stderr
    res = _run(photo, "--map", map_file, "--background", "notacolour")
    assert res.exit_code == 1 and "colour" in res.stderr


def test_matte_all_blurred_map_gives_empty_alpha_and_a_note(tmp_path):
    photo, map_file, _ = _photo(tmp_path)
    write_map(map_file, np.ones((120, 160), np.float32))
    res = _run(photo, "--map", map_file, "--out", tmp_path / "o", "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.strip().splitlines()[-1])
    assert row["method"] == "uniform" and "no sharp region" in row["note"]
    assert (cv2.imread(str(tmp_path / "o" / "photo.alpha.png"), cv2.IMREAD_UNCHANGED) == 0).all()


def test_matte_wrong_size_map_and_missing_photo(tmp_path):
    photo, map_file, _ = _photo(tmp_path)
    write_map(map_file, np.zeros((10, 20), np.float32))
    res = _run(photo, "--map", map_file, "--out", tmp_path / "o")
    assert res.exit_code == 1 and "20 x 10" in res.stderr
    res = _run(tmp_path / "nope.png", "--map", map_file)
    assert res.exit_code == 1 and "nope.png" in res.stderr
