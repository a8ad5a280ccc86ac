"""Training and validation data, generated on the fly:

- CUHK-layout folders (blurtool.cuhk: images/, gt/ masks with 255 = blurred), three-class labels from the kind in the
  file name (CUHK, SZU-BD, and all-sharp photos with all-black masks);
- frame folders (frames/*.jpg, consecutive sharp frames of a high-speed video, e.g. GoPro at 240 fps): averaging a run
  of them gives real camera and object motion blur, labelled by comparison with the sharp middle frame;
- synthetic composites and whole-crop blurs of sharp regions, labelled by what the blur visibly changed.

Every sample is a pure function of (seed, sample index), so a run is reproducible and resumes exactly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..cuhk import Sample, kind_from_name, list_samples, read_gt
from ..errors import InputError
from ..io import IMAGE_EXTENSIONS, read_image
from ..kinds import Kind
from .config import SAMPLE_SHARES
from .synth import (
    IGNORE,
    average_frames,
    blur,
    composite,
    frame_average_amount,
    frame_average_labels,
    graded_kernel,
    known_amount,
    random_blob,
    visible_labels,
)

MARGIN = 24  # px of context around a crop, so blurring a crop does not see its own border


@dataclass
class Example:
    stem: str
    image: np.ndarray  # uint8 HxWx3 RGB
    labels: np.ndarray  # uint8 HxW of Kind values
    kind: Kind | None  # the kind its name says (None for a photo sharp everywhere)
    source: str = ""  # the folder it came from (validation is reported per folder)


@dataclass
class FrameSequence:
    """Consecutive sharp video frames, held at the working scale (uint8 N x H x W x 3 RGB)."""

    name: str
    frames: np.ndarray


# Frames averaged into one real motion-blurred sample: odd counts, so a middle frame is the sharp reference. At 240 fps
# 5-15 frames are exposures of 1/48-1/16 s, the range where a hand-held shot shakes.
FRAME_COUNTS = (5, 7, 9, 11, 13, 15)
# Share of sharp ground truth a crop needs to count as "a subject on its bokeh" for a blurred-whole sample: enough
# subject to learn from, enough blur around it for the context of SZU-BD's small subjects.
GLOBAL_SUBJECT_SHARP = (0.05, 0.6)


def is_frame_folder(folder) -> bool:
    return (Path(folder) / "frames").is_dir() and not (Path(folder) / "images").is_dir()


def load_frame_sequence(folder, working_size: int) -> FrameSequence:
    """The frames of `folder`/frames, in name order, scaled so their long side is the working size."""
    folder = Path(folder)
    paths = sorted(p for p in (folder / "frames").iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if len(paths) < max(FRAME_COUNTS):
        raise InputError(f"{folder / 'frames'}: {len(paths)} frames; a frame folder needs at least {max(FRAME_COUNTS)}")
    frames, first_shape = [], None
    for path in paths:
        rgb = _read_u8(path)
        first_shape = first_shape or rgb.shape[:2]
        if rgb.shape[:2] != first_shape:
            raise InputError(f"{path}: frame size {rgb.shape[1::-1]} differs from the first frame's")
        f = working_size / max(rgb.shape[:2])
        size = (int(round(rgb.shape[1] * f)), int(round(rgb.shape[0] * f)))
        frames.append(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    return FrameSequence(folder.name, np.stack(frames))


def _read_u8(path: Path) -> np.ndarray:
    """A photo as uint8 RGB. OpenCV decodes an 8-bit JPEG or PNG to the pixels blurtool.io.read_image gives (checked on
    the training sets) in a third of its time, minutes at the start of a run; what OpenCV cannot read (HEIC, camera
    RAW) goes through read_image, as in every command."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is not None:
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return (read_image(path) * 255.0 + 0.5).astype(np.uint8)


def load_example(sample: Sample, source: str = "") -> Example:
    """A photo and its labels: the mask's blurred pixels take the kind its name says (blurtool.cuhk)."""
    image, gt = _read_u8(sample.image), read_gt(sample.gt)
    if gt.shape != image.shape[:2]:
        raise InputError(f"{sample.gt}: mask size {gt.shape[::-1]} differs from image {image.shape[1::-1]}")
    if sample.kind is None and gt.any():
        raise InputError(
            f"{sample.gt}: the mask has blurred pixels but the name {sample.stem!r} does not say their kind "
            "(motion... or out_of_focus...)"
        )
    labels = np.where(gt, sample.kind or Kind.SHARP, Kind.SHARP).astype(np.uint8)
    return Example(sample.stem, image, labels, sample.kind, source)


def load_training_folders(folders, working_size: int) -> tuple[list[Example], list[FrameSequence]]:
    """Every --data folder: CUHK-layout folders give examples, frame folders give frame sequences."""
    examples, sequences = [], []
    for folder in folders:
        if is_frame_folder(folder):
            sequences.append(load_frame_sequence(folder, working_size))
        else:
            examples += [load_example(s, Path(folder).name) for s in list_samples(folder)]
    stems = [e.stem for e in examples]
    if len(set(stems)) != len(stems):
        raise InputError("duplicate image stems across training folders")
    return examples, sequences


