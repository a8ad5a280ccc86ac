"""`deblur` on real motion blur: the 18 GoPro pairs (8-10 consecutive 240 fps frames averaged, camera and objects
moving, with their sharp middle frame).

    nice python benchmarks/deblur_gopro.py                 # the shipped model and DeblurConfig's defaults
    nice python benchmarks/deblur_gopro.py --sharp-percentile 0   # the region test's fixed bound only

Per pair: the PSNR of the blurred frame against the sharp one, its change after `deblur` (map from the network, blind
kernel, the card's threshold; each image at its best integer shift within 6 px, as `deblur_partly_shaken.py`
aligns, since a blind kernel is found up to a shift) and the share of the frame deconvolved. Unlike `deblur_partly_shaken.py`'s synthetic shake, this blur varies
across the frame (objects move differently from the camera), which one kernel per region does not model.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from common import DATA
from deblur_partly_shaken import aligned_psnr

from blurtool.inference import BlurDetector
from blurtool.io import read_image
from blurtool.ops.deblur import DeblurConfig, deblur

INNER = np.s_[20:-20, 20:-20]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--sharp-percentile", type=float, default=None,
                    help="DeblurConfig.sharp_percentile (default: its own; 0 = the fixed bound only)")
    args = ap.parse_args()
    det = BlurDetector.from_weights(args.weights, "cpu")
    config = DeblurConfig(threshold=det.threshold)
    if args.sharp_percentile is not None:
        config = dataclasses.replace(config, sharp_percentile=args.sharp_percentile)
    gains, shares = [], []
    for blurred_path in sorted((Path(args.data) / "gopro-motion" / "pairs").glob("*_avg-*[0-9].jpg")):
        sharp = read_image(blurred_path.with_name(blurred_path.stem + "_gt.jpg"))
        blurred = read_image(blurred_path)
        r = det.predict(blurred)
        res = deblur(blurred, r.blur, r.kind, config=config)
        before = aligned_psnr(blurred, sharp, INNER)
        gains.append(aligned_psnr(res.image, sharp, INNER) - before)
        shares.append(res.deblurred_fraction)
        print(f"{blurred_path.stem}: {before:.2f} dB, {gains[-1]:+.2f} dB, {shares[-1]:.0%} deconvolved", flush=True)
    g = np.array(gains)
    print(f"{len(g)} pairs: PSNR change {g.mean():+.2f} dB on average, {int((g > 0.05).sum())} gain, "
          f"{int((g < -0.05).sum())} lose; {np.mean(shares):.0%} of the frame deconvolved on average")


if __name__ == "__main__":
    main()
