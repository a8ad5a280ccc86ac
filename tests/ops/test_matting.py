import cv2
import numpy as np
import pytest

from blurtool.errors import InputError
from blurtool.ops.matting import (
    MatteOptions,
    composite,
    cutout,
    fit_background,
    make_trimap,
    matte,
    parse_color,
)


def _scene(h=150, w=200, radius=45, soft=1.5, texture=0.4):
    """Known matte: a sharp reddish texture disk composited with a soft edge (alpha known exactly) over a bluish
    background blurred by a Gaussian (sigma 3), and a coarse blur map whose boundary is 3 px off."""
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:h, :w]
    dist = np.hypot(yy - h / 2, xx - w / 2)
    alpha = np.clip((radius - dist) / (2 * soft) + 0.5, 0, 1).astype(np.float32)
    fg = rng.random((h, w, 3)).astype(np.float32) * texture + np.array([0.6, 0.1, 0.1], np.float32)
    bg = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32) * 0.4 + np.array([0.1, 0.2, 0.6], np.float32),
                          (0, 0), 3)
    a = alpha[..., None]
    image = np.clip(a * fg + (1 - a) * bg, 0, 1).astype(np.float32)
    # The network's map is coarse: smeared over ~15 px and 3 px off.
    blur = np.roll(cv2.GaussianBlur(1 - (alpha > 0.5).astype(np.float32), (0, 0), 5), 3, axis=1)
    return image, blur, alpha, fg


def test_make_trimap_band_on_both_sides():
    blur = np.ones((40, 40), np.float32)
    blur[10:30, 10:30] = 0.0
    tri = make_trimap(blur, 0.5, band_px=2)
    assert tri[20, 20] == 1.0 and tri[0, 0] == 0.0
    assert tri[20, 10] == 0.5 and tri[20, 11] == 0.5 and tri[20, 12] == 1.0  # eroded 2 px inside
    assert tri[20, 8] == 0.5 and tri[20, 7] == 0.0  # and 2 px outside
    # The photo's border is no boundary: a sharp region touching it keeps sure pixels on the border.
    blur[:, :5] = 0.0
    assert make_trimap(blur, 0.5, band_px=2)[20, 0] == 1.0


def test_matte_recovers_known_alpha():
    image, blur, alpha_gt, _ = _scene(texture=0.2)
    result = matte(image, blur)
    assert result.method == "closed-form" and result.note is None
    assert result.alpha.dtype == np.float32 and result.alpha.shape == alpha_gt.shape
    assert 0.0 <= result.alpha.min() and result.alpha.max() <= 1.0
    assert np.abs(result.alpha - alpha_gt).mean() < 0.01
    # The thresholded map itself is much worse: matting, not thresholding, found the edge.
    assert np.abs((blur < 0.5) - alpha_gt).mean() > 3 * np.abs(result.alpha - alpha_gt).mean()


def test_matte_at_reduced_working_resolution():
    image, blur, alpha_gt, _ = _scene(300, 400, 90)
    result = matte(image, blur, MatteOptions(max_pixels=30_000))
    assert result.alpha.shape == alpha_gt.shape and result.foreground.shape == image.shape
    assert np.abs(result.alpha - alpha_gt).mean() < 0.02


def test_foreground_removes_background_bleeding():
    image, blur, alpha_gt, fg = _scene(soft=4, texture=0.1)
    result = matte(image, blur)
    edge = (alpha_gt > 0.2) & (alpha_gt < 0.8)
    # Mixed edge pixels carry blue from the background; the estimated foreground is closer to the true red.
    assert np.abs(result.foreground[edge] - fg[edge]).mean() < 0.5 * np.abs(image[edge] - fg[edge]).mean()


@pytest.mark.parametrize("value, alpha, word", [(0.0, 1.0, "no blurred"), (1.0, 0.0, "no sharp")])
def test_degenerate_map_gives_uniform_alpha_and_a_note(value, alpha, word):
    image, *_ = _scene()
    result = matte(image, np.full(image.shape[:2], value, np.float32))
    assert result.method == "uniform" and word in result.note
    assert (result.alpha == alpha).all()


def test_thin_sharp_region_falls_back_to_threshold():
    image, *_ = _scene()
    blur = np.ones(image.shape[:2], np.float32)
    blur[70:73, :] = 0.0  # 3 px tall: vanishes under the band's erosion
    result = matte(image, blur)
    assert result.method == "threshold" and "thinner" in result.note
    assert result.alpha[71].mean() > 0.5 and result.alpha[10].max() == 0.0


def test_matte_rejects_map_of_wrong_size():
    image, *_ = _scene()
    with pytest.raises(InputError, match="same size"):
        matte(image, np.zeros((5, 5), np.float32))


def test_cutout_and_composite():
    fg = np.full((4, 4, 3), 0.2, np.float32)
    alpha = np.zeros((4, 4), np.float32)
    alpha[:, :2] = 1.0
    alpha[:, 2] = 0.5
    rgba = cutout(fg, alpha)
    assert rgba.shape == (4, 4, 4) and (rgba[..., 3] == alpha).all()
    out = composite(fg, alpha, parse_color("white"))
    assert np.allclose(out[:, 0], 0.2) and np.allclose(out[:, 3], 1.0) and np.allclose(out[:, 2], 0.6)
    bg = np.zeros((8, 2, 3), np.float32)
    bg[:, :, 1] = 1.0
    assert np.allclose(composite(fg, alpha, bg)[:, 3], [0, 1, 0])


def test_fit_background_fills_and_centre_crops():
    bg = np.zeros((10, 40, 3), np.float32)
    bg[:, 18:22] = 1.0  # a bright centre stripe
    out = fit_background(bg, 20, 20)
    assert out.shape == (20, 20, 3)
    assert out[:, 10].min() > 0.9  # the centre survived the crop
    assert out[:, 0].max() < 0.1  # and the photo is filled edge to edge


def test_parse_color():
    assert parse_color("white") == (1.0, 1.0, 1.0)
    assert parse_color("#FF8000") == (1.0, 128 / 255, 0.0)
    with pytest.raises(InputError, match="colour"):
        parse_color("not-a-colour")
