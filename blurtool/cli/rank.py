"""`blurtool rank`: rank and sort a photo library by blur, telling wanted bokeh from a bad photo."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Collection
from pathlib import Path
from typing import Annotated

import typer

from blurtool.cli import _culling as cull
from blurtool.cli._batch import DeviceOpt, JsonOpt, RecursiveOpt, ThresholdOpt, WeightsOpt, WorkingSizeOpt
from blurtool.errors import InputError, OutputError
from blurtool.library import SortKey
from blurtool.ops.rank import RankRules

_R = RankRules()
_RULES = "Verdict rules"
_SORT = "Sorting into folders"
_OUT = "Output"


def _rule(name: str, help_: str):
    return Annotated[
        float, typer.Option(f"--{name.replace('_', '-')}", min=0.0, max=1.0, help=help_, rich_help_panel=_RULES)
    ]


NoBlurMaxOpt = _rule("no_blur_max", "no-blur when at most this share of the frame is blurred.")
FrameBlurredMinOpt = _rule("frame_blurred_min", "bad-blur (whole frame) from this blurred share.")
ShakeMotionMinOpt = _rule("shake_motion_min", "bad-blur (camera shake) from this motion-blurred share.")
SubjectMotionMaxOpt = _rule(
    "subject_motion_max", "bad-blur (moving subject) from this motion share of the central third."
)
CentreSharpMinOpt = _rule(
    "centre_sharp_min", "bad-blur (missed focus) when the central third is less sharp than this and no subject."
)
SubjectAreaMinOpt = _rule("subject_area_min", "A subject (largest sharp region) covers at least this.")
SubjectSharpnessMinOpt = _rule(
    "subject_sharpness_min", "...is clearly sharp: 1 - its mean blur map / threshold is at least this."
)
SubjectOffsetMaxOpt = _rule(
    "subject_offset_max", "...has its centroid at most this far from the centre (thirds point 1/3, corner 1)."
)
SubjectCentreMinOpt = _rule("subject_centre_min", "...and covers at least this of the central third...")
SubjectEnclosedMinOpt = _rule(
    "subject_enclosed_min", "...or has at least this share of its outline on blur, not on the frame's edge."
)
OkBlurredMaxOpt = _rule("ok_blurred_max", "ok-blur when at most this share is blurred (centre sharp).")
GoodDefocusShareMinOpt = _rule(
    "good_defocus_share_min", "good-blur needs at least this share of the blur to be defocus."
)
SoftAmountMaxOpt = Annotated[float, typer.Option(
    "--soft-amount-max", min=0.0, max=100.0, rich_help_panel=_RULES,
    help="ok-blur (slightly soft) instead of bad-blur when the blur is mostly defocus and its amount is below this "
    "(blur radius in px at a 1000 px long side; 4 = the top of the 'low' level, details still visible); motion blur "
    "is never slight. Needs weights with an amount.",
)]


def _load_detector(weights, device, threshold, working_size, flip_average=False):
    """The network (a seam for tests, which put a fake detector here)."""
    from blurtool.inference import BlurDetector

    return BlurDetector.from_weights(weights, device=device, threshold=threshold, working_size=working_size,
                                     flip_average=flip_average)


def _set_torch_threads(n: int) -> int | None:
    """Set torch's intra-op threads, returning the previous number (None when torch is not loaded: nothing to do)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    return old


def expand_inputs(inputs, recursive: bool = False, exclude_dirs=(), left_out: list | None = None):
    """Photos named by files, folders and globs -> (paths, [(argument, reason)] for arguments that give nothing).

    The input rule of every command (``blurtool.cli._batch.expand_photos``): a folder's photos at its top level,
    with ``--recursive`` those in its sub-folders too. blurtool's own outputs (``x.blur.png``...) and anything under
    ``exclude_dirs`` (the --move/--copy destination, so that sorted photos are not ranked again) are left out; the
    former are appended to ``left_out`` (to be reported) when it is given.
    """
    from blurtool.cli._batch import expand_photos

    items, bad, skipped = expand_photos(inputs, recursive, exclude_dirs=exclude_dirs)
    if left_out is not None:
        left_out.extend(skipped)
    return [p for p, _ in items], bad


