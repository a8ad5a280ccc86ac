"""The batch machinery shared by every command that takes photos.

A command supplies one function, ``process(job) -> dict``, that handles one photo: it reads ``job.path``, writes each
output to ``job.outputs[tag]`` (with the atomic writers of ``blurtool.io``) and returns a small JSON-able summary.
``run_batch`` does the rest::

    report = run_batch(
        photos, process,
        outputs={"mask": ".mask.png", "cutout": ".cutout.png"},   # tag -> file-name suffix
        out_dir=out, recursive=recursive, overwrite=overwrite, json_output=json_output,
        columns=[("blurred_fraction", "blurred", "{:.0%}")],
    )
    raise typer.Exit(report.exit_code)

What it does: expands files, folders (with --recursive) and globs; names outputs ``<stem><suffix>`` in ``--out DIR``
(created; sub-folders of a --recursive folder are mirrored there) or next to each photo; never writes over an input;
skips a photo whose outputs all exist unless ``--overwrite``; catches ``BlurtoolError`` per photo, goes on, and lists the
failures on stderr at the end (exit code 1 if any); shows a progress bar on stderr (when it is a terminal and there is
more than one photo); prints results on stdout as a rich table, or with ``--json`` one JSON object per photo per line.

Also here: the reusable Typer option types (so every command spells --out, --weights, ... the same way) and
``MapProvider``, the one way to get a photo's blur map, from the network or from a map saved by ``blurtool detect``.

Only typer and rich are imported at module level: numpy, OpenCV and torch are imported when a command runs, so that
``blurtool --help`` stays instant.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from blurtool.errors import BlurtoolError, InputError, OutputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from blurtool.inference import BlurDetector, BlurResult

# --------------------------------------------------------------------------------------------- shared options


class ImageFormat(str, enum.Enum):
    """Output format of commands that write an edited photo: png keeps untouched pixels bit-identical."""

    png = "png"
    jpg = "jpg"


PhotosArg = Annotated[
    list[str],
    typer.Argument(
        help="Photos (JPEG, PNG, TIFF, BMP, WebP), folders (with --recursive) or glob patterns.",
        show_default=False,
    ),
]
OutDirOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--out", "-o", file_okay=False,
        help="Folder for the outputs (created if missing). Default: next to each photo.",
    ),
]
RecursiveOpt = Annotated[
    bool, typer.Option("--recursive", "-r", help="Process the images inside folders, including sub-folders.")
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace existing outputs (default: skip photos whose outputs exist).")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object per photo per line on stdout instead of a table.")
]
WeightsOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--weights", dir_okay=False,
        help="Model file. Default: $BLURTOOL_WEIGHTS, else the model shipped with blurtool.",
    ),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="Where the network runs: auto, cpu, cuda or cuda:N.")]
ThresholdOpt = Annotated[
    Optional[float],
    typer.Option(
        "--threshold", min=0.0, max=1.0,
        help="Blur-map value from which a pixel counts as blurred. Default: the model card's value.",
    ),
]
WorkingSizeOpt = Annotated[
    Optional[int],
    typer.Option(
        "--working-size", min=64, max=8192,
        help="Long side (px) at which the network looks at the photo. Default: the model card's value.",
    ),
]
FastOpt = Annotated[
    bool,
    typer.Option(
        "--fast",
        help="One network pass instead of two (the photo and its mirror, averaged, when the model card asks for it): "
        "half the network time, slightly less accurate maps.",
    ),
]


def flip_average_for(fast: bool) -> bool | None:
    """--fast turns the mirrored second pass off; otherwise the model card decides."""
    return False if fast else None


MapOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--map",
        help="Use a blur map saved by `blurtool detect` instead of running the network: a <stem>.blur.png file "
        "(one photo) or a folder holding <stem>.blur.png files.",
    ),
]

# Name parts that mark blurtool's own outputs (x.blur.png, x.mask.png...). Files named like this are left out when a
# folder or glob is expanded, so that running a command twice on a folder does not process its own outputs.
# Explicitly named files are always taken. Commands add their own tags through `outputs=` of run_batch.
OUTPUT_TAGS = frozenset({
    "blur", "kind", "labels", "overlay", "mask", "cutout", "matte", "alpha", "foreground", "composite", "trimap",
    "magnified", "deblurred", "kernel",
})


def _output_tag(path: Path) -> str:
    """'x.blur.png' -> 'blur'; '' when the name has a single suffix."""
    suffixes = path.suffixes
    return suffixes[-2][1:].lower() if len(suffixes) >= 2 else ""


# ------------------------------------------------------------------------------------------------- the runner


@dataclass
class Job:
    """One photo to process: where it is and where each of its outputs must be written."""

    path: Path
    outputs: dict[str, Path]
    index: int = 0


@dataclass
class PhotoResult:
    photo: str
    status: str  # "ok", "skipped" or "failed"
    outputs: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"photo": self.photo, "status": self.status}
        if self.outputs:
            d["outputs"] = self.outputs
        d.update(self.summary)
        if self.error is not None:
            d["error"] = self.error
        return d


@dataclass
class BatchReport:
    results: list[PhotoResult]

    @property
    def ok(self) -> list[PhotoResult]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def failed(self) -> list[PhotoResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def skipped(self) -> list[PhotoResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def stderr_console():
    from rich.console import Console

    # soft_wrap: an error message stays one line however narrow the terminal.
    return Console(stderr=True, soft_wrap=True, highlight=False)


def stdout_console():
    from rich.console import Console

    return Console(highlight=False)


def print_error(message: str) -> None:
    """One red line on stderr."""
    from rich.markup import escape

    stderr_console().print(f"[bold red]error:[/] {escape(message)}")


def _expand(
    photos: Sequence[str], recursive: bool, out_dir: Path | None, tags: frozenset[str]
) -> tuple[list[tuple[Path, Path | None]], list[PhotoResult]]:
    """-> [(photo, sub-folder relative to the --out dir or None)], [failures of arguments that gave no photo]."""
    from blurtool.io import BadInput, iter_images

    def exclude(p: Path) -> bool:
        return _output_tag(p) in tags

    items: list[tuple[Path, Path | None]] = []
    bad: list[PhotoResult] = []
    seen: set[Path] = set()
    for arg in photos:
        is_folder = Path(arg).is_dir()
        for item in iter_images([arg], recursive, exclude=exclude):
            if isinstance(item, BadInput):
                bad.append(PhotoResult(photo=item.source, status="failed", error=str(item.error())))
                continue
            key = item.resolve()
            if key in seen:
                continue
            seen.add(key)
            sub = None
            if is_folder and out_dir is not None:
                # Mirror the folder tree under --out: DCIM/100/IMG_1.jpg and DCIM/101/IMG_1.jpg must not clash.
                sub = item.parent.relative_to(Path(arg))
            items.append((item, sub))
    return items, bad


def _plan_outputs(
    items: list[tuple[Path, Path | None]], outputs: Mapping[str, str], out_dir: Path | None
) -> list[dict[str, Path] | OutputError]:
    """Output paths per photo: <stem><suffix>; on a name clash (a.jpg and a.png) <name><suffix> (a.jpg.blur.png)."""
    inputs = {p.resolve() for p, _ in items}
    taken: set[Path] = set()
    plans: list[dict[str, Path] | OutputError] = []
    for photo, sub in items:
        folder = photo.parent if out_dir is None else (out_dir / sub if sub is not None else out_dir)
        plan: dict[str, Path] | OutputError | None = None
        for base in (photo.stem, photo.name):
            candidate = {tag: folder / (base + suffix) for tag, suffix in outputs.items()}
            keys = {p.resolve() for p in candidate.values()}
            if keys & inputs:
                clash = next(p for p in candidate.values() if p.resolve() in inputs)
                plan = OutputError(f"{photo}: output {clash} would overwrite an input photo; rename it or use --out")
                continue
            if keys & taken:
                plan = OutputError(f"{photo}: output names clash with another photo's outputs; use separate --out folders")
                continue
            plan = candidate
            taken |= keys
            break
        assert plan is not None
        plans.append(plan)
    return plans


def _fmt(value: Any, spec: str | None) -> str:
    if value is None:
        return "-"
    if spec:
        try:
            return spec.format(value)
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render_table(
    results: Sequence[PhotoResult],
    columns: Sequence[tuple[str, str, str | None]] | None = None,
    title: str | None = None,
) -> None:
    """Print results as a rich table on stdout. columns: (summary key, header, format spec like '{:.0%}' or None)."""
    from rich.table import Table

    if columns is None:
        keys: list[str] = []
        for r in results:
            keys += [k for k in r.summary if k not in keys]
        columns = [(k, k.replace("_", " "), None) for k in keys]
    table = Table(title=title, show_lines=False)
    table.add_column("photo", overflow="fold")
    for _, header, _ in columns:
        table.add_column(header, justify="right")
    table.add_column("status")
    for r in results:
        if r.status == "failed":
            continue  # failures are listed on stderr
        status = "skipped (outputs exist)" if r.status == "skipped" else "ok"
        table.add_row(r.photo, *[_fmt(r.summary.get(k), spec) for k, _, spec in columns], status)
    stdout_console().print(table)


def run_batch(
    photos: Sequence[str],
    process: Callable[[Job], Mapping[str, Any] | None],
    *,
    outputs: Mapping[str, str],
    out_dir: Path | None = None,
    recursive: bool = False,
    overwrite: bool = False,
    json_output: bool = False,
    columns: Sequence[tuple[str, str, str | None]] | None = None,
    title: str | None = None,
    render: bool = True,
    description: str = "Processing",
) -> BatchReport:
    """Run `process` on every photo named by `photos`; see the module docstring.

    outputs: tag -> file-name suffix (e.g. {"blur": ".blur.png"}); may be empty for commands that write nothing per
    photo (a photo is then never skipped). process(job) writes job.outputs[tag] and returns a JSON-able summary dict.
    render=False: print nothing on stdout (the caller renders report.results itself, e.g. sorted); failures are still
    listed on stderr. Raises nothing for a bad photo; returns the report (raise typer.Exit(report.exit_code)).
    A BlurtoolError in `process` marks that photo failed; any other exception is a bug and propagates.
    """
    tags = OUTPUT_TAGS | {_output_tag(Path("x" + s)) for s in outputs.values()}
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise OutputError(f"{out_dir}: --out must be a folder, but this is a file")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{out_dir}: cannot create the output folder ({e.strerror or e})") from None
        if not os.access(out_dir, os.W_OK):
            raise OutputError(f"{out_dir}: output folder is not writable")
    items, results = _expand(photos, recursive, out_dir, tags)
    plans = _plan_outputs(items, outputs, out_dir)

    def emit_json(r: PhotoResult) -> None:
        if json_output:
            sys.stdout.write(json.dumps(r.as_json()) + "\n")
            sys.stdout.flush()

    for r in results:
        emit_json(r)

    progress = None
    task = None
    err_console = stderr_console()
    if len(items) > 1 and err_console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=err_console, transient=True,
        )
        progress.start()
        task = progress.add_task(description, total=len(items))
    try:
        for index, ((photo, sub), plan) in enumerate(zip(items, plans)):
            if isinstance(plan, OutputError):
                r = PhotoResult(photo=str(photo), status="failed", error=str(plan))
            else:
                out_strs = {tag: str(p) for tag, p in plan.items()}
                if plan and not overwrite and all(p.exists() for p in plan.values()):
                    r = PhotoResult(photo=str(photo), status="skipped", outputs=out_strs)
                else:
                    try:
                        for p in {p.parent for p in plan.values()}:
                            if not p.is_dir():
                                try:
                                    p.mkdir(parents=True, exist_ok=True)
                                except OSError as e:
                                    raise OutputError(f"{p}: cannot create folder ({e.strerror or e})") from None
                        summary = process(Job(path=photo, outputs=dict(plan), index=index)) or {}
                        r = PhotoResult(photo=str(photo), status="ok", outputs=out_strs, summary=dict(summary))
                    except BlurtoolError as e:
                        r = PhotoResult(photo=str(photo), status="failed", error=str(e))
            results.append(r)
            emit_json(r)
            if progress is not None:
                progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()

    report = BatchReport(results)
    if render and not json_output and len(report.failed) < len(results):  # no empty table when every photo failed
        render_table(results, columns, title)
    report_failures(report)
    return report


def report_failures(report: BatchReport) -> None:
    failed = report.failed
    if not failed:
        return
    n = len(report.results)
    stderr_console().print(f"[bold red]{len(failed)} of {n} input{'s' if n != 1 else ''} failed:[/]")
    for r in failed:
        print_error(r.error or r.photo)


# ---------------------------------------------------------------------------------------- blur maps for a photo


@dataclass
class BlurMaps:
    """A photo's blur map at full size, its kind map (None when a saved map came without labels) and threshold."""

    blur: np.ndarray
    kind: np.ndarray | None
    threshold: float
    result: BlurResult | None = None  # the full network result when the network was run


