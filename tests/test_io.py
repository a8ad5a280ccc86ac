"""blurtool.io: reading every supported kind of photo, refusing bad files with a clear reason, atomic writers."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from blurtool.errors import InputError, OutputError
from blurtool.io import (
    BadInput,
    image_size,
    iter_images,
    kind_to_colour,
    read_image,
    read_labels,
    read_map,
    write_image,
    write_kind_colour,
    write_labels,
    write_map,
    write_npy,
    write_rgba,
)


def _photo(h=48, w=64, seed=0) -> np.ndarray:
    """Smooth colourful uint8 RGB image (compresses well, so JPEG round trips stay close)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 127 + 100 * np.sin(x / 7.0 + seed)
    g = 127 + 100 * np.cos(y / 5.0)
    b = 127 + 100 * np.sin((x + y) / 9.0)
    return np.dstack([r, g, b]).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp", ".webp", ".jpg"])
def test_read_formats_rgb_order_and_range(tmp_path, ext):
    rgb = _photo()
    p = tmp_path / f"a{ext}"
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if ext == ".webp" else []  # >100: lossless WebP
    cv2.imwrite(str(p), rgb[..., ::-1], params)
    a = read_image(p)
    assert a.dtype == np.float32 and a.shape == (48, 64, 3)
    assert 0.0 <= a.min() and a.max() <= 1.0
    tol = 4 / 255 if ext == ".jpg" else 1e-6
    assert np.abs(a - rgb / 255.0).mean() < tol  # RGB, not BGR