def _progress(console, total: int):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("Ranking"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, transient=True,
    )


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _render_table(records, start_rank: int = 1) -> None:
    from rich.markup import escape
    from rich.table import Table

    from blurtool.cli._batch import stdout_console

    colours = {"bad-blur": "red", "ok-blur": "yellow", "good-blur": "green", "no-blur": "blue"}
    t = Table(title="blur ranking", show_lines=False)
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("photo", overflow="fold", ratio=3)
    t.add_column("verdict", no_wrap=True)
    # Enough to decide at a glance; every score is in --json / --csv.
    amounts = any(r.scores.amount is not None for r in records)
    for name in ("S", "sharp", "motion", *(("amount",) if amounts else ())):
        t.add_column(name, justify="right", no_wrap=True)
    t.add_column("why", ratio=2)
    for i, r in enumerate(records, start_rank):
        s = r.scores
        c = colours[r.verdict.value]
        name = str(r.path) + "".join(f" +{p.suffix}" for p in r.companions)  # IMG_1.JPG +.CR2
        note = cull.burst_note(r)
        amount = (("-" if s.amount is None else f"{s.amount:.1f}"),) if amounts else ()
        t.add_row(str(i), escape(name), f"[{c}]{r.verdict.value}[/]", f"{s.degree:.2f}",
                  _pct(s.sharp_fraction), _pct(s.motion_fraction), *amount, r.reason + (f" · {note}" if note else ""))
    stdout_console().print(t)


def _write_csv(path: Path, records, placed: dict) -> None:
    import csv
    import io

    from blurtool.io import write_text_atomic

    buf = io.StringIO()
    rows = [{"rank": i, **r.to_json(), "sorted_to": str(placed.get(r.path, ""))} for i, r in enumerate(records, 1)]
    for row in rows:
        row["companions"] = ";".join(row["companions"])
    fields = list(rows[0]) if rows else ["rank", "path", "verdict"]
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue(), newline="")