class MapProvider:
    """Gives the blur map of a photo: from the network, or from a map saved by `blurtool detect` (--map).

    Build it once per command (a bad weights file then fails once, before any photo), then call it per photo::

        maps = MapProvider(map_path=map_, weights=weights, device=device, threshold=threshold,
                           working_size=working_size)
        m = maps(job.path, image)          # -> BlurMaps(blur, kind, threshold)

    --map FILE: that map is used (it must match the photo's size); it is an error to use one map file for several
    photos. --map FOLDER: <FOLDER>/<stem>.blur.png (or <name>.blur.png) per photo. With a saved map, the kind map is
    read from <stem>.labels.png beside it if present, and the threshold is --threshold, else the model card's.
    """

    def __init__(
        self,
        *,
        map_path: Path | None = None,
        weights: Path | None = None,
        device: str = "auto",
        threshold: float | None = None,
        working_size: int | None = None,
        fast: bool = False,
    ) -> None:
        self.map_path = map_path
        self._first_photo: Path | None = None
        self.detector: BlurDetector | None = None
        if map_path is not None:
            if not map_path.exists():
                raise InputError(f"{map_path}: --map: file or folder not found")
            if threshold is None:
                threshold = _card_threshold(weights)
            self.threshold = float(threshold)
        else:
            from blurtool.inference import BlurDetector

            self.detector = BlurDetector.from_weights(
                weights, device=device, threshold=threshold, working_size=working_size,
                flip_average=flip_average_for(fast),
            )
            self.threshold = float(self.detector.threshold)

    def _map_file(self, photo: Path) -> Path:
        assert self.map_path is not None
        if self.map_path.is_dir():
            for base in (photo.stem, photo.name):
                candidate = self.map_path / f"{base}.blur.png"
                if candidate.is_file():
                    return candidate
            raise InputError(f"{photo}: no saved blur map {self.map_path / (photo.stem + '.blur.png')}")
        if self._first_photo is not None and self._first_photo.resolve() != photo.resolve():
            raise InputError(
                f"{photo}: --map {self.map_path} is the map of one photo ({self._first_photo}); "
                "for several photos give --map a folder of <stem>.blur.png files"
            )
        self._first_photo = photo
        return self.map_path

    def __call__(self, photo: Path, image: np.ndarray) -> BlurMaps:
        if self.detector is not None:
            res = self.detector.predict(image)
            return BlurMaps(blur=res.blur, kind=res.kind, threshold=res.threshold, result=res)
        from blurtool.io import read_labels, read_map

        map_file = self._map_file(photo)
        blur = read_map(map_file, shape=image.shape[:2])
        name = map_file.name
        labels = map_file.with_name(name[: -len(".blur.png")] + ".labels.png") if name.endswith(".blur.png") else None
        kind = read_labels(labels, shape=image.shape[:2]) if labels is not None and labels.is_file() else None
        return BlurMaps(blur=blur, kind=kind, threshold=self.threshold)


def _card_threshold(weights: Path | None) -> float:
    from blurtool.weights import load_weights

    _, card = load_weights(weights)
    return float(card["threshold"])
