"""Measurements of the editing commands (segment, matte, magnify) reported in the README.

    python benchmarks/bench_editing.py segment-iou [--data DIR] [--per-kind 80]
        IoU of the sharp-region mask against CUHK ground truth: GrabCut (blurtool segment) vs the plain thresholded
        map, both from the shipped network's blur maps. Images: the validation list of weights/blurnet.json when it
        has one, else the 80 images whose stems sort last per kind (motion / out_of_focus).
    python benchmarks/bench_editing.py timing [--photo FILE] [--megapixels 12]
        Time and peak memory of matte / segment / magnify on one photo upscaled to 12 MP, each in a fresh process;
        pymatting's one-off numba start-up (compilation or cache load) is measured separately by warm_up().
    python benchmarks/bench_editing.py compare PHOTO MAP OUT.jpg
        Side-by-side image for the README: photo | Ma et al.'s Gaussian | blurtool's lens magnification.

Run with `nice -n 10` on a shared machine. Each number printed is measured in the run that prints it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _find_stem_list(meta, path=""):
    """First list of image names under a key that mentions validation, anywhere in the weights card."""
    if isinstance(meta, dict):
        for key, value in meta.items():
            if "val" in key.lower() and isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return value, f"{path}{key}"
            found = _find_stem_list(value, f"{path}{key}.")
            if found:
                return found
    return None


def _validation_stems(data: Path, per_kind: int) -> tuple[list[str], str]:
    card = ROOT / "weights" / "blurnet.json"
    if card.is_file():
        found = _find_stem_list(json.loads(card.read_text()))
        if found:
            return [Path(s).stem for s in found[0]], f"the validation list of {card.name} ({found[1]})"
    stems = sorted(p.stem for p in (data / "images").glob("*.jpg"))
    chosen = []
    for kind in ("motion", "out_of_focus"):
        chosen += [s for s in stems if s.startswith(kind)][-per_kind:]
    return chosen, f"the {per_kind} images per kind whose stems sort last"


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def segment_iou(args) -> None:
    import cv2

    from blurtool.inference import BlurDetector
    from blurtool.io import read_image
    from blurtool.ops.segment import SegmentOptions, segment_sharp, threshold_mask

    data = Path(args.data)
    stems, source = _validation_stems(data, args.per_kind)
    if args.limit:
        stems = stems[: args.limit]
    detector = BlurDetector.from_weights(args.weights, device="cpu")
    options = SegmentOptions()
    rows = []
    t0 = time.perf_counter()
    for i, stem in enumerate(stems):
        image = read_image(data / "images" / f"{stem}.jpg")
        gt = cv2.imread(str(data / "gt" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        if gt is None or gt.shape != image.shape[:2]:
            print(f"skip {stem}: ground truth missing or of another size", file=sys.stderr)
            continue
        sharp_gt = gt < 128  # gt: 255 = blurred
        blur = detector.predict(image).blur
        t = time.perf_counter()
        result = segment_sharp(image, blur, options)
        dt = time.perf_counter() - t
        thr = threshold_mask(blur, options)
        rows.append({
            "stem": stem, "kind": "motion" if stem.startswith("motion") else "defocus",
            "iou_threshold": _iou(thr, sharp_gt), "iou_grabcut": _iou(result.mask, sharp_gt),
            "method": result.method, "seconds": dt, "gt_sharp_fraction": float(sharp_gt.mean()),
            "inter_t": np.count_nonzero(thr & sharp_gt), "union_t": np.count_nonzero(thr | sharp_gt),
            "inter_g": np.count_nonzero(result.mask & sharp_gt), "union_g": np.count_nonzero(result.mask | sharp_gt),
        })
        if (i + 1) % 20 == 0:
            print(f"{i + 1}/{len(stems)} images, {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    print(f"data: {data}, {len(rows)} images ({source}); weights: {args.weights or 'shipped default'}")
    print("sharp-region IoU against the ground truth (mean over images; pooled = all pixels together)")
    print(f"{'images':<10}{'n':>5}{'threshold':>12}{'GrabCut':>10}{'pooled thr':>12}{'pooled GC':>11}"
          f"{'GC better':>11}{'GC worse':>10}")
    for name, sel in [("all", rows), ("defocus", [r for r in rows if r["kind"] == "defocus"]),
                      ("motion", [r for r in rows if r["kind"] == "motion"])]:
        if not sel:
            continue
        thr = np.mean([r["iou_threshold"] for r in sel])
        gc = np.mean([r["iou_grabcut"] for r in sel])
        pooled_t = sum(r["inter_t"] for r in sel) / max(1, sum(r["union_t"] for r in sel))
        pooled_g = sum(r["inter_g"] for r in sel) / max(1, sum(r["union_g"] for r in sel))
        better = sum(r["iou_grabcut"] > r["iou_threshold"] + 0.01 for r in sel)
        worse = sum(r["iou_grabcut"] < r["iou_threshold"] - 0.01 for r in sel)
        print(f"{name:<10}{len(sel):>5}{thr:>12.4f}{gc:>10.4f}{pooled_t:>12.4f}{pooled_g:>11.4f}{better:>11}{worse:>10}")
    fallback = sum(r["method"] != "grabcut" for r in rows)
    print(f"GrabCut fell back to the thresholded map on {fallback} images (one class absent); "
          f"GrabCut time per image: median {np.median([r['seconds'] for r in rows]):.2f} s")
    no_sharp = sum(r["gt_sharp_fraction"] == 0 for r in rows)
    print(f"{no_sharp} images have no sharp pixel in the ground truth (IoU 1 if the mask is empty too, else 0)")


_TIMING_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import numpy as np
from blurtool.io import read_image
from blurtool.ops.matting import resize_to_pixels
import cv2
op, photo, map_file, mp = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
image = read_image(photo, max_pixels=None)
h, w = image.shape[:2]
s = (mp * 1e6 / (h * w)) ** 0.5
size = (round(w * s), round(h * s))
image = np.clip(cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), 0, 1)
blur = cv2.imread(map_file, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
blur = cv2.resize(blur, size, interpolation=cv2.INTER_LINEAR)
out = {{"op": op, "size": f"{{size[0]}}x{{size[1]}}", "rss_inputs_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}
if op in ("matte", "magnify"):
    from blurtool.ops.matting import warm_up
    out["warm_up_first_s"] = warm_up()  # pymatting import: numba compiles, or loads its on-disk cache
    out["warm_up_again_s"] = warm_up()
t, c = time.perf_counter(), time.process_time()
if op == "matte":
    from blurtool.ops.matting import matte
    r = matte(image, blur); out["method"] = r.method
elif op == "segment":
    from blurtool.ops.segment import segment_sharp
    r = segment_sharp(image, blur); out["method"] = r.method
elif op == "magnify":
    from blurtool.ops.magnify import magnify_blur
    magnify_blur(image, blur)
out["seconds"] = time.perf_counter() - t
out["cpu_seconds"] = time.process_time() - c
out["load_average_1min"] = __import__("os").getloadavg()[0]
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def timing(args) -> None:
    photo, map_file = args.photo, args.map
    if photo is None:
        # Default: the first defocus image of the CUHK folder with its ground-truth map (read, never copied).
        data = Path(args.data)
        stem = sorted(p.stem for p in (data / "images").glob("out_of_focus*.jpg"))[-1]
        photo, map_file = str(data / "images" / f"{stem}.jpg"), str(data / "gt" / f"{stem}.png")
    print(f"photo {photo} with map {map_file}, upscaled to {args.megapixels} MP; one fresh process per op")
    import os
    import tempfile

    for op in ("matte", "segment", "magnify"):
        code = _TIMING_CHILD.format(root=str(ROOT))
        env = dict(os.environ)
        if args.cold_numba and op == "matte":
            # An empty numba cache: what the very first run after installing pymatting pays (compilation).
            env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cold-")
        res = subprocess.run([sys.executable, "-c", code, op, photo, map_file, str(args.megapixels)],
                             capture_output=True, text=True, env=env)
        if res.returncode != 0:
            print(f"{op}: failed\n{res.stderr[-2000:]}")
            continue
        print(res.stdout.strip())


def compare(args) -> None:
    import cv2

    from blurtool.io import read_image, read_map, write_image
    from blurtool.ops.magnify import MagnifyOptions, magnify_blur, magnify_naive, max_radius

    image = read_image(args.photo)
    blur = read_map(args.map, shape=image.shape[:2])
    options = MagnifyOptions()
    radius = max_radius(options, *image.shape[:2])
    naive = magnify_naive(image, blur, sigma=radius / 2)
    lens = magnify_blur(image, blur, options)
    h = args.height
    panels = []
    for panel, label in ((image, "photo"), (naive, "Gaussian (Ma et al.)"), (lens, "blurtool magnify")):
        small = cv2.resize(panel, (round(panel.shape[1] * h / panel.shape[0]), h), interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small)
        cv2.putText(small, label, (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(small, label, (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (1, 1, 1), 1, cv2.LINE_AA)
        panels += [small, np.ones((h, 4, 3), np.float32)]
    write_image(args.out, np.concatenate(panels[:-1], axis=1), quality=85)
    print(f"wrote {args.out} (max radius {radius:.1f} px at full size)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("segment-iou")
    s.add_argument("--data", default="/work/shared/data/cuhk-train")
    s.add_argument("--per-kind", type=int, default=80)
    s.add_argument("--limit", type=int, default=0, help="only the first N images (a quick look)")
    s.add_argument("--weights", default=None)
    t = sub.add_parser("timing")
    t.add_argument("--photo", default=None)
    t.add_argument("--map", default=None, help="blur map PNG of --photo (255 = blurred)")
    t.add_argument("--data", default="/work/shared/data/cuhk-train")
    t.add_argument("--megapixels", type=float, default=12.0)
    t.add_argument("--cold-numba", action="store_true", help="run matte with an empty numba cache")
    c = sub.add_parser("compare")
    c.add_argument("photo")
    c.add_argument("map")
    c.add_argument("out")
    c.add_argument("--height", type=int, default=360)
    args = p.parse_args()
    {"segment-iou": segment_iou, "timing": timing, "compare": compare}[args.cmd](args)


if __name__ == "__main__":
    main()