def _write_sheet(path: Path, records, columns: int, thumb: int, err, placed: dict) -> None:
    import numpy as np

    from blurtool.errors import BlurtoolError
    from blurtool.io import read_image
    from blurtool.library.sheet import Tile, relative_href, sheet_capacity, write_sheet

    if path.suffix.lower() not in (".html", ".htm"):
        cap = sheet_capacity(columns, thumb)
        if len(records) > cap:
            err.print(f"[yellow]contact sheet holds {cap} photos; showing the first {cap} (use --top or .html)[/]")
            records = records[:cap]
    tiles = []
    for i, r in enumerate(records, 1):
        where = placed.get(r.path, r.path)
        try:
            img = read_image(where, min_size=thumb)
        except BlurtoolError:
            img = np.full((thumb * 3 // 4, thumb, 3), 0.2, np.float32)  # moved or deleted since: a grey tile
        img8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
        note = cull.burst_note(r)
        tiles.append(Tile(img8, r.mini, f"#{i} S={r.scores.degree:.2f}" + (f" {note}" if note else ""),
                          r.verdict.value, r.path.name, relative_href(where, path)))
    n = write_sheet(path, tiles, columns=columns, thumb=thumb)
    err.print(f"contact sheet: {path} ({n} photos)")


def _do_undo(log: Path, dry_run: bool, err) -> int:
    from rich.markup import escape

    from blurtool.library.sort import undo

    rep = undo(log, dry_run=dry_run)
    verb = "would restore" if dry_run else "restored"
    sidecars = sum(p.suffix.lower() == ".xmp" for p in rep.restored)  # moved/copied with their photos
    err.print(f"{verb} {len(rep.restored) - sidecars} photo(s)"
              + (f" (+{sidecars} XMP sidecar(s))" if sidecars else "")
              + (f", the XMP of {len(rep.restored_xmp)} file(s)" if rep.restored_xmp else "")
              + (f"; {rep.already} already undone" if rep.already else ""))
    for p, why in rep.refused:
        err.print(f"[bold red]not undone:[/] {escape(str(p))}: {escape(why)}")
    return 1 if rep.refused else 0


def register(app: typer.Typer) -> None:
    @app.command("rank")
    def rank(
        photos: Annotated[list[str] | None, typer.Argument(
            help="Photos (JPEG, PNG, TIFF, BMP, WebP, HEIC, AVIF, camera RAW), folders (their photos; with "
            "--recursive also those in sub-folders) or glob patterns. A RAW with a JPEG of the same name beside it "
            "is one photo: scored from the JPEG, sorted together.",
            show_default=False,
        )] = None,
        recursive: RecursiveOpt = False,
        by: Annotated[SortKey, typer.Option(
            "--by", help="Sort by blur degree S (most blurred first), sharp fraction (sharpest first), verdict "
            "(bad-blur, ok-blur, good-blur, no-blur) or blur amount (most strongly blurred first).",
            rich_help_panel=_OUT,
        )] = SortKey.degree,
        reverse: Annotated[bool, typer.Option("--reverse", help="Reverse the order.", rich_help_panel=_OUT)] = False,
        top: Annotated[int | None, typer.Option(
            "--top", min=1, help="Show only the first N (table, --json, --csv, --sheet); sorting into folders "
            "still takes every photo.", rich_help_panel=_OUT,
        )] = None,
        json_output: JsonOpt = False,
        csv_path: Annotated[Path | None, typer.Option(
            "--csv", dir_okay=False, help="Also write every score to this CSV file.", rich_help_panel=_OUT,
        )] = None,
        sheet: Annotated[Path | None, typer.Option(
            "--sheet", dir_okay=False, help="Write a contact sheet in rank order: .jpg/.png image or .html page.",
            rich_help_panel=_OUT,
        )] = None,
        sheet_columns: Annotated[int, typer.Option(
            "--sheet-columns", min=1, max=40, help="Thumbnails per row of the sheet.", rich_help_panel=_OUT,
        )] = 6,
        sheet_thumb: Annotated[int, typer.Option(
            "--sheet-thumb", min=32, max=1024, help="Thumbnail size (px) on the sheet.", rich_help_panel=_OUT,
        )] = 200,
        move: Annotated[Path | None, typer.Option(
            "--move", file_okay=False, help="Move photos into DIR/<verdict>/ (or DIR/blurred, DIR/sharp with "
            "--degree-threshold). Never overwrites: a clash gets a -1, -2... suffix.", rich_help_panel=_SORT,
        )] = None,
        copy: Annotated[Path | None, typer.Option(
            "--copy", file_okay=False, help="Like --move but copies.", rich_help_panel=_SORT,
        )] = None,
        degree_threshold: Annotated[float | None, typer.Option(
            "--degree-threshold", min=0.0, max=1.0, help="Sort into blurred/ (S >= this) and sharp/ instead of "
            "by verdict.", rich_help_panel=_SORT,
        )] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Show what --move/--copy/--xmp/--undo would do; change nothing.",
            rich_help_panel=_SORT,
        )] = False,
        log: Annotated[Path | None, typer.Option(
            "--log", dir_okay=False, help="JSON-lines log of every move/copy and XMP write, for --undo (default: "
            "DIR/blurtool-rank-<time>.jsonl; with --xmp alone, in the current folder).", rich_help_panel=_SORT,
        )] = None,
        undo_log: Annotated[Path | None, typer.Option(
            "--undo", dir_okay=False, help="Undo the moves/copies and XMP writes of this log (no photos needed); "
            "never overwrites a file that reappeared at the origin or was changed since.", rich_help_panel=_SORT,
        )] = None,
        cache: Annotated[Path | None, typer.Option(
            "--cache", dir_okay=False, help="SQLite score cache: re-runs only score new or changed photos.",
        )] = None,
        weights: WeightsOpt = None,
        device: DeviceOpt = "auto",
        threshold: ThresholdOpt = None,
        working_size: WorkingSizeOpt = None,
        flip_average: Annotated[bool, typer.Option(
            "--flip-average",
            help="Also run each photo's mirror image and average the maps (twice the network time). Off by default "
            "in rank: a library wants speed, and the whole-photo scores barely change.",
        )] = False,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=256,
                                                help="Photos per network batch (GPU).")] = 4,
        workers: Annotated[int | None, typer.Option(
            "--workers", min=1, max=256, help="On CPU: photos processed at once, each on one core (default: the "
            "number of cores, at most 8). On GPU: threads decoding photos ahead of the network batches.",
        )] = None,
        no_blur_max: NoBlurMaxOpt = _R.no_blur_max,
        frame_blurred_min: FrameBlurredMinOpt = _R.frame_blurred_min,
        shake_motion_min: ShakeMotionMinOpt = _R.shake_motion_min,
        subject_motion_max: SubjectMotionMaxOpt = _R.subject_motion_max,
        centre_sharp_min: CentreSharpMinOpt = _R.centre_sharp_min,
        subject_area_min: SubjectAreaMinOpt = _R.subject_area_min,
        subject_sharpness_min: SubjectSharpnessMinOpt = _R.subject_sharpness_min,
        subject_offset_max: SubjectOffsetMaxOpt = _R.subject_offset_max,
        subject_centre_min: SubjectCentreMinOpt = _R.subject_centre_min,
        subject_enclosed_min: SubjectEnclosedMinOpt = _R.subject_enclosed_min,
        ok_blurred_max: OkBlurredMaxOpt = _R.ok_blurred_max,
        good_defocus_share_min: GoodDefocusShareMinOpt = _R.good_defocus_share_min,
        soft_amount_max: SoftAmountMaxOpt = _R.soft_amount_max,
        xmp: cull.XmpOpt = False,
        xmp_naming: cull.XmpNamingOpt = cull.SidecarNaming.ext,
        xmp_embed: cull.XmpEmbedOpt = False,
        xmp_rating: cull.XmpRatingOpt = None,
        xmp_label: cull.XmpLabelOpt = None,
        xmp_pick: cull.XmpPickOpt = None,
        overwrite_ratings: cull.OverwriteRatingsOpt = False,
        bursts: cull.BurstsOpt = False,
        burst_gap: cull.BurstGapOpt = cull.BURST_GAP,
        burst_distance: cull.BurstDistanceOpt = cull.BURST_DISTANCE,
        alternates_only: cull.AlternatesOnlyOpt = False,
    ) -> None:
        """Rank photos by blur and tell wanted bokeh (good-blur) from a bad photo (bad-blur).

        Scores per photo: blur degree S (mean blur map, Ma et al. 2018), sharp / defocus / motion shares and the
        sharp subject; verdict in the four levels of Zhang et al. 2018: [red]bad-blur[/], [yellow]ok-blur[/],
        [green]good-blur[/], [blue]no-blur[/].

        Examples: [cyan]blurtool rank ~/Pictures -r --top 20[/];
        [cyan]blurtool rank DCIM/ -r --move sorted/ --dry-run[/]; [cyan]blurtool rank --undo sorted/blurtool-rank-*.jsonl[/];
        [cyan]blurtool rank DCIM/ -r --cache ~/.blurtool-rank.sqlite --sheet sheet.html[/];
        [cyan]blurtool rank DCIM/ --xmp --bursts[/].
        """
        from blurtool.cli._batch import print_error, report_left_out, stderr_console

        err = stderr_console()
        if undo_log is not None:
            if photos or move or copy:
                raise InputError("--undo takes only the log file (and --dry-run), no photos or --move/--copy")
            raise typer.Exit(_do_undo(undo_log, dry_run, err))
        if not photos:
            raise InputError("no photos given (a folder, files or glob patterns), or --undo LOG")
        if move is not None and copy is not None:
            raise InputError("--move and --copy exclude each other")
        dest = move if move is not None else copy
        if dest is not None and dest.exists() and not dest.is_dir():
            raise OutputError(f"{dest}: --move/--copy needs a folder, but this is a file")
        if degree_threshold is not None and dest is None:
            raise InputError("--degree-threshold sorts into folders: use it with --move or --copy")
        if sheet is not None and sheet.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp", ".html", ".htm"):
            raise OutputError(f"{sheet}: contact sheet must be .jpg, .png, .webp or .html")
        rules = RankRules(
            no_blur_max=no_blur_max, frame_blurred_min=frame_blurred_min, shake_motion_min=shake_motion_min,
            subject_motion_max=subject_motion_max, centre_sharp_min=centre_sharp_min,
            subject_area_min=subject_area_min, subject_sharpness_min=subject_sharpness_min,
            subject_offset_max=subject_offset_max, subject_centre_min=subject_centre_min,
            subject_enclosed_min=subject_enclosed_min, ok_blurred_max=ok_blurred_max,
            good_defocus_share_min=good_defocus_share_min, soft_amount_max=soft_amount_max,
        )
        mapping = cull.check_options(
            xmp=xmp, embed=xmp_embed, overwrite=overwrite_ratings, rating=xmp_rating, label=xmp_label,
            pick=xmp_pick, bursts=bursts, alternates_only=alternates_only, sorting=dest is not None,
            naming_given=xmp_naming is not cull.SidecarNaming.ext,
        )
        if log is None and (dest is not None or xmp):
            log = cull.default_log(dest)  # one log for the XMP and the moves: one --undo takes both back

        # Everything that would be written is checked before the (long) scoring, so that no work is lost at the end.
        from blurtool.io import check_can_write_in

        if dest is not None:
            check_can_write_in(dest, "--move" if move is not None else "--copy")
        for path, flag in ((log, "--log"), (csv_path, "--csv"), (sheet, "--sheet")):
            if path is not None:
                if path.is_dir():
                    raise OutputError(f"{path}: {flag} must be a file, but this is a folder")
                check_can_write_in(path.parent, flag)

        left_out: list[Path] = []
        paths, bad = expand_inputs(photos, recursive, exclude_dirs=[dest] if dest is not None else [],
                                   left_out=left_out)
        if not paths and bad:
            raise InputError("; ".join(f"{a}: {why}" for a, why in bad))
        report_left_out(left_out, paths, err)
        for a, why in bad:
            print_error(f"{a}: {why}", err)

        from blurtool.library import Failure, iter_rank, model_key, pair_shots, sort_records

        paths, shots = pair_shots(paths)  # a RAW+JPEG pair is one photo, scored from the JPEG
        from blurtool.library.cache import ScoreCache

        detector = _load_detector(weights, device, threshold, working_size, flip_average)
        thr = float(getattr(detector, "threshold", 0.5) if threshold is None else threshold)
        records, failures = [], [f"{a}: {why}" for a, why in bad]
        store = ScoreCache(cache, model_key(detector, thr)) if cache is not None else None
        progress = _progress(err, len(paths)) if err.is_terminal and len(paths) > 1 else None
        # On CPU, one photo per core with torch on one thread each (see blurtool.library.iter_rank); restored after,
        # for callers that run the command in-process.
        cpu = getattr(getattr(detector, "device", None), "type", "cpu") == "cpu"
        # Default: one per core, at most 8 (each photo in flight holds ~80 MB of decoded image and activations).
        n_workers = workers or min(os.cpu_count() or 1, 8)
        torch_threads = _set_torch_threads(1) if cpu else None
        t0 = time.perf_counter()
        try:
            if progress is not None:
                progress.start()
                task = progress.add_task("rank", total=len(paths), rate="")
            ranked = iter_rank(paths, detector, rules=rules, threshold=thr, cache=store,
                               photo_workers=n_workers if cpu else 0, batch_size=batch_size,
                               decode_workers=n_workers, companions=shots, fingerprint=bursts)
            for n, item in enumerate(ranked, 1):
                if isinstance(item, Failure):
                    failures.append(item.error)
                    print_error(item.error, progress.console if progress is not None else err)
                else:
                    records.append(item)
                if progress is not None:
                    rate = n / max(time.perf_counter() - t0, 1e-9)
                    progress.update(task, advance=1, rate=f"{rate:.1f} photos/s")
        except KeyboardInterrupt:
            if progress is not None:
                progress.stop()
            err.print(f"[bold red]interrupted[/] after {len(records)} of {len(paths)} photos; nothing was moved"
                      + (" (scores so far are in the cache)" if store is not None else ""))
            raise typer.Exit(130) from None
        finally:
            if progress is not None:
                progress.stop()
            if store is not None:
                store.close()
            if torch_threads is not None:
                _set_torch_threads(torch_threads)
        elapsed = time.perf_counter() - t0
        hits = f", {store.hits} from the cache" if store is not None and store.hits else ""
        err.print(f"ranked {len(records)} photo(s) in {elapsed:.1f} s ({len(records) / max(elapsed, 1e-9):.1f}/s{hits})")

        if bursts and records:
            cull.mark_bursts_step(records, burst_gap, burst_distance, err)
        ordered = sort_records(records, by.value, reverse)
        shown = ordered[:top] if top is not None else ordered
        interrupted = False
        new_sidecars: set[Path] = set()  # on a dry run, those --xmp would create: a dry-run sort plans them too
        # XMP first, beside the photos where they are: sorting then takes each sidecar along with its photo.
        if xmp and records:
            xmp_failures, interrupted = cull.xmp_step(
                ordered, mapping=mapping, naming=xmp_naming, embed=xmp_embed, overwrite=overwrite_ratings,
                dry_run=dry_run, log=log, detector=detector, err=err, say_log=dest is None,
                would_create=new_sidecars)
            failures += xmp_failures
        # Sorting into folders comes before the outputs, so that they can say where each photo went (and the
        # contact sheet links to, and reads thumbnails from, the photos' new places).
        placed: dict = {}
        to_sort = [r for r in ordered if cull.is_alternate(r)] if alternates_only else ordered
        if dest is not None and to_sort and not interrupted:
            sort_failures, placed, interrupted = _sort_into(dest, "move" if move is not None else "copy", to_sort,
                                                            degree_threshold, dry_run, log, err, new_sidecars)
            failures += sort_failures
        if json_output:
            import json

            for i, r in enumerate(shown, 1):
                row = {"rank": i, **r.to_json()}
                if r.path in placed:
                    row["sorted_to"] = str(placed[r.path])
                    if r.companions:
                        row["companions_sorted_to"] = [str(placed.get(p, "")) for p in r.companions]
                sys.stdout.write(json.dumps(row) + "\n")
            sys.stdout.flush()
        else:
            _render_table(shown)
        if csv_path is not None:
            _write_csv(csv_path, shown, placed)
        if sheet is not None and shown:
            _write_sheet(sheet, shown, sheet_columns, sheet_thumb, err, placed)

        if failures:
            err.print(f"[bold red]{len(failures)} input(s) failed:[/]")
            for f in failures:
                print_error(f)
            raise typer.Exit(130 if interrupted else 1)


