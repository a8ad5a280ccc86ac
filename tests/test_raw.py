"""Camera RAW input (blurtool.raw through blurtool.io.read_image) on real DNG files written in code."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rawpy")
pytest.importorskip("imagecodecs")  # tifffile's JPEG-compressed strips, for the embedded previews

sys.path.insert(0, str(Path(__file__).parent))
from raw_files import jpeg_bytes, write_dng

from blurtool import raw
from blurtool.errors import InputError
from blurtool.io import _apply_orientation, image_size, iter_images, read_image, write_image

EXAMPLES = Path(__file__).parents[1] / "examples"


def scene(h=120, w=180, seed=0):
    """A smooth colour picture (what a lens gives: no detail at the pixel pitch, so demosaicing is nearly exact) with
    an asymmetric bright corner, so that a wrong orientation shows."""
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.random((h // 10, w // 10, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0.05, 0.95)
    img[: h // 6, : w // 4] = 1.0  # white patch, > 1 % of the frame: LibRaw's auto-brightness leaves it alone
    return img


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_dng_is_read_by_libraw_developed_and_oriented(tmp_path, orientation):
    sensor = scene()
    path = write_dng(tmp_path / "a.dng", sensor, orientation=orientation)
    shown = _apply_orientation(sensor, orientation)
    got = read_image(path)
    assert got.dtype == np.float32 and got.shape == shown.shape
    assert image_size(path) == shown.shape[:2]
    # LibRaw's demosaic of a smooth picture is within a few levels of it; the wrong rotation would be 0.1+ off.
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(got - shown)[inner].mean() < 0.02
    if orientation == 3:
        assert np.abs(got - sensor).mean() > 0.05  # the check above does see a wrong rotation


def test_map_of_a_raw_matches_the_map_of_the_same_photo_as_jpeg(tmp_path):
    """The shipped model's map of a real photo written as a DNG, against its map of the photo saved as JPEG.

    Tolerance: demosaicing changes this picture by 0.005 per sample on average, as much as JPEG quality 95 does,
    and moved the map by 0.009 (mean absolute difference) against JPEG's 0.005 from a lossless PNG when measured;
    0.03 leaves room for other LibRaw versions' demosaicing, while a picture read mirrored, rotated or with wrong
    colours or brightness moves the map by 0.1 and more. The blurred share (the summary number) must agree to 2 %.
    """
    import cv2

    from blurtool.inference import BlurDetector

    photo = read_image(EXAMPLES / "dandelion.jpg")
    h, w = photo.shape[:2]
    s = 480 / max(h, w)
    img8 = (cv2.resize(photo, (round(w * s) // 2 * 2, round(h * s) // 2 * 2), interpolation=cv2.INTER_AREA) * 255
            + 0.5).astype(np.uint8)
    write_dng(tmp_path / "shot.dng", img8)
    write_image(tmp_path / "shot.jpg", img8, quality=95)
    det = BlurDetector.from_weights(None, device="cpu", flip_average=False)
    from_raw = det.predict(read_image(tmp_path / "shot.dng"))
    from_jpeg = det.predict(read_image(tmp_path / "shot.jpg"))
    assert from_raw.blur.shape == from_jpeg.blur.shape == img8.shape[:2]
    assert np.abs(from_raw.blur - from_jpeg.blur).mean() < 0.03
    thr = from_jpeg.threshold
    assert abs((from_raw.blur >= thr).mean() - (from_jpeg.blur >= thr).mean()) < 0.02
    assert (from_raw.kind == from_jpeg.kind).mean() > 0.97


def test_full_size_read_keeps_16_bits(tmp_path):
    sensor = np.linspace(0.2, 0.8, 64 * 96, dtype=np.float32).reshape(64, 96)[..., None].repeat(3, axis=2)
    sensor[:8, :8] = 1.0
    got = read_image(write_dng(tmp_path / "g.dng", sensor))
    levels = np.unique(got[20:40, 20:70, 1])
    assert len(levels) > 255 or np.diff(levels).min() < 1 / 255 - 1e-6  # finer than 8-bit steps


# ------------------------------------------------------------------------------------ embedded preview (rank)


def marked(h, w, value):
    """A uint8 picture that tells where pixels came from: the preview is painted `value`."""
    a = np.full((h, w, 3), value, np.uint8)
    a[: h // 6, : w // 4] = 255
    return a


def test_preview_is_used_when_it_covers_the_working_size(tmp_path):
    sensor = scene(240, 360)
    path = write_dng(tmp_path / "p.dng", sensor, orientation=6, preview=marked(240, 360, 40))
    got = read_image(path, min_size=150)
    # 1/2 DCT scaling keeps 180 >= 150 px; the preview is rotated like the RAW; its dark grey is not the scene.
    assert got.shape == (180, 120, 3)
    assert abs(np.median(got) - 40 / 255) < 0.02
    assert got[:10, -10:].mean() > 0.95  # the white corner went top-right, as orientation 6 says
    assert image_size(path) == (360, 240)  # the photo's size is the RAW's, not the preview's


def test_preview_too_small_falls_back_to_half_size_develop(tmp_path):
    sensor = scene(240, 360)
    path = write_dng(tmp_path / "p.dng", sensor, preview=marked(60, 90, 40))
    got = read_image(path, min_size=150)
    assert got.shape == (120, 180, 3)  # half size: 2 x 2 Bayer cells
    assert abs(np.median(got) - 40 / 255) > 0.1  # the scene, not the preview


def test_preview_of_another_aspect_or_orientation_is_not_used(tmp_path):
    sensor = scene(240, 360)
    cropped = write_dng(tmp_path / "c.dng", sensor, preview=marked(200, 360, 40))  # 16:9-ish crop of a 3:2 frame
    assert read_image(cropped, min_size=100).shape == (120, 180, 3)
    # A preview stored already upright but tagged 1 while the RAW says 6: oriented, it is landscape, the photo
    # portrait: not used.
    stored = write_dng(tmp_path / "o.dng", sensor, orientation=6,
                       preview_jpeg=jpeg_bytes(marked(240, 360, 40), exif_orientation=1))
    got = read_image(stored, min_size=100)
    assert got.shape == (180, 120, 3) and abs(np.median(got) - 40 / 255) > 0.1
    # Its own EXIF orientation agreeing with the RAW: used.
    agree = write_dng(tmp_path / "a.dng", sensor, orientation=6,
                      preview_jpeg=jpeg_bytes(marked(240, 360, 40), exif_orientation=6))
    got = read_image(agree, min_size=100)
    assert got.shape == (180, 120, 3)
    assert abs(np.median(got) - 40 / 255) < 0.02


def test_preview_fits():
    fits = raw.preview_fits
    assert fits((4000, 6000), (4000, 6000), 640)
    assert fits((4024, 6048), (4000, 6000), 640)  # margins: 0.2 %
    assert fits((4000, 6000), (1080, 1616), 640)
    assert not fits((4000, 6000), (424, 640), 1000)  # too small
    assert not fits((4000, 6000), (3376, 6000), 640)  # 16:9 crop
    assert not fits((6000, 4000), (4000, 6000), 640)  # landscape preview of a portrait photo
    assert not fits((4000, 6000), (0, 0), 1)


# ------------------------------------------------------------------------------------------------ bad input


def test_bad_raw_files_are_one_clear_error(tmp_path):
    good = write_dng(tmp_path / "good.dng", scene()).read_bytes()
    (tmp_path / "truncated.dng").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.cr2").write_text("not a raw file " * 20)
    (tmp_path / "jpeg.nef").write_bytes((EXAMPLES / "dandelion.jpg").read_bytes())
    (tmp_path / "empty.arw").write_bytes(b"")
    (tmp_path / "tiny.cr2").write_bytes(b"hello")  # too short for LibRaw to read a header: an I/O error on opening
    cases = {"tiny.cr2": "not a RAW photo, or cut off before its header", "truncated.dng": "truncated or corrupt RAW", "text.cr2": "unsupported or damaged RAW file",
             "jpeg.nef": "unsupported or damaged RAW file", "empty.arw": "empty", "missing.raf": "not found"}
    for name, words in cases.items():
        with pytest.raises(InputError, match=words) as e:
            read_image(tmp_path / name)
        assert str(e.value).startswith(str(tmp_path / name)) and "\n" not in str(e.value)


def test_a_damaged_raw_is_one_line_and_libraw_prints_nothing_of_its_own(tmp_path, capfd):
    good = write_dng(tmp_path / "good.dng", scene()).read_bytes()
    (tmp_path / "truncated.dng").write_bytes(good[: len(good) // 2])
    print("written before", file=sys.stderr)
    with pytest.raises(InputError, match="truncated or corrupt RAW"):
        read_image(tmp_path / "truncated.dng")
    read_image(tmp_path / "good.dng")
    err = capfd.readouterr().err
    # LibRaw's own "<path>: Unexpected end of file" is held back; what else reached fd 2 is passed on.
    assert "Unexpected end of file" not in err and err == "written before\n"


def test_libraw_stderr_passes_on_what_others_write_meanwhile(capfd):
    with raw._libraw_stderr():
        with raw._libraw_stderr():  # a second thread's LibRaw call inside the first: one redirection
            os.write(2, b"/x/a.dng: Unexpected end of file\n")
            os.write(2, b"progress 3/10\n")
        os.write(2, b"/x/b.nef: data corrupted at 1234\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "progress 3/10\nafter\n"


def test_raw_without_libraw_says_what_to_install(tmp_path, monkeypatch):
    path = write_dng(tmp_path / "a.dng", scene())
    monkeypatch.setattr(raw, "_rawpy", lambda: None)
    for read in (read_image, image_size):
        with pytest.raises(InputError, match=r'not installed: pip install rawpy'):
            read(path)


def test_raw_too_large_is_refused_from_its_metadata(tmp_path):
    path = write_dng(tmp_path / "a.dng", scene())
    with pytest.raises(InputError, match="too large"):
        read_image(path, max_pixels=1000)


def test_folders_take_raw_files(tmp_path):
    for name in ("a.DNG", "b.cr3", "c.nef", "d.arw", "e.raf", "f.orf", "g.rw2", "h.pef", "i.cr2", "notes.xmp"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in iter_images([tmp_path])] == ["a.DNG", "b.cr3", "c.nef", "d.arw", "e.raf", "f.orf",
                                                          "g.rw2", "h.pef", "i.cr2"]