def test_read_grayscale_and_16bit(tmp_path):
    g16 = (np.linspace(0, 65535, 40 * 30).reshape(30, 40)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    a = read_image(tmp_path / "g16.png")
    assert a.shape == (30, 40, 3)
    np.testing.assert_allclose(a[..., 1], g16 / 65535.0, atol=1e-6)

    c16 = np.dstack([g16, 65535 - g16, g16 // 2])  # RGB
    cv2.imwrite(str(tmp_path / "c16.png"), c16[..., ::-1])
    cv2.imwrite(str(tmp_path / "c16.tif"), c16[..., ::-1])
    for name in ("c16.png", "c16.tif"):
        a = read_image(tmp_path / name)
        # Full 16-bit precision is kept (Pillow alone would drop the low byte).
        np.testing.assert_allclose(a, c16 / 65535.0, atol=1e-6)

    g8 = _photo()[..., 0]
    cv2.imwrite(str(tmp_path / "g8.png"), g8)
    a = read_image(tmp_path / "g8.png")
    np.testing.assert_allclose(a[..., 2], g8 / 255.0, atol=1e-6)


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 200  # red
    rgba[:, :6, 3] = 255  # left half opaque, right half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    a = read_image(tmp_path / "t.png")
    np.testing.assert_allclose(a[:, :6], np.broadcast_to([200 / 255, 0, 0], (10, 6, 3)), atol=1e-6)
    np.testing.assert_allclose(a[:, 6:], 1.0)
    # 16-bit RGBA goes through the OpenCV path: same rule.
    rgba16 = rgba.astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "t16.png"), rgba16[..., [2, 1, 0, 3]])
    np.testing.assert_allclose(read_image(tmp_path / "t16.png"), a, atol=1e-6)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    from PIL import ImageOps

    rgb = _photo(24, 40)
    im = Image.fromarray(rgb)
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / "o.png"  # PNG keeps pixels exact, and Pillow writes its eXIf chunk
    im.save(p, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB")) / 255.0
    a = read_image(p)
    assert a.shape == expected.shape
    np.testing.assert_allclose(a, expected, atol=1e-6)
    assert image_size(p) == expected.shape[:2]


def test_exif_orientation_jpeg(tmp_path):
    rgb = _photo(24, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held upright: stored landscape, shown portrait
    Image.fromarray(rgb).save(tmp_path / "o.jpg", exif=exif, quality=95)
    a = read_image(tmp_path / "o.jpg")
    assert a.shape == (40, 24, 3)
    assert np.abs(a - np.rot90(rgb, -1) / 255.0).mean() < 0.02


def test_reduced_jpeg_decode_keeps_long_side(tmp_path):
    rgb = cv2.resize(_photo(), (1600, 1200))
    cv2.imwrite(str(tmp_path / "big.jpg"), rgb[..., ::-1])
    assert read_image(tmp_path / "big.jpg", min_size=400).shape == (300, 400, 3)  # 1/4
    assert read_image(tmp_path / "big.jpg", min_size=401).shape == (600, 800, 3)  # 1/2
    assert read_image(tmp_path / "big.jpg", min_size=2000).shape == (1200, 1600, 3)
    cv2.imwrite(str(tmp_path / "big.png"), rgb[..., ::-1])
    assert read_image(tmp_path / "big.png", min_size=400).shape == (1200, 1600, 3)  # only JPEG is reduced


def _assert_input_error(path, *words, **kw):
    with pytest.raises(InputError) as e:
        read_image(path, **kw)
    msg = str(e.value)
    assert str(path) in msg
    for w in words:
        assert w in msg, msg
    assert "\n" not in msg


def test_bad_inputs_are_named_with_reason(tmp_path):
    _assert_input_error(tmp_path / "missing.jpg", "not found")
    _assert_input_error(tmp_path, "directory")
    (tmp_path / "empty.jpg").write_bytes(b"")
    _assert_input_error(tmp_path / "empty.jpg", "empty")
    (tmp_path / "notes.jpg").write_text("this is not a photo\n" * 20)
    _assert_input_error(tmp_path / "notes.jpg", "not a JPEG")

    rgb = cv2.resize(_photo(), (640, 480))
    for ext in (".jpg", ".png"):
        ok, buf = cv2.imencode(ext, rgb)
        data = buf.tobytes()
        for frac in (0.5, 0.9):
            p = tmp_path / f"trunc{int(frac * 100)}{ext}"
            p.write_bytes(data[: int(len(data) * frac)])
            _assert_input_error(p, "truncated or corrupt")

    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((100, 200), np.uint8))
    _assert_input_error(tmp_path / "big.png", "too large", "20000", max_pixels=10_000)
    assert read_image(tmp_path / "big.png", max_pixels=20_000).shape == (100, 200, 3)


def test_pixel_limit_is_checked_before_decoding(tmp_path, monkeypatch):
    # A header claiming 300 MP: must be refused without decoding, including above Pillow's own
    # decompression-bomb limit (~179 MP), which we replace by ours.
    (tmp_path / "bomb.png").write_bytes(png_claiming(20000, 15000))

    def no_decode(*a, **k):
        raise AssertionError("decoded despite the pixel limit")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    _assert_input_error(tmp_path / "bomb.png", "too large", "300 MP")
    monkeypatch.undo()
    assert Image.MAX_IMAGE_PIXELS is not None  # Pillow's global protection restored


def test_write_image_roundtrip_and_atomic(tmp_path):
    rgb = _photo()
    write_image(tmp_path / "x.png", rgb / 255.0)
    np.testing.assert_allclose(read_image(tmp_path / "x.png"), rgb / 255.0, atol=1e-6)
    write_image(tmp_path / "x8.png", rgb)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "x8.png"))[..., ::-1], rgb)
    write_image(tmp_path / "x16.png", rgb.astype(np.uint16) * 257)
    assert cv2.imread(str(tmp_path / "x16.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    write_image(tmp_path / "x.jpg", rgb, quality=90)
    assert read_image(tmp_path / "x.jpg").shape == (48, 64, 3)
    write_rgba(tmp_path / "rgba.png", rgb / 255.0, np.full(rgb.shape[:2], 0.5, np.float32))
    assert cv2.imread(str(tmp_path / "rgba.png"), cv2.IMREAD_UNCHANGED)[0, 0, 3] == 128
    with pytest.raises(OutputError, match="transparency"):
        write_image(tmp_path / "rgba.jpg", np.zeros((4, 4, 4), np.float32))
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]  # no temp files left behind


def test_write_map_and_labels(tmp_path):
    blur = np.tile(np.linspace(0, 1, 11, dtype=np.float32), (3, 1))
    write_map(tmp_path / "m.blur.png", blur)
    raw = cv2.imread(str(tmp_path / "m.blur.png"), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint8 and raw.shape == (3, 11) and raw[0, 0] == 0 and raw[0, -1] == 255
    np.testing.assert_allclose(read_map(tmp_path / "m.blur.png", shape=(3, 11)), blur, atol=0.5 / 255 + 1e-6)
    with pytest.raises(InputError, match="photo is 12 x 3"):
        read_map(tmp_path / "m.blur.png", shape=(3, 12))
    write_map(tmp_path / "m16.png", blur, bits=16)
    np.testing.assert_allclose(read_map(tmp_path / "m16.png"), blur, atol=1e-4)

    kind = np.array([[0, 1, 2]], np.uint8)
    write_labels(tmp_path / "k.labels.png", kind)
    np.testing.assert_array_equal(read_labels(tmp_path / "k.labels.png"), kind)
    write_kind_colour(tmp_path / "k.kind.png", kind)
    colour = cv2.imread(str(tmp_path / "k.kind.png"))[..., ::-1]
    np.testing.assert_array_equal(colour[0], [[0, 0, 0], [255, 0, 0], [0, 0, 255]])
    np.testing.assert_array_equal(kind_to_colour(kind), colour)
    write_npy(tmp_path / "m.npy", blur)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), blur)


