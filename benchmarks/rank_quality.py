"""Quality of `blurtool rank`: does the blur degree S order photos by how blurred they are, and do the verdict rules
give the right level? Measured on CUHK validation images (never trained on) and composites made from them.

    nice -n 10 python benchmarks/rank_quality.py [--weights weights/blurnet.pt] [--max-images 80]

Data: the CUHK validation stems of the weights card (``training.val_stems`` in weights/blurnet.json), else the last
10 % of the stems of each kind. Nothing is written to the repository. Experiments:

1. Progressive blur: from each image, the most textured 192 x 192 crop that is >= 98 % sharp in the ground truth,
   blurred with disks of radius 0, 1, 2, 3, 5, 7, 10 px, and with motion lines of 0, 5, 9, 15, 21, 31 px (random
   angle per crop). Spearman correlation of S with the true order, per crop (mean, and share of crops in perfect
   order).
2. Growing blurred area: the same crops with the left 0, 20, ..., 100 % of columns blurred (disk r = 6): Spearman
   of S and of the blurred fraction with the true area, and mean |blurred fraction - true area|.
3. Whole validation images: Spearman/Pearson of S (and of the blurred fraction) with the ground-truth blurred
   fraction, across images.
4. Verdicts: composites with a known level per crop - no-blur (untouched), good-blur (defocused background around a
   central subject ellipse, 64 % of the frame), ok-blur (one defocused corner, 16 %), bad-blur (camera shake: whole
   frame motion-blurred; missed focus: the central ellipse defocused; moving subject: the central ellipse
   motion-blurred). Confusion of the rules on the *true* maps (checks the rules) and on the network's maps
   (end to end).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter

import cv2
import numpy as np
from common import DATA, REPO
from scipy.stats import pearsonr, spearmanr

ROOT = DATA / "cuhk-train"
CROP = 192
LEVELS = ["no-blur", "good-blur", "ok-blur", "bad-blur"]


def val_stems(card: dict | None) -> list[str]:
    """The CUHK photos the model never trained on: the weights card's held-out stems (``training.val_stems``, which
    also names other folders' photos: only those in ROOT are kept), else the last 10 % of the stems of each kind."""
    def held(c: dict | None):
        return (c or {}).get("val_stems") or ((c or {}).get("training") or {}).get("val_stems")

    stems = held(card)
    card_file = REPO / "weights" / "blurnet.json"
    if not stems and card_file.is_file():
        stems = held(json.loads(card_file.read_text()))
    names = sorted(p.stem for p in (ROOT / "gt").glob("*.png"))
    if stems:
        return sorted(set(stems) & set(names))
    out = []
    for kind in ("motion", "out_of_focus"):
        group = [s for s in names if s.startswith(kind)]
        out += group[-max(1, len(group) // 10):]
    return out


def load(stem):
    img = cv2.cvtColor(cv2.imread(str(ROOT / "images" / f"{stem}.jpg")), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    gt = cv2.imread(str(ROOT / "gt" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
    return img, gt


def sharp_crop(img, gt, size=CROP, max_blurred=0.02, min_texture=0.02):
    """Most textured size x size window with <= max_blurred GT-blurred pixels (None if there is none)."""
    if gt.shape != img.shape[:2] or min(gt.shape) < size:
        return None
    lap = np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_32F))
    ib = cv2.integral(gt.astype(np.uint8))
    il = cv2.integral(lap)

    def win(ii):
        return ii[size:, size:] - ii[:-size, size:] - ii[size:, :-size] + ii[:-size, :-size]

    blurred = win(ib)[::8, ::8] / size**2
    texture = win(il)[::8, ::8] / size**2
    texture[blurred > max_blurred] = -1
    y, x = np.unravel_index(np.argmax(texture), texture.shape)
    if texture[y, x] < min_texture:
        return None
    return np.ascontiguousarray(img[8 * y : 8 * y + size, 8 * x : 8 * x + size])


def disk(r):
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    cv2.circle(k, (r, r), r, 1.0, -1, cv2.LINE_AA)
    return k / k.sum()


def line(length, angle):
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.cos(np.radians(angle)) * c, np.sin(np.radians(angle)) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return k / k.sum()


def blur(img, k):
    return img if k is None else cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)


def ellipse(h, w, rx, ry):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx - (w - 1) / 2) / (rx * w)) ** 2 + ((yy - (h - 1) / 2) / (ry * h)) ** 2 <= 1


def composites(crop, rng):
    """(true level, name, image, true blurred mask, true kind) for each verdict composite."""
    h, w = crop.shape[:2]
    angle = rng.uniform(0, 180)
    defocus = blur(crop, disk(6))
    motion = blur(crop, line(17, angle))
    centre = ellipse(h, w, 0.3, 0.38)  # 36 % of the frame
    corner = np.zeros((h, w), bool)
    corner[: int(h / 2.5), : int(w / 2.5)] = True
    full = np.ones((h, w), bool)
    none = np.zeros((h, w), bool)
    out = []
    for level, name, mask, src, kind in [
        ("no-blur", "untouched", none, crop, 0),
        ("good-blur", "defocused background", ~centre, defocus, 1),
        ("ok-blur", "defocused corner", corner, defocus, 1),
        ("bad-blur", "camera shake", full, motion, 2),
        ("bad-blur", "missed focus", centre, defocus, 1),
        ("bad-blur", "moving subject", centre, motion, 2),
    ]:
        img = np.where(mask[..., None], src, crop)
        out.append((level, name, img, mask, np.where(mask, kind, 0).astype(np.uint8)))
    return out


