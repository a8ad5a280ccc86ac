"""BlurDetector on a tiny fake network with the real model's interface (the real one is tested by its golden test).

The fake network calls a pixel sharp where the local gradient energy is high, so a textured photo with a region
blurred by a known Gaussian kernel gives an exact expected map.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from blurtool.errors import InputError
from blurtool.inference import BlurDetector, BlurResult

CARD = {
    "normalisation": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    "threshold": 0.5,
    "working_size": 128,
    "stride": 32,
    "output_stride": 2,
    "classes": ["sharp", "defocus", "motion"],
}


class FakeNet(nn.Module):
    """logits (B, 3, H/2, W/2): sharp ~ local gradient energy; motion wins over defocus where gradients are
    mostly vertical (a horizontal streak)."""

    def __init__(self):
        super().__init__()
        self.seen_shapes: list[tuple] = []

    def forward(self, x):
        assert x.shape[-1] % 32 == 0 and x.shape[-2] % 32 == 0, x.shape
        self.seen_shapes.append(tuple(x.shape))
        g = x.mean(1, keepdim=True)
        gx = (g[..., :, 1:] - g[..., :, :-1]).abs()
        gy = (g[..., 1:, :] - g[..., :-1, :]).abs()
        gx = F.pad(gx, (0, 1, 0, 0))
        gy = F.pad(gy, (0, 0, 0, 1))
        energy = F.avg_pool2d(gx + gy, 5, stride=1, padding=2)
        sharp = 20 * (energy - 0.15)
        motion = 5 * (F.avg_pool2d(gy - gx, 5, stride=1, padding=2))
        logits = torch.cat([sharp, torch.zeros_like(sharp), motion], 1)
        return F.avg_pool2d(logits, 2)


def textured(h, w, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.random((h // 4 + 1, w // 4 + 1, 3)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)[:h, :w]


def half_blurred(h=240, w=320):
    """Left half sharp texture, right half the same texture Gaussian-blurred (sigma 4)."""
    img = textured(h, w)
    blurred = cv2.GaussianBlur(img, (0, 0), 4)
    img[:, w // 2 :] = blurred[:, w // 2 :]
    return img


@pytest.fixture
def det():
    return BlurDetector(FakeNet(), CARD, device="cpu")


def test_contract_and_known_blurred_half(det):
    img = half_blurred()
    res = det.predict(img)
    assert isinstance(res, BlurResult)
    assert res.blur.shape == (240, 320) and res.blur.dtype == np.float32
    assert res.kind.shape == (240, 320) and res.kind.dtype == np.uint8
    assert res.probs.shape == (240, 320, 3) and res.probs.dtype == np.float32
    np.testing.assert_allclose(res.probs.sum(2), 1.0, atol=1e-4)
    assert 0 <= res.blur.min() and res.blur.max() <= 1
    # Ground truth: the right half is blurred. Ignore a 16 px band around the boundary.
    assert res.blur[:, :144].mean() < 0.2 and res.blur[:, 176:].mean() > 0.7
    assert (res.kind[:, 176:] > 0).mean() > 0.95 and (res.kind[:, :144] == 0).mean() > 0.95
    s = res.summary()
    assert set(s) >= {"blurred_fraction", "defocus_fraction", "motion_fraction", "degree", "dominant_kind"}
    assert abs(s["blurred_fraction"] - 0.5) < 0.08
    assert abs(s["blurred_fraction"] - s["defocus_fraction"] - s["motion_fraction"]) < 1e-9
    assert s["degree"] == pytest.approx(float(res.work_blur.mean()))
    # Pixels counted as blurred all have a blur kind (kind consistent with the threshold).
    np.testing.assert_array_equal(res.kind > 0, res.blur >= res.threshold)


def test_working_size_padding_and_enlargement(det):
    net = det.model
    det.predict(half_blurred(240, 320))
    assert net.seen_shapes[-1] == (1, 3, 96, 128)  # long side 128, 96 already a multiple of 32
    res = det.predict(textured(50, 70))  # smaller than the working size: enlarged to 91 x 128 (at most 2x), padded
    assert net.seen_shapes[-1] == (1, 3, 96, 128)
    assert res.blur.shape == (50, 70)  # and the answer comes back at the photo's own size
    res = det.predict(textured(1, 5))  # degenerate sizes still work
    assert res.blur.shape == (1, 5)


def test_summary_independent_of_pixel_count(det):
    """A 12 MP-like photo and a small copy give the same summary (computed at the working size)."""
    # Features of the same relative size in both copies (as with one scene shot at two resolutions).
    big = cv2.resize(half_blurred(240, 320), (1280, 960), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    small = cv2.resize(big, (320, 240), interpolation=cv2.INTER_AREA)
    s_big, s_small = det.predict(big).summary(), det.predict(small).summary()
    assert abs(s_big["degree"] - s_small["degree"]) < 0.01
    assert abs(s_big["blurred_fraction"] - s_small["blurred_fraction"]) < 0.01
    assert s_big["dominant_kind"] == s_small["dominant_kind"]


def test_full_size_false_stops_at_working_size(det):
    img = half_blurred(960, 1280)
    fast = det.predict(img, full_size=False)
    assert fast.blur.shape == (96, 128) and not fast.full_size
    assert fast.summary() == det.predict(img).summary()


def test_strips_match_whole(det, monkeypatch):
    import blurtool.inference as inf

    img = half_blurred(300, 400)
    whole = det.predict(img)
    monkeypatch.setattr(inf, "_STRIP_PIXELS", 400 * 7)  # 7-row strips
    strips = det.predict(img)
    np.testing.assert_allclose(strips.blur, whole.blur, atol=1e-5)
    np.testing.assert_array_equal(strips.kind, whole.kind)


def test_predict_many_batches_and_paths(det, tmp_path):
    from blurtool.io import write_image

    imgs = [half_blurred(240, 320), textured(240, 320, 1), half_blurred(120, 160)]
    paths = []
    for i, im in enumerate(imgs):
        paths.append(tmp_path / f"{i}.png")
        write_image(paths[-1], im)
    (tmp_path / "bad.png").write_text("no")
    det.model.seen_shapes.clear()
    out = list(det.predict_many([paths[0], paths[1], tmp_path / "bad.png", paths[2]], batch_size=4,
                                return_errors=True))
    assert isinstance(out[2], InputError) and "bad.png" in str(out[2])
    assert [r.blur.shape for r in out if isinstance(r, BlurResult)] == [(240, 320), (240, 320), (120, 160)]
    assert det.model.seen_shapes[0] == (2, 3, 96, 128)  # the first two share a shape: one batch
    from blurtool.io import read_image

    for r, p in zip([out[0], out[1], out[3]], paths):
        np.testing.assert_allclose(r.blur, det.predict(read_image(p)).blur, atol=1e-5)
    with pytest.raises(InputError):
        list(det.predict_many([tmp_path / "bad.png"]))


def test_threshold_and_bad_inputs(det):
    res = BlurDetector(FakeNet(), CARD, device="cpu", threshold=0.99).predict(half_blurred())
    assert res.threshold == 0.99 and res.summary()["blurred_fraction"] < det.predict(half_blurred()).summary()[
        "blurred_fraction"]
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        det.predict(np.zeros((10, 10), np.float32))
    with pytest.raises(InputError, match="threshold"):
        BlurDetector(FakeNet(), CARD, device="cpu", threshold=1.5)


def test_flip_average_realigns_the_mirrored_map():
    """FakeNet is mirror-symmetric, so averaging with the mirrored run changes nothing if the mirrored map is flipped
    back onto the right pixels (not flipping back would put the blurred half on the wrong side)."""
    img = half_blurred(96, 120)  # padded to 128 wide: the padding must not shift the mirrored map
    plain = BlurDetector(FakeNet(), CARD, device="cpu").predict(img)
    flipping = BlurDetector(FakeNet(), CARD, device="cpu", flip_average=True)
    both = flipping.predict(img)
    assert len(flipping.model.seen_shapes) == 2  # the photo, then its mirror (two single passes on the CPU)
    assert np.abs(both.blur - plain.blur)[:, 8:-8].mean() < 0.02
    assert both.blur[:, 76:].mean() > 0.7 and both.blur[:, :44].mean() < 0.2


class LeftSharpNet(nn.Module):
    """Calls the left half of its input sharp and the right half blurred, whatever the content."""

    def forward(self, x):
        b, _, h, w = x.shape
        sharp = torch.full((b, 1, h // 2, w // 2), -4.0)
        sharp[..., : w // 4] = 4.0
        return torch.cat([sharp, torch.zeros_like(sharp), torch.zeros_like(sharp)], 1)


def test_flip_average_is_the_mean_of_both_views():
    img = textured(64, 128)
    plain = BlurDetector(LeftSharpNet(), CARD, device="cpu").predict(img)
    assert plain.blur[:, :60].max() < 0.1 and plain.blur[:, 68:].min() > 0.9
    both = BlurDetector(LeftSharpNet(), CARD, device="cpu", flip_average=True).predict(img)
    # p(sharp) averages a confident "sharp" (e^4 / (e^4 + 2)) and a confident "blurred" (e^-4 / (e^-4 + 2)) everywhere
    # (but at the seam, where the bilinear upsampling mixes them), and the averaged map is mirror-symmetric.
    expected = 0.5 * (np.exp(4) / (np.exp(4) + 2) + np.exp(-4) / (np.exp(-4) + 2))
    p_sharp = both.probs[..., 0]
    assert np.abs(p_sharp[:, :56] - expected).max() < 0.005 and np.abs(p_sharp[:, 72:] - expected).max() < 0.005
    np.testing.assert_allclose(p_sharp, p_sharp[:, ::-1], atol=1e-5)


def test_flip_average_default_comes_from_the_card():
    assert not BlurDetector(FakeNet(), CARD, device="cpu").flip_average
    card = {**CARD, "flip_average": True}
    assert BlurDetector(FakeNet(), card, device="cpu").flip_average
    assert not BlurDetector(FakeNet(), card, device="cpu", flip_average=False).flip_average


class AmountNet(FakeNet):
    """FakeNet plus an amount channel: log(1 + 4 px) where it calls the input blurred, 0 where sharp."""

    class config:  # what BlurDetector reads of a model's config
        amount_head = True

    def forward(self, x):
        logits = super().forward(x)
        blurred = (logits[:, :1] < 0).float()
        return torch.cat([logits, blurred * float(np.log1p(4.0))], 1)


def test_the_amount_is_reported_relative_to_the_photo_and_summarised_over_blurred_pixels():

    det = BlurDetector(AmountNet(), CARD, device="cpu")
    assert det.has_amount and not BlurDetector(FakeNet(), CARD, device="cpu").has_amount
    img = half_blurred(240, 320)
    res = det.predict(img)
    assert res.amount.shape == (240, 320) and res.work_amount.shape == (96, 128)
    # 4 px at a working long side of 128 px is 31.25 px at a 1000 px long side.
    assert np.median(res.amount[:, 200:]) == pytest.approx(31.25, rel=1e-3) and res.amount[:, :100].max() < 1
    s = res.summary()
    # The mean over blurred pixels: 31.25 inside, less on the boundary's band, where the map interpolates.
    assert 25 < s["amount"] <= 31.3 and s["amount_level"] == "high"
    # 4 px of the working size's 160 px diagonal inside the region.
    assert s["amount_diagonal"] == pytest.approx(s["amount"] / 31.25 * 4 / 160, rel=1e-4)
    big = cv2.resize(img, (1280, 960), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    assert det.predict(big).summary()["amount"] == pytest.approx(s["amount"], rel=0.05)
    both = BlurDetector(AmountNet(), CARD, device="cpu", flip_average=True).predict(img)
    assert np.median(both.amount[:, 200:]) == pytest.approx(31.25, rel=1e-3)
    assert "amount" not in BlurDetector(FakeNet(), CARD, device="cpu").predict(img).summary()


def test_an_amount_calibration_in_the_card_corrects_the_amount_and_a_broken_one_is_refused():
    from blurtool.errors import WeightsError

    img = half_blurred(240, 320)
    plain = BlurDetector(AmountNet(), CARD, device="cpu").predict(img, full_size=False)
    card = {**CARD, "amount_calibration": {"defocus": [[0, 31.25], [0, 10.0]], "motion": [[0, 31.25], [0, 20.0]]}}
    det = BlurDetector(AmountNet(), card, device="cpu")
    res = det.predict(img, full_size=False)
    np.testing.assert_allclose(res.work_amount, det.amount_calibration.apply(plain.work_amount, plain.work_probs))
    assert 10.0 <= np.median(res.work_amount[:, 80:]) <= 20.0  # 31.25 px read as between the two curves' 10 and 20
    for broken in ({"defocus": [[0, 1]]}, {"defocus": [[0, 1], [0]], "motion": [[0, 1], [0, 1]]}, "curve"):
        with pytest.raises(WeightsError, match="amount_calibration"):
            BlurDetector(AmountNet(), {**CARD, "amount_calibration": broken}, device="cpu")