def split_train_val(stems: list[str], val_count: int, seed: int) -> tuple[list[str], list[str]]:
    """Hold out `val_count` stems, stratified by the kind their names say (proportional), reproducibly."""
    rng = np.random.default_rng(seed)
    by_kind: dict[int, list[str]] = {}
    for s in sorted(stems):
        kind = kind_from_name(s)
        by_kind.setdefault(-1 if kind is None else int(kind), []).append(s)
    val = []
    for _kind, group in sorted(by_kind.items()):
        n = int(round(val_count * len(group) / len(stems)))
        val += list(rng.choice(group, size=min(n, len(group)), replace=False))
    val_set = set(val)
    return [s for s in sorted(stems) if s not in val_set], sorted(val_set)


def _draw_cdf(examples: list[Example], motion_weight: float) -> np.ndarray | None:
    """Cumulative draw probabilities of the examples with motion photos weighted, or None when every photo weighs the
    same: then the draw stays `rng.integers`, so runs recorded before the option existed are reproduced exactly."""
    if motion_weight == 1.0 or not examples:
        return None
    weights = np.array([motion_weight if e.kind == Kind.MOTION else 1.0 for e in examples])
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0  # no rounding gap past the last photo
    return cdf


class BlurTrainingSet:
    """Map-style dataset: item i -> (image CHW float32 normalised, labels HxW int64, amount HxW float32 px with NaN
    where unknown), deterministic in (seed, i). Every sample maker returns (image, labels, amount) at the crop's scale."""

    def __init__(self, examples: list[Example], config, mean, std, sequences: list[FrameSequence] = ()):
        self.examples = examples
        self.sequences = list(sequences)
        self.cfg = config
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.length = config.steps * config.batch_size
        self._draw_cdf = _draw_cdf(examples, config.motion_draws)

    def __len__(self):
        return self.length

    # --- building blocks -------------------------------------------------------------------------------------
    def _scaled(self, rng, ex: Example, size: int):
        """The example rescaled around the working size (the scale the network sees at inference), at least size px."""
        h, w = ex.labels.shape
        j = self.cfg.scale_jitter
        f = self.cfg.working_size / max(h, w) * rng.uniform(1 - j, 1 + j)
        f = max(f, size / min(h, w))  # the crop must fit
        nh, nw = int(round(h * f)), int(round(w * f))
        interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
        img = cv2.resize(ex.image, (nw, nh), interpolation=interp).astype(np.float32) / 255.0
        lab = cv2.resize(ex.labels, (nw, nh), interpolation=cv2.INTER_NEAREST)
        return img, lab

    def _crop(self, rng, img, lab, size):
        h, w = lab.shape
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        return img[y : y + size, x : x + size], lab[y : y + size, x : x + size]

    def _sharp_window(self, rng, size, tries=8):
        """A crop lying (almost) entirely in sharp ground truth, or None."""
        for _ in range(tries):
            ex = self.examples[int(rng.integers(len(self.examples)))]
            img, lab = self._scaled(rng, ex, size)
            blurred = (lab != Kind.SHARP).astype(np.float64)
            integral = cv2.integral(blurred)
            win = integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size]
            ys, xs = np.nonzero(win <= 0.01 * size * size)
            if len(ys):
                i = int(rng.integers(len(ys)))
                y, x = ys[i], xs[i]
                return img[y : y + size, x : x + size], np.zeros((size, size), np.uint8)
        return None

    # --- sample kinds ----------------------------------------------------------------------------------------
    def _draw_example(self, rng) -> Example:
        """A training photo for a crop: uniform, or with motion photos weighted (--motion-draws)."""
        if self._draw_cdf is None:
            return self.examples[int(rng.integers(len(self.examples)))]
        return self.examples[int(np.searchsorted(self._draw_cdf, rng.random(), side="right"))]

    def _plain(self, rng, size):
        ex = self._draw_example(rng)
        img, lab = self._crop(rng, *self._scaled(rng, ex, size), size)
        return img, lab, known_amount(lab)

    def _mixed(self, rng, size):
        bg, bg_lab, bg_amount = self._plain(rng, size)
        for _ in range(4):
            src, src_lab, _ = self._plain(rng, size)
            mask = random_blob(rng, size, size) & (src_lab == Kind.SHARP)
            if mask.mean() > 0.05:
                kind = int(rng.choice([Kind.MOTION, Kind.DEFOCUS, Kind.SHARP], p=[0.5, 0.25, 0.25]))
                return composite(rng, bg, bg_lab, src, mask, kind, bg_amount)
        return bg, bg_lab, bg_amount

    def _crop_with_sharp_part(self, rng, size, tries=8):
        """A plain crop holding both sharp and blurred ground truth (a subject on its bokeh), or None."""
        for _ in range(tries):
            img, lab, _ = self._plain(rng, size)
            sharp = float((lab == Kind.SHARP).mean())
            if GLOBAL_SUBJECT_SHARP[0] <= sharp <= GLOBAL_SUBJECT_SHARP[1]:
                return img, lab
        return None

    def _global(self, rng, size):
        """A crop blurred as a whole by a kernel of known radius over the amount's range (shake, missed focus): half
        the time a sharp window, else a crop of a sharp part beside blur already there (a subject on bokeh: a macro
        shot misfocused or shaken), so that the amount is learnt where the context says "a sharp subject" too
        (without it SZU-BD's subjects, blurred whole, read about half their radius). The pixels that were sharp get
        the kernel's kind and radius where it visibly changed them; the ones blurred before are blurred twice over,
        of unknown kind and amount (IGNORE, NaN). A blur milder than the map's range teaches the amount only (its map
        labels are IGNORE)."""
        win = self._sharp_window(rng, size) if rng.random() < 0.5 else self._crop_with_sharp_part(rng, size)
        if win is None:
            return self._plain(rng, size)
        sharp, was = win
        kind = int(rng.choice([Kind.MOTION, Kind.DEFOCUS]))
        kernel, radius, in_map_range = graded_kernel(rng, kind)
        blurred = blur(sharp, kernel)
        labels = visible_labels(sharp, blurred, np.full((size, size), kind, np.uint8))
        labels[was != Kind.SHARP] = IGNORE
        amount = np.where(labels == IGNORE, np.nan, radius).astype(np.float32)
        if not in_map_range:
            labels[:] = IGNORE
        return blurred, labels, amount

    def _sharp_only(self, rng, size):
        win = self._sharp_window(rng, size)
        return (*win, np.zeros(win[1].shape, np.float32)) if win is not None else self._plain(rng, size)

    def _frames(self, rng, size):
        """Real motion blur: a run of consecutive frames averaged, cropped at a jittered scale."""
        if not self.sequences:
            return self._plain(rng, size)
        seq = self.sequences[int(rng.integers(len(self.sequences)))].frames
        n = int(rng.choice(FRAME_COUNTS))
        first = int(rng.integers(0, len(seq) - n + 1))
        j = self.cfg.scale_jitter
        side = min(int(round(size / rng.uniform(1 - j, 1 + j))), *seq.shape[1:3])  # crop side at the stored scale
        y, x = int(rng.integers(0, seq.shape[1] - side + 1)), int(rng.integers(0, seq.shape[2] - side + 1))
        run = seq[first : first + n, y : y + side, x : x + side].astype(np.float32) / 255.0
        if side != size:
            interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
            run = np.stack([cv2.resize(f, (size, size), interpolation=interp) for f in run])
        averaged, sharp = average_frames(run), run[n // 2]
        labels = frame_average_labels(sharp, averaged)
        return averaged, labels, frame_average_amount(run, labels)

    def _augment(self, rng, img, lab, amount):
        if rng.random() < 0.5:
            img, lab, amount = img[:, ::-1], lab[:, ::-1], amount[:, ::-1]
        k = int(rng.integers(4))  # 90-degree rotations (Kim et al.)
        img, lab, amount = np.rot90(img, k), np.rot90(lab, k), np.rot90(amount, k)
        # Brightness/contrast jitter (Zhang et al. 2018).
        img = (img - 0.5) * rng.uniform(0.75, 1.25) + 0.5 + rng.uniform(-0.1, 0.1)
        if self.cfg.p_grey > 0 and rng.random() < self.cfg.p_grey:
            # Rec. 601 luma, as OpenCV's RGB2GRAY, repeated in three channels: a greyscale photo as detect reads it.
            grey = img @ np.array([0.299, 0.587, 0.114], np.float32)
            img = np.repeat(grey[..., None], 3, axis=2)
        return np.clip(img, 0, 1), lab, amount

    def sample(self, index: int):
        rng = np.random.default_rng((self.cfg.seed, index))
        size = self.cfg.crop + 2 * MARGIN
        # One uniform number picks the sample kind: the shares of SAMPLE_SHARES laid end to end, in that order (the
        # order `check_sample_shares` validates), and plain crops for the rest.
        r = rng.random()
        makers = {"p_mixed": self._mixed, "p_sharp": self._sharp_only, "p_global": self._global,
                  "p_frames": self._frames}
        edge = 0.0
        for name in SAMPLE_SHARES:
            edge += getattr(self.cfg, name)
            if r < edge:
                img, lab, amount = makers[name](rng, size)
                break
        else:
            img, lab, amount = self._plain(rng, size)
        inner = (slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
        return self._augment(rng, img[inner], lab[inner], amount[inner])

    def __getitem__(self, index):
        img, lab, amount = self.sample(index)
        img = (img - self.mean) / self.std
        return (
            np.ascontiguousarray(img.transpose(2, 0, 1), np.float32),
            np.ascontiguousarray(lab, np.int64),
            np.ascontiguousarray(amount, np.float32),
        )
