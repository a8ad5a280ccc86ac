"""BlurDetector: photo in, per-pixel blur map and blur kind out. Torch tensors live only here (and in model/, train/).

How a photo is processed:
  1. It is resized so its long side is the working size (the card's `working_size`, e.g. 640 px): reduced with
     cv2.INTER_AREA, and a smaller photo enlarged (cv2.INTER_LINEAR, at most MAX_ENLARGEMENT times), because the
     network is trained on photos scaled that way; seen at their native size, small photos of small subjects on bokeh
     (SZU-BD, ~400 px) lost 0.018 F1.
     Running at a fixed working size makes the answer independent of the camera's pixel count, and is what keeps a
     50 MP photo as fast as a 2 MP one.
  2. It is normalised and padded with a reflection up to a multiple of the network's stride (32): zero padding would
     create a hard artificial edge that reads as "sharp"; a reflection continues the photo's own content.
  3. The network gives logits at half the working size; they are interpolated to the working size and cropped
     (softmax -> p(sharp), p(defocus), p(motion); blur = 1 - p(sharp)).
  4. The probabilities are brought back to the photo's full size edge-aware with a guided filter (He et al. 2010,
     "Guided Image Filtering"), guided by the photo: the linear coefficients (a, b) are computed at the working size
     and bilinearly upsampled, q = a * I + b with I the full-size grey photo (the "fast guided filter" of He & Sun
     2015, blurtool.guided). The full-size step goes through the photo in strips of rows, so its extra memory stays a
     few tens of MB however large the photo (only the outputs, blur float32 + kind uint8, are full size).

A network with an amount channel also gives the blur radius per pixel (blurtool.amount: px at the working size,
reported per mille of the long side); it is interpolated bilinearly (it varies smoothly, and no guide is needed to
place a boundary the blur map already places).

Summary numbers (`BlurResult.summary()`) come from the working-size map, so a 12 MP photo and a 2 MP copy of it get
the same answer, and `full_size=False` skips step 4 entirely when only those numbers are wanted (blurtool rank).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from blurtool import amount as amount_unit
from blurtool.checks import check_image
from blurtool.errors import BlurtoolError, InputError, WeightsError
from blurtool.guided import linear_coefficients, resize_rows
from blurtool.kinds import KIND_NAMES, Kind

__all__ = ["BlurDetector", "BlurResult", "KIND_NAMES"]

# Used only when a weights card lacks these keys (cards written by blurtool.weights always have them).
_FALLBACK_THRESHOLD = 0.5
_FALLBACK_WORKING_SIZE = 640

# Guided filter at the working size. Radius: the network's logits come at half resolution and its decoder spreads a
# boundary over a few pixels, so the window must cover ~4 working pixels either side to move a boundary onto the
# photo's edge. eps (intensity variance, photo in [0, 1]): 1e-3 ~ a 3 % grey-level step, above JPEG noise and fine
# texture, so only real edges steer the map.
GUIDED_RADIUS = 4
GUIDED_EPS = 1e-3
_STRIP_PIXELS = 2_000_000  # full-size pixels per strip in step 4 (~50 MB of temporaries each)
_UPSAMPLE_THREADS = max(1, min(4, os.cpu_count() or 1))  # strips upsampled at once (memory: ~50 MB each)
_LOAD_THREADS = 2  # predict_many's decoding threads: two keep a CPU or GPU network fed (decoding releases the GIL)


# --------------------------------------------------------------------------------------------------- results


def _kind_from(blur: np.ndarray, p_defocus: np.ndarray, p_motion: np.ndarray, threshold: float) -> np.ndarray:
    """SHARP where blur < threshold; else DEFOCUS or MOTION, whichever is more likely.

    Choosing among the blurred kinds only (rather than argmax over all three) keeps the kind map consistent with the
    threshold: every pixel counted as blurred has a blur kind, so defocus + motion fractions = blurred fraction.
    """
    kind = np.where(p_motion > p_defocus, np.uint8(Kind.MOTION), np.uint8(Kind.DEFOCUS))
    kind[blur < threshold] = Kind.SHARP
    return kind


@dataclass
class BlurResult:
    """The network's answer for one photo.

    blur: float32 (H, W) in [0, 1], 1 = blurred; kind: uint8 (H, W), 0 sharp / 1 defocus / 2 motion; probs: float32
    (H, W, 3) p(sharp), p(defocus), p(motion) (computed on first access). (H, W) is the photo's size, or the working
    size when predicted with full_size=False (then `full_size` is False). work_probs: (h, w, 3) at the working size,
    from which summary() is computed. work_amount: (h, w) float32 blur radius in blurtool.amount's unit (px at a
    1000 px long side), or None for a network without an amount channel; `amount` is it at (H, W).
    """

    blur: np.ndarray
    kind: np.ndarray
    work_probs: np.ndarray
    threshold: float
    full_size: bool = True
    work_amount: np.ndarray | None = None
    _guide: np.ndarray | None = field(default=None, repr=False)  # uint8 grey photo, to compute .probs lazily
    _probs: np.ndarray | None = field(default=None, repr=False)
    _amount: np.ndarray | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.blur.shape  # type: ignore[return-value]

    @property
    def work_blur(self) -> np.ndarray:
        return 1.0 - self.work_probs[..., 0]

    @property
    def work_kind(self) -> np.ndarray:
        return _kind_from(self.work_blur, self.work_probs[..., 1], self.work_probs[..., 2], self.threshold)

    @property
    def probs(self) -> np.ndarray:
        if self._probs is None:
            if self._guide is None:  # working size: the probabilities are the network's own
                self._probs = self.work_probs
            else:
                self._probs = _upsample_probs(self.work_probs, self._guide, want="probs")
        return self._probs

    @property
    def amount(self) -> np.ndarray | None:
        """float32 (H, W) blur radius per pixel in blurtool.amount's unit, or None without an amount channel."""
        if self.work_amount is None:
            return None
        if self._amount is None:
            h, w = self.blur.shape
            same = self.work_amount.shape == (h, w)
            self._amount = self.work_amount if same else cv2.resize(self.work_amount, (w, h), interpolation=cv2.INTER_LINEAR)
        return self._amount

    @property
    def mask(self) -> np.ndarray:
        """bool (H, W): blurred pixels (blur >= threshold)."""
        return self.blur >= self.threshold

    def summary(self) -> dict[str, Any]:
        """blurred_fraction, defocus_fraction, motion_fraction, degree, dominant_kind, threshold; with an amount
        channel also amount, amount_level, amount_diagonal.

        From the working-size map, so independent of the photo's pixel count. degree = mean of the blur map (the
        "blur degree" of Ma et al. 2018, "Deep blur mapping"); fractions are of pixels with blur >= threshold;
        dominant_kind is the kind covering most of the photo. amount = median blur radius over the blurred pixels
        (blurtool.amount's unit; 0 when nothing is blurred), amount_level its level, amount_diagonal it as a fraction
        of the diagonal.
        """
        blur = self.work_blur
        kind = self.work_kind
        n = kind.size
        defocus = float(np.count_nonzero(kind == Kind.DEFOCUS)) / n
        motion = float(np.count_nonzero(kind == Kind.MOTION)) / n
        fractions = {"sharp": 1.0 - defocus - motion, "defocus": defocus, "motion": motion}
        out = {
            "blurred_fraction": defocus + motion,
            "defocus_fraction": defocus,
            "motion_fraction": motion,
            "degree": float(blur.mean()),
            "dominant_kind": max(fractions, key=fractions.__getitem__),
            "threshold": float(self.threshold),
        }
        if self.work_amount is not None:
            blurred = kind != Kind.SHARP
            amount = amount_unit.region_amount(self.work_amount, blurred)
            out["amount"] = amount
            out["amount_level"] = amount_unit.level_name(amount)
            out["amount_diagonal"] = amount_unit.diagonal_fraction(amount, *kind.shape)
        return out


