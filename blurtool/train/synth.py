"""Blur kernels and synthetic composites for training (numpy/OpenCV only).

Kim et al. 2019 Algorithm 1: a sharp object taken from one photo, blurred (with its mask) by a random linear motion
kernel and alpha-blended onto another photo; labels follow the alpha. We also paste defocus-blurred and unblurred
objects so the network must judge the pasted region itself, not the fact that something was pasted."""

from __future__ import annotations

import cv2
import numpy as np

from ..kinds import Kind

# Label of pixels left out of the loss: blur was applied there but left no visible trace (flat sky, a plain wall), so
# calling them blurred would teach "flat = blurred" and calling them sharp would contradict real bokeh, which is flat
# too. What such a pixel is can only be told from its context, which the network learns from real photos.
IGNORE = 255
# Visible-change test: a Gaussian-weighted local mean of |blurred - sharp| in grey levels of [0, 1] above this is a
# change the eye sees (4 grey levels of 255; JPEG noise on a smoothed difference stays under ~2).
VISIBLE_CHANGE = 0.015
VISIBLE_SIGMA = 3.0  # px at the working scale: the neighbourhood over which a change counts as seen


def motion_kernel(length: float, angle_deg: float, size: int | None = None) -> np.ndarray:
    """Linear motion kernel: an anti-aliased line segment of `length` px at `angle_deg`, summing to 1."""
    size = size or int(np.ceil(length)) | 1
    size = max(size, 3)
    scale = 4  # draw at 4x and area-downsample for sub-pixel anti-aliasing
    big = np.zeros((size * scale, size * scale), np.float32)
    c = (size * scale - 1) / 2.0
    dx, dy = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    half = (length * scale - 1) / 2.0
    p0 = (int(round(c - dx * half)), int(round(c - dy * half)))
    p1 = (int(round(c + dx * half)), int(round(c + dy * half)))
    cv2.line(big, p0, p1, 1.0, thickness=scale, lineType=cv2.LINE_AA)
    k = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return k / k.sum()


def disk_kernel(radius: float) -> np.ndarray:
    """Defocus (pillbox) kernel of the given radius in px, anti-aliased, summing to 1."""
    size = int(np.ceil(radius)) * 2 + 1
    scale = 4
    big = np.zeros((size * scale, size * scale), np.float32)
    c = (size * scale - 1) / 2.0
    cv2.circle(big, (int(round(c)), int(round(c))), int(round(radius * scale)), 1.0, -1, cv2.LINE_AA)
    k = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return k / k.sum()


def shake_kernel(rng: np.random.Generator, extent: float, steps: int = 96) -> np.ndarray:
    """Camera-shake kernel: a random 2-D trajectory whose bounding box is `extent` px on its long side, summing to 1.

    Hand-written (neither OpenCV nor SciPy makes one), after Boracchi & Foi 2012: the velocity is a random walk with
    inertia and rare impulsive jerks, so paths curve, turn back and change speed. Each time step deposits the same
    light, so the kernel is brighter where the camera moved slowly, as on a real exposure.

    benchmarks/real_photos.py shakes held-out photos with it. (As a share of the synthetic motion kernels in training it
    did not pay, docs/training.md; real shake comes from the frame folders.) benchmarks/bench_deblur.py has its own
    simpler generator (a constant-speed polyline of six turns, even light), kept because its published deblur figures
    are tied to its exact kernels."""
    velocity = rng.normal(size=2)
    velocity /= np.linalg.norm(velocity) + 1e-9
    pos = np.zeros((steps + 1, 2))
    for t in range(steps):
        velocity = 0.95 * velocity + 0.15 * rng.normal(size=2)
        if rng.random() < 0.02:  # an impulsive jerk of the hand
            velocity += rng.normal(size=2)
        pos[t + 1] = pos[t] + velocity
    pos -= pos.min(axis=0)
    span = float(pos.max())
    pos *= (extent - 1) / span if span > 0 else 0.0
    size = max(int(np.ceil(extent)) | 1, 3)
    scale = 4  # splat at 4x and area-downsample for sub-pixel anti-aliasing
    # Ten sub-samples per step, linearly interpolated: equal light per unit time, not per unit path length.
    t = np.linspace(0, steps, steps * 10 + 1)
    pts = np.stack([np.interp(t, np.arange(steps + 1), pos[:, i]) for i in range(2)], axis=1)
    pts += (size - 1 - pos.max(axis=0)) / 2.0  # centre the path in the kernel
    idx = np.clip(np.round((pts + 0.5) * scale - 0.5).astype(int), 0, size * scale - 1)
    big = np.zeros((size * scale, size * scale), np.float32)
    np.add.at(big, (idx[:, 1], idx[:, 0]), 1.0)
    big = cv2.GaussianBlur(big, (0, 0), scale / 2.0)  # the path has the width of a pixel, as the line kernel's
    k = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return k / k.sum()


