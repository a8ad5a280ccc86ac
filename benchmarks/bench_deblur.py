"""Benchmark of `blurtool deblur` on partially blurred photos with exact ground truth.

Each case takes a sharp photo (a fully sharp crop of a CUHK image, chosen with its ground-truth mask, or a synthetic
texture), blurs one region with a known kernel (random motion trajectory, or a defocus disk) and keeps the rest
sharp. It then compares:

* ours: kernel estimated from the blurred region only (the true region is given, i.e. an accurate blur map),
  deconvolution restricted to it, feathered blend;
* uniform: the naive baseline of Kim et al. Fig. 11c, one kernel from the WHOLE image applied to the whole image;
* oracle: our region pipeline with the true kernel (upper bound of the non-blind part).

Reported per case: kernel similarity to the true kernel (max normalised cross-correlation over shifts), PSNR/SSIM of
the blurred region and of the whole image, PSNR of the sharp part, seconds, and the verdict of our reliability check
("ok" = deblurred, "left" = too few edges above the noise, region left unchanged; with its edge score). Run:

    nice -n 10 python benchmarks/bench_deblur.py --cuhk DATA/cuhk-train --n 4
    nice -n 10 python benchmarks/bench_deblur.py --cuhk DATA/cuhk-train --case out_of_focus0202 --kind motion   # one case
    nice -n 10 python benchmarks/bench_deblur.py --timing 3000x2000      # a few-megapixel photo, CPU time

DATA is the training-data folder (benchmarks/common.py's DATA: shared/data beside the repository). The CUHK images
are only read (research-use data; nothing derived from them is written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from common import REPO, deblur_uniform, psnr, ssim

from blurtool.ops.deblur import DeblurConfig, deblur
from blurtool.ops.kernel_estimation import disk_kernel, kernel_similarity, motion_kernel


def random_motion_kernel(size: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random camera-shake trajectory (a few curved segments) drawn into a size x size kernel."""
    n = 6
    ang = rng.uniform(0, 2 * np.pi)
    pts = [(0.0, 0.0)]
    step = (size * 0.7) / n
    for _ in range(n):
        ang += rng.normal(0, 0.6)
        x, y = pts[-1]
        pts.append((x + step * np.cos(ang), y + step * np.sin(ang)))
    pts = np.array(pts)
    pts -= (pts.max(0) + pts.min(0)) / 2
    return motion_kernel(pts, size)


