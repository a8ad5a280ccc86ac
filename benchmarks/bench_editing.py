"""Measurements of the editing commands (segment, matte, magnify) reported in the README.

    python benchmarks/bench_editing.py segment-iou [--data DIR] [--per-kind 80]
        IoU of the sharp-region mask against CUHK ground truth: GrabCut (blurtool segment) vs the plain thresholded
        map, both from the shipped network's blur maps. Images: the validation list of weights/blurnet.json when it
        has one, else the 80 images whose stems sort last per kind (motion / out_of_focus).
    python benchmarks/bench_editing.py timing [--photo FILE] [--megapixels 12]
        Time and peak memory of matte / segment / magnify on one photo upscaled to 12 MP, each in a fresh process;
        pymatting's one-off numba start-up (compilation or cache load) is measured separately by warm_up().
    python benchmarks/bench_editing.py examples [--photo examples/dandelion.jpg] [--out examples/outputs]
        Runs `blurtool detect`, `segment`, `matte` and `magnify` on the photo (the shipped network) and assembles
        small JPEGs of their outputs for the README, plus the magnify comparison.

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
from common import DATA
from common import REPO as ROOT


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
    # --rows FILE keeps per-image rows (JSON lines) so that the run can be split into short chunks
    # (--start/--limit) on a shared machine; rows already in the file are not recomputed.
    rows = [json.loads(line) for line in Path(args.rows).read_text().splitlines()] if (
        args.rows and Path(args.rows).is_file()) else []
    done = {r["stem"] for r in rows}
    todo = [s for s in stems[args.start:] if s not in done]
    if args.limit:
        todo = todo[: args.limit]
    detector = BlurDetector.from_weights(args.weights, device="cpu") if todo else None
    options = SegmentOptions()
    t0 = time.perf_counter()
    for i, stem in enumerate(todo):
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
        rows[-1] = {k: (int(v) if isinstance(v, np.integer) else v) for k, v in rows[-1].items()}
        if args.rows:
            with open(args.rows, "a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
        if (i + 1) % 5 == 0:
            print(f"{i + 1}/{len(todo)} images, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    rows = [r for r in rows if r["stem"] in set(stems)]
    if len(rows) < len(stems):
        print(f"{len(stems) - len(rows)} of {len(stems)} images still to do (run again with the same --rows)")

    from blurtool.weights import load_weights

    card = load_weights(args.weights)[1]
    card_file = ROOT / "weights" / "blurnet.json"
    sha = card.get("sha256") or (json.loads(card_file.read_text()).get("sha256") if card_file.is_file() else None)
    print(f"data: {data}, {len(rows)} images ({source}); weights: {args.weights or 'shipped default'} "
          f"(sha256 {str(sha)[:12]}, {card.get('training', {}).get('steps')} training steps)")
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
out = {"op": op, "size": f"{size[0]}x{size[1]}", "rss_inputs_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
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
        # Default: the last defocus image of the CUHK folder with its ground-truth map (read, never copied).
        data = Path(args.data)
        stem = max(p.stem for p in (data / "images").glob("out_of_focus*.jpg"))
        photo, map_file = str(data / "images" / f"{stem}.jpg"), str(data / "gt" / f"{stem}.png")
    print(f"photo {photo} with map {map_file}, upscaled to {args.megapixels} MP; one fresh process per op")
    import os
    import tempfile

    for op in ("matte", "segment", "magnify"):
        code = _TIMING_CHILD
        env = dict(os.environ)
        if args.cold_numba and op == "matte":
            # An empty numba cache: what the very first run after installing pymatting pays (compilation).
            env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cold-")
        res = subprocess.run([sys.executable, "-c", code, op, photo, map_file, str(args.megapixels)],
                             capture_output=True, text=True, env=env, check=False)
        if res.returncode != 0:
            print(f"{op}: failed\n{res.stderr[-2000:]}")
            continue
        print(res.stdout.strip())


def _panel(image: np.ndarray, height: int, label: str) -> np.ndarray:
    import cv2

    small = cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height), interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8))  # putText wants 8 bits
    if label:
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.rectangle(small, (0, height - th - base - 12), (tw + 14, height), (0, 0, 0), -1)
        cv2.putText(small, label, (7, height - base - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return small.astype(np.float32) / 255


def _row(panels: list[np.ndarray]) -> np.ndarray:
    gap = np.ones((panels[0].shape[0], 4, 3), np.float32)
    out = [panels[0]]
    for p in panels[1:]:
        out += [gap, p]
    return np.concatenate(out, axis=1)


def _checkerboard(h: int, w: int, square: int = 16) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    board = np.where(((yy // square + xx // square) % 2) == 0, 0.85, 0.65).astype(np.float32)
    return np.repeat(board[..., None], 3, axis=2)


def examples(args) -> None:
    import tempfile

    from blurtool.io import read_image, read_map, write_image
    from blurtool.ops.magnify import MagnifyOptions, magnify_naive, max_radius

    photo = Path(args.photo)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="blurtool-examples-"))
    commands = [
        ["detect", str(photo), "--out", str(work)],
        ["segment", str(photo), "--map", str(work), "--out", str(work)],
        ["matte", str(photo), "--map", str(work), "--background", args.background, "--out", str(work)],
        ["magnify", str(photo), "--map", str(work), "--out", str(work)],
    ]
    for cmd in commands:
        print("blurtool " + " ".join(cmd))
        subprocess.run([sys.executable, "-m", "blurtool", *cmd], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    stem, h = photo.stem, args.height
    image = read_image(photo)
    blur = read_map(work / f"{stem}.blur.png", shape=image.shape[:2])
    grey = lambda a: np.repeat(a[..., None].astype(np.float32), 3, axis=2)

    mask = read_map(work / f"{stem}.mask.png")  # 0/1 read as a map
    cut = image * grey(mask) + _checkerboard(*mask.shape) * grey(1 - mask)
    write_image(out / f"{stem}_segment.jpg", _row([_panel(image, h, "photo"), _panel(grey(blur), h, "blur map"),
                                                    _panel(cut, h, "segment: cutout")]), quality=85)
    alpha = read_map(work / f"{stem}.alpha.png")
    composite = read_image(work / f"{stem}.composite.jpg")
    write_image(out / f"{stem}_matte.jpg", _row([_panel(grey(alpha), h, "matte: alpha"),
                                                  _panel(composite, h, "matte: composite")]), quality=85)
    lens = read_image(work / f"{stem}.magnified.png")
    naive = magnify_naive(image, blur, sigma=max_radius(MagnifyOptions(), *image.shape[:2]) / 2)
    write_image(out / f"{stem}_magnify.jpg", _row([_panel(image, h, "photo"),
                                                    _panel(naive, h, "Gaussian (Ma et al. 2018)"),
                                                    _panel(lens, h, "blurtool magnify")]), quality=85)
    # A crop at full resolution around the subject's edge shows halo and bokeh best.
    ys, xs = np.nonzero(alpha > 0.5)
    if len(ys):
        cy, cx = int(ys.mean()), int(xs.max())
        y0, x0 = max(0, cy - h // 2), max(0, min(image.shape[1] - h, cx - h // 2))
        crops = [a[y0:y0 + h, x0:x0 + h] for a in (image, naive, lens)]
        write_image(out / f"{stem}_magnify_crop.jpg", _row([_panel(c, c.shape[0], lab) for c, lab in zip(
            crops, ("photo (100 %)", "Gaussian", "blurtool magnify"))]), quality=88)
    for f in sorted(out.glob(f"{stem}_*.jpg")):
        print(f"wrote {f} ({f.stat().st_size // 1024} KB)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("segment-iou")
    s.add_argument("--data", default=str(DATA / "cuhk-train"))
    s.add_argument("--per-kind", type=int, default=80)
    s.add_argument("--start", type=int, default=0, help="skip the first N images of the list")
    s.add_argument("--limit", type=int, default=0, help="process at most N images in this run")
    s.add_argument("--rows", default=None, help="JSON-lines file of per-image rows, appended to and reused")
    s.add_argument("--weights", default=None)
    t = sub.add_parser("timing")
    t.add_argument("--photo", default=None)
    t.add_argument("--map", default=None, help="blur map PNG of --photo (255 = blurred)")
    t.add_argument("--data", default=str(DATA / "cuhk-train"))
    t.add_argument("--megapixels", type=float, default=12.0)
    t.add_argument("--cold-numba", action="store_true", help="run matte with an empty numba cache")
    e = sub.add_parser("examples")
    e.add_argument("--photo", default=str(ROOT / "examples" / "dandelion.jpg"))
    e.add_argument("--out", default=str(ROOT / "examples" / "outputs"))
    e.add_argument("--background", default="#1e3a5f")
    e.add_argument("--height", type=int, default=300)
    e.add_argument("--work", default=None, help="folder for the full-size CLI outputs (default: a temporary one)")
    args = p.parse_args()
    {"segment-iou": segment_iou, "timing": timing, "examples": examples}[args.cmd](args)


if __name__ == "__main__":
    main()
