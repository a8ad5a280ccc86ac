import json

import cv2
import numpy as np
from PIL import Image
from typer.testing import CliRunner

from blurtool.cli import app
from blurtool.io import write_image, write_map

runner = CliRunner()


def _photo(tmp_path, h=120, w=160, name="photo.png"):
    """A sharp reddish texture disk on a blurred bluish background, and its exact blur map (255 = blurred)."""
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - h // 2) ** 2 + (xx - w // 2) ** 2 < 35**2
    tex = rng.random((h, w, 3)).astype(np.float32) * 0.5 + np.array([0.5, 0.1, 0.1], np.float32)
    bg = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32) * 0.5 + np.array([0.1, 0.2, 0.5], np.float32),
                          (0, 0), 3)
    image = np.clip(np.where(disk[..., None], tex, bg), 0, 1).astype(np.float32)
    photo = tmp_path / name
    write_image(photo, image)
    blur = cv2.GaussianBlur((~disk).astype(np.float32), (0, 0), 4)
    map_file = tmp_path / (photo.stem + ".blur.png")
    write_map(map_file, blur)
    return photo, map_file, disk


def test_segment_writes_mask_and_cutout(tmp_path):
    photo, map_file, disk = _photo(tmp_path)
    out = tmp_path / "out"
    res = runner.invoke(app, ["segment", str(photo), "--map", str(map_file), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.strip().splitlines()[-1])
    assert row["status"] == "ok" and row["method"] == "grabcut"
    mask = cv2.imread(str(out / "photo.mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == disk.shape and set(np.unique(mask)) <= {0, 255}
    assert ((mask > 0) & disk).sum() / ((mask > 0) | disk).sum() > 0.95
    cut = np.asarray(Image.open(out / "photo.cutout.png"))
    assert cut.shape == disk.shape + (4,) and (cut[..., 3] == mask).all()
    # The photo itself is untouched and a second run skips the existing outputs.
    res = runner.invoke(app, ["segment", str(photo), "--map", str(map_file), "--out", str(out), "--json"])
    assert json.loads(res.stdout.strip().splitlines()[-1])["status"] == "skipped"


def test_segment_follows_exif_orientation(tmp_path):
    photo, map_file, _ = _photo(tmp_path)
    # Store the photo rotated with an EXIF "rotate 90 CW to view" tag: the viewer (and blurtool) sees the original.
    im = Image.open(photo).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = tmp_path / "rotated.jpg"
    im.save(rotated, quality=98, exif=exif)
    res = runner.invoke(app, ["segment", str(rotated), "--map", str(map_file), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert cv2.imread(str(tmp_path / "o" / "rotated.mask.png"), cv2.IMREAD_UNCHANGED).shape == (120, 160)


def test_segment_all_sharp_map_falls_back_with_a_note(tmp_path):
    photo, map_file, _ = _photo(tmp_path)
    write_map(map_file, np.zeros((120, 160), np.float32))
    res = runner.invoke(app, ["segment", str(photo), "--map", str(map_file), "--out", str(tmp_path / "o"),
                              "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.strip().splitlines()[-1])
    assert row["method"] == "threshold" and "no blurred" in row["note"]
    assert (cv2.imread(str(tmp_path / "o" / "photo.mask.png"), cv2.IMREAD_UNCHANGED) == 255).all()


def test_segment_map_of_wrong_size_fails_that_photo(tmp_path):
    photo, map_file, _ = _photo(tmp_path)
    write_map(map_file, np.zeros((50, 50), np.float32))
    res = runner.invoke(app, ["segment", str(photo), "--map", str(map_file), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "50 x 50" in res.stderr and "Traceback" not in res.output
    assert not (tmp_path / "o" / "photo.mask.png").exists()


def test_segment_missing_photo_and_missing_map(tmp_path):
    photo, map_file, _ = _photo(tmp_path)
    res = runner.invoke(app, ["segment", str(tmp_path / "nope.jpg"), "--map", str(map_file)])
    assert res.exit_code == 1 and "nope.jpg" in res.stderr
    res = runner.invoke(app, ["segment", str(photo), "--map", str(tmp_path / "none.blur.png")])
    assert res.exit_code == 1 and "none.blur.png" in res.stderr


def test_segment_no_grabcut_is_the_thresholded_map(tmp_path):
    photo, map_file, _ = _photo(tmp_path)
    res = runner.invoke(app, ["segment", str(photo), "--map", str(map_file), "--no-grabcut", "--out",
                              str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["method"] == "threshold"
    mask = cv2.imread(str(tmp_path / "o" / "photo.mask.png"), cv2.IMREAD_UNCHANGED) > 0
    blur = cv2.imread(str(map_file), cv2.IMREAD_UNCHANGED) / 255.0
    assert (mask == (blur < 0.5)).all()
