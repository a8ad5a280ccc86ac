"""`blurtool rank`'s culling options: XMP for photo managers (--xmp ...) and bursts (--bursts ...).

The option types live here with the two steps they drive, so that `blurtool.cli.rank` only adds them to its
signature and calls :func:`mark_bursts_step` after scoring and :func:`xmp_step` before sorting into folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from blurtool.cli._batch import options_named
from blurtool.errors import InputError
from blurtool.library.bursts import BurstRules
from blurtool.library.xmp import SidecarNaming

# blurtool.library.xmp's parameters, as `blurtool rank` calls them.
XMP_OPTIONS = {"rating": "--xmp-rating", "label": "--xmp-label", "pick": "--xmp-pick", "naming": "--xmp-naming"}
XMP_NEEDS_EXIFTOOL = "--xmp needs ExifTool: apt install libimage-exiftool-perl"

_XMP = "Photo managers (XMP)"
_BURSTS = "Bursts"
_B = BurstRules()

XmpOpt = Annotated[bool, typer.Option(
    "--xmp", help="Write each photo's verdict where photo managers read it: xmp:Rating, xmp:Label, "
    "digiKam:PickLabel and blurtool's own XMP namespace, in a sidecar merged into any existing one (needs "
    "ExifTool). Undone by --undo LOG; --dry-run shows the changes.", rich_help_panel=_XMP,
)]
XmpNamingOpt = Annotated[SidecarNaming, typer.Option(
    "--xmp-naming", help="Sidecar name: ext = photo.jpg.xmp (darktable, digiKam; never shared by two photos), "
    "stem = photo.xmp (Lightroom, Capture One).", rich_help_panel=_XMP,
)]
XmpEmbedOpt = Annotated[bool, typer.Option(
    "--xmp-embed", help="Write the XMP into JPEG, TIFF and DNG files themselves (every other tag kept; the original "
    "is kept for --undo) instead of a sidecar; a sidecar already beside such a photo is merged too; other formats "
    "still get a sidecar.", rich_help_panel=_XMP,
)]
XmpRatingOpt = Annotated[list[str] | None, typer.Option(
    "--xmp-rating", metavar="KEY=N", help="Stars for a verdict (bad-blur, ok-blur, good-blur, no-blur) or burst "
    "role (pick, alternate): -1 (rejected) to 5, or none to leave alone. Repeatable. Default bad-blur=1 ok-blur=3.",
    rich_help_panel=_XMP, show_default=False,
)]
XmpLabelOpt = Annotated[list[str] | None, typer.Option(
    "--xmp-label", metavar="KEY=LABEL", help="Colour label (Red, Yellow, Green, Blue, Purple) for a verdict or "
    "burst role, or none. Repeatable. Default bad-blur=Red alternate=Yellow.", rich_help_panel=_XMP,
    show_default=False,
)]
XmpPickOpt = Annotated[list[str] | None, typer.Option(
    "--xmp-pick", metavar="KEY=PICK", help="digiKam pick label (rejected, pending, accepted, or none) for a verdict "
    "or burst role. Repeatable. Default bad-blur=rejected pick=accepted.", rich_help_panel=_XMP, show_default=False,
)]
OverwriteRatingsOpt = Annotated[bool, typer.Option(
    "--overwrite-ratings", help="Also replace ratings, labels and pick labels set by hand (default: kept; blurtool "
    "only changes the values it wrote itself).", rich_help_panel=_XMP,
)]
BurstsOpt = Annotated[bool, typer.Option(
    "--bursts", help="Find bursts (frames shot within --burst-gap of each other that look alike, by EXIF capture "
    "time and a perceptual hash); the sharpest frame is the pick, the others alternates (JSON, CSV, sheet, XMP; "
    "--move/--copy put alternates into DIR/alternates/). Photos without EXIF time are never in a burst.",
    rich_help_panel=_BURSTS,
)]
BurstGapOpt = Annotated[float, typer.Option(
    "--burst-gap", min=0.001, max=3600.0, help="Seconds between two frames of a burst, at most.",
    rich_help_panel=_BURSTS,
)]
BurstDistanceOpt = Annotated[int, typer.Option(
    "--burst-distance", min=0, max=64, help="Perceptual-hash bits (of 64) two frames may differ by and still look "
    "alike (blur changes ~0-4, a small pan ~5-10, another scene ~20-40).", rich_help_panel=_BURSTS,
)]
AlternatesOnlyOpt = Annotated[bool, typer.Option(
    "--alternates-only", help="With --bursts and --move/--copy: set aside only the alternates (into "
    "DIR/alternates/), leaving every other photo where it is.", rich_help_panel=_BURSTS,
)]

BURST_GAP = _B.gap
BURST_DISTANCE = _B.max_distance


def check_options(*, xmp: bool, embed: bool, overwrite: bool, rating, label, pick, bursts: bool,
                  alternates_only: bool, sorting: bool, naming_given: bool = False):
    """Refuse impossible combinations before any work; -> the XMP mapping (None without --xmp)."""
    from blurtool.library.xmp import XmpMapping

    if not xmp:
        extra = [name for name, on in (("--xmp-embed", embed), ("--overwrite-ratings", overwrite),
                                       ("--xmp-rating", rating), ("--xmp-label", label), ("--xmp-pick", pick),
                                       ("--xmp-naming", naming_given)) if on]
        if extra:
            raise InputError(f"{extra[0]} changes what --xmp writes: add --xmp")
    if alternates_only and not (bursts and sorting):
        raise InputError("--alternates-only sets burst alternates aside: use it with --bursts and --move or --copy")
    if not xmp:
        return None
    from blurtool.library.exiftool import find_exiftool

    find_exiftool(XMP_NEEDS_EXIFTOOL)  # now, not after an hour of scoring
    try:
        return XmpMapping.from_options(rating or (), label or (), pick or ())
    except InputError as e:
        raise InputError(options_named(str(e), XMP_OPTIONS)) from None


def mark_bursts_step(records, gap: float, distance: int, err) -> int:
    """Burst roles on the records (``record.burst``); says how many bursts there are."""
    from blurtool.errors import BlurtoolError
    from blurtool.library.bursts import capture_times, hash_photo, mark_bursts

    times = capture_times([r.path for r in records])
    rest = [p for p, t in times.items() if t is None]
    if rest:
        # Files Pillow cannot read the EXIF of (RAW) get their times from ExifTool when it is installed.
        try:
            from blurtool.library.exiftool import ExifTool

            with ExifTool() as et:
                times.update(capture_times(rest, et))
        except BlurtoolError:
            pass  # no ExifTool: those photos have no capture time
    hashes = {}
    for r in records:
        h = r.phash
        if h is None and times.get(r.path) is not None:
            h = hash_photo(r.path)  # a cache row from before hashes were kept
        hashes[r.path] = h
    n = mark_bursts(records, times, hashes, BurstRules(gap=gap, max_distance=distance))
    alts = sum(1 for r in records if r.burst["burst_role"] == "alternate")
    untimed = sum(1 for r in records if times.get(r.path) is None)
    err.print(f"bursts: {n} ({alts} alternate frame(s))"
              + (f"; {untimed} photo(s) without an EXIF capture time, never in a burst" if untimed else ""))
    return n


def default_log(dest: Path | None) -> Path:
    import time

    return (dest if dest is not None else Path.cwd()) / f"blurtool-rank-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"


def xmp_step(records, *, mapping, naming, embed: bool, overwrite: bool, dry_run: bool, log: Path, detector,
             err, say_log: bool = True, would_create: set | None = None) -> tuple[list[str], bool]:
    """Plan and (unless dry_run) write the XMP of every record; -> (failure messages, interrupted). ``say_log``:
    print the undo command (sorting into folders prints it otherwise, for the same log). ``would_create``: filled,
    on a dry run, with the absolute paths of the sidecars it would create (which a sort would then take along)."""
    from rich.markup import escape

    from blurtool import __version__
    from blurtool.cli._batch import print_error
    from blurtool.library import weights_sha256
    from blurtool.library.exiftool import ExifTool
    from blurtool.library.sort import _Log
    from blurtool.library.xmp import XmpReport, plan_xmp, write_xmp

    failures: list[str] = []
    with ExifTool(needed_for=XMP_NEEDS_EXIFTOOL) as et:
        plan = plan_xmp(records, et, model_sha256=weights_sha256(detector), version=__version__, mapping=mapping,
                        naming=naming, embed=embed, overwrite_ratings=overwrite)
        for p, why in plan.failed:
            failures.append(f"{p}: XMP not written ({options_named(why, XMP_OPTIONS)})")
            print_error(failures[-1], err)
        if dry_run:
            for ch in plan.changes:
                err.print(f"would {escape(ch.describe())}")
                if would_create is not None and not ch.exists and not ch.embedded:
                    would_create.add(Path(ch.path).absolute())
            err.print(f"dry run: {len(plan.changes)} XMP file(s) would be written, {len(plan.unchanged)} already "
                      "up to date; nothing changed")
            return failures, False
        if plan.changes:
            log_ = _Log(log)
            try:
                rep = write_xmp(plan, et, log_, backup_dir=log.with_name(log.stem + ".originals"),
                                on_failed=lambda p, why: print_error(f"{p}: XMP not written ({why})", err))
            finally:
                log_.close()
        else:
            rep = XmpReport()  # nothing to write: no log either (a run that changes nothing leaves no file)
    failures += [f"{p}: XMP not written ({why})" for p, why in rep.failed]
    created = sum(1 for c in rep.done if not c.exists)
    kept = sum(1 for c in rep.done if c.kept)
    err.print(f"XMP: {len(rep.done)} written ({created} new sidecar(s)), {len(plan.unchanged)} already up to date"
              + (f"; hand-set values kept in {kept}" if kept else ""))
    if say_log and rep.done:
        err.print(f"log: {log}  (undo with: blurtool rank --undo {log})")
    if rep.interrupted:
        failures.append("interrupted by Ctrl-C before every XMP file was written")
    return failures, rep.interrupted


def burst_note(record) -> str:
    """' · burst 2 pick' for the table and the sheet; '' outside bursts."""
    b = getattr(record, "burst", None) or {}
    if b.get("burst") is None:
        return ""
    return f"burst {b['burst']} {'pick' if b['burst_role'] == 'pick' else 'alt'}"


def is_alternate(record) -> bool:
    return (getattr(record, "burst", None) or {}).get("burst_role") == "alternate"
