import cv2
import numpy as np
import pytest

from blurtool.errors import InputError
from blurtool.ops.magnify import (
    MagnifyOptions,
    disk_kernel,
    linear_to_srgb,
    magnify_blur,
    magnify_naive,
    max_radius,
    parse_strength,
    srgb_to_linear,
)


def _scene(h=160, w=200, radius=40):
    """A sharp texture disk (blur 0) on a background blurred by a Gaussian of sigma 2 (blur 1)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - h // 2) ** 2 + (xx - w // 2) ** 2 < radius**2
    tex = rng.random((h, w, 3)).astype(np.float32)
    bg = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2)
    image = np.where(disk[..., None], tex, bg).astype(np.float32)
    blur = (~disk).astype(np.float32)
    return image, blur, disk


def _detail(image, mask):
    """Mean absolute Laplacian (high-frequency content) over mask."""
    lap = cv2.Laplacian(image.mean(axis=2), cv2.CV_32F)
    return float(np.abs(lap[mask]).mean())


def test_sharp_pixels_are_bit_identical():
    image, _, disk = _scene()
    # A gradual map: 0 in the disk, rising past the threshold outward.
    h, w = disk.shape
    yy, xx = np.mgrid[:h, :w]
    blur = np.clip((np.hypot(yy - h / 2, xx - w / 2) - 30) / 60, 0, 1).astype(np.float32)
    out = magnify_blur(image, blur)
    sharp = blur < MagnifyOptions.sharp_below
    assert sharp.sum() > 1000
    assert np.array_equal(out[sharp], image[sharp])
    assert not np.array_equal(out[~sharp], image[~sharp])


def test_added_blur_grows_with_the_map_and_the_strength():
    image, blur, disk = _scene()
    left = np.zeros_like(disk)
    left[:, :60] = True
    right = np.zeros_like(disk)
    right[:, -60:] = True
    blur = blur.copy()
    blur[left] = 0.4  # mildly blurred half-strength region on the left, fully blurred on the right
    weak = magnify_blur(image, blur, MagnifyOptions(strength_px=4))
    strong = magnify_blur(image, blur, MagnifyOptions(strength_px=10))
    # Spatially varying: the fully blurred side loses more detail than the mildly blurred side.
    assert _detail(strong, right) / _detail(image, right) < _detail(strong, left) / _detail(image, left)
    # And a larger strength removes more detail.
    assert _detail(strong, right) < _detail(weak, right) < _detail(image, right)


def test_no_halo_of_the_subject_into_the_background():
    h, w = 120, 160
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - 60) ** 2 + (xx - 80) ** 2 < 30**2
    image = np.full((h, w, 3), 0.1, np.float32)
    image[disk] = 1.0  # a white subject on a flat dark background
    blur = (~disk).astype(np.float32)
    alpha = disk.astype(np.float32)
    out = magnify_blur(image, blur, MagnifyOptions(strength_px=12), alpha=alpha)
    assert np.abs(out[~disk] - 0.1).max() < 1e-3  # background stays flat: no glow of the subject around it
    assert np.array_equal(out[disk], image[disk])
    # The naive Gaussian does spread the subject into the background.
    naive = magnify_naive(image, blur, sigma=6)
    assert np.abs(naive[~disk] - 0.1).max() > 0.3


def test_highlight_becomes_a_bokeh_disc():
    image = np.full((81, 81, 3), 0.05, np.float32)
    image[40, 40] = 1.0  # a point light in a blurred background
    blur = np.ones((81, 81), np.float32)
    out = magnify_blur(image, blur, MagnifyOptions(strength_px=12), alpha=np.zeros((81, 81), np.float32))
    profile = out[40, 40:, 0]
    # A disc: flat top out to ~the radius, then a drop (a Gaussian would fall off continuously).
    assert abs(profile[0] - profile[10]) < 0.005
    assert profile[10] > 0.1 and profile[14] < 0.055
    # Blurring in linear light with the highlight boost keeps the disc bright.
    plain = magnify_blur(image, blur, MagnifyOptions(strength_px=12, highlight_gain=0),
                         alpha=np.zeros((81, 81), np.float32))
    assert plain[40, 45, 0] < profile[5] - 0.03


def test_magnify_naive_blurs_only_above_threshold():
    image, blur, _ = _scene()
    blur = blur.copy()
    blur[:10] = 0.05
    out = magnify_naive(image, blur, sigma=3)
    assert np.array_equal(out[blur <= 0.1], image[blur <= 0.1])
    expected = cv2.GaussianBlur(image, (0, 0), 3, borderType=cv2.BORDER_REFLECT)
    assert np.allclose(out[blur > 0.1], expected[blur > 0.1])


def test_all_sharp_map_returns_the_photo():
    image, blur, _ = _scene()
    out = magnify_blur(image, np.zeros_like(blur))
    assert np.array_equal(out, image)


def test_helpers():
    k = disk_kernel(5.0)
    assert k.shape == (13, 13) and abs(k.sum() - 1) < 1e-5 and np.allclose(k, k.T) and np.allclose(k, k[::-1])
    assert k[6, 6] == k[6, 10] and k[0, 0] == 0  # flat inside, zero in the corners
    assert disk_kernel(0).tolist() == [[1.0]]
    x = np.linspace(0, 1, 256, dtype=np.float32)
    assert np.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5)
    assert srgb_to_linear(np.float32(0.5)) == pytest.approx(0.2140, abs=1e-3)
    assert parse_strength("0.02") == (0.02, None)
    assert parse_strength("15px") == (MagnifyOptions.strength, 15.0)
    assert max_radius(MagnifyOptions(strength=0.01), 300, 400) == pytest.approx(5.0)
    for bad in ("abc", "2", "-3px", "0"):
        with pytest.raises(InputError, match="strength"):
            parse_strength(bad)


def test_map_of_wrong_size_is_an_input_error():
    image, *_ = _scene()
    with pytest.raises(InputError, match="same size"):
        magnify_blur(image, np.zeros((3, 3), np.float32))
