"""blurtool.guided: the guided filter with a grey or a colour guide, and its fast upsampling."""

import cv2
import numpy as np

from blurtool.guided import guided_filter, guided_upsample


def test_guided_upsampling_follows_the_photo_edge():
    """A step edge in the photo at a position the low-resolution map cannot represent: guided upsampling puts the
    map's transition on the photo's edge, bilinear does not."""
    H, W, s = 64, 512, 8
    photo = np.zeros((H, W), np.float32)
    photo[:, 203:] = 1.0  # edge at x = 203, not on the 8-px grid
    low_guide = cv2.resize(photo, (W // s, H // s), interpolation=cv2.INTER_AREA)
    low_map = low_guide.copy()  # the map's transition is as soft as the low-res guide's
    bilinear = cv2.resize(low_map, (W, H), interpolation=cv2.INTER_LINEAR)
    guided = np.clip(guided_upsample(low_map, low_guide, photo, radius=2, eps=1e-4), 0, 1)
    err_guided = np.abs(guided - photo).mean()
    err_bilinear = np.abs(bilinear - photo).mean()
    assert err_guided < 0.25 * err_bilinear, (err_guided, err_bilinear)
    # Row-strip evaluation equals the whole-image one.
    part = guided_upsample(low_map, low_guide, photo, radius=2, eps=1e-4, rows=slice(10, 30))
    np.testing.assert_allclose(np.clip(part, 0, 1), guided[10:30], atol=1e-5)


def test_colour_guided_upsampling_puts_a_matte_edge_on_a_colour_edge():
    """Red against blue-green of equal brightness, the mask's low-resolution edge blurred over a few pixels: the colour
    guide brings it back onto the photo's edge."""
    H, W, s = 64, 256, 4
    photo = np.empty((H, W, 3), np.float32)
    photo[:, :101] = [0.6, 0.1, 0.1]
    photo[:, 101:] = [0.1, 0.3, 0.4]
    small = cv2.resize(photo, (W // s, H // s), interpolation=cv2.INTER_AREA)
    mask = np.zeros((H, W), np.float32)
    mask[:, :101] = 1.0
    low = cv2.resize(mask, (W // s, H // s), interpolation=cv2.INTER_AREA)
    up = np.clip(guided_upsample(low, small, photo, radius=2, eps=1e-4), 0, 1)
    bilinear = cv2.resize(low, (W, H), interpolation=cv2.INTER_LINEAR)
    assert np.abs(up - mask).mean() < 0.5 * np.abs(bilinear - mask).mean()
    part = guided_upsample(low, small, photo, radius=2, eps=1e-4, rows=slice(5, 9))
    np.testing.assert_allclose(np.clip(part, 0, 1), up[5:9], atol=1e-5)


def test_guided_filter_keeps_edges_of_the_guide():
    guide = np.zeros((40, 40, 3), np.float32)
    guide[:, 20:] = 1.0
    src = np.zeros((40, 40), np.float32)
    src[:, 18:] = 1.0  # a mask whose edge is 2 px off the photo's edge
    out = guided_filter(guide, src, radius=4, eps=1e-4)
    assert out[:, 21:].min() > 0.9 and out[:, :17].max() < 0.35
    assert np.allclose(guided_filter(guide, np.full((40, 40), 0.3, np.float32), 4, 1e-4), 0.3, atol=1e-4)


def test_guided_filter_sees_edges_between_colours_of_equal_brightness():
    # Red against blue-green of the same mean brightness: a grey guide sees no edge here.
    guide = np.empty((40, 40, 3), np.float32)
    guide[:, :20] = [0.6, 0.1, 0.1]
    guide[:, 20:] = [0.1, 0.3, 0.4]
    src = np.zeros((40, 40), np.float32)
    src[:, :22] = 1.0
    out = guided_filter(guide, src, radius=4, eps=1e-4)
    assert out[:, :20].min() > 0.95 and out[:, 23:].max() < 0.25
    grey = np.repeat(guide.mean(axis=2, keepdims=True), 3, axis=2)
    assert guided_filter(grey, src, radius=4, eps=1e-4)[:, 19].max() < 0.9