def load_detector(weights, working_size):
    from blurtool.inference import BlurDetector

    # One pass, as `blurtool rank` runs the network (the card may ask the other commands for photo + mirror).
    return BlurDetector.from_weights(weights, device="cpu", working_size=working_size, flip_average=False)


_POOL = None


def predict(det, images):
    # One photo per core, torch on one thread each: what `blurtool rank` does on CPU (see blurtool.library).
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(2)
    return list(_POOL.map(lambda im: det.predict(im, full_size=False), images))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--working-size", type=int, default=None)
    ap.add_argument("--max-images", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from blurtool.ops.rank import score_maps, verdict

    torch.set_num_threads(1)
    # A constant S series (a network that sees no blur at all) gives rho = nan; it is reported as such, not warned.
    warnings.filterwarnings("ignore", message="An input array is constant")
    det = load_detector(args.weights, args.working_size)
    thr = det.threshold
    stems = val_stems(det.card)[: args.max_images]
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    print(f"weights {det.card.get('path')}, threshold {thr:.2f}, working size {det.working_size}, "
          f"{len(stems)} validation images")

    def scores(images):
        return [score_maps(r.blur, r.kind, thr) for r in predict(det, images)]

    # 3. whole validation images
    S, F, G = [], [], []
    crops = []
    for stem in stems:
        img, gt = load(stem)
        s = scores([img])[0]
        S.append(s.degree)
        F.append(s.blurred_fraction)
        G.append(gt.mean())
        c = sharp_crop(img, gt)
        if c is not None:
            crops.append(c)
    print(f"\n## Whole validation images (n = {len(S)})")
    print(f"S vs GT blurred fraction: Spearman {spearmanr(S, G)[0]:.3f}, Pearson {pearsonr(S, G)[0]:.3f}")
    print(f"blurred fraction vs GT: Spearman {spearmanr(F, G)[0]:.3f}, mean |error| "
          f"{np.mean(np.abs(np.array(F) - np.array(G))):.3f}")

    # 1. progressive blur
    print(f"\n## Progressive blur ({len(crops)} sharp {CROP} px crops)")
    radii = [0, 1, 2, 3, 5, 7, 10]
    lengths = [0, 5, 9, 15, 21, 31]
    for name, levels, make in [
        ("disk radius", radii, lambda c, v, a: blur(c, disk(v) if v else None)),
        ("motion length", lengths, lambda c, v, a: blur(c, line(v, a) if v else None)),
    ]:
        rhos, perfect, per_level = [], 0, np.zeros(len(levels))
        for c in crops:
            a = rng.uniform(0, 180)
            d = [s.degree for s in scores([make(c, v, a) for v in levels])]
            per_level += d
            rho = spearmanr(levels, d)[0]
            rhos.append(rho)
            perfect += rho > 0.999
        print(f"{name} {levels}: Spearman(S, order) mean {np.nanmean(rhos):.3f}, median {np.nanmedian(rhos):.3f}, "
              f"perfect order {perfect}/{len(crops)}; mean S per level "
              + " ".join(f"{x:.2f}" for x in per_level / max(1, len(crops))))

    # 2. growing blurred area
    areas = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    rho_s, rho_f, err = [], [], []
    for c in crops:
        b = blur(c, disk(6))
        imgs = []
        for f in areas:
            m = np.zeros(c.shape[:2], bool)
            m[:, : round(f * c.shape[1])] = True
            imgs.append(np.where(m[..., None], b, c))
        sc = scores(imgs)
        rho_s.append(spearmanr(areas, [s.degree for s in sc])[0])
        rho_f.append(spearmanr(areas, [s.blurred_fraction for s in sc])[0])
        err.append(np.mean([abs(s.blurred_fraction - f) for s, f in zip(sc, areas)]))
    print(f"\n## Growing blurred area {areas} (disk r = 6)")
    print(f"Spearman(S, area) mean {np.nanmean(rho_s):.3f}; Spearman(blurred fraction, area) mean "
          f"{np.nanmean(rho_f):.3f}; mean |blurred fraction - area| {np.mean(err):.3f}")

    # 4. verdict confusion
    true_conf: Counter = Counter()
    net_conf: Counter = Counter()
    per_case: dict[str, Counter] = {}
    for c in crops:
        comps = composites(c, rng)
        net = scores([x[2] for x in comps])
        for (level, name, _, mask, kind), s_net in zip(comps, net):
            v_true = verdict(score_maps(mask.astype(np.float32), kind, 0.5))[0].value
            v_net = verdict(s_net)[0].value
            true_conf[(level, v_true)] += 1
            net_conf[(level, v_net)] += 1
            per_case.setdefault(name, Counter())[v_net] += 1
    for title, conf in [("rules on the true maps", true_conf), ("network end to end", net_conf)]:
        n = sum(conf.values())
        acc = sum(conf[(lv, lv)] for lv in LEVELS) / max(1, n)
        print(f"\n## Verdict confusion, {title} (rows: true level, columns: verdict), accuracy {acc:.1%}")
        print("| true \\ verdict | " + " | ".join(LEVELS) + " |")
        print("|---|" + "---|" * len(LEVELS))
        for lv in LEVELS:
            print(f"| {lv} | " + " | ".join(str(conf[(lv, p)]) for p in LEVELS) + " |")
    print("\nNetwork verdicts per composite: " + "; ".join(
        f"{name}: " + ", ".join(f"{k} {v}" for k, v in cnt.most_common()) for name, cnt in per_case.items()))
    print(f"\n({time.perf_counter() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