def synthetic_texture(h: int, w: int, seed: int) -> np.ndarray:
    """Colour shapes over fine noise texture: edges in every direction plus non-sparse detail."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 0.5, np.float32)
    for _ in range(h * w // 900):
        c = rng.random(3).tolist()
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(4, 50)), y + int(rng.integers(4, 50))), c, -1)
        else:
            cv2.circle(img, (x, y), int(rng.integers(3, 25)), c, -1)
    img += rng.normal(0, 0.03, img.shape).astype(np.float32)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 0.7), 0, 1)


def cuhk_sharp_crops(root: Path, n: int, size: tuple[int, int]) -> list[tuple[str, np.ndarray]]:
    """Fully sharp (gt == 0) crops of CUHK photos, the most textured first."""
    ch, cw = size
    found = []
    for gt_path in sorted((root / "gt").glob("*.png")):
        gt = cv2.imread(str(gt_path), cv2.IMREAD_GRAYSCALE)
        img_path = root / "images" / (gt_path.stem + ".jpg")
        if gt is None or not img_path.exists() or gt.shape[0] < ch or gt.shape[1] < cw:
            continue
        sharp = (gt < 128).astype(np.uint8)
        # Top-left corners whose whole crop is sharp: erode with the crop's box anchored at the corner.
        ok = cv2.erode(sharp, np.ones((ch, cw), np.uint8), anchor=(0, 0), borderValue=0)
        ys, xs = np.nonzero(ok[: gt.shape[0] - ch + 1, : gt.shape[1] - cw + 1])
        if len(ys) == 0:
            continue
        i = len(ys) // 2
        bgr = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
        crop = cv2.cvtColor(bgr[ys[i] : ys[i] + ch, xs[i] : xs[i] + cw], cv2.COLOR_BGR2RGB).astype(np.float32) / 255
        texture = float(np.abs(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_32F)).mean())
        found.append((texture, gt_path.stem, crop))
    found.sort(key=lambda t: -t[0])
    # Spread the picks over the texture ranking rather than only the busiest crops.
    idx = np.linspace(0, len(found) - 1, min(n, len(found))).round().astype(int) if found else []
    return [(found[i][1], found[i][2]) for i in idx]


def blurred_region(h: int, w: int) -> np.ndarray:
    """An ellipse covering ~45% of the frame, off-centre, touching nothing: a subject/background-like region."""
    region = np.zeros((h, w), np.uint8)
    cv2.ellipse(region, (int(w * 0.42), int(h * 0.5)), (int(w * 0.36), int(h * 0.42)), 15, 0, 360, 1, -1)
    return region.astype(bool)


def make_case(sharp: np.ndarray, kernel: np.ndarray, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = sharp.shape[:2]
    region = blurred_region(h, w)
    blurred = cv2.filter2D(sharp, -1, kernel[::-1, ::-1].astype(np.float32), borderType=cv2.BORDER_REFLECT)
    rng = np.random.default_rng(seed)
    observed = np.where(region[..., None], blurred, sharp) + rng.normal(0, noise, sharp.shape)
    return np.clip(observed, 0, 1).astype(np.float32), region


def run_case(name: str, sharp: np.ndarray, kernel: np.ndarray, kind: str, ksize: int, noise: float, seed: int):
    observed, region = make_case(sharp, kernel, noise, seed)
    cfg = DeblurConfig(kernel_size=ksize, kernel_model="disk" if kind == "defocus" else "free")
    t0 = time.perf_counter()
    ours = deblur(observed, region=region, config=cfg)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    uni = deblur_uniform(observed, config=DeblurConfig(kernel_size=ksize))
    t_uni = time.perf_counter() - t0
    oracle = deblur(observed, region=region, kernel=kernel, config=cfg)
    sharp_part = ours.mask == 0
    row = {"case": name, "kind": kind,
           "ksim_ours": kernel_similarity(ours.kernel, kernel), "ksim_uniform": kernel_similarity(uni.kernel, kernel)}
    for tag, img in (("input", observed), ("ours", ours.image), ("uniform", uni.image), ("oracle", oracle.image)):
        row[f"reg_psnr_{tag}"] = psnr(img, sharp, region)
        row[f"reg_ssim_{tag}"] = ssim(img, sharp, region)
        row[f"all_psnr_{tag}"] = psnr(img, sharp)
        row[f"all_ssim_{tag}"] = ssim(img, sharp)
        row[f"sharp_psnr_{tag}"] = psnr(img, sharp, sharp_part)
    row["sharp_identical"] = bool(np.array_equal(ours.image[sharp_part], observed[sharp_part]))
    # The reliability check's verdict: "ok" = deblurred, "left" = too few edges, region left unchanged.
    row["verdict"] = "ok" if ours.reliable else "left"
    row["edges"] = float(ours.edges)
    row["unchanged"] = bool(np.array_equal(ours.image, observed))
    row["s_ours"], row["s_uniform"] = t_ours, t_uni
    return row


def benchmark_cases(scenes, case: str | None = None, kind: str | None = None):
    """(name, sharp, kind, true kernel, noise seed) per case; ``case`` / ``kind`` keep only the matching ones.

    The random kernels are drawn for every scene before filtering, so a filtered run reproduces exactly the cases of
    the full run (the generator's state depends on the scene's index, not on which cases are kept).
    """
    for i, (name, sharp) in enumerate(scenes):
        rng = np.random.default_rng(100 + i)
        km = random_motion_kernel(int(rng.integers(9, 11)) * 2 + 1, rng)
        kd = disk_kernel(float(rng.uniform(3, 5)))
        if case and case not in name:
            continue
        for kd_name, k in (("motion", km), ("defocus", kd)):
            if kind and kd_name != kind:
                continue
            yield name, sharp, kd_name, k, i


def print_rows(rows):
    hdr = (f"{'case':24s} {'kind':7s} {'check':>10s} {'ksim ours/unif':>15s} | {'region PSNR in/ours/unif/oracle':>32s} | "
           f"{'region SSIM in/ours/unif':>25s} | {'whole PSNR in/ours/unif':>24s} | {'whole SSIM in/ours/unif':>24s} | "
           f"{'sharp PSNR unif':>15s} | {'s ours/unif':>11s}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['case'][:24]:24s} {r['kind']:7s} {r['verdict']:>4s} {r['edges']:5.1f} "
              f"{r['ksim_ours']:7.3f}/{r['ksim_uniform']:.3f} | "
              f"{r['reg_psnr_input']:7.2f}/{r['reg_psnr_ours']:.2f}/{r['reg_psnr_uniform']:.2f}/{r['reg_psnr_oracle']:.2f} | "
              f"{r['reg_ssim_input']:9.3f}/{r['reg_ssim_ours']:.3f}/{r['reg_ssim_uniform']:.3f} | "
              f"{r['all_psnr_input']:8.2f}/{r['all_psnr_ours']:.2f}/{r['all_psnr_uniform']:.2f} | "
              f"{r['all_ssim_input']:8.3f}/{r['all_ssim_ours']:.3f}/{r['all_ssim_uniform']:.3f} | "
              f"{r['sharp_psnr_uniform']:15.2f} | {r['s_ours']:5.1f}/{r['s_uniform']:.1f}"
              + ("" if r["sharp_identical"] else "  SHARP PART CHANGED"))
    if rows:
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if isinstance(rows[0][k], float)}
        print(f"\nmeans over {len(rows)} cases: kernel similarity ours {mean['ksim_ours']:.3f} vs uniform "
              f"{mean['ksim_uniform']:.3f}; region PSNR {mean['reg_psnr_input']:.2f} -> ours {mean['reg_psnr_ours']:.2f}"
              f" (uniform {mean['reg_psnr_uniform']:.2f}, oracle kernel {mean['reg_psnr_oracle']:.2f}); region SSIM "
              f"{mean['reg_ssim_input']:.3f} -> {mean['reg_ssim_ours']:.3f} (uniform {mean['reg_ssim_uniform']:.3f}); "
              f"whole PSNR {mean['all_psnr_input']:.2f} -> {mean['all_psnr_ours']:.2f} (uniform "
              f"{mean['all_psnr_uniform']:.2f}); sharp-part PSNR of uniform {mean['sharp_psnr_uniform']:.2f} "
              f"(ours: identical in {sum(r['sharp_identical'] for r in rows)}/{len(rows)})")
        n = len(rows)
        print(f"check: {sum(r['verdict'] == 'ok' for r in rows)}/{n} deblurred, "
              f"{sum(r['verdict'] == 'left' for r in rows)}/{n} left unchanged "
              f"(bit-identical: {sum(r['unchanged'] for r in rows if r['verdict'] == 'left')}); region worse than "
              f"input in {sum(r['reg_psnr_ours'] < r['reg_psnr_input'] for r in rows)}/{n}; ours >= uniform in region "
              f"PSNR {sum(r['reg_psnr_ours'] >= r['reg_psnr_uniform'] for r in rows)}/{n}, whole PSNR "
              f"{sum(r['all_psnr_ours'] >= r['all_psnr_uniform'] for r in rows)}/{n}")


def timing(spec: str):
    w, h = (int(v) for v in spec.lower().split("x"))
    sharp = synthetic_texture(h, w, 0)
    k = random_motion_kernel(2 * int(0.01 * max(h, w)) + 1, np.random.default_rng(0))
    observed, region = make_case(sharp, k, 0.005, 0)
    t0, c0 = time.perf_counter(), time.process_time()
    res = deblur(observed, region=region)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    # CPU seconds as well as wall seconds: on a shared machine the wall clock measures the other jobs too.
    print(f"{w}x{h} ({w * h / 1e6:.1f} MP), region {region.mean():.0%}, default kernel size {res.kernel.shape[0]}, "
          f"true kernel {k.shape[0]} px: {total:.1f} s wall, {cpu:.1f} s CPU ({', '.join(f'{a} {b:.1f} s' for a, b in res.seconds.items())})"
          f"; check {'ok' if res.reliable else 'left unchanged'} (edges {res.edges:.1f})"
          f"; kernel similarity {kernel_similarity(res.kernel, k):.3f}; region PSNR "
          f"{psnr(observed, sharp, region):.2f} -> {psnr(res.image, sharp, region):.2f}")


def example(out_dir: Path):
    """README example, CUHK-free: examples/mountains.jpg with its rock face shaken by a known kernel.

    Writes deblur_input.jpg / deblur_output.jpg (half size) and deblur_comparison.jpg (1:1 crops: input, ours,
    uniform baseline, ground truth; true and estimated kernels inset), and prints the measurements.
    """
    sharp = cv2.cvtColor(cv2.imread(str(REPO / "examples" / "mountains.jpg")), cv2.COLOR_BGR2RGB)
    sharp = sharp.astype(np.float32) / 255
    h, w = sharp.shape[:2]
    region = np.zeros((h, w), np.uint8)
    # The rock faces above the meadow, below the sky: a polygon in relative coordinates.
    poly = np.array([(0.42, 0.62), (0.40, 0.40), (0.55, 0.18), (0.80, 0.16), (0.99, 0.10), (0.99, 0.62)])
    cv2.fillPoly(region, [(poly * [w, h]).astype(np.int32)], 1)
    region = region.astype(bool)
    kernel = random_motion_kernel(23, np.random.default_rng(7))
    blurred = cv2.filter2D(sharp, -1, kernel[::-1, ::-1].astype(np.float32), borderType=cv2.BORDER_REFLECT)
    observed = np.where(region[..., None], blurred, sharp)
    # Through JPEG (quality 92) like a real photo: the deconvolution must cope with its artefacts.
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor((observed * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 92])
    observed = cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    c0 = time.process_time()
    ours = deblur(observed, blur=region.astype(np.float32))  # default options, as `blurtool deblur --map`
    cpu = time.process_time() - c0
    uni = deblur_uniform(observed)
    print(f"example mountains.jpg {w}x{h}, region {region.mean():.0%}, true kernel {kernel.shape[0]} px, default "
          f"kernel size {ours.kernel.shape[0]}, {cpu:.1f} s CPU")
    print(f"  kernel similarity: ours {kernel_similarity(ours.kernel, kernel):.3f}, uniform "
          f"{kernel_similarity(uni.kernel, kernel):.3f}")
    for tag, img in (("input", observed), ("ours", ours.image), ("uniform", uni.image)):
        print(f"  {tag:8s} region PSNR {psnr(img, sharp, region):.2f} SSIM {ssim(img, sharp, region):.3f} | "
              f"sharp part PSNR {psnr(img, sharp, ~region):.2f} | whole PSNR {psnr(img, sharp):.2f} "
              f"SSIM {ssim(img, sharp):.3f}")
    out_dir.mkdir(parents=True, exist_ok=True)

    def save(name, rgb, q=85):
        cv2.imwrite(str(out_dir / name), cv2.cvtColor((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8),
                                                       cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])

    half = (w // 2, h // 2)
    save("deblur_input.jpg", cv2.resize(observed, half, interpolation=cv2.INTER_AREA))
    save("deblur_output.jpg", cv2.resize(ours.image, half, interpolation=cv2.INTER_AREA))
    # 1:1 crops straddling the region's edge (rock above, meadow below), so both behaviours show.
    cy, cx, ch, cw = int(0.38 * h), int(0.52 * w), 260, 240
    tiles = [im[cy : cy + ch, cx : cx + cw].copy() for im in (observed, ours.image, uni.image, sharp)]

    side = max(kernel.shape[0], ours.kernel.shape[0], uni.kernel.shape[0])

    def inset(tile, k):
        p = (side - k.shape[0]) // 2  # same scale for every inset: pad to a common size first
        k = np.pad(k, p)
        kk = cv2.resize((k / k.max()).astype(np.float32), (64, 64), interpolation=cv2.INTER_NEAREST)
        tile[4:68, 4:68] = kk[..., None]

    inset(tiles[0], kernel)
    inset(tiles[1], ours.kernel)
    inset(tiles[2], uni.kernel)
    inset(tiles[3], kernel)
    gap = np.ones((ch, 4, 3), np.float32)
    save("deblur_comparison.jpg", np.hstack([tiles[0], gap, tiles[1], gap, tiles[2], gap, tiles[3]]), q=90)

    # examples/dogs_shaken.jpg: a real photo shaken as a whole by a known 15 px horizontal line (see CREDITS.md);
    # no sharp original exists, so only the kernel can be checked (region = the whole frame).
    shaken = cv2.cvtColor(cv2.imread(str(REPO / "examples" / "dogs_shaken.jpg")), cv2.COLOR_BGR2RGB)
    shaken = shaken.astype(np.float32) / 255
    line = np.zeros((15, 15))
    line[7, :] = 1 / 15
    res = deblur(shaken, blur=np.ones(shaken.shape[:2], np.float32))
    print(f"dogs_shaken.jpg (whole frame shaken by a 15 px line): kernel similarity "
          f"{kernel_similarity(res.kernel, line):.3f} (kernel size {res.kernel.shape[0]})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cuhk", type=Path, help="CUHK-layout folder (images/, gt/) to take sharp crops from")
    ap.add_argument("--n", type=int, default=4, help="number of CUHK crops (each gives a motion and a disk case)")
    ap.add_argument("--size", default="320x240", help="crop size WxH")
    ap.add_argument("--synthetic", type=int, default=2, help="number of synthetic-texture scenes")
    ap.add_argument("--ksize", type=int, default=25, help="kernel size given to the estimators")
    ap.add_argument("--noise", type=float, default=0.005, help="Gaussian noise sigma added to the composite")
    ap.add_argument("--example", type=Path, help="write the README example images into this folder and stop")
    ap.add_argument("--timing", help="only time one synthetic WxH photo with default options (e.g. 3000x2000)")
    ap.add_argument("--case", help="run only the scene(s) whose name contains this (e.g. out_of_focus0202); the "
                                   "kernels and noise stay those of the full run")
    ap.add_argument("--kind", choices=("motion", "defocus"), help="run only this blur kind")
    args = ap.parse_args()
    if args.example:
        example(args.example)
        return
    if args.timing:
        timing(args.timing)
        return
    w, h = (int(v) for v in args.size.lower().split("x"))
    scenes = [(f"synthetic{i}", synthetic_texture(h, w, i)) for i in range(args.synthetic)]
    if args.cuhk:
        scenes += cuhk_sharp_crops(args.cuhk, args.n, (h, w))
    rows = []
    for name, sharp, kind, k, seed in benchmark_cases(scenes, args.case, args.kind):
        rows.append(run_case(name, sharp, k, kind, args.ksize, args.noise, seed))
        print(f"done {name} {kind}", file=sys.stderr, flush=True)
    print_rows(rows)


if __name__ == "__main__":
    main()