def test_write_errors(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        write_map(tmp_path / "nope" / "m.png", np.zeros((2, 2), np.float32))
    with pytest.raises(OutputError, match="unsupported output format"):
        write_image(tmp_path / "m.gif", np.zeros((2, 2, 3), np.float32))
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(OutputError, match="cannot write"):
                write_map(ro / "m.png", np.zeros((2, 2), np.float32))
        finally:
            ro.chmod(0o700)


def test_iter_images(tmp_path):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    (d / ".hidden").mkdir()
    for p in (d / "b.jpg", d / "a.PNG", d / "sub" / "c.tif", d / ".hidden" / "h.jpg", d / "notes.txt",
              d / "a.blur.png"):
        p.write_bytes(b"x")
    f = tmp_path / "single.webp"
    f.write_bytes(b"x")

    # A folder means its photos at the top level; --recursive adds its sub-folders.
    got = list(iter_images([d], exclude=lambda p: p.name.endswith(".blur.png")))
    assert got == [d / "a.PNG", d / "b.jpg"]
    got = list(iter_images([f, d, f], recursive=True, exclude=lambda p: p.name.endswith(".blur.png")))
    assert got == [f, d / "a.PNG", d / "b.jpg", d / "sub" / "c.tif"]  # sorted, deduplicated, hidden skipped

    # A folder whose photos are all in sub-folders says how to take them.
    items = list(iter_images([d / "sub" / ".."]))  # the same folder by another name: top level has photos
    assert len(items) == 3
    (tmp_path / "tree" / "2024").mkdir(parents=True)
    (tmp_path / "tree" / "2024" / "x.jpg").write_bytes(b"x")
    items = list(iter_images([tmp_path / "tree"]))
    assert len(items) == 1 and isinstance(items[0], BadInput) and "`recursive`" in items[0].reason
    assert list(iter_images([tmp_path / "tree"], recursive=True)) == [tmp_path / "tree" / "2024" / "x.jpg"]
    (tmp_path / "empty").mkdir()
    items = list(iter_images([tmp_path / "empty"]))
    assert isinstance(items[0], BadInput) and "contains no images" in items[0].reason
    # A glob matching folders takes their top level too, as the shell's expansion of the same pattern would.
    assert isinstance(list(iter_images([str(tmp_path / "tre*")]))[0], BadInput)  # tree/ has no photo at its top
    assert [p.name for p in iter_images([str(tmp_path / "tree" / "20*")])] == ["x.jpg"]

    got = list(iter_images([str(d / "*.jpg"), str(tmp_path / "none*.jpg"), tmp_path / "missing.jpg"]))
    assert got[0] == d / "b.jpg"
    assert isinstance(got[1], BadInput) and "no image files match" in got[1].reason
    assert isinstance(got[2], BadInput) and "not found" in got[2].reason
    assert str(got[2].error()).startswith(str(tmp_path / "missing.jpg"))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels but that carries almost no data: a decompression bomb's
    header, enough to test that the pixel limit is applied before decoding."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_outputs_get_normal_permissions_not_mkstemp_0600(tmp_path):
    import os
    import stat

    from blurtool.io import write_map, write_text_atomic

    umask = os.umask(0o022)
    os.umask(umask)
    write_map(tmp_path / "m.png", np.zeros((4, 4), np.float32))
    write_text_atomic(tmp_path / "t.csv", "a,b\n1,2\n", newline="")
    for name in ("m.png", "t.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask
    assert (tmp_path / "t.csv").read_bytes() == b"a,b\n1,2\n"


# ---------------------------------------------------------------------------------------------- HEIC and AVIF


@pytest.fixture
def heif():
    """pillow-heif registered with Pillow (for saving HEIC files in tests; blurtool registers it to read them)."""
    pytest.importorskip("pillow_heif")
    from blurtool.io import _register_heif

    assert _register_heif()


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


@pytest.mark.parametrize("orientation", [1, 6, 3, 8])
def test_heic_is_read_with_its_orientation(tmp_path, orientation, heif):
    img = _photo(48, 64)
    img[:8, :12] = 255  # a white corner shows where the top-left went
    Image.fromarray(img).save(tmp_path / "a.heic", quality=95, exif=_exif(orientation))
    Image.fromarray(img).save(tmp_path / "a.jpg", quality=95, exif=_exif(orientation))
    heic, jpeg = read_image(tmp_path / "a.heic"), read_image(tmp_path / "a.jpg")
    assert heic.shape == jpeg.shape and image_size(tmp_path / "a.heic") == heic.shape[:2]
    assert np.abs(heic - jpeg).mean() < 0.02  # the same picture, the same way up as the JPEG viewers rotate
    if orientation != 1:
        assert heic.shape != img.shape or np.abs(heic - img / 255).mean() > 0.05


def test_map_of_a_heic_matches_the_map_of_the_same_photo_as_jpeg(tmp_path, heif):
    """As for RAW (tests/test_raw.py): HEVC at quality 95 changes the photo about as much as JPEG 95, so the two
    maps agree far better than the 0.03 mean difference a picture read wrong would exceed."""
    from blurtool.inference import BlurDetector

    photo = Image.open(Path(__file__).parents[1] / "examples" / "dogs_shaken.jpg")
    photo.thumbnail((480, 480))
    photo.save(tmp_path / "shot.heic", quality=95)
    photo.save(tmp_path / "shot.jpg", quality=95)
    det = BlurDetector.from_weights(None, device="cpu", flip_average=False)
    a, b = (det.predict(read_image(tmp_path / f"shot.{ext}")) for ext in ("heic", "jpg"))
    assert a.blur.shape == b.blur.shape
    assert np.abs(a.blur - b.blur).mean() < 0.03
    assert abs((a.blur >= b.threshold).mean() - (b.blur >= b.threshold).mean()) < 0.02


def test_avif_is_read(tmp_path):
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF plugin")
    img = _photo()
    Image.fromarray(img).save(tmp_path / "a.avif", quality=95)
    got = read_image(tmp_path / "a.avif")
    assert got.shape == img.shape and np.abs(got - img / 255).mean() < 0.03


def test_heic_without_its_decoder_says_what_to_install(tmp_path, monkeypatch, heif):
    import blurtool.io as bio

    Image.fromarray(_photo()).save(tmp_path / "a.heic", quality=90)
    monkeypatch.setattr(bio, "_register_heif", lambda: False)
    monkeypatch.setattr(Image, "OPEN", {k: v for k, v in Image.OPEN.items() if k != "HEIF"})
    with pytest.raises(InputError, match=r'pillow-heif, which is not installed: pip install pillow-heif'):
        read_image(tmp_path / "a.heic")


def test_corrupt_heic_is_one_clear_error(tmp_path, heif):
    Image.fromarray(_photo()).save(tmp_path / "a.heic", quality=90)
    data = (tmp_path / "a.heic").read_bytes()
    (tmp_path / "cut.heic").write_bytes(data[:200])
    with pytest.raises(InputError, match="truncated or corrupt HEIF"):
        read_image(tmp_path / "cut.heic")


def test_a_heic_cut_in_its_data_is_one_line(tmp_path, heif):
    # libheif's messages end with a newline ("... references data outside of file bounds (points to ...)\n"): the
    # error must still be one line, as for every other bad photo.
    Image.fromarray(_photo()).save(tmp_path / "a.heic", quality=90)
    data = (tmp_path / "a.heic").read_bytes()
    for n in (len(data) // 4, len(data) // 2, len(data) - 100):
        (tmp_path / "cut.heic").write_bytes(data[:n])
        with pytest.raises(InputError) as e:
            read_image(tmp_path / "cut.heic")
        assert "\n" not in str(e.value) and str(e.value).startswith(str(tmp_path / "cut.heic"))


def test_one_line():
    from blurtool.errors import one_line

    assert one_line("Invalid input: Unexpected end of file\n") == "Invalid input: Unexpected end of file"
    assert one_line("a\n  b\tc ") == "a b c"
