"""Ranking through the real BlurDetector: a gradient-energy stand-in network with the real interface, and the
shipped weights when they exist (a photo and its resized copy must rank the same)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F
from torch import nn

from blurtool.inference import BlurDetector
from blurtool.library import rank_photos
from blurtool.ops.rank import Verdict

CARD = {"normalisation": {"mean": [0.5] * 3, "std": [0.25] * 3}, "threshold": 0.5, "working_size": 128,
        "stride": 32, "output_stride": 2}


class GradientNet(nn.Module):
    """Sharp where local gradient energy is high, else defocus; logits at half resolution like BlurNet."""

    def forward(self, x):
        g = x.mean(1, keepdim=True)
        gx = F.pad((g[..., :, 1:] - g[..., :, :-1]).abs(), (0, 1, 0, 0))
        gy = F.pad((g[..., 1:, :] - g[..., :-1, :]).abs(), (0, 0, 0, 1))
        energy = F.avg_pool2d(gx + gy, 5, stride=1, padding=2)
        sharp = 20 * (energy - 0.15)
        return F.avg_pool2d(torch.cat([sharp, torch.zeros_like(sharp), -10 + 0 * sharp], 1), 2)


def portrait(h=900, w=1200, seed=0):
    """Random texture (blocks of 1/100 of the width), Gaussian-blurred outside a central ellipse (the subject)."""
    rng = np.random.default_rng(seed)
    small = rng.random((100 * h // w, 100, 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    blurred = cv2.GaussianBlur(img, (0, 0), w / 60)
    yy, xx = np.mgrid[0:h, 0:w]
    subject = ((xx - w / 2) / (w / 5)) ** 2 + ((yy - h / 2) / (h / 3)) ** 2 <= 1
    return np.where(subject[..., None], img, blurred)


def save_jpeg(path, rgb):
    cv2.imwrite(str(path), cv2.cvtColor((rgb * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


def test_detector_pipeline_and_resolution_independence(tmp_path):
    det = BlurDetector(GradientNet(), CARD, device="cpu")
    img = portrait()
    big = save_jpeg(tmp_path / "big.jpg", img)
    small = save_jpeg(tmp_path / "small.jpg", cv2.resize(img, (600, 450), interpolation=cv2.INTER_AREA))
    run = rank_photos([big, small, big], det, batch_size=2)
    a, b, c = run.records
    assert not run.failures
    assert a.verdict is Verdict.GOOD, (a.reason, a.scores)
    assert (a.height, a.width) == (900, 1200) and (b.height, b.width) == (450, 600)
    assert a.scores == c.scores
    for k, v in a.scores.to_dict().items():
        assert v == pytest.approx(b.scores.to_dict()[k], abs=0.05), k


def test_shipped_weights_rank_a_photo_and_its_resized_copy_the_same(tmp_path):
    from blurtool.errors import WeightsError

    try:
        # A small working size keeps the test quick; the invariance holds at any working size.
        det = BlurDetector.from_weights(device="cpu", working_size=256)
    except WeightsError:
        pytest.skip("no shipped weights yet")
    img = portrait(360, 480, seed=1)
    big = save_jpeg(tmp_path / "big.jpg", img)
    small = save_jpeg(tmp_path / "small.jpg", cv2.resize(img, (384, 288), interpolation=cv2.INTER_AREA))
    # Both are above the working size, so the network sees (nearly) the same 256 x 192 picture.
    a, b = rank_photos([big, small], det).records
    assert a.verdict == b.verdict
    for k in ("degree", "sharp_fraction", "centre_sharp", "subject_area"):
        assert getattr(a.scores, k) == pytest.approx(getattr(b.scores, k), abs=0.05), k
