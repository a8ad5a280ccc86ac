"""The blur map on real photos the model never trained on, in one command: the figures the README reports.

    nice python benchmarks/real_photos.py [--weights weights/blurnet.pt] [--json out.json]
                                                          [--working-size N] [--data DATA]

Every set is the held-out part of a training folder, named by the weights card (`training.val_stems`), so a model is
only ever measured on photos it did not see; the GoPro pairs are scenes the training frames do not contain.

1. CUHK validation (80): accuracy, F1, mIoU, motion F1 and kind accuracy at the card's threshold (`blurtool eval`).
2. SZU-BD validation (38, small sharp subjects on large bokeh): accuracy, F1, mIoU.
3. All-sharp photos (18 of Sun-Hays 80 / Urban100: sky, water, fog, walls): share of the frame called blurred,
   median and worst, and the photos called most blurred.
4. GoPro pairs (18 real motion-blurred frames with their sharp middle frame): F1 of "blurred" against the pixels
   the blur visibly changed (the training labels' rule: flat unchanged pixels do not count) and the share of the
   pixels called blurred that are called motion.
5. `rank` verdicts, as `blurtool rank` gives them (one network pass; also with `--flip-average`, the photo and its
   mirror, as the maps above are made), with what a photographer would call right: all-sharp photos -> no-blur; SZU-BD defocus photos
   (a sharp subject on bokeh) -> good-blur; GoPro blurred frames -> bad-blur; the all-sharp photos shaken
   (a camera-shake kernel, 15-25 px, on the photo reduced to a 640 px long side) or misfocused (a disk, radius 6 px) -> bad-blur; and
   slightly soft (a disk, radius 1.5 px: details still visible) -> ok-blur.
6. `deblur` end to end on partly shaken photos: the right half of an all-sharp photo shaken (a 15 px camera-shake
   kernel at full size), its map from the network, `deblur` with that map; the share of the sharp left half
   (beyond a kernel's width from the seam) left untouched, and the PSNR gain of the shaken half, each image aligned
   to the sharp photo first (benchmarks/deblur_partly_shaken.py, which also runs this test alone).
7. With an amount channel, `blurtool eval --amount` on the held-out all-sharp, CUHK and SZU-BD photos: each blurred
   by known disks and streaks, the amount read where the ground truth is sharp.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import deblur_partly_shaken
import numpy as np
from common import DATA

from blurtool.evaluate import evaluate, evaluate_amount, val_stems
from blurtool.inference import BlurDetector
from blurtool.io import read_image
from blurtool.kinds import Kind
from blurtool.ops.deblur import DeblurConfig
from blurtool.ops.rank import score_maps, verdict
from blurtool.train.synth import IGNORE, blur, disk_kernel, frame_average_labels, shake_kernel

EXPECTED = {"all-sharp": "no-blur", "sharp subject on bokeh": "good-blur", "GoPro shaken": "bad-blur",
            "all-sharp, shaken": "bad-blur", "all-sharp, misfocused": "bad-blur",
            "all-sharp, slightly soft": "ok-blur"}
# The shaken, misfocused and slightly soft copies are blurred on the photo reduced to this long side, so their blur is
# the same share of the photo whatever working size the model under test has (the sizes below were chosen when the
# working size was 640 px, and a model working at 640 px sees them as they are).
SYNTH_LONG_SIDE = 640
# The slightly soft copies: a disk of this radius, 2.3 px at a 1000 px long side (the amount's "low" level: details
# still visible). Only a model with an amount can tell them from the misfocused ones.
SLIGHT_RADIUS = 1.5


HELD_OUT: list[str] = []  # the validation stems measured on (set in main)


def held_out(folder: Path) -> list[str]:
    names = {p.stem for p in (folder / "images").iterdir()}
    return [s for s in HELD_OUT if s in names]


def cuhk_like(det, folder: Path) -> dict:
    report = evaluate(det, folder, stems=held_out(folder))
    o = report.overall
    out = {"images": o["images"], **{k: round(o[k], 4) for k in ("accuracy", "f1", "miou")}}
    if o.get("kind_accuracy") is not None:
        out["kind_accuracy"] = round(o["kind_accuracy"], 4)
    if "motion" in report.groups:
        out["motion_f1"] = round(report.groups["motion"]["f1"], 4)
        out["defocus_f1"] = round(report.groups["defocus"]["f1"], 4)
    return out


def at_long_side(image: np.ndarray, size: int) -> np.ndarray:
    f = size / max(image.shape[:2])
    return cv2.resize(image, (round(image.shape[1] * f), round(image.shape[0] * f)), interpolation=cv2.INTER_AREA)


def predict(det, image: np.ndarray):
    # The working-size maps, as `blurtool rank` scores them (and as detect's summary is computed).
    return det.predict(image, full_size=False)


def verdict_of(det, result) -> str:
    amount = getattr(result, "amount", None)
    return verdict(score_maps(result.blur, result.kind, det.threshold, amount=amount))[0].value


def judge(rank_det, det, image: np.ndarray, result=None) -> tuple[str, str]:
    """The verdict as `blurtool rank` gives it (one pass) and with `--flip-average` (`det`'s photo + mirror)."""
    result = predict(det, image) if result is None else result
    return verdict_of(rank_det, predict(rank_det, image)), verdict_of(det, result)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--working-size", type=int, default=None)
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--deblur-n", type=int, default=8, help="photos in the deblur test (6), ~10 s each")
    ap.add_argument("--stems-from", default=None,
                    help="a weights card (JSON) whose val_stems to measure on, e.g. to score an older model on the "
                         "images a newer one held out (default: the measured model's own card)")
    args = ap.parse_args()
    data = Path(args.data)
    det = BlurDetector.from_weights(args.weights, "cpu", working_size=args.working_size)
    # `blurtool rank` runs one pass by default (speed for a library); the maps above use the card's mirror pass.
    rank_det = BlurDetector.from_weights(args.weights, "cpu", working_size=args.working_size, flip_average=False)
    card = json.loads(Path(args.stems_from).read_text()) if args.stems_from else det.card
    HELD_OUT[:] = val_stems(card)
    res: dict = {"weights": det.card.get("path"), "threshold": det.threshold, "working_size": det.working_size}
    verdicts: dict[str, list[tuple[str, tuple[str, str]]]] = {k: [] for k in EXPECTED}

    res["cuhk_val"] = cuhk_like(det, data / "cuhk-train")
    print("CUHK validation", json.dumps(res["cuhk_val"]), flush=True)
    res["szu_val"] = cuhk_like(det, data / "szu-bd-train")
    print("SZU-BD validation", json.dumps(res["szu_val"]), flush=True)

    sharp_dir = data / "sharp-photos"
    shares = {}
    rng = np.random.default_rng(0)
    for stem in held_out(sharp_dir):
        image = read_image(next((sharp_dir / "images").glob(stem + ".*")))
        r = predict(det, image)
        shares[stem] = float(r.mask.mean())
        verdicts["all-sharp"].append((stem, judge(rank_det, det, image, r)))
        # Shaken, misfocused and slightly soft copies, blurred by kernels of a known size at SYNTH_LONG_SIDE.
        small = at_long_side(image, SYNTH_LONG_SIDE)
        shaken = blur(small, shake_kernel(rng, rng.uniform(15, 25)))
        verdicts["all-sharp, shaken"].append((stem, judge(rank_det, det, shaken)))
        misfocused = blur(small, disk_kernel(6.0))
        verdicts["all-sharp, misfocused"].append((stem, judge(rank_det, det, misfocused)))
        soft = blur(small, disk_kernel(SLIGHT_RADIUS))
        verdicts["all-sharp, slightly soft"].append((stem, judge(rank_det, det, soft)))
    values = np.array(list(shares.values()))
    worst = sorted(shares.items(), key=lambda kv: -kv[1])[:3]
    res["all_sharp"] = {"images": len(values), "median_called_blurred": round(float(np.median(values)), 4),
                        "worst_called_blurred": round(float(values.max()), 4),
                        "mean_called_blurred": round(float(values.mean()), 4),
                        "most_blurred": {k: round(v, 4) for k, v in worst}}
    print("all-sharp photos", json.dumps(res["all_sharp"]), flush=True)

    if det.has_amount:  # `blurtool eval --amount` on each held-out set
        res["amount"] = {name: evaluate_amount(det, data / name, stems=held_out(data / name))
                         for name in ("sharp-photos", "cuhk-train", "szu-bd-train")}
        print("blur amount, progressive blur", json.dumps(res["amount"]), flush=True)

    szu_dir = data / "szu-bd-train"
    for stem in held_out(szu_dir):
        if stem.startswith("out_of_focus"):
            image = read_image(next((szu_dir / "images").glob(stem + ".*")))
            verdicts["sharp subject on bokeh"].append((stem, judge(rank_det, det, image)))

    f1s, motion_shares = [], []
    for blurred_path in sorted((data / "gopro-motion" / "pairs").glob("*_avg-*[0-9].jpg")):
        sharp_path = blurred_path.with_name(blurred_path.stem + "_gt.jpg")
        blurred_img, sharp_img = read_image(blurred_path), read_image(sharp_path)
        r = predict(det, blurred_img)
        verdicts["GoPro shaken"].append((blurred_path.stem, judge(rank_det, det, blurred_img, r)))
        # Labels on the photo reduced to a 640 px long side, where the visible-change rule was set, whatever the model.
        labels = frame_average_labels(at_long_side(sharp_img, 640), at_long_side(blurred_img, 640))
        called = cv2.resize(r.mask.astype(np.uint8), labels.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        kind = cv2.resize(r.kind, labels.shape[::-1], interpolation=cv2.INTER_NEAREST)
        known = labels != IGNORE
        truth = labels == Kind.MOTION
        tp = float((called & truth & known).sum())
        fp, fn = float((called & ~truth & known).sum()), float((~called & truth & known).sum())
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1.0))
        motion_shares.append(float((kind[called] == Kind.MOTION).mean()) if called.any() else 0.0)
    res["gopro_pairs"] = {"images": len(f1s), "f1_visible_blur": round(float(np.mean(f1s)), 4),
                          "motion_share_of_called_blurred": round(float(np.mean(motion_shares)), 4)}
    print("GoPro pairs", json.dumps(res["gopro_pairs"]), flush=True)

    deblur_stems = deblur_partly_shaken.stems(sharp_dir, card, "held-out", args.deblur_n)
    if deblur_stems:
        d = deblur_partly_shaken.run(det, sharp_dir, deblur_stems)[DeblurConfig().explained_min]
        res["deblur_partly_shaken"] = {
            "images": len(d["photos"]),
            "sharp_part_untouched_mean": d["untouched_mean"],
            "sharp_part_untouched_worst": d["untouched_worst"],
            "shaken_half_psnr_gain_db_aligned": d["gain_db"],
        }
        print("deblur, partly shaken", json.dumps(res["deblur_partly_shaken"]), flush=True)

    for key, which, label in (("verdicts", 0, "rank verdicts"), ("verdicts_flip_average", 1,
                                                                 "rank --flip-average verdicts")):
        res[key] = {}
        right_all = total_all = 0
        for group, rows in verdicts.items():
            got = [(n, v[which]) for n, v in rows]
            right = sum(v == EXPECTED[group] for _, v in got)
            counts = {v: sum(x == v for _, x in got) for v in sorted({x for _, x in got})}
            res[key][group] = {"expected": EXPECTED[group], "right": right, "of": len(got), "verdicts": counts,
                               "wrong": [n for n, v in got if v != EXPECTED[group]][:6]}
            right_all, total_all = right_all + right, total_all + len(got)
            print(f"{label}, {group}: {right}/{len(got)} {EXPECTED[group]} ({counts})", flush=True)
        res[key]["all"] = {"right": right_all, "of": total_all, "share": round(right_all / max(total_all, 1), 4)}
        print(f"{label} right: {right_all}/{total_all} ({right_all / max(total_all, 1):.1%})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