# ---------------------------------------------------------------------------------------------- guided filter


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _upsample_probs(work_probs: np.ndarray, guide_u8: np.ndarray, want: str, threshold: float = 0.5):
    """Full-size blur + kind (want='maps') or probs (want='probs'), strip by strip to bound memory."""
    h, w = work_probs.shape[:2]
    H, W = guide_u8.shape
    low_guide = cv2.resize(guide_u8, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    a, b = linear_coefficients(low_guide, work_probs, GUIDED_RADIUS, GUIDED_EPS)
    step = max(1, _STRIP_PIXELS // max(W, 1))
    if want == "probs":
        probs = np.empty((H, W, 3), np.float32)
    else:
        blur = np.empty((H, W), np.float32)
        kind = np.empty((H, W), np.uint8)

    def strip(r0: int) -> None:
        rows = slice(r0, min(H, r0 + step))
        I = guide_u8[rows].astype(np.float32) * np.float32(1 / 255.0)  # noqa: E741
        q = resize_rows(a, rows, H, W) * I[..., None] + resize_rows(b, rows, H, W)
        np.clip(q, 0.0, 1.0, out=q)
        q /= np.maximum(q.sum(axis=2, keepdims=True), 1e-6)  # filtering each channel breaks sum-to-one slightly
        if want == "probs":
            probs[rows] = q
        else:
            b_rows = 1.0 - q[..., 0]
            blur[rows] = b_rows
            kind[rows] = _kind_from(b_rows, q[..., 1], q[..., 2], threshold)

    starts = range(0, H, step)
    if len(starts) == 1:
        strip(0)
    else:
        # numpy and OpenCV release the GIL on whole strips, so threads use every core; strips write disjoint rows.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(starts), _UPSAMPLE_THREADS)) as pool:
            list(pool.map(strip, starts))
    return probs if want == "probs" else (blur, kind)


# ------------------------------------------------------------------------------------------------- detector


@dataclass
class _Prepared:
    """A photo resized and normalised for the network, plus what is needed to map the answer back."""

    x: np.ndarray  # (3, Hp, Wp) float32, normalised and padded
    work_hw: tuple[int, int]
    guide: np.ndarray | None  # uint8 grey full-size photo (None when full size is not wanted)
    full_hw: tuple[int, int]


# The most training ever enlarges a photo (CUHK's smallest, 364 px, to 640 px, times the 1.25 scale jitter): a
# thumbnail enlarged further looks blurred everywhere to the network (192 px sharp windows enlarged to 640 px were
# called 86 % blurred).
MAX_ENLARGEMENT = 2.0


class BlurDetector:
    """Runs the blur network on photos. Build with `BlurDetector.from_weights()`.

    threshold / working_size / flip_average: None takes the weights card's values (the one place these defaults live).
    flip_average: also run the mirrored photo and average both maps (twice the network time, slightly better maps).
    """

    def __init__(
        self,
        model,
        card: dict,
        *,
        device: str = "auto",
        threshold: float | None = None,
        working_size: int | None = None,
        batch_size: int | None = None,
        flip_average: bool | None = None,
    ) -> None:
        import torch

        from blurtool.device import resolve_device
        from blurtool.model.fusion import fuse_conv_bn

        self.device = resolve_device(device) if isinstance(device, str) else device
        self.card = card
        self.threshold = float(card.get("threshold", _FALLBACK_THRESHOLD) if threshold is None else threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise InputError(f"threshold must be between 0 and 1, got {self.threshold}")
        self.working_size = int(card.get("working_size", _FALLBACK_WORKING_SIZE) if working_size is None else working_size)
        if self.working_size < 32:
            raise InputError(f"working size must be at least 32 px, got {self.working_size}")
        self.stride = int(card.get("stride", 32))
        self.output_stride = int(card.get("output_stride", 2))
        norm = card.get("normalisation", {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})
        self.mean = np.asarray(norm["mean"], np.float32)
        self.std = np.asarray(norm["std"], np.float32)
        # CPU: batching brings little (the cores are already busy) and costs memory; CUDA: fill the GPU.
        self.batch_size = batch_size or (8 if self.device.type == "cuda" else 2)
        # Test-time augmentation: also run the mirrored photo and average the two probability maps (twice the
        # network time). The network saw flips in training, so the two views disagree only where it is unsure.
        self.flip_average = bool(card.get("flip_average", False) if flip_average is None else flip_average)
        # The amount's correction per blur kind against known kernels (blurtool calibrate), if the card has one.
        self.amount_calibration = None
        if card.get("amount_calibration") is not None:
            try:
                self.amount_calibration = amount_unit.AmountCalibration.from_card(card["amount_calibration"])
            except (KeyError, TypeError, ValueError) as e:
                raise WeightsError(f"weights card: unusable amount_calibration ({e})") from None
        # Channels-last (NHWC) lets oneDNN run the depthwise convolutions of MobileNetV2 without reordering: about
        # 30 % less CPU time a pass (2 cores, torch 2.13); on CUDA it is the layout fp16 tensor cores want.
        # Batch norms folded into their convolutions (blurtool.model.fusion): about 25 % less CPU time a pass.
        self.model = fuse_conv_bn(model).to(self.device, memory_format=torch.channels_last)
        self._torch = torch

    @classmethod
    def from_weights(
        cls,
        path: str | os.PathLike | None = None,
        device: str = "auto",
        *,
        threshold: float | None = None,
        working_size: int | None = None,
        batch_size: int | None = None,
        flip_average: bool | None = None,
    ) -> BlurDetector:
        """Load a weights file (path, else $BLURTOOL_WEIGHTS, else the shipped model). WeightsError if unusable."""
        from blurtool.device import resolve_device
        from blurtool.weights import load_weights

        dev = resolve_device(device)  # a bad --device fails before the (slower) weights load
        model, card = load_weights(path)
        if not isinstance(card, dict):
            raise WeightsError(f"{path}: weights card is missing")
        return cls(
            model, card, device=dev, threshold=threshold, working_size=working_size, batch_size=batch_size,
            flip_average=flip_average,
        )

    @property
    def has_amount(self) -> bool:
        """Whether the network estimates the blur amount (BlurResult.amount)."""
        return bool(getattr(getattr(self.model, "config", None), "amount_head", False))

    # ------------------------------------------------------------------------------------------ preparation

    def work_shape(self, h: int, w: int) -> tuple[int, int]:
        """(h, w) at which the network sees an (h, w) photo: long side = working size (see the module docstring)."""
        s = min(self.working_size / max(h, w), MAX_ENLARGEMENT)
        return max(1, round(h * s)), max(1, round(w * s))

    def _prepare(self, image: np.ndarray, full_size: bool) -> _Prepared:
        check_image(image)
        if image.dtype != np.float32:
            image = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
        H, W = image.shape[:2]
        h, w = self.work_shape(H, W)
        interp = cv2.INTER_AREA if h <= H else cv2.INTER_LINEAR
        work = image if (h, w) == (H, W) else cv2.resize(image, (w, h), interpolation=interp)
        x = (work - self.mean) / self.std
        s = self.stride
        ph, pw = (-h) % s, (-w) % s
        if ph or pw:
            # Reflection, not zeros (see module docstring). BORDER_REFLECT_101 copes with pads larger than the image.
            x = cv2.copyMakeBorder(x, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)
            if x.ndim == 2:  # OpenCV drops a singleton channel axis for 1-pixel-wide inputs
                x = x[..., None]
        guide = None
        if full_size and (h, w) != (H, W):
            guide = (_grey(image) * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
        return _Prepared(np.ascontiguousarray(x.transpose(2, 0, 1)), (h, w), guide, (H, W))

    def _run(self, batch: list[_Prepared]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Network on prepared photos of the same padded shape -> (work_probs (h, w, 3), work_amount (h, w) in
        blurtool.amount's unit or None) each."""
        torch = self._torch
        import torch.nn.functional as F

        from blurtool.device import autocast

        x = torch.from_numpy(np.stack([p.x for p in batch])).to(self.device, non_blocking=True)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(self.device):
            if not self.flip_average:
                logits = self.model(x)
            elif self.device.type == "cuda":  # one batch of photos and mirrors fills the GPU better
                logits = self.model(torch.cat([x, x.flip(-1)]))
            else:  # on the CPU a batch of two costs ~30% more than two single passes (measured, 2 cores)
                logits = torch.cat([self.model(x), self.model(x.flip(-1))])
        channels = 4 if self.has_amount else 3
        if logits.ndim != 4 or logits.shape[1] != channels:
            raise WeightsError(
                f"model returned logits of shape {tuple(logits.shape)}, expected (B, {channels}, H/2, W/2)"
            )
        logits = logits.float()
        # Interpolate logits (not probabilities) to the padded working size, then crop the padding away.
        logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        probs = torch.softmax(logits[:, :3], dim=1)
        # The amount channel is log(1 + radius px at the working size).
        radius = torch.expm1(logits[:, 3].clamp_min(0)) if channels == 4 else None
        if self.flip_average:
            # The padded width is a multiple of the network stride, so the mirrored map lands on the same pixels.
            n = len(batch)
            probs = 0.5 * (probs[:n] + probs[n:].flip(-1))
            radius = None if radius is None else 0.5 * (radius[:n] + radius[n:].flip(-1))
        probs = probs.permute(0, 2, 3, 1).cpu().numpy()
        radius = None if radius is None else radius.cpu().numpy()
        out = []
        for i, p in enumerate(batch):
            h, w = p.work_hw
            amount = None
            work_probs = np.ascontiguousarray(probs[i, :h, :w])
            if radius is not None:
                amount = amount_unit.to_reference(radius[i, :h, :w], max(h, w))
                if self.amount_calibration is not None:
                    amount = self.amount_calibration.apply(amount, work_probs)
                amount = np.ascontiguousarray(amount)
            out.append((work_probs, amount))
        return out

    def _finish(self, prep: _Prepared, work: tuple[np.ndarray, np.ndarray | None]) -> BlurResult:
        work_probs, work_amount = work
        if prep.guide is None:  # the working size is the photo's size (or full size not wanted)
            blur = 1.0 - work_probs[..., 0]
            kind = _kind_from(blur, work_probs[..., 1], work_probs[..., 2], self.threshold)
            full = prep.work_hw == prep.full_hw
            return BlurResult(blur, kind, work_probs, self.threshold, full_size=full, work_amount=work_amount)
        blur, kind = _upsample_probs(work_probs, prep.guide, want="maps", threshold=self.threshold)
        return BlurResult(
            blur, kind, work_probs, self.threshold, full_size=True, work_amount=work_amount, _guide=prep.guide
        )

    # -------------------------------------------------------------------------------------------- public

    def predict(self, image: np.ndarray, *, full_size: bool = True) -> BlurResult:
        """Blur map and kind of one RGB photo (float32 (H, W, 3) in [0, 1], or uint8).

        full_size=False: stop at the working size (blur/kind are then (h, w); summary() is the same either way).
        """
        prep = self._prepare(image, full_size)
        return self._finish(prep, self._run([prep])[0])

    def predict_many(
        self,
        items: Iterable[np.ndarray | str | os.PathLike],
        *,
        full_size: bool = True,
        batch_size: int | None = None,
        return_errors: bool = False,
    ) -> Iterator[BlurResult | BlurtoolError]:
        """Predict photos (arrays or paths) in order, yielding one BlurResult each.

        Paths are read and prepared in threads (blurtool.lookahead) while the network runs on the previous batch, a
        few photos ahead; consecutive photos of the same working shape are batched (`batch_size`, default: the
        detector's). With full_size=False, JPEGs are decoded at reduced size (see io.read_image min_size). A bad file
        raises its InputError, or with return_errors=True the error is yielded in its place and the batch goes on.
        """
        from contextlib import closing

        from blurtool.io import read_image
        from blurtool.lookahead import lookahead

        bs = batch_size or self.batch_size
        min_size = None if full_size else self.working_size

        def load(item) -> _Prepared | BlurtoolError:
            try:
                image = item if isinstance(item, np.ndarray) else read_image(Path(item), min_size=min_size)
                return self._prepare(image, full_size)
            except BlurtoolError as e:
                return e

        pending: list[_Prepared] = []

        def flush():
            out = [self._finish(p, wp) for p, wp in zip(pending, self._run(pending))] if pending else []
            pending.clear()
            return out

        # Bounded: never more than `ahead` decoded photos in memory besides the batch.
        ahead = 2 * max(bs, _LOAD_THREADS)
        with closing(lookahead(load, items, workers=_LOAD_THREADS, ahead=ahead, name="blurtool-load")) as preps:
            for prep in preps:
                if isinstance(prep, BlurtoolError):
                    yield from flush()
                    if not return_errors:
                        raise prep
                    yield prep
                    continue
                if pending and pending[0].x.shape != prep.x.shape:
                    yield from flush()
                pending.append(prep)
                if len(pending) >= bs:
                    yield from flush()
        yield from flush()
