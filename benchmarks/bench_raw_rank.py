"""Throughput of `blurtool rank` on a folder of 24 MP RAW files (DNG with an embedded JPEG preview), next to the
same photos as JPEGs.

    nice -n 10 python benchmarks/bench_raw_rank.py [--n 24] [--weights weights/blurnet.pt] [--no-preview]

The files are made once in /tmp (never in the repository; ~50 MB each): 6000 x 4000 scenes (CUHK training images
upscaled, or a synthetic texture without them, plus a little noise), written as DNGs the way cameras lay them out
(tests/raw_files.py: a 12-bit RGGB Bayer mosaic in a SubIFD, a full-size JPEG preview of quality 90 in IFD 0), and the
same previews as plain .jpg files. The DNGs are read by LibRaw (rawpy) as `blurtool rank` reads them: the embedded
preview, decoded at 1/8 size by libjpeg, since it covers the working size -- no demosaic. `--no-preview` also times
DNGs without a preview, which rank develops at half size.

Each pipeline is blurtool.library.rank_photos as `blurtool rank` runs it on a CPU: one photo per core, torch on one
thread each, working-size maps. Prints photos/s (wall) and CPU-seconds per photo (less sensitive to other programs on
the cores: n_cores / CPU-s is the rate with the cores free). Without weights the network is BlurNet with random
weights: the same computation, so the same speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from bench_rank import CUHK, cpu_seconds, load_detector, peak_rss_mb
from common import load_test_helper

SIZE = (6000, 4000)  # 24 MP, 3:2 like most interchangeable-lens cameras


def make_files(folder: Path, n: int, preview: bool) -> tuple[list[Path], list[Path]]:
    """n DNGs (with or without preview) and, with previews, the n previews as .jpg; made once, reused after."""
    raw_files = load_test_helper("raw_files")  # the test suite's DNG writer
    jpeg_bytes, mosaic, write_dng = raw_files.jpeg_bytes, raw_files.mosaic, raw_files.write_dng

    folder.mkdir(parents=True, exist_ok=True)
    kind = "dng" if preview else "dng-nopreview"
    dngs = [folder / kind / f"IMG_{i:04d}.dng" for i in range(n)]
    jpgs = [folder / "jpg" / f"IMG_{i:04d}.jpg" for i in range(n)]
    for p in (*dngs, *jpgs):
        p.parent.mkdir(parents=True, exist_ok=True)
    todo = [i for i in range(n) if not dngs[i].exists() or (preview and not jpgs[i].exists())]
    if not todo:
        return dngs, jpgs if preview else []
    sources = sorted(CUHK.glob("*.jpg")) if CUHK.is_dir() else []
    rng = np.random.default_rng(0)
    bases: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i in todo:
        b = i % 4  # four scenes; each file gets its own noise, so its own preview
        if b not in bases:
            if sources:
                small = cv2.cvtColor(cv2.imread(str(sources[(b * 97) % len(sources)])), cv2.COLOR_BGR2RGB)
            else:
                small = (rng.random((300, 400, 3)) * 255).astype(np.uint8)
            img = cv2.resize(small, SIZE, interpolation=cv2.INTER_CUBIC)
            bases[b] = (img, mosaic(img.astype(np.float32) / 255, 4095))
        img, cfa = bases[b]
        shot = cv2.add(img, rng.integers(0, 6, img.shape, dtype=np.uint8))
        jpeg = jpeg_bytes(shot, quality=90)
        write_dng(dngs[i], img, cfa=cfa, preview_jpeg=jpeg if preview else None)
        if preview:
            jpgs[i].write_bytes(jpeg)
        print(f"made {dngs[i]}", file=sys.stderr, flush=True)
    return dngs, jpgs if preview else []


def run(paths, det, workers):
    import torch

    from blurtool.library import rank_photos

    torch.set_num_threads(1)
    t, c = time.perf_counter(), cpu_seconds()
    got = rank_photos(paths, det, photo_workers=workers)
    dt, dc = time.perf_counter() - t, cpu_seconds() - c
    assert not got.failures, got.failures
    return dt, dc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--folder", type=Path, default=Path("/tmp/blurtool-bench-raw-24mp"))
    ap.add_argument("--weights", default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="photos at once (one per core)")
    ap.add_argument("--no-preview", action="store_true", help="also time DNGs without a preview (half-size develop)")
    ap.add_argument("--make-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_only:
        make_files(args.folder, args.n, preview=True)
        if args.no_preview:
            make_files(args.folder, args.n, preview=False)
        return
    # The files are made in a child process, so that its memory (a 24 MP mosaic in float) is not in the peak RSS.
    import subprocess

    subprocess.run([sys.executable, __file__, "--make-only", "--n", str(args.n), "--folder", str(args.folder)]
                   + (["--no-preview"] if args.no_preview else []), check=True)
    dngs, jpgs = make_files(args.folder, args.n, preview=True)
    det, kind = load_detector(args.weights, None)
    det.flip_average = False  # as `blurtool rank` runs it: one pass unless --flip-average
    cores = os.cpu_count()
    print(f"{args.n} DNGs of {SIZE[0]} x {SIZE[1]} px (24 MP, full-size JPEG preview) and the same {args.n} photos as "
          f"JPEG; {kind} network, working size {det.working_size}, {cores} cores, {args.workers} photo workers; load "
          f"average {os.getloadavg()[0]:.1f} at the start")
    run(dngs[:2], det, args.workers)  # warm-up: allocator, first-call costs, LibRaw loaded
    base = peak_rss_mb()
    cases = [("RAW (DNG, embedded preview)", dngs), ("JPEG (the same photos)", jpgs)]
    if args.no_preview:
        cases.append(("RAW (DNG, no preview: half-size develop)", make_files(args.folder, args.n, preview=False)[0]))
    for name, paths in cases:
        dt, dc = run(paths, det, args.workers)
        n = len(paths)
        print(f"{name:42s}: {n / dt:5.2f} photos/s wall ({dt:.1f} s), {dc / n:.3f} CPU-s/photo (-> "
              f"{cores * n / dc:.1f} photos/s with the {cores} cores free), peak RSS {peak_rss_mb():.0f} MB "
              f"(+{peak_rss_mb() - base:.0f} MB over the warm-up)", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other programs on the same cores slow every figure)")


if __name__ == "__main__":
    main()
