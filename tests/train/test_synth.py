import numpy as np
import pytest

from blurtool.train.synth import DEFOCUS, MOTION, SHARP, composite, disk_kernel, motion_kernel, random_blob


@pytest.mark.parametrize("length,angle", [(9, 0), (15, 45), (21, 90)])
def test_motion_kernel_is_a_normalised_line_of_the_right_length(length, angle):
    k = motion_kernel(length, angle)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    ys, xs = np.nonzero(k > k.max() * 0.2)
    extent = np.hypot(ys.max() - ys.min(), xs.max() - xs.min()) + 1
    assert abs(extent - length) <= 2


def test_disk_kernel_is_round_and_normalised():
    k = disk_kernel(5)
    assert k.shape == (11, 11) and k.sum() == pytest.approx(1.0, abs=1e-5)
    assert k[5, 5] > 0 and k[0, 0] == 0 and np.allclose(k, k.T, atol=1e-6)


def test_composite_labels_follow_the_blurred_alpha():
    rng = np.random.default_rng(0)
    bg = np.zeros((64, 64, 3), np.float32)
    bg_labels = np.full((64, 64), DEFOCUS, np.uint8)
    subject = np.ones((64, 64, 3), np.float32)
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    img, labels = composite(rng, bg, bg_labels, subject, mask, MOTION)
    assert labels[32, 32] == MOTION and labels[2, 2] == DEFOCUS
    assert img[32, 32].min() > 0.9 and img[2, 2].max() < 1e-6
    _, sharp_labels = composite(rng, bg, bg_labels, subject, mask, SHARP)
    assert (sharp_labels[mask] == SHARP).mean() > 0.95


def test_blob_covers_roughly_the_asked_area():
    rng = np.random.default_rng(3)
    areas = [random_blob(rng, 128, 128, (0.2, 0.3)).mean() for _ in range(20)]
    assert 0.05 < np.median(areas) < 0.6
