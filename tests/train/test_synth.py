import cv2
import numpy as np
import pytest

from blurtool.kinds import Kind
from blurtool.train.synth import (
    IGNORE,
    average_frames,
    blur,
    composite,
    disk_kernel,
    frame_average_amount,
    frame_average_labels,
    graded_kernel,
    motion_kernel,
    random_blob,
    shake_kernel,
    textured,
    visible_change,
    visible_labels,
)


@pytest.mark.parametrize("length,angle", [(9, 0), (15, 45), (21, 90)])
def test_motion_kernel_is_a_normalised_line_of_the_right_length(length, angle):
    k = motion_kernel(length, angle)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    ys, xs = np.nonzero(k > k.max() * 0.2)
    extent = np.hypot(ys.max() - ys.min(), xs.max() - xs.min()) + 1
    assert abs(extent - length) <= 2


def _curvedness(k: np.ndarray) -> float:
    """Minor / major spread of the kernel's light about its centroid: ~0 for a line, larger for a curved path."""
    ys, xs = np.nonzero(k)
    w = k[ys, xs]
    pts = np.stack([xs, ys], 1) - np.average(np.stack([xs, ys], 1), axis=0, weights=w)
    evals = np.linalg.eigvalsh((pts * w[:, None]).T @ pts)
    return float(evals[0] / evals[1])


@pytest.mark.parametrize("extent", [7, 15, 31])
def test_shake_kernel_is_normalised_and_spans_the_asked_extent(extent):
    rng = np.random.default_rng(extent)
    for _ in range(5):
        k = shake_kernel(rng, extent)
        assert k.min() >= 0 and k.sum() == pytest.approx(1.0, abs=1e-5)
        ys, xs = np.nonzero(k > k.max() * 0.05)
        assert abs(max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 - extent) <= 2


def test_shake_kernels_curve_where_line_kernels_do_not():
    rng = np.random.default_rng(0)
    shakes = [_curvedness(shake_kernel(rng, 25)) for _ in range(20)]
    lines = [_curvedness(motion_kernel(25, a)) for a in (0, 30, 60, 120)]
    assert max(lines) < 0.01
    assert np.mean(np.array(shakes) > 0.015) >= 0.75



def test_disk_kernel_is_round_and_normalised():
    k = disk_kernel(5)
    assert k.shape == (11, 11) and k.sum() == pytest.approx(1.0, abs=1e-5)
    assert k[5, 5] > 0 and k[0, 0] == 0 and np.allclose(k, k.T, atol=1e-6)


def test_composite_labels_follow_the_blurred_alpha():
    rng = np.random.default_rng(0)
    bg = np.zeros((64, 64, 3), np.float32)
    bg_labels = np.full((64, 64), Kind.DEFOCUS, np.uint8)
    subject = _texture(size=64) * 0.5 + 0.5  # textured and brighter than the background
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    img, labels, _ = composite(rng, bg, bg_labels, subject, mask, Kind.MOTION)
    assert labels[32, 32] == Kind.MOTION and labels[2, 2] == Kind.DEFOCUS
    assert img[32, 32].min() > 0.4 and img[2, 2].max() < 1e-6
    _, sharp_labels, _ = composite(rng, bg, bg_labels, subject, mask, Kind.SHARP)
    assert (sharp_labels[mask] == Kind.SHARP).mean() > 0.95


def test_composite_leaves_a_flat_subject_s_unchanged_inside_out_of_the_loss():
    # A plain white square blurred by motion: its edges smear (visible, motion) but its middle stays white, which no
    # eye can call blurred: those pixels take IGNORE, not MOTION.
    bg = np.zeros((96, 96, 3), np.float32)
    subject = np.ones((96, 96, 3), np.float32)
    mask = np.zeros((96, 96), bool)
    mask[16:80, 16:80] = True
    _, labels, _ = composite(np.random.default_rng(0), bg, np.zeros((96, 96), np.uint8), subject, mask, Kind.MOTION)
    assert labels[48, 48] == IGNORE
    assert (labels == Kind.MOTION).any() and (labels[:8, :8] == Kind.SHARP).all()


