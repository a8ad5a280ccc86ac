"""The blur amount kernel by kernel: what `blurtool eval --amount` averages into one level accuracy.

    python benchmarks/amount_levels.py [--weights weights/blurnet.pt] [--data DATA] [FOLDER ...]

For each held-out set (default: the held-out photos of sharp-photos, cuhk-train and szu-bd-train, named by the weights
card), every photo is blurred as a whole by each known kernel of the progressive-blur benchmark (disks and streaks,
blurtool.train.synth.progressive_blurs) exactly as `blurtool eval --amount` does (blurtool.evaluate.amount_cases);
this prints, per kernel, its true amount and level, the median and 10th-90th percentile of the readings, and the
share of photos read at the right level. In blurtool.amount's unit (blur radius in px at a 1000 px long side).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
from common import DATA

from blurtool.amount import LEVELS, level_index
from blurtool.evaluate import amount_cases, val_stems
from blurtool.inference import BlurDetector
from blurtool.kinds import Kind


def readings(det: BlurDetector, folder: Path) -> dict[tuple[str, float], list[float]]:
    """{(kernel kind, true amount): [reading of each photo]} for the card's held-out photos in `folder`."""
    names = {p.stem for p in (folder / "images").iterdir()}
    stems = [s for s in val_stems(det.card) if s in names]
    out: dict[tuple[str, float], list[float]] = defaultdict(list)
    for crop in amount_cases(det, folder, stems=stems):
        for kind, truth, est in crop:
            out[(Kind(kind).name.lower(), round(float(truth), 2))].append(float(est))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="*", help="CUHK-layout folders (default: the three held-out sets in --data)")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    det = BlurDetector.from_weights(args.weights, "cpu")
    folders = [Path(f) for f in args.folders] or [Path(args.data) / n for n in ("sharp-photos", "cuhk-train", "szu-bd-train")]
    for folder in folders:
        rows = readings(det, folder)
        print(f"\n## {folder.name}")
        print("| kernel | true amount (level) | photos | median reading | 10th-90th percentile | right level |")
        print("|---|---|---|---|---|---|")
        for (kind, truth), est in sorted(rows.items()):
            est = np.array(est)
            p10, p90 = np.percentile(est, [10, 90])
            right = float(np.mean(level_index(est) == level_index(truth)))
            print(f"| {kind} | {truth:.2f} ({LEVELS[int(level_index(truth))]}) | {len(est)} | {np.median(est):.2f} | "
                  f"{p10:.2f}-{p90:.2f} | {right:.0%} |")


if __name__ == "__main__":
    main()