def _sort_into(dest: Path, mode: str, records, degree_threshold, dry_run: bool, log: Path | None, err,
               pending: Collection[Path] = ()):
    """Move/copy every record into dest/<group>/; -> (failure messages, {record path: new path}, interrupted).
    ``pending``: sidecars not written yet (a dry run's) that the plan takes along as if they were there."""
    from collections import Counter

    from rich.markup import escape

    from blurtool.cli._batch import print_error
    from blurtool.library import sort_groups
    from blurtool.library.sort import execute_sort, plan_sort

    plan = plan_sort(sort_groups(records, degree_threshold, shots=True), dest, pending)
    # plan_sort works on absolute paths; records keep the paths as given.
    given = {f.absolute(): f for r in records for f in r.files}
    riders = {f.absolute() for r in records for f in r.companions}

    def count(transfers) -> str:
        """'3 photo(s)', and the RAW files that went with their JPEGs, and the XMP sidecars with their photos."""
        k = sum(t.src in riders for t in transfers)
        x = sum(t.src not in given for t in transfers)  # plan_sort adds each photo's sidecars
        return (f"{len(transfers) - k - x} photo(s)" + (f" (+{k} RAW file(s) of RAW+JPEG pairs)" if k else "")
                + (f" (+{x} XMP sidecar(s))" if x else ""))

    if log is None:
        log = dest / f"blurtool-rank-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    verb = {"move": "moved", "copy": "copied"}[mode]
    if dry_run:
        for t in plan:
            err.print(f"would {mode} {escape(str(t.src))} -> {escape(str(t.dst))}")
        err.print(f"dry run: {count(plan)} would be {verb}; nothing changed")
        return [], {}, False
    if log.exists() and not log.is_file():
        raise OutputError(f"{log}: --log must be a file")

    def failure(src, why) -> str:
        return f"{src}: cannot {mode} ({why})"

    rep = execute_sort(plan, mode, log, on_failed=lambda src, why: print_error(failure(src, why), err))
    counts = Counter(t.group for t in rep.done if t.src not in riders and t.src in given)
    err.print(f"{verb} {count(rep.done)} into {dest}: "
              + ", ".join(f"{g} {n}" for g, n in sorted(counts.items())))
    err.print(f"log: {log}  (undo with: blurtool rank --undo {log})")
    if rep.interrupted:
        err.print(f"[bold red]interrupted[/]: {len(plan) - len(rep.done) - len(rep.failed)} photo(s) not {verb}; "
                  "the log covers everything that was done")
    fails = [failure(src, why) for src, why in rep.failed]
    if rep.interrupted:
        fails.append(f"interrupted by Ctrl-C before all photos were {verb}")
    return fails, {given.get(t.src, t.src): t.dst for t in rep.done}, rep.interrupted
