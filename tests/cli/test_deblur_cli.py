import json
import sys
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

from blurtool.cli import app
from blurtool.io import read_image, write_image, write_map
from blurtool.ops.kernel_estimation import kernel_similarity, motion_kernel

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from common import psnr  # the deblurring benchmark's measure

runner = CliRunner()
KERNEL = motion_kernel([(-4, -2), (0, 1), (4, -1)], 11)


def _photo(tmp_path, h=128, w=160):
    """Colour shapes; the left part blurred by KERNEL (map 1 there), the right part sharp (map 0). PNG files."""
    rng = np.random.default_rng(0)
    sharp = np.full((h, w, 3), 0.5, np.float32)
    for _ in range(h * w // 800):
        c = rng.random(3).tolist()
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.rectangle(sharp, (x, y), (x + int(rng.integers(4, 30)), y + int(rng.integers(4, 30))), c, -1)
        else:
            cv2.circle(sharp, (x, y), int(rng.integers(3, 15)), c, -1)
    region = np.zeros((h, w), bool)
    region[:, : w // 2 + 10] = True
    blurred = cv2.filter2D(sharp, -1, KERNEL[::-1, ::-1].astype(np.float32), borderType=cv2.BORDER_REFLECT)
    photo = tmp_path / "photo.png"
    write_image(photo, np.where(region[..., None], blurred, sharp))
    map_file = tmp_path / "photo.blur.png"
    write_map(map_file, region.astype(np.float32))
    return photo, map_file, sharp, region


def _run(*args):
    return runner.invoke(app, ["deblur", *map(str, args)])


def test_deblur_cli_writes_outputs_and_improves_region(tmp_path):
    photo, map_file, sharp, region = _photo(tmp_path)
    out = tmp_path / "o"
    res = _run(photo, "--map", map_file, "--threshold", "0.5", "--kernel-size", "15", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.strip().splitlines()[-1])
    assert row["status"] == "ok" and row["kernel_px"] == 15 and 0.4 < row["region_fraction"] < 0.7
    before = read_image(photo)
    after = read_image(out / "photo.deblurred.png")
    assert psnr(after, sharp, region) > psnr(before, sharp, region) + 4
    mask = cv2.imread(str(out / "photo.deblurred.mask.png"), cv2.IMREAD_UNCHANGED)
    untouched = mask == 0
    assert untouched.sum() > 5000
    raw_before = cv2.imread(str(photo))
    raw_after = cv2.imread(str(out / "photo.deblurred.png"))
    assert np.array_equal(raw_before[untouched], raw_after[untouched])
    kernel_png = cv2.imread(str(out / "photo.kernel.png"), cv2.IMREAD_UNCHANGED)
    assert kernel_png.shape == (15, 15) and kernel_png.max() == 255
    assert kernel_similarity(kernel_png.astype(float), KERNEL) > 0.85

    # Non-blind: the kernel file written above, reused.
    res = _run(photo, "--map", map_file, "--threshold", "0.5", "--kernel", out / "photo.kernel.png",
               "--out", tmp_path / "nb", "--format", "jpg")
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "nb" / "photo.deblurred.jpg").shape == sharp.shape


def test_deblur_cli_bad_inputs(tmp_path):
    photo, map_file, _, _ = _photo(tmp_path)
    res = _run(photo, "--map", map_file, "--threshold", "0.5", "--kind", "motion", "--out", tmp_path / "o")
    assert res.exit_code == 1 and "labels.png" in res.stderr and "Traceback" not in res.output
    res = _run(photo, "--map", map_file, "--threshold", "0.5", "--kernel", tmp_path / "missing.png")
    assert res.exit_code == 1 and "missing.png" in res.stderr
    black = tmp_path / "black.png"
    write_image(black, np.zeros((9, 9, 3), np.float32))
    res = _run(photo, "--map", map_file, "--threshold", "0.5", "--kernel", black)
    assert res.exit_code == 1 and "black" in res.stderr
    res = _run(photo, "--map", map_file, "--kind", "zoom")
    assert res.exit_code == 2
    write_map(map_file, np.zeros((60, 80), np.float32))
    res = _run(photo, "--map", map_file, "--threshold", "0.5", "--out", tmp_path / "o2")
    assert res.exit_code == 1 and "photo.blur.png" in res.stderr


def test_deblur_cli_leaves_featureless_region_unchanged_with_a_warning(tmp_path):
    """No edges above the noise: the photo is written unchanged, one warning line, exit 0; --no-check overrides."""
    h, w = 128, 160
    rng = np.random.default_rng(1)
    photo = tmp_path / "flat.png"
    write_image(photo, np.clip(0.5 + rng.normal(0, 0.01, (h, w, 3)), 0, 1).astype(np.float32))
    map_file = tmp_path / "flat.blur.png"
    region = np.zeros((h, w), np.float32)
    region[:, : w // 2 + 10] = 1
    write_map(map_file, region)
    res = _run(photo, "--map", map_file, "--threshold", "0.5", "--kernel-size", "15", "--out", tmp_path / "o",
               "--json")
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "flat.png" in warnings[0] and "unchanged" in warnings[0]
    row = json.loads(res.stdout.strip().splitlines()[-1])
    assert row["reliable"] is False and row["deblurred"] is False and row["kernel_px"] == 15
    assert np.array_equal(cv2.imread(str(photo)), cv2.imread(str(tmp_path / "o" / "flat.deblurred.png")))
    assert (tmp_path / "o" / "flat.kernel.png").exists() and (tmp_path / "o" / "flat.deblurred.mask.png").exists()

    res = _run(photo, "--map", map_file, "--threshold", "0.5", "--kernel-size", "15", "--out", tmp_path / "f",
               "--no-check", "--explained-min", "0", "--json")
    assert res.exit_code == 0 and "warning" not in res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["deblurred"] is True
    assert not np.array_equal(cv2.imread(str(photo)), cv2.imread(str(tmp_path / "f" / "flat.deblurred.png")))
