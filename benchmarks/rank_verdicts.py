"""Are `blurtool rank`'s verdicts right? Share of right verdicts per case group, on real photos and synthetic maps.

    nice python benchmarks/rank_verdicts.py [--weights weights/blurnet.pt] [--data DATA]
                                            [--maps maps.npz] [--json out.json] [--flip-average] [--no-model]
                                            [--stems-from weights/blurnet.json]

Two parts, each scored by the verdict rules as they are in the checkout (``blurtool.ops.rank``, default
``RankRules``):

A. **The rules on ground-truth maps** (no network; the rules' own error):
   - SZU-BD, all 384 photos of ``szu-bd-train`` (blur map = gt / 255, 255 = blurred; kind = defocus where blurred,
     motion for the ``motion_szu_*`` photos). The 347 defocus photos are small or large sharp subjects on natural
     bokeh: expected good-blur. The 37 motion photos are panning shots (a sharp subject, motion-blurred
     background): not of that kind, reported with their verdicts but not scored.
   - Synthetic maps: benchmarks/rank_quality.py's six composites (no-blur, good-blur, ok-blur, camera shake,
     missed focus, moving subject; their true maps) and a family of small subjects and missed-focus shapes at
     240 x 320: an elliptical sharp subject of 1, 2 and 4 % of the frame (a ladybird in a macro shot) on a
     defocused frame, at the centre, at each rule-of-thirds point and near each edge on a thirds line, its centroid
     12 % of the frame from the edge (good-blur); a sharp strip along one edge
     (10, 20, 30 % of the frame), a sharp frame around a soft centre (ring widths 10, 15, 20 % of each side) and a
     sharp background around a soft central subject (16, 25, 36 %) (bad-blur, missed focus).
B. **The network's maps, the rank path** (``--no-model`` skips it): one pass (``--flip-average`` for two, as
   benchmarks/real_photos.py runs the model), the working-size map (``full_size=False``), JPEGs decoded as
   ``blurtool rank`` decodes them, the card's threshold, torch on one thread and two photos at a time.
   - SZU-BD held-out photos (the weights card's ``training.val_stems``): defocus -> good-blur; motion reported.
   - The held-out all-sharp photos -> no-blur; the same photos shaken (camera-shake kernel 15-25 px at the working
     scale) or misfocused (disk, radius 6 px) -> bad-blur; the 18 GoPro motion-blurred frames -> bad-blur (built
     exactly as benchmarks/real_photos.py builds them).
   - rank_quality.py's six composites on sharp crops of the held-out CUHK photos, end to end.

``--maps FILE.npz`` keeps the network's maps: the first run writes it, later runs read it instead of running the
network (to re-measure a rules change). Nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from common import DATA

from blurtool.ops.rank import score_maps, verdict

H, W = 240, 320
NOT_SCORED = None  # expected level of a reported-only group


def _ellipse(cx, cy, area, h=H, w=W, aspect=1.2):
    """Elliptical mask of `area` (share of the frame) centred at (cx, cy) in pixels, rx = aspect * ry."""
    ry = np.sqrt(area * h * w / (np.pi * aspect))
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx - cx) / (aspect * ry)) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0


def synthetic_maps():
    """(group, name, expected, blur map, kind map) of the synthetic true maps."""
    import rank_quality

    out = []
    dummy = np.zeros((rank_quality.CROP, rank_quality.CROP, 3), np.float32)
    for level, name, _, mask, kind in rank_quality.composites(dummy, np.random.default_rng(0)):
        out.append(("rank_quality composites (true maps)", name, level, mask.astype(np.float32), kind))

    def add(group, name, expected, blurred):
        out.append((group, name, expected, blurred.astype(np.float32), np.where(blurred, 1, 0).astype(np.uint8)))

    spots = {"centre": (W / 2, H / 2)}
    for i, (fx, fy) in enumerate([(1 / 3, 1 / 3), (2 / 3, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 2 / 3)]):
        spots[f"thirds point {i + 1}"] = (fx * W, fy * H)
    # Near each edge on a thirds line: the centroid 12 % of the side from the edge.
    spots.update({"left edge": (0.12 * W, H / 3), "right edge": (0.88 * W, 2 * H / 3),
                  "top edge": (2 * W / 3, 0.12 * H), "bottom edge": (W / 3, 0.88 * H)})
    for area in (0.01, 0.02, 0.04):
        for where, (cx, cy) in spots.items():
            add("small subject on bokeh (synthetic)", f"{area:.1%} at {where}", "good-blur",
                ~_ellipse(cx, cy, area))
    for share in (0.1, 0.2, 0.3):
        for edge in ("left", "right", "top", "bottom"):
            sharp = np.zeros((H, W), bool)
            n = round(share * (W if edge in ("left", "right") else H))
            rows, cols = {"left": (slice(None), slice(0, n)), "right": (slice(None), slice(W - n, W)),
                          "top": (slice(0, n), slice(None)), "bottom": (slice(H - n, H), slice(None))}[edge]
            sharp[rows, cols] = True
            add("missed focus (synthetic)", f"sharp {edge} strip {share:.0%}", "bad-blur", ~sharp)
    for width in (0.1, 0.15, 0.2):
        soft = np.zeros((H, W), bool)
        dy, dx = round(width * H), round(width * W)
        soft[dy:H - dy, dx:W - dx] = True
        add("missed focus (synthetic)", f"sharp frame {width:.0%} around a soft centre", "bad-blur", soft)
    for area in (0.16, 0.25, 0.36):
        add("missed focus (synthetic)", f"soft central subject {area:.0%} on a sharp background", "bad-blur",
            _ellipse(W / 2, H / 2, area, aspect=0.9))
    return out


def szu_gt_maps(data: Path):
    folder = data / "szu-bd-train"
    out = []
    for p in sorted((folder / "gt").glob("*.png")):
        gt = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        motion = p.stem.startswith("motion")
        kind = np.where(gt >= 0.5, 2 if motion else 1, 0).astype(np.uint8)
        group = "SZU-BD motion / panning (ground truth)" if motion else "SZU-BD defocus (ground truth)"
        out.append((group, p.stem, NOT_SCORED if motion else "good-blur", gt, kind))
    return out


def model_images(data: Path, stems: list[str]):
    """(group, name, expected, image or path) of the network cases (see module doc)."""
    import rank_quality
    from real_photos import SYNTH_LONG_SIDE, at_long_side

    from blurtool.io import read_image
    from blurtool.train.synth import blur, disk_kernel, shake_kernel

    def held(folder: Path) -> list[str]:
        names = {p.stem for p in (folder / "images").iterdir()}
        return [s for s in stems if s in names]

    def image_of(folder: Path, stem: str) -> Path:
        return next((folder / "images").glob(stem + ".*"))

    out = []
    szu = data / "szu-bd-train"
    for stem in held(szu):
        if stem.startswith("motion"):
            out.append(("SZU-BD held-out, motion / panning", stem, NOT_SCORED, image_of(szu, stem)))
        else:
            out.append(("SZU-BD held-out, defocus", stem, "good-blur", image_of(szu, stem)))
    sharp_dir = data / "sharp-photos"
    rng = np.random.default_rng(0)  # the draws of benchmarks/real_photos.py, in its order
    for stem in held(sharp_dir):
        path = image_of(sharp_dir, stem)
        out.append(("all-sharp", stem, "no-blur", path))
        small = at_long_side(read_image(path), SYNTH_LONG_SIDE)  # the copies of real_photos.py, whatever the model
        out.append(("all-sharp, shaken", stem, "bad-blur", blur(small, shake_kernel(rng, rng.uniform(15, 25)))))
        out.append(("all-sharp, misfocused", stem, "bad-blur", blur(small, disk_kernel(6.0))))
    for p in sorted((data / "gopro-motion" / "pairs").glob("*_avg-*[0-9].jpg")):
        out.append(("GoPro shaken", p.stem, "bad-blur", p))
    cuhk = data / "cuhk-train"
    rank_quality.ROOT = cuhk
    rng = np.random.default_rng(0)
    for stem in held(cuhk):
        crop = rank_quality.sharp_crop(*rank_quality.load(stem))
        if crop is None:
            continue
        for level, name, img, _, _ in rank_quality.composites(crop, rng):
            out.append(("rank_quality composites (network)", f"{stem} {name}", level, img))
    return out


def predict_all(det, items):
    """Working-size maps of each item (path or array), as `blurtool rank` computes them: two photos at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from blurtool.io import read_image

    def one(x):
        image = read_image(x, min_size=det.working_size) if isinstance(x, Path) else x
        r = det.predict(image, full_size=False)
        return r.blur.astype(np.float16), r.kind, None if r.amount is None else r.amount.astype(np.float16)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, items))


