"""What `blurtool rank --xmp` and `--bursts` add to a rank run, on 12 MP JPEGs.

    nice -n 10 python benchmarks/bench_xmp.py --n 24 [--weights weights/blurnet.pt]

The photos are bench_rank.py's (4000 x 3000 JPEGs made once in /tmp). One process, same photos:

  * rank    - what `blurtool rank` does on CPU (blurtool.library.rank_photos, one photo per core, torch on 1 thread);
  * xmp new - plan + write a new sidecar per photo (ExifTool started, current XMP read in one command, one
              ExifTool command and two journal lines per photo), as `rank --xmp` does on a first run;
  * xmp merge - the same into an existing darktable-style sidecar per photo (history, keywords: a merge);
  * xmp again - a second run with the same verdicts (everything already up to date: the read only);
  * xmp embed - XMP written into each JPEG itself (ExifTool rewrites the 12 MP file), --xmp-embed;
  * bursts  - capture times (EXIF via Pillow) + grouping; the perceptual hash is computed on the decoded photo
              while ranking (timed separately: its cost per photo).

Each line gives wall time per photo and as a share of the rank run's wall time; CPU seconds (this process and
ExifTool) are printed too, since wall times move with anything else running on the machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from bench_rank import load_detector, make_photos


def cpu_all() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def xmp_run(records, det, log: Path, **kw):
    from blurtool import __version__
    from blurtool.library import weights_sha256
    from blurtool.library.exiftool import ExifTool
    from blurtool.library.sort import _Log
    from blurtool.library.xmp import plan_xmp, write_xmp

    t, c = time.perf_counter(), cpu_all()
    with ExifTool() as et:  # started per run, as the CLI does
        plan = plan_xmp(records, et, model_sha256=weights_sha256(det), version=__version__, **kw)
        journal = _Log(log)
        try:
            rep = write_xmp(plan, et, journal, backup_dir=log.with_name(log.stem + ".originals"))
        finally:
            journal.close()
    assert not rep.failed and not plan.failed, (rep.failed, plan.failed)
    return time.perf_counter() - t, cpu_all() - c, len(rep.done)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--folder", type=Path, default=Path("/tmp/blurtool-bench-12mp"))
    ap.add_argument("--weights", default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()

    import torch
    from test_xmp import DARKTABLE_SIDECAR

    from blurtool.io import read_image
    from blurtool.library import rank_photos
    from blurtool.library.bursts import capture_times, mark_bursts, phash

    src = make_photos(args.folder, args.n)
    work = Path(tempfile.mkdtemp(prefix="blurtool-bench-xmp-"))
    try:
        paths = []
        for p in src:  # a copy per run: the sidecars and embedded XMP must not touch bench_rank's photos
            q = work / p.name
            shutil.copy2(p, q)
            paths.append(q)
        det, kind = load_detector(args.weights, None)
        torch.set_num_threads(1)
        n = len(paths)
        print(f"{n} JPEGs of ~12 MP, {kind} network, {os.cpu_count()} cores, {args.workers} photo workers")
        rank_photos(paths[:2], det, photo_workers=args.workers)  # warm-up
        t, c = time.perf_counter(), cpu_all()
        records = rank_photos(paths, det, photo_workers=args.workers, fingerprint=True).records
        t_rank, c_rank = time.perf_counter() - t, cpu_all() - c
        print(f"rank       : {1000 * t_rank / n:7.1f} ms/photo wall ({n / t_rank:.2f} photos/s), "
              f"{c_rank / n:.3f} CPU-s/photo")

        def line(name, dt, dc, done):
            print(f"{name:11s}: {1000 * dt / n:7.1f} ms/photo wall = {100 * dt / t_rank:5.1f} % of the rank run, "
                  f"{1000 * dc / n:6.1f} CPU-ms/photo ({done} file(s) written)", flush=True)

        from blurtool.library.exiftool import ExifTool

        t = time.perf_counter()
        with ExifTool() as et:
            et.execute(["-ver"])
        print(f"ExifTool   : {1000 * (time.perf_counter() - t):7.1f} ms to start and stop (once per run; in every "
              "xmp line below)")
        line("xmp new", *xmp_run(records, det, work / "new.jsonl"))
        line("xmp again", *xmp_run(records, det, work / "again.jsonl"))
        for p in paths:
            p.with_name(p.name + ".xmp").write_text(DARKTABLE_SIDECAR)
        line("xmp merge", *xmp_run(records, det, work / "merge.jsonl"))
        line("xmp embed", *xmp_run(records, det, work / "embed.jsonl", embed=True))

        img = read_image(paths[0], min_size=det.working_size)
        t = time.perf_counter()
        for _ in range(200):
            phash(img)
        print(f"phash      : {1000 * (time.perf_counter() - t) / 200:7.2f} ms/photo (on the decoded working-size photo)")
        t, c = time.perf_counter(), cpu_all()
        times = capture_times(paths)
        mark_bursts(records, times, {r.path: r.phash for r in records})
        line("bursts", time.perf_counter() - t, cpu_all() - c, 0)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (other programs on the same cores slow every figure)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
