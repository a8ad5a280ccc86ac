"""Throughput of `blurtool rank` on a folder of 12 MP JPEGs: photos/s and peak memory.

    nice -n 10 python benchmarks/bench_rank.py --n 20 [--weights weights/blurnet.pt] [--naive]

The photos are made once in /tmp (never in the repository) by upscaling CUHK training images (or, without them,
a synthetic texture) to 4000 x 3000 and saving them as JPEG quality 92, like a phone photo. Without weights, the
network is BlurNet with random weights: the same computation, so the same speed.

Pipelines compared (same photos, same network, one process):
  * parallel - what `blurtool rank` does on CPU: blurtool.library.iter_rank with one photo per core (decode at
               reduced size with libjpeg DCT scaling, network, scores), torch on 1 thread per photo, working-size
               maps (no full-size upsampling);
  * batched  - iter_rank's GPU mode on the CPU: decoding threads ahead of batches of 4, torch on all cores;
  * naive    - (--naive) full-size decode, one photo at a time on all cores, full-size guided upsampling (a loop
               over `BlurDetector.predict(read_image(p))`).
Prints one line per pipeline; the ratio between them is the figure to quote (absolute rates depend on the machine
and on anything else running on it).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from common import DATA

CUHK = DATA / "cuhk-train" / "images"


def make_photos(folder: Path, n: int, size=(4000, 3000)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(CUHK.glob("*.jpg"))[:: max(1, len(list(CUHK.glob("*.jpg"))) // max(n, 1))] if CUHK.is_dir() else []
    out = []
    rng = np.random.default_rng(0)
    for i in range(n):
        p = folder / f"photo{i:03d}.jpg"
        out.append(p)
        if p.exists():
            continue
        if sources:
            img = cv2.imread(str(sources[i % len(sources)]))
        else:
            img = (rng.random((300, 400, 3)) * 255).astype(np.uint8)
        big = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
        # A little noise so the upscaled JPEG has camera-like entropy (and decode cost), not smooth gradients.
        big = cv2.add(big, rng.integers(0, 6, big.shape, dtype=np.uint8))
        cv2.imwrite(str(p), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return out


def load_detector(weights: str | None, working_size: int | None):
    from blurtool.errors import WeightsError
    from blurtool.inference import BlurDetector

    try:
        return BlurDetector.from_weights(weights, device="cpu", working_size=working_size), "trained"
    except WeightsError as e:
        if weights:
            raise
        print(f"({e}; using BlurNet with random weights: same speed)", file=sys.stderr)
    from blurtool.model import create_model
    from blurtool.weights import IMAGENET_NORMALISATION

    model = create_model("blurnet")
    card = {"normalisation": IMAGENET_NORMALISATION, "threshold": 0.5, "working_size": working_size or 640,
            "stride": model.config.stride, "output_stride": model.config.output_stride}
    return BlurDetector(model, card, device="cpu"), "random-init"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_fast(paths, det, batch_size, workers, parallel):
    import torch

    from blurtool.library import rank_photos

    torch.set_num_threads(1 if parallel else os.cpu_count())
    t, c = time.perf_counter(), cpu_seconds()
    run = rank_photos(paths, det, photo_workers=workers if parallel else 0, batch_size=batch_size,
                      decode_workers=workers)
    dt, dc = time.perf_counter() - t, cpu_seconds() - c
    assert not run.failures, run.failures
    return dt, dc


def run_naive(paths, det):
    import torch

    from blurtool.io import read_image
    from blurtool.ops.rank import score_maps

    torch.set_num_threads(os.cpu_count())
    t, c = time.perf_counter(), cpu_seconds()
    for p in paths:
        res = det.predict(read_image(p))
        score_maps(res.blur, res.kind, det.threshold)
    return time.perf_counter() - t, cpu_seconds() - c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--folder", type=Path, default=Path("/tmp/blurtool-bench-12mp"))
    ap.add_argument("--weights", default=None)
    ap.add_argument("--working-size", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="photos at once (parallel mode)")
    ap.add_argument("--batched", action="store_true", help="also time the batched (GPU-style) pipeline")
    ap.add_argument("--naive", action="store_true", help="also time the naive pipeline (slow)")
    args = ap.parse_args()

    paths = make_photos(args.folder, args.n)
    det, kind = load_detector(args.weights, args.working_size)
    h, w = cv2.imread(str(paths[0]), cv2.IMREAD_REDUCED_GRAYSCALE_8).shape
    print(f"{len(paths)} JPEGs of {w * 8} x {h * 8} px (~{w * h * 64 / 1e6:.0f} MP), {kind} network, working size "
          f"{det.working_size}, {os.cpu_count()} cores, {args.workers} photo workers")
    run_fast(paths[:2], det, args.batch_size, args.workers, True)  # warm-up: allocator, first-call costs
    base = peak_rss_mb()
    n = len(paths)
    # CPU seconds per photo are less sensitive than wall time to other programs sharing the cores; n_cores / that
    # is the rate the pipeline would reach with the cores to itself (if it kept them all busy).
    dt, dc = run_fast(paths, det, args.batch_size, args.workers, True)
    print(f"parallel: {n / dt:5.2f} photos/s wall ({dt:.1f} s), {dc / n:.2f} CPU-s/photo "
          f"(-> {os.cpu_count() * n / dc:.1f} photos/s if the {os.cpu_count()} cores were free), peak RSS "
          f"{peak_rss_mb():.0f} MB (+{peak_rss_mb() - base:.0f} MB over the warm-up)", flush=True)
    if args.batched:
        dt2, dc2 = run_fast(paths, det, args.batch_size, args.workers, False)
        print(f"batched : {n / dt2:5.2f} photos/s wall ({dt2:.1f} s), {dc2 / n:.2f} CPU-s/photo, peak RSS "
              f"{peak_rss_mb():.0f} MB", flush=True)
    if args.naive:
        dt3, dc3 = run_naive(paths, det)
        print(f"naive   : {n / dt3:5.2f} photos/s wall ({dt3:.1f} s), {dc3 / n:.2f} CPU-s/photo, peak RSS "
              f"{peak_rss_mb():.0f} MB; parallel is {dt3 / dt:.1f}x faster (wall), {dc3 / dc:.1f}x less CPU")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other programs on the same cores slow every figure)")


if __name__ == "__main__":
    main()