def judge(cases, threshold: float) -> tuple[dict, list]:
    """Verdict of each case's maps; -> ({group: figures}, rows)."""
    groups: dict[str, dict] = {}
    rows = []
    for group, name, expected, b, k, a in cases:
        s = score_maps(b.astype(np.float32), k, threshold, amount=None if a is None else a.astype(np.float32))
        v, why = verdict(s)
        rows.append({"group": group, "name": name, "expected": expected, "verdict": v.value, "reason": why})
        g = groups.setdefault(group, {"expected": expected, "right": 0, "of": 0, "verdicts": Counter(), "wrong": []})
        if g["expected"] != expected:
            g["expected"] = "per case"  # a group of several levels (rank_quality's composites)
        g["of"] += 1
        g["verdicts"][f"{v.value} ({why})"] += 1
        if expected is not None and v.value == expected:
            g["right"] += 1
        elif expected is not None:
            g["wrong"].append(f"{name}: {v.value} ({why})")
    for g in groups.values():
        g["verdicts"] = dict(g["verdicts"].most_common())
    return groups, rows


def report(title: str, groups: dict) -> dict:
    print(f"\n## {title}")
    print("| case group | expected | right | verdicts |")
    print("|---|---|---|---|")
    right = total = 0
    for name, g in groups.items():
        verdicts = ", ".join(f"{k} {n}" for k, n in g["verdicts"].items())
        if g["expected"] is None:
            print(f"| {name} | (not scored) | - | {verdicts} |")
            continue
        right, total = right + g["right"], total + g["of"]
        print(f"| {name} | {g['expected']} | {g['right']}/{g['of']} ({g['right'] / g['of']:.1%}) | {verdicts} |")
    print(f"| **all scored** | | **{right}/{total} ({right / max(total, 1):.1%})** | |")
    for name, g in groups.items():
        if g["wrong"]:
            print(f"wrong, {name}: " + "; ".join(g["wrong"][:12]) + (" ..." if len(g["wrong"]) > 12 else ""))
    return {"right": right, "of": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--maps", default=None, help="cache of the network's maps (.npz): written once, then read")
    ap.add_argument("--flip-average", action="store_true", help="two passes (photo + mirror), as real_photos.py")
    ap.add_argument("--no-model", action="store_true", help="only part A (ground-truth and synthetic maps)")
    ap.add_argument("--stems-from", default=None,
                    help="a weights card (JSON) whose held-out stems to measure on, e.g. to score an older model on "
                         "the photos a newer one held out (default: the measured model's own card)")
    ap.add_argument("--json", default=None, help="also write every figure and verdict to this JSON file")
    args = ap.parse_args()
    data = Path(args.data)
    t0 = time.perf_counter()
    res: dict = {}

    cases = [(*c, None) for c in szu_gt_maps(data) + synthetic_maps()]
    groups, rows = judge(cases, 0.5)
    res["ground_truth"] = {"groups": groups, "all": report("A. Rules on ground-truth and synthetic maps", groups)}
    res["ground_truth_rows"] = rows

    if not args.no_model:
        import torch

        from blurtool.evaluate import val_stems
        from blurtool.inference import BlurDetector

        torch.set_num_threads(1)
        det = BlurDetector.from_weights(args.weights, "cpu", flip_average=args.flip_average)
        card = json.loads(Path(args.stems_from).read_text()) if args.stems_from else det.card
        items = model_images(data, val_stems(card))
        cache = Path(args.maps) if args.maps else None
        key = f"{det.card.get('path')}|flip={args.flip_average}|" + ",".join(f"{g}/{n}" for g, n, _, _ in items)
        if cache is not None and cache.is_file() and str(np.load(cache, allow_pickle=True)["key"]) == key:
            z = np.load(cache, allow_pickle=True)
            maps = list(z["maps"])
        else:
            maps = predict_all(det, [x[3] for x in items])
            if cache is not None:
                np.savez_compressed(cache, key=key, maps=np.array(maps, dtype=object))
        cases = [(g, n, e, *m) for (g, n, e, _), m in zip(items, maps)]
        groups, rows = judge(cases, det.threshold)
        title = (f"B. Network maps, the rank path ({det.card.get('path')}, threshold {det.threshold:.3f}, "
                 f"working size {det.working_size}, {'photo + mirror' if args.flip_average else 'one pass'})")
        res["network"] = {"weights": det.card.get("path"), "threshold": det.threshold, "groups": groups,
                          "all": report(title, groups)}
        res["network_rows"] = rows
    print(f"\n({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
