"""`deblur` end to end on photos half shaken: how much of the sharp half it leaves alone, how much it gains on the other.

    nice python benchmarks/deblur_partly_shaken.py                                # held-out photos, the shipped defaults
    nice python benchmarks/deblur_partly_shaken.py --photos training --explained-min 0 0.1 0.15 0.2 0.25 0.3 0.35
    nice python benchmarks/deblur_partly_shaken.py --sharp-percentile 0   # the fixed bound only, for comparison

Each photo sharp everywhere (`sharp-photos`: the held-out ones of the weights card, or as many *training* ones, every
19th, for choosing a default) gets its right half shaken by a 15 px camera-shake kernel at full size; the network
maps it, `deblur` runs with that map (blind kernel, the card's threshold). Reported per photo and on average:

* **untouched**: the share of the sharp left half (beyond a kernel's width from the seam) whose 8-bit value did not
  change -- the bar is 99.5 %;
* **gain**: the PSNR change of the shaken half (30 px inside its borders) against the sharp photo, each image at its
  best integer shift within 6 px. A blind kernel is found up to a shift (it is centred on its centre of mass), so
  the deblurred half sits up to a few pixels from the original; without the alignment the PSNR mostly measures that
  shift (on three of these photos, the shaken half deconvolved with the true kernel where it lies gains 8-12 dB;
  with the same kernel centred, as `deblur` centres every kernel, +1.2, +2.2 and -0.8 dB unaligned).

`real_photos.py` reports the held-out figures at the defaults. Kernel estimation (the slow part, ~5 s a photo) runs
once per photo; each --explained-min value reuses its kernel.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
from common import DATA, psnr

from blurtool.evaluate import val_stems
from blurtool.inference import BlurDetector
from blurtool.io import IMAGE_EXTENSIONS, read_image
from blurtool.ops.deblur import DeblurConfig, deblur, explained_region, hard_region
from blurtool.train.synth import blur, shake_kernel

SHAKE_PX = 15.0
ALIGN_PX = 6
TRAINING_STEP = 19  # every 19th training photo: spread over both source collections


def aligned_psnr(x: np.ndarray, ref: np.ndarray, inner) -> float:
    return max(psnr(np.roll(x, (dy, dx), (0, 1))[inner], ref[inner])
               for dy in range(-ALIGN_PX, ALIGN_PX + 1) for dx in range(-ALIGN_PX, ALIGN_PX + 1))


def stems(sharp_dir: Path, card: dict, which: str, n: int) -> list[str]:
    held = val_stems(card)
    names = sorted(p.stem for p in (sharp_dir / "images").iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if which == "held-out":
        present = set(names)
        return [s for s in held if s in present][:n]
    held_set = set(held)
    return [s for s in names if s not in held_set][::TRAINING_STEP][:n]


def run(det: BlurDetector, sharp_dir: Path, photo_stems: list[str], explained_mins=(None,),
        sharp_percentile: float | None = None) -> dict:
    """{explained_min: {"photos": [...], "untouched_mean", "untouched_worst", "gain_db"}}; None = DeblurConfig's."""
    base = DeblurConfig(threshold=det.threshold)
    if sharp_percentile is not None:
        base = dataclasses.replace(base, sharp_percentile=sharp_percentile)
    out: dict = {}
    for i, stem in enumerate(photo_stems):
        image = read_image(next((sharp_dir / "images").glob(stem + ".*")))
        w = image.shape[1]
        k = shake_kernel(np.random.default_rng(i), SHAKE_PX)
        shaken = image.copy()
        shaken[:, w // 2 :] = blur(image, k)[:, w // 2 :]
        r = det.predict(shaken)
        first = deblur(shaken, r.blur, r.kind, config=dataclasses.replace(base, explained_min=0.0))
        region = hard_region(r.blur, r.kind, base.kind, base.threshold, base.min_area)
        sharp_part = np.s_[:, : w // 2 - k.shape[1]]
        inner = np.s_[30:-30, w // 2 + 30 : -30]
        before = aligned_psnr(shaken, image, inner)
        for t in explained_mins:
            t_ = base.explained_min if t is None else t
            if first.changed and t_ > 0:  # same kernel, the region cut to what it explains
                keep = explained_region(shaken, region, first.kernel, t_, base.min_area, r.blur, base.threshold,
                                        base.sharp_percentile)
                result = deblur(shaken, region=keep, kernel=first.kernel, config=dataclasses.replace(
                    base, explained_min=0.0)).image if keep.any() else shaken
            else:
                result = first.image
            changed = np.abs(np.round(result[sharp_part] * 255) - np.round(shaken[sharp_part] * 255)).max(axis=2) > 0
            row = {"photo": stem, "untouched": round(1.0 - float(changed.mean()), 4),
                   "gain_db": round(aligned_psnr(result, image, inner) - before, 2), "kernel_trusted": first.changed}
            out.setdefault(t_, {"photos": []})["photos"].append(row)
    for o in out.values():
        u = [p["untouched"] for p in o["photos"]]
        o.update(untouched_mean=round(float(np.mean(u)), 4), untouched_worst=round(float(np.min(u)), 4),
                 gain_db=round(float(np.mean([p["gain_db"] for p in o["photos"]])), 2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--photos", choices=("held-out", "training"), default="held-out")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--explained-min", type=float, nargs="*", default=[None])
    ap.add_argument("--sharp-percentile", type=float, default=None,
                    help="DeblurConfig.sharp_percentile (default: its own; 0 = the fixed bound only)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    det = BlurDetector.from_weights(args.weights, "cpu")
    sharp_dir = Path(args.data) / "sharp-photos"
    res = run(det, sharp_dir, stems(sharp_dir, det.card, args.photos, args.n), args.explained_min,
              args.sharp_percentile)
    for t_, o in res.items():
        print(f"explained_min {t_:g}: untouched {o['untouched_mean']:.2%} (worst {o['untouched_worst']:.2%}), "
              f"shaken half {o['gain_db']:+.2f} dB aligned")
        for p in o["photos"]:
            print(f"    {p['photo']}: untouched {p['untouched']:.2%}, {p['gain_db']:+.2f} dB")
    if args.json:
        Path(args.json).write_text(json.dumps({str(k): v for k, v in res.items()}, indent=1))


if __name__ == "__main__":
    main()