def test_visible_change_sees_blur_on_texture_and_none_on_a_flat_region():
    image = _texture(size=96)
    image[:, :48] = 0.6  # left half flat
    blurred = blur(image, disk_kernel(4.0))
    seen = visible_change(image, blurred)
    assert seen[:, 60:].mean() > 0.95 and not seen[:, :36].any()
    assert not visible_change(image, image).any()
    labels = visible_labels(image, blurred, np.full((96, 96), Kind.DEFOCUS, np.uint8))
    assert (labels[:, :36] == IGNORE).all() and (labels[:, 60:] == Kind.DEFOCUS).mean() > 0.95
    assert textured(image)[:, 60:].mean() > 0.95 and not textured(image)[:, :36].any()


def test_average_of_identical_frames_is_the_frame():
    frame = _texture(size=32)
    assert np.allclose(average_frames(np.stack([frame] * 5)), frame, atol=1e-5)


def test_frame_average_labels_motion_where_it_moved_sharp_where_still_and_ignore_on_flat():
    # Five frames: the top half's texture slides 2 px a frame, the bottom half stands still, the right third is flat.
    base = _texture(size=128)
    base[:, 86:] = 0.5
    frames = []
    for t in range(5):
        f = base.copy()
        f[:64, :86] = np.roll(base[:64, :86], 2 * t, axis=1)
        frames.append(f)
    frames = np.stack(frames)
    labels = frame_average_labels(frames[2], average_frames(frames))
    assert (labels[8:56, 8:78] == Kind.MOTION).mean() > 0.9
    assert (labels[72:120, 8:78] == Kind.SHARP).mean() > 0.9
    assert (labels[8:120, 100:] == IGNORE).all()


def test_blob_covers_roughly_the_asked_area():
    rng = np.random.default_rng(3)
    areas = [random_blob(rng, 128, 128, (0.2, 0.3)).mean() for _ in range(20)]
    assert 0.05 < np.median(areas) < 0.6


def _texture(seed=0, size=160):
    # Noise enlarged 4x: texture at several scales, so a 1 px blur changes it a little and an 8 px blur a lot.
    rng = np.random.default_rng(seed)
    small = rng.random((size // 4, size // 4, 3)).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_NEAREST)


def test_frame_average_amount_is_half_the_displacement_of_the_run():
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.random((96, 160, 3)).astype(np.float32), (0, 0), 1.0)
    run = np.stack([texture[:, 20 + 2 * t : 116 + 2 * t] for t in range(7)])  # 2 px a frame: 12 px in all
    labels = np.full((96, 96), Kind.MOTION, np.uint8)
    labels[:, :8] = Kind.SHARP
    labels[:8] = IGNORE
    amount = frame_average_amount(run, labels)
    assert np.isnan(amount[:8]).all() and (amount[8:, :8] == 0).all()
    assert abs(np.median(amount[20:80, 20:80]) - 6.0) < 0.5


def test_graded_kernels_span_the_amount_range_and_say_when_the_map_learns_them():
    rng = np.random.default_rng(0)
    radii = {Kind.MOTION: [], Kind.DEFOCUS: []}
    for _ in range(400):
        kind = Kind.MOTION if rng.random() < 0.5 else Kind.DEFOCUS
        kernel, radius, in_map_range = graded_kernel(rng, kind)
        assert abs(kernel.sum() - 1) < 1e-5
        assert in_map_range == (radius >= (3.5 if kind == Kind.MOTION else 2.0))
        radii[kind].append(radius)
    assert min(radii[Kind.DEFOCUS]) < 0.7 and max(radii[Kind.DEFOCUS]) > 10
    assert min(radii[Kind.MOTION]) < 1.3 and max(radii[Kind.MOTION]) > 13