# Kernels the map is taught to call blurred (Kim et al.'s ranges): disk radius and motion length in px.
MAP_DISK_RADII = (2.0, 9.0)
MAP_MOTION_LENGTHS = (7.0, 31.0)
# Kernels the amount is taught on: from barely visible to beyond the map's range, log-uniform so each doubling of the
# radius gets the same share of samples.
GRADED_DISK_RADII = (0.5, 16.0)
GRADED_MOTION_LENGTHS = (2.0, 48.0)


def kernel_radius(kind: int, size: float) -> float:
    """The blur amount of a kernel, in px: a disk's radius, or half a motion streak's length (the same reach)."""
    return size / 2.0 if kind == Kind.MOTION else size


def random_kernel(rng: np.random.Generator, kind: int) -> tuple[np.ndarray, float]:
    """A random motion (line) or defocus (disk) kernel in the map's ranges, and its radius (kernel_radius).
    (Camera-shake trajectories for a share of the motion kernels did not pay, docs/training.md: real shake comes from
    the frame folders.)"""
    if kind == Kind.MOTION:
        length = rng.uniform(*MAP_MOTION_LENGTHS)
        return motion_kernel(length, rng.uniform(0, 180)), kernel_radius(Kind.MOTION, length)
    radius = rng.uniform(*MAP_DISK_RADII)
    return disk_kernel(radius), radius


def graded_kernel(rng: np.random.Generator, kind: int) -> tuple[np.ndarray, float, bool]:
    """A kernel over the amount's whole range (log-uniform), its radius, and whether it lies in the map's range (a
    milder blur is left out of the map's loss: whether it counts as blurred is what real labels teach)."""
    lo, hi = GRADED_MOTION_LENGTHS if kind == Kind.MOTION else GRADED_DISK_RADII
    size = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    if kind == Kind.MOTION:
        kernel, in_range = motion_kernel(size, rng.uniform(0, 180)), size >= MAP_MOTION_LENGTHS[0]
    else:
        kernel, in_range = disk_kernel(size), size >= MAP_DISK_RADII[0]
    return kernel, kernel_radius(kind, size), in_range


def known_amount(labels: np.ndarray) -> np.ndarray:
    """The amount target a labelled photo gives: 0 where sharp, unknown (NaN) elsewhere (a binary mask says blurred,
    not how much)."""
    return np.where(labels == Kind.SHARP, 0.0, np.nan).astype(np.float32)


def blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(image, np.float32), cv2.COLOR_RGB2GRAY)


def visible_change(sharp: np.ndarray, blurred: np.ndarray) -> np.ndarray:
    """Bool HxW: where `blurred` differs visibly from `sharp` (float32 RGB in [0, 1], same size), i.e. where the blur
    has left evidence in the pixels. Flat regions stay False whatever kernel was applied."""
    diff = np.abs(_grey(blurred) - _grey(sharp))
    return cv2.GaussianBlur(diff, (0, 0), VISIBLE_SIGMA) > VISIBLE_CHANGE


def textured(image: np.ndarray) -> np.ndarray:
    """Bool HxW: where a sharp image has enough local contrast that a blur of it would be visible (local grey
    standard deviation over the same window as `visible_change`, above the same level)."""
    g = _grey(image)
    mean = cv2.GaussianBlur(g, (0, 0), VISIBLE_SIGMA)
    var = cv2.GaussianBlur(g * g, (0, 0), VISIBLE_SIGMA) - mean * mean
    return np.sqrt(np.maximum(var, 0)) > VISIBLE_CHANGE


