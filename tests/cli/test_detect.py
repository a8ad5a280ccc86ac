"""`blurtool detect` end to end through CliRunner, with a small randomly initialised BlurNet saved as a real
weights file (the plumbing is under test here, not the network's quality)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from blurtool.cli import app

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/raw_files.py

runner = CliRunner()


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8), (200, 150), interpolation=cv2.INTER_NEAREST)
    img[:, 100:] = cv2.GaussianBlur(img, (0, 0), 3)[:, 100:]
    p = tmp_path / "photo.jpg"
    cv2.imwrite(str(p), img)
    return p


def invoke(*args):
    return runner.invoke(app, ["detect", *map(str, args)])


def test_detect_writes_all_outputs(weights, photo, tmp_path):
    out = tmp_path / "out"
    r = invoke(photo, "--weights", weights, "--out", out, "--device", "cpu", "--save", "blur,kind,overlay,npy,amount")
    assert r.exit_code == 0, r.output
    from blurtool.amount import from_png
    from blurtool.inference import BlurDetector
    from blurtool.io import read_image

    amount = cv2.imread(str(out / "photo.amount.png"), cv2.IMREAD_UNCHANGED)
    assert amount.dtype == np.uint8 and amount.shape == (150, 200)
    expected = BlurDetector.from_weights(weights, device="cpu").predict(read_image(photo)).amount
    assert np.abs(from_png(amount) - np.minimum(expected, 25.5)).max() <= 0.051  # tenths of the documented unit
    blur = cv2.imread(str(out / "photo.blur.png"), cv2.IMREAD_UNCHANGED)
    labels = cv2.imread(str(out / "photo.labels.png"), cv2.IMREAD_UNCHANGED)
    kind = cv2.imread(str(out / "photo.kind.png"))[..., ::-1]
    overlay = cv2.imread(str(out / "photo.overlay.jpg"))
    npy = np.load(out / "photo.blur.npy")
    assert blur.dtype == np.uint8 and blur.shape == (150, 200)  # full size, grey
    assert labels.shape == kind.shape[:2] == overlay.shape[:2] == npy.shape == (150, 200)
    assert set(np.unique(labels)) <= {0, 1, 2}
    np.testing.assert_array_equal(kind[labels == 0], 0)
    np.testing.assert_allclose(blur, np.round(npy * 255), atol=1)
    # Labels agree with the map and the card's threshold (0.5).
    assert ((labels > 0) == (npy >= 0.5)).mean() > 0.999
    assert "photo.jpg" in r.stdout and "dominant" in r.stdout


def test_detect_json_and_defaults(weights, photo):
    r = invoke(photo, "--weights", weights, "--json", "--threshold", "0.3")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert rec["status"] == "ok" and rec["threshold"] == 0.3 and rec["width"] == 200
    assert sorted(rec["outputs"]) == ["amount", "blur", "kind", "labels", "overlay"]
    assert rec["amount"] >= 0 and rec["amount_level"] in ("none", "low", "medium", "high")
    for key in ("blurred_fraction", "defocus_fraction", "motion_fraction", "degree"):
        assert 0.0 <= rec[key] <= 1.0
    assert rec["dominant_kind"] in ("sharp", "defocus", "motion")
    assert abs(rec["blurred_fraction"] - rec["defocus_fraction"] - rec["motion_fraction"]) < 1e-9
    # Outputs exist now: skipped without --overwrite.
    r = invoke(photo, "--weights", weights, "--json")
    assert json.loads(r.stdout)["status"] == "skipped"


def test_weights_without_an_amount_channel_write_the_other_outputs(photo, tmp_path):
    from blurtool.model import create_model
    from blurtool.weights import save_weights

    old = tmp_path / "old.pt"
    save_weights(old, create_model("blurnet"), {"threshold": 0.5, "working_size": 96})
    r = invoke(photo, "--weights", old, "--out", tmp_path / "o", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert sorted(rec["outputs"]) == ["blur", "kind", "labels", "overlay"] and "amount" not in rec
    r = invoke(photo, "--weights", old, "--out", tmp_path / "p", "--save", "blur,amount")
    assert r.exit_code != 0 and "no blur-amount channel" in r.output and not (tmp_path / "p").exists()


def test_bad_save_choice(weights, photo):
    r = invoke(photo, "--weights", weights, "--save", "blur,colour")
    assert r.exit_code == 2 and "colour" in r.output


def _bad_files(tmp_path):
    """Every kind of bad input, each with the words its error message must contain."""
    good = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()
    png = cv2.imencode(".png", np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8))[1]
    png = png.tobytes()
    cases = {}
    cases["missing.jpg"] = ("not found", None)
    (tmp_path / "folder").mkdir()
    cases["folder"] = ("folder contains no images", None)
    (tmp_path / "empty.jpg").write_bytes(b"")
    cases["empty.jpg"] = ("empty", None)
    (tmp_path / "trunc.jpg").write_bytes(good[: len(good) // 2])
    cases["trunc.jpg"] = ("truncated or corrupt", None)
    (tmp_path / "trunc.png").write_bytes(png[: len(png) // 2])
    cases["trunc.png"] = ("truncated or corrupt", None)
    (tmp_path / "text.jpg").write_text("hello, I am not a photo\n")
    cases["text.jpg"] = ("not a JPEG", None)
    (tmp_path / "huge.png").write_bytes(png_claiming(20000, 15000))  # 300 MP claimed by a 100-byte file
    cases["huge.png"] = ("too large", None)
    (tmp_path / "camera.cr3").write_bytes(b"\x00" * 64 + b"not the raw data of any camera LibRaw knows" * 4)
    cases["camera.cr3"] = ("unsupported or damaged RAW file" if _has("rawpy") else 'pip install rawpy', None)
    if _has("rawpy") and _has("tifffile"):
        from raw_files import write_dng

        dng = write_dng(tmp_path / "whole.dng", np.full((64, 96, 3), 0.5, np.float32)).read_bytes()
        (tmp_path / "whole.dng").unlink()
        (tmp_path / "cut.dng").write_bytes(dng[: len(dng) // 2])
        cases["cut.dng"] = ("truncated or corrupt RAW data", None)
    (tmp_path / "cut.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 40)
    cases["cut.heic"] = ("truncated or corrupt HEIF" if _has("pillow_heif") else 'pip install pillow-heif', None)
    return cases


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_every_bad_input_is_one_line_and_batch_goes_on(weights, photo, tmp_path):
    cases = _bad_files(tmp_path)
    args = [tmp_path / name for name in cases] + [photo]
    r = invoke(*args, "--weights", weights, "--json")
    assert r.exit_code == 1
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    by_photo = {rec["photo"]: rec for rec in lines}
    assert by_photo[str(photo)]["status"] == "ok"  # the good photo was processed despite the bad ones
    assert (tmp_path / "photo.blur.png").exists()
    err_lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(err_lines) == 2 * len(cases) and len(set(err_lines)) == len(cases)  # as each happens, and at the end
    assert f"{len(cases)} of {len(cases) + 1} inputs failed" in r.stderr
    for name, (words, _) in cases.items():
        path = str(tmp_path / name)
        assert by_photo[path]["status"] == "failed"
        line = next(line for line in err_lines if f" {path}: " in line)
        assert words in line, line
    assert "Traceback" not in r.output


def test_unwritable_output_folder(weights, photo, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    r = invoke(photo, "--weights", weights, "--out", blocker / "maps")
    assert r.exit_code == 1
    assert r.stderr.startswith("error: ") and str(blocker / "maps") in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("content", [b"", b"garbage that is not a torch file", "truncated"])
def test_bad_weights_file(weights, photo, tmp_path, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(weights.read_bytes()[:5000] if content == "truncated" else content)
    r = invoke(photo, "--weights", bad)
    assert r.exit_code == 1
    assert r.stderr.startswith(f"error: {bad}: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.output
    r = invoke(photo, "--weights", tmp_path / "nope.pt")
    assert r.exit_code == 1 and "not found" in r.stderr


def test_bad_device(weights, photo):
    r = invoke(photo, "--weights", weights, "--device", "tpu")
    assert r.exit_code == 1 and "unknown device" in r.stderr


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels but that carries almost no data: a decompression bomb's
    header, enough to test that the pixel limit is applied before decoding."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_overlay_of_a_large_photo_is_bounded_and_keeps_the_aspect():
    import numpy as np

    from blurtool.cli.detect import OVERLAY_MAX_SIDE, small_overlay

    image = np.zeros((1500, 3000, 3), np.float32)
    kind = np.zeros((1500, 3000), np.uint8)
    kind[:, 1500:] = 2
    out = small_overlay(image, kind)
    assert out.shape == (OVERLAY_MAX_SIDE // 2, OVERLAY_MAX_SIDE, 3)
    assert out[0, -1, 2] > 100 and out[0, 0].max() == 0  # motion half tinted blue, sharp half untouched


def test_no_empty_table_when_every_photo_failed(tmp_path):
    from typer.testing import CliRunner

    from blurtool.cli import app

    result = CliRunner().invoke(app, ["detect", str(tmp_path / "missing.jpg"), "--device", "cpu"])
    assert result.exit_code == 1
    assert "missing.jpg: file not found" in result.output
    assert "blurred" not in result.output  # no table header


def test_fast_skips_the_mirrored_pass_the_card_asks_for(tmp_path, photo):
    import torch

    from blurtool.inference import BlurDetector
    from blurtool.io import read_image
    from blurtool.model import create_model
    from blurtool.weights import save_weights

    torch.manual_seed(1)
    path = tmp_path / "flip.pt"
    card = {"threshold": 0.5, "working_size": 96, "classes": ["sharp", "defocus", "motion"], "flip_average": True}
    save_weights(path, create_model("blurnet"), card)
    maps = {}
    for name, extra in (("both", []), ("fast", ["--fast"])):
        r = invoke(photo, "--weights", path, "--out", tmp_path / name, "--device", "cpu", "--save", "npy", *extra)
        assert r.exit_code == 0, r.output
        maps[name] = np.load(tmp_path / name / "photo.blur.npy")
    one_pass = BlurDetector.from_weights(path, device="cpu", flip_average=False).predict(read_image(photo)).blur
    two_pass = BlurDetector.from_weights(path, device="cpu").predict(read_image(photo)).blur
    np.testing.assert_allclose(maps["fast"], one_pass, atol=1e-5)
    np.testing.assert_allclose(maps["both"], two_pass, atol=1e-5)
    assert np.abs(one_pass - two_pass).max() > 1e-3  # a random network is not mirror-symmetric


def test_detect_reads_raw_and_heic_and_a_missing_decoder_is_one_line(weights, photo, tmp_path, monkeypatch):
    pytest.importorskip("rawpy")
    pytest.importorskip("tifffile")
    pytest.importorskip("pillow_heif")
    from PIL import Image
    from raw_files import write_dng

    import blurtool.io as bio

    sensor = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)[:96, :128]
    dng = write_dng(tmp_path / "shot.dng", sensor, orientation=6)
    assert bio._register_heif()
    Image.fromarray(sensor).save(tmp_path / "phone.heic", quality=90)
    r = invoke(photo, dng, tmp_path / "phone.heic", "--weights", weights, "--json", "--save", "blur")
    recs = {Path(x["photo"]).name: x for x in map(json.loads, r.stdout.splitlines())}
    assert r.exit_code == 0, r.output
    assert (recs["shot.dng"]["width"], recs["shot.dng"]["height"]) == (96, 128)  # developed full size, upright
    assert cv2.imread(str(tmp_path / "shot.blur.png"), cv2.IMREAD_UNCHANGED).shape == (128, 96)
    assert (recs["phone.heic"]["width"], recs["phone.heic"]["height"]) == (128, 96)

    # Without the HEIC decoder: one line saying what to install; the other photos are done.
    monkeypatch.setattr(bio, "_register_heif", lambda: False)
    monkeypatch.setattr(Image, "OPEN", {k: v for k, v in Image.OPEN.items() if k != "HEIF"})
    r = invoke(photo, dng, tmp_path / "phone.heic", "--weights", weights, "--json", "--save", "blur",
               "--overwrite")
    assert r.exit_code == 1
    assert [x["status"] for x in map(json.loads, r.stdout.splitlines())] == ["ok", "ok", "failed"]
    errs = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(set(errs)) == 1 and 'pip install pillow-heif' in errs[0] and "phone.heic" in errs[0]
