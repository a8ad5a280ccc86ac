"""Training ablation: short runs that switch one ingredient off at a time, same seed, same steps, same validation.

Runs (each `blurtool train` with the defaults except the listed options and --steps):
  full            everything on (ImageNet encoder, multi-scale loss, synthetic composites / all-sharp / global blur)
  no-synthetic    --p-mixed 0 --p-sharp 0 --p-global 0 (plain CUHK crops only)
  single-scale    --no-multiscale-loss (cross-entropy on the finest output only)
  scratch         --encoder-init '' (random encoder instead of ImageNet)
then measures each on the validation images (CUHK metrics at the default threshold) and on the mixed-blur composites
and all-sharp content of benchmarks/kind_eval.py. Prints a Markdown table.

Usage: python benchmarks/ablation.py [--steps 600] [--out /tmp/ablation] [--only full,scratch]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import DATA
from common import REPO as ROOT

RUNS = {
    "full": [],
    "no-synthetic": ["--p-mixed", "0", "--p-sharp", "0", "--p-global", "0"],
    "single-scale": ["--no-multiscale-loss"],
    "scratch": ["--encoder-init", ""],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--out", default="/tmp/blurtool-ablation")
    ap.add_argument("--data", default=str(DATA / "cuhk-train"))
    ap.add_argument("--only", default=",".join(RUNS))
    args = ap.parse_args()
    rows = []
    for name in args.only.split(","):
        out = Path(args.out) / name
        weights = out / "latest-weights.pt"
        if not weights.is_file():
            cmd = [sys.executable, "-m", "blurtool", "train", "--data", args.data, "--encoder-init",
                   str(DATA.parent / "pretrained" / "mobilenet_v2-b0353104.pth"), "--out", str(out),
                   "--steps", str(args.steps), "--val-every", str(args.steps), *RUNS[name]]
            subprocess.run(cmd, check=True)
        card = json.loads(weights.with_suffix(".json").read_text())
        val = card["metrics"]["validation"]
        kinds = json.loads(subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "kind_eval.py"), "--weights", str(weights), "--n", "40",
             "--json", "--data", args.data], check=True, capture_output=True, text=True).stdout)
        rows.append((name, val, kinds, card["training"]["minutes"]))
        print(name, json.dumps(val), flush=True)
    print(f"\n| run ({args.steps} steps) | val accuracy | val F1 | val mIoU | val kind acc | mixed: motion object "
          "kind acc | mixed: defocus object kind acc | sharp windows called blurred | mountains called blurred | minutes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, val, k, minutes in rows:
        mixed_m = k["defocus photo + motion object"]["kind_accuracy"]
        mixed_d = k["motion photo + defocus object"]["kind_accuracy"]
        sharp = k["sharp-only windows (192 px) called blurred"]["mean_blurred_fraction"]
        mnt = k.get("examples/mountains.jpg (sharp everywhere) called blurred", {}).get("blurred_fraction", float("nan"))
        print(f"| {name} | {val['accuracy']:.3f} | {val['f1']:.3f} | {val['miou']:.3f} | {val['kind_accuracy']:.3f} | "
              f"{mixed_m:.3f} | {mixed_d:.3f} | {sharp:.3f} | {mnt:.3f} | {minutes:.0f} |")


if __name__ == "__main__":
    main()