def visible_labels(sharp: np.ndarray, blurred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`labels` with every blurred-labelled pixel that the blur left unchanged set to IGNORE (see IGNORE)."""
    out = labels.copy()
    out[(labels != Kind.SHARP) & (labels != IGNORE) & ~visible_change(sharp, blurred)] = IGNORE
    return out


def random_blob(rng: np.random.Generator, h: int, w: int, area: tuple = (0.1, 0.5)) -> np.ndarray:
    """A random smooth object shape (union of ellipses, rounded) covering roughly `area` of the frame."""
    mask = np.zeros((h, w), np.uint8)
    target = rng.uniform(*area) * h * w
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    for _ in range(int(rng.integers(1, 4))):
        ry = np.sqrt(target / np.pi) * rng.uniform(0.5, 1.5)
        rx = target / np.pi / max(ry, 1.0)
        center = (int(cx + rng.normal(0, w * 0.1)), int(cy + rng.normal(0, h * 0.1)))
        cv2.ellipse(mask, center, (int(rx), int(ry)), rng.uniform(0, 180), 0, 360, 1, -1)
    return mask.astype(bool)


def composite(
    rng: np.random.Generator,
    background: np.ndarray,
    background_labels: np.ndarray,
    subject: np.ndarray,
    subject_mask: np.ndarray,
    kind: int,
    background_amount: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paste `subject` (where `subject_mask`) onto `background`, blurred by a random kernel of `kind` (SHARP = none).

    Images float32 HxWx3 in [0, 1]; labels uint8. The mask is blurred with the same kernel and becomes the alpha,
    as a moving object smears its own silhouette (Kim et al. Alg. 1); pixels with alpha > 0.5 take the label `kind`,
    or IGNORE where the blur left them visibly unchanged. Returns (image, labels, amount): the amount (float32 px,
    NaN = unknown) is the background's (default: known_amount of its labels) with the kernel's radius on the pasted
    pixels."""
    alpha = subject_mask.astype(np.float32)
    subject_unblurred = subject
    radius = 0.0
    if kind != Kind.SHARP:
        k, radius = random_kernel(rng, kind)
        subject = blur(subject, k)
        alpha = blur(alpha, k)
    else:
        alpha = cv2.GaussianBlur(alpha, (3, 3), 0.7)  # a sharp cut-out still has an anti-aliased edge
    image = alpha[..., None] * subject + (1 - alpha[..., None]) * background
    labels = background_labels.copy()
    pasted = alpha > 0.5
    labels[pasted] = kind
    amount = known_amount(background_labels) if background_amount is None else background_amount.copy()
    amount[pasted] = radius
    if kind != Kind.SHARP:
        # The unblurred composite is the reference: where pasting the blurred subject changed nothing visible (a flat
        # part of it), its pixels leave the loss.
        sharp_alpha = subject_mask.astype(np.float32)[..., None]
        reference = sharp_alpha * subject_unblurred + (1 - sharp_alpha) * background
        unseen = pasted & ~visible_change(reference.astype(np.float32), image.astype(np.float32))
        labels[unseen] = IGNORE
        amount[unseen] = np.nan
    return image.astype(np.float32), labels, amount


# Display gamma of the frames: averaging is done in linear light, as a longer exposure integrates it (the GoPro
# deblurring data of Nah et al. 2017 was made the same way).
FRAME_GAMMA = 2.2


def average_frames(frames: np.ndarray) -> np.ndarray:
    """The average of consecutive sharp frames (N x H x W x 3, float32 in [0, 1]) in linear light: a real exposure
    N frame-times long, with the camera's and the subjects' own motion blur."""
    linear = np.power(np.clip(frames, 0, 1), FRAME_GAMMA).mean(axis=0)
    return np.power(linear, 1 / FRAME_GAMMA).astype(np.float32)


def frame_average_labels(sharp: np.ndarray, averaged: np.ndarray) -> np.ndarray:
    """Labels of a frame average against its sharp middle frame: MOTION where the average differs visibly, SHARP where
    it does not although the frame is textured there (nothing moved), IGNORE on flat unchanged regions, which carry no
    evidence either way (see IGNORE)."""
    moved = visible_change(sharp, averaged)
    labels = np.full(moved.shape, IGNORE, np.uint8)
    labels[textured(sharp) & ~moved] = Kind.SHARP
    labels[moved] = Kind.MOTION
    return labels


def frame_average_amount(run: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The amount of the average of `run` (N x H x W x 3 float32 RGB in [0, 1]) given its labels: half the
    displacement from the first frame to the last where it moved, 0 where sharp, unknown (NaN) where IGNORE.

    The displacement is the sum of the dense optical flows (Farneback, OpenCV) between consecutive frames: each is a
    few px, where the method is reliable, while one flow from the first frame to the last fails on fine texture moved
    tens of px."""
    grey = [(np.clip(_grey(f), 0, 1) * 255 + 0.5).astype(np.uint8) for f in run]
    total = np.zeros((*labels.shape, 2), np.float32)
    for a, b in zip(grey[:-1], grey[1:]):
        total += cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    amount = np.full(labels.shape, np.nan, np.float32)
    amount[labels == Kind.SHARP] = 0.0
    moved = labels == Kind.MOTION
    amount[moved] = 0.5 * np.linalg.norm(total, axis=-1)[moved]
    return amount


# The amount benchmark (Zhang et al. 2018's progressive blur): each held-out sharp crop blurred by these disks and
# motion streaks, at the network's working scale.
PROGRESSIVE_DISK_RADII = (1.0, 2.0, 3.0, 5.0, 7.0, 10.0)
PROGRESSIVE_MOTION_LENGTHS = (5.0, 11.0, 21.0, 31.0)


def progressive_blurs(sharp: np.ndarray, angle_deg: float = 30.0) -> list[tuple[int, float, np.ndarray]]:
    """(kind, true radius px, blurred image) for every progressive disk and motion streak (kernel_radius), of one
    sharp float32 RGB image."""
    cases = [(Kind.DEFOCUS, r, blur(sharp, disk_kernel(r))) for r in PROGRESSIVE_DISK_RADII]
    cases += [
        (Kind.MOTION, kernel_radius(Kind.MOTION, n), blur(sharp, motion_kernel(n, angle_deg)))
        for n in PROGRESSIVE_MOTION_LENGTHS
    ]
    return cases
