"""Choose the default decision threshold on validation images, honestly: pick it on one half of the held-out
images, report it on the other half (and the reverse), never on the images used to choose it.

The validation stems (never trained on) come from the weights card; each --data folder contributes the ones it holds
(by default CUHK, SZU-BD and the all-sharp photos, so the threshold weighs a sky called blurred as much as a missed
background). The threshold maximises mean per-image accuracy over 255 levels (the single-threshold protocol of Kim
et al.). With --write, the threshold chosen on ALL validation
images is stored in the weights card (and its JSON copy), so every command uses it by default.

Usage: python benchmarks/calibrate_threshold.py [--weights weights/blurnet.pt] [--data FOLDER ...] [--write]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from blurtool.evaluate import evaluate, val_stems
from blurtool.inference import BlurDetector
from blurtool.train import metrics as M
from blurtool.weights import resolve_weights_path, update_card

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("accuracy", "f1", "miou")


def show(name, s):
    # summarise(..., level=k) reports the figures at level k under best_<metric>.
    print(f"  {name:40s} " + "  ".join(f"{k} {s['best_' + k]:.4f}" for k in KEYS))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--data", action="append", default=None,
                    help="CUHK-layout folder (repeatable; default: cuhk-train, szu-bd-train, sharp-photos)")
    ap.add_argument("--write", action="store_true", help="store the threshold chosen on all validation images")
    args = ap.parse_args()
    det = BlurDetector.from_weights(args.weights, device="cpu", threshold=0.5)
    folders = args.data or [str(ROOT.parent / "shared" / "data" / n) for n in ("cuhk-train", "szu-bd-train",
                                                                                "sharp-photos")]
    recs = []
    for folder in folders:
        here = {p.stem for p in (Path(folder) / "images").iterdir()}
        stems = [s for s in val_stems(det.card) if s in here]
        if stems:
            recs += evaluate(det, folder, stems=stems, threshold=0.5).records
            print(f"{folder}: {len(stems)} validation images")
    recs = sorted(recs, key=lambda r: (r["group"] or "", r["name"]))
    halves = (recs[0::2], recs[1::2])  # alternate within each kind: both halves stratified
    for i, (choose, test) in enumerate((halves, halves[::-1])):
        level = M.best_level(choose)
        print(f"half {'AB'[i]} -> {'BA'[i]}: threshold chosen on {len(choose)} images = {level / 255:.3f}")
        show(f"on the other {len(test)} at 0.5", M.summarise(test, level=128))
        show(f"on the other {len(test)} at {level / 255:.3f}", M.summarise(test, level=level))
    level = M.best_level(recs)
    print(f"all {len(recs)} validation images: best threshold {level / 255:.3f}")
    print("  how the figures move with the threshold (all validation images):")
    for k in range(level - 25, level + 26, 5):
        if 1 <= k <= 255:
            show(f"at {k / 255:.3f}", M.summarise(recs, level=k))
    show("at 0.5", M.summarise(recs, level=128))
    show(f"at {level / 255:.3f} (chosen on these images)", M.summarise(recs, level=level))
    if args.write:
        path = resolve_weights_path(args.weights)
        update_card(path, threshold=round(level / 255, 4), threshold_note=(
            "maximises mean per-image accuracy on the validation images of training.val_stems "
            "(benchmarks/calibrate_threshold.py)"))
        print(f"wrote threshold {level / 255:.4f} into {path}")


if __name__ == "__main__":
    main()
