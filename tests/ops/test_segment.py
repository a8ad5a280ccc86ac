import cv2
import numpy as np
import pytest

from blurtool.errors import InputError
from blurtool.ops.segment import SegmentOptions, blur_trimap, segment_sharp, threshold_mask


def _scene(h=160, w=200, radius=45):
    """A sharp reddish texture disk on a bluish background blurred by a known Gaussian (sigma 3)."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - h // 2) ** 2 + (xx - w // 2) ** 2 < radius**2
    tex = rng.random((h, w, 3)).astype(np.float32) * 0.5 + np.array([0.5, 0.1, 0.1], np.float32)
    bg = rng.random((h, w, 3)).astype(np.float32) * 0.5 + np.array([0.1, 0.2, 0.5], np.float32)
    bg = cv2.GaussianBlur(bg, (0, 0), 3)
    image = np.clip(np.where(disk[..., None], tex, bg), 0, 1).astype(np.float32)
    return image, disk


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_trimap_uses_ma_et_al_thresholds():
    blur = np.array([[0.0, 0.099, 0.1, 0.3, 0.5, 0.89, 0.9, 1.0]], np.float32)
    labels = blur_trimap(blur)
    expected = [cv2.GC_FGD, cv2.GC_FGD, cv2.GC_PR_FGD, cv2.GC_PR_FGD, cv2.GC_PR_BGD, cv2.GC_PR_BGD,
                cv2.GC_BGD, cv2.GC_BGD]
    assert labels[0].tolist() == expected
    assert threshold_mask(blur)[0].tolist() == [True] * 4 + [False] * 4


def test_grabcut_snaps_a_coarse_map_to_the_subject():
    image, disk = _scene()
    # A coarse, displaced map like a network's: smeared over ~20 px and shifted 6 px sideways.
    blur = np.roll(cv2.GaussianBlur(1.0 - disk.astype(np.float32), (0, 0), 8), 6, axis=1)
    result = segment_sharp(image, blur)
    assert result.method == "grabcut" and result.note is None
    assert result.mask.dtype == bool and result.mask.shape == disk.shape
    iou_grabcut = _iou(result.mask, disk)
    iou_threshold = _iou(threshold_mask(blur), disk)
    assert iou_grabcut > 0.95
    assert iou_threshold < 0.9


def test_working_resolution_brings_mask_back_to_full_size():
    image, disk = _scene(320, 400, 90)
    blur = cv2.GaussianBlur(1.0 - disk.astype(np.float32), (0, 0), 3)
    result = segment_sharp(image, blur, SegmentOptions(max_pixels=20_000))
    assert result.mask.shape == disk.shape
    assert _iou(result.mask, disk) > 0.95
    # GrabCut never changes the sure labels; neither does the upsampling.
    assert result.mask[blur < 0.1].all() and not result.mask[blur >= 0.9].any()


@pytest.mark.parametrize("value, expected", [(0.0, True), (1.0, False)])
def test_uniform_map_falls_back_to_threshold(value, expected):
    image, _ = _scene()
    result = segment_sharp(image, np.full(image.shape[:2], value, np.float32))
    assert result.method == "threshold"
    assert ("blurred" if expected else "sharp") in result.note
    assert (result.mask == expected).all()


def test_bad_inputs_raise_input_error():
    image, disk = _scene()
    with pytest.raises(InputError, match="same size"):
        segment_sharp(image, np.zeros((10, 10), np.float32))
    with pytest.raises(InputError, match="thresholds"):
        segment_sharp(image, disk.astype(np.float32), SegmentOptions(sure_sharp_below=0.6))
