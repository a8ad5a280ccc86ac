"""Speed and memory of blur detection. A script, not a test: it prints what it measured in this run.

    nice -n 10 python benchmarks/bench_detect.py [--weights FILE] [--threads N]

1. Model time: one forward pass at 640 x 480 (median of --repeats, after a warm-up).
2. End to end on a 12 MP photo (4000 x 3000 JPEG), in a fresh child process, as `blurtool detect` does it: decode,
   network at the working size, guided upsampling to full size, write blur map + kind maps + overlay.
   Peak memory = the child's ru_maxrss (includes Python, torch and the model: the baseline is printed too).
3. Throughput over a folder of 1024 px photos with predict_many (full size, and working size only as `rank` uses it).

Without shipped weights (and no --weights) a randomly initialised BlurNet is used: speed does not depend on the
weight values.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO as ROOT


def _detector(weights: str | None, working_size: int | None = None):
    from blurtool.inference import BlurDetector
    from blurtool.weights import default_weights_path

    if weights or os.environ.get("BLURTOOL_WEIGHTS") or default_weights_path().is_file():
        return BlurDetector.from_weights(weights, device="cpu", working_size=working_size), "trained"
    import torch

    from blurtool.model import create_model

    torch.manual_seed(0)
    card = {"threshold": 0.5, "working_size": 640, "stride": 32, "output_stride": 2}
    return BlurDetector(create_model("blurnet"), card, device="cpu", working_size=working_size), "random-init"


def _maxrss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 2**20  # Linux: KiB, macOS: bytes


def child(args) -> None:
    """Step 2, in its own process so that its peak memory is its own."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np  # noqa: F401

    from blurtool.cli.detect import write_outputs
    from blurtool.io import read_image

    det, _ = _detector(args.weights)
    baseline = _maxrss_mb()
    out = Path(args.child_out)
    times, cpu = {}, {}

    def step(name, fn):
        t, c = time.perf_counter(), time.process_time()
        value = fn()
        times[name], cpu[name] = time.perf_counter() - t, time.process_time() - c
        return value

    writers = ThreadPoolExecutor(max_workers=2)  # as `blurtool detect` writes them

    def write_all(res, image):
        paths = {tag: out / f"p.{tag}.{'jpg' if tag == 'overlay' else 'png'}"
                 for tag in ("blur", "kind", "labels", "overlay")}
        write_outputs(paths, image, res, writers)

    image = step("decode", lambda: read_image(args.child))
    step("network_at_working_size", lambda: det.predict(image, full_size=False))
    res = step("network_plus_full_size_maps", lambda: det.predict(image))
    step("write_outputs", lambda: write_all(res, image))
    # End to end = decode + one full predict + writes (the working-size-only run is not part of detect).
    parts = ("decode", "network_plus_full_size_maps", "write_outputs")
    print(json.dumps({"times": times, "cpu": cpu, "end_to_end": sum(times[k] for k in parts),
                      "end_to_end_cpu": sum(cpu[k] for k in parts), "peak_rss_mb": _maxrss_mb(),
                      "baseline_rss_mb": baseline}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--folder-size", type=int, default=12)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        child(args)
        return

    import cv2
    import numpy as np

    det, kind = _detector(args.weights)
    print(f"weights: {kind}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    # 1. model time at 640 x 480
    x = torch.randn(1, 3, 480, 640)
    with torch.inference_mode():
        det.model(x)
        ts, cs = [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            det.model(x)
            ts.append(time.perf_counter() - t)
            cs.append(time.process_time() - c)
    # CPU time is reported beside wall time because a busy machine (e.g. a training job on the same cores)
    # inflates wall time; CPU time / threads is what the wall time would be on idle cores.
    print(f"1. model forward at 640x480: wall median {statistics.median(ts) * 1000:.0f} ms, "
          f"min {min(ts) * 1000:.0f} ms; CPU time median {statistics.median(cs) * 1000:.0f} ms "
          f"({args.repeats} runs)")

    # 1b. the whole predict() on a 640 x 480 photo: one pass (--fast) and with the mirrored second pass
    photo = np.random.default_rng(0).random((480, 640, 3), dtype=np.float32)
    for flip in (False, True):
        det.flip_average = flip
        det.predict(photo)
        ts = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            det.predict(photo)
            ts.append(time.perf_counter() - t)
        print(f"1b. predict() on a 640x480 photo, {'photo + mirror averaged' if flip else 'one pass (--fast)'}: "
              f"wall median {statistics.median(ts) * 1000:.0f} ms, min {min(ts) * 1000:.0f} ms")
    det.flip_average = bool(det.card.get("flip_average", False))  # back to the card default for the rest

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # A 12 MP photo: the example dandelion enlarged to 4000 x 3000 with a little noise (so it is not unusually
        # smooth for the JPEG codec).
        src = cv2.imread(str(ROOT / "examples" / "dandelion.jpg"))
        big = cv2.resize(src, (4000, 3000), interpolation=cv2.INTER_CUBIC).astype(np.int16)
        big += np.random.default_rng(0).integers(-6, 7, big.shape, dtype=np.int16)
        cv2.imwrite(str(tmp / "12mp.jpg"), np.clip(big, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
        del big
        cmd = [sys.executable, __file__, "--child", str(tmp / "12mp.jpg"), "--child-out", str(tmp)]
        if args.weights:
            cmd += ["--weights", args.weights]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        t = r["times"]
        print(f"2. 12 MP photo (4000x3000 JPEG) end to end: {r['end_to_end']:.2f} s = decode {t['decode']:.2f} s "
              f"+ network and full-size maps {t['network_plus_full_size_maps']:.2f} s "
              f"+ writing 4 outputs {t['write_outputs']:.2f} s; network at working size alone "
              f"{t['network_at_working_size']:.2f} s")
        c = r["cpu"]
        print(f"   CPU time: end to end {r['end_to_end_cpu']:.2f} s = decode {c['decode']:.2f} + network and "
              f"full-size maps {c['network_plus_full_size_maps']:.2f} + writing {c['write_outputs']:.2f}; "
              f"network at working size alone {c['network_at_working_size']:.2f} s")
        print(f"   peak memory (ru_maxrss) {r['peak_rss_mb']:.0f} MB, of which {r['baseline_rss_mb']:.0f} MB is "
              f"Python + torch + model before the photo")

        # 3. throughput over a folder of 1024 px photos
        folder = tmp / "folder"
        folder.mkdir()
        names = ["dandelion.jpg", "mountains.jpg", "dogs_shaken.jpg"]
        paths = []
        for i in range(args.folder_size):
            p = folder / f"{i:03d}.jpg"
            p.write_bytes((ROOT / "examples" / names[i % len(names)]).read_bytes())
            paths.append(p)
        for full in (True, False):
            t = time.perf_counter()
            n = sum(1 for _ in det.predict_many(paths, full_size=full))
            dt = time.perf_counter() - t
            what = "full-size maps" if full else "working size only (rank)"
            print(f"3. folder of {n} photos of 1024 px, predict_many, {what}: {n / dt:.2f} photos/s "
                  f"({dt / n:.2f} s per photo)")


if __name__ == "__main__":
    main()
