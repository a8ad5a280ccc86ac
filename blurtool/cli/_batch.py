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

What it does: expands files, folders (their top level; with --recursive their sub-folders too) and globs, with
``expand_photos``, the input rule of every command (``rank`` too); names outputs ``<stem><suffix>`` in ``--out DIR``
(created; sub-folders of a --recursive folder are mirrored there) or next to each photo; never writes over an input;
reports the files a folder or glob left out because they are named like outputs; skips a photo whose outputs all
exist and, unless ``--overwrite``, refuses one where only some exist (a file blurtool did not write is never
replaced); catches ``BlurtoolError`` per photo, names the photo, goes on, prints each failure as it happens and lists
them all on stderr at the end (exit code 1 if any); on Ctrl-C removes the unfinished photo's outputs, says what was
kept and exits 130; shows a progress bar on stderr (when it is a terminal and there is more than one photo); prints
results on stdout as a rich table, or with ``--json`` one JSON object per photo per line.

Also here: the reusable Typer option types (so every command spells --out, --weights, ... the same way);
``shared_options``, which gives a photo command all of them at once as one ``SharedOptions`` argument; and
``MapProvider``, the one way to get a photo's blur map, from the network or from a map saved by ``blurtool detect``.

Only typer and rich are imported at module level: numpy, OpenCV and torch are imported when a command runs, so that
``blurtool --help`` stays instant.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from blurtool.errors import BlurtoolError, InputError, OutputError, naming

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from blurtool.inference import BlurDetector, BlurResult

# --------------------------------------------------------------------------------------------- shared options


class ImageFormat(str, enum.Enum):
    """Output format of commands that write an edited photo: png keeps untouched pixels bit-identical."""

    png = "png"
    jpg = "jpg"


FormatOpt = Annotated[
    ImageFormat,
    typer.Option("--format", help="png keeps the sharp pixels bit-identical to the photo; jpg makes smaller files."),
]

PhotosArg = Annotated[
    list[str],
    typer.Argument(
        help="Photos (JPEG, PNG, TIFF, BMP, WebP, HEIC, AVIF, camera RAW), folders (their photos; with "
        "--recursive also those in sub-folders) or glob patterns.",
        show_default=False,
    ),
]
OutDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", file_okay=False,
        help="Folder for the outputs (created if missing). Default: next to each photo.",
    ),
]
RecursiveOpt = Annotated[
    bool, typer.Option(
        "--recursive/--no-recursive", "-r/-R",
        help="Also take the photos in the sub-folders of the folders given (default: a folder's top level only).",
    )
]
OverwriteOpt = Annotated[
    bool, typer.Option(
        "--overwrite",
        help="Replace existing outputs (default: skip photos whose outputs all exist, and refuse to write where only "
        "some exist: such a file is not blurtool's).",
    )
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object per photo per line on stdout instead of a table.")
]
WeightsOpt = Annotated[
    Path | None,
    typer.Option(
        "--weights", dir_okay=False,
        help="Model file. Default: $BLURTOOL_WEIGHTS, else the model shipped with blurtool.",
    ),
]


def _check_device(value: str) -> str:
    """--device is checked while the options are parsed, before any photo or weights are read (a DeviceError
    becomes one red line like any other)."""
    from blurtool.device import parse_device

    parse_device(value)
    return value


DeviceOpt = Annotated[
    str,
    typer.Option("--device", callback=_check_device, help="Where the network runs: auto, cpu, cuda or cuda:N."),
]


def _default_card() -> tuple[str, dict]:
    """(file name, card) of the weights used when --weights is not given, read from the JSON card beside them so
    that --help can show the defaults without loading torch; ("", {}) when there is none."""
    from blurtool.errors import WeightsError
    from blurtool.weights import resolve_weights_path

    try:
        path = resolve_weights_path(None)
        card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (WeightsError, OSError, ValueError):
        return "", {}
    return (path.name, card) if isinstance(card, dict) else ("", {})


_CARD_NAME, _CARD = _default_card()


def _card_says(key: str) -> str:
    """" (0.39 in blurnet.pt)": the default model card's value of `key`, for help texts."""
    value = _CARD.get(key)
    return f" ({value} in {_CARD_NAME})" if value is not None and not isinstance(value, (dict, list)) else ""


ThresholdOpt = Annotated[
    float | None,
    typer.Option(
        "--threshold", min=0.0, max=1.0,
        help="Blur-map value from which a pixel counts as blurred. Default: the model card's value"
        f"{_card_says('threshold')}.",
    ),
]
WorkingSizeOpt = Annotated[
    int | None,
    typer.Option(
        "--working-size", min=64, max=8192,
        help="Long side (px) at which the network looks at the photo. Default: the model card's value"
        f"{_card_says('working_size')}.",
    ),
]
FastOpt = Annotated[
    bool,
    typer.Option(
        "--fast",
        help="One network pass instead of two (the photo and its mirror, averaged, when the model card asks for it"
        f"{', as ' + _CARD_NAME + ' does' if _CARD.get('flip_average') else ''}): "
        "half the network time, slightly less accurate maps.",
    ),
]


def flip_average_for(fast: bool) -> bool | None:
    """--fast turns the mirrored second pass off; otherwise the model card decides."""
    return False if fast else None


MapOpt = Annotated[
    Path | None,
    typer.Option(
        "--map",
        help="Use a blur map saved by `blurtool detect` instead of running the network: a <stem>.blur.png file "
        "(one photo) or a folder holding <stem>.blur.png files.",
    ),
]


@dataclass(frozen=True)
class SharedOptions:
    """What the options every photo command shares say (see :func:`shared_options`): the photos and where their
    outputs go, and where each photo's blur map comes from (the network, or with --map maps saved by detect)."""

    photos: list[str]
    out: Path | None
    weights: Path | None
    device: str
    working_size: int | None
    fast: bool
    recursive: bool
    overwrite: bool
    json_output: bool
    threshold: float | None = None
    map_path: Path | None = None

    def maps(self, threshold: float | None = None) -> MapProvider:
        """Where each photo's blur map comes from; ``threshold`` for a command that decides its own (segment)."""
        return MapProvider(map_path=self.map_path, weights=self.weights, device=self.device,
                           threshold=self.threshold if threshold is None else threshold,
                           working_size=self.working_size, fast=self.fast)

    def detector(self) -> BlurDetector:
        """The network, for a command that wants its whole result rather than a map (detect)."""
        from blurtool.inference import BlurDetector

        return BlurDetector.from_weights(self.weights, device=self.device, threshold=self.threshold,
                                         working_size=self.working_size, flip_average=flip_average_for(self.fast))

    def run(self, process: Callable[[Job], dict[str, Any] | None], **kwargs: Any) -> BatchReport:
        """:func:`run_batch` over these photos, with these --out, --recursive, --overwrite and --json."""
        return run_batch(self.photos, process, out_dir=self.out, recursive=self.recursive, overwrite=self.overwrite,
                         json_output=self.json_output, **kwargs)


def _names_a_photo(photos: Sequence[str], recursive: bool) -> bool:
    """Whether the arguments give at least one photo, stopping at the first (a library's walk is not done twice)."""
    from blurtool.io import BadInput, iter_images

    items = iter_images(photos, recursive, exclude=lambda p: _output_tag(p) in OUTPUT_TAGS)
    return any(not isinstance(item, BadInput) for item in items)


def _nothing_to_do(job: Job) -> None:
    raise AssertionError(f"{job.path}: called for a batch that has no photo")  # pragma: no cover


def _option(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def shared_options(*, saved_maps: bool = True, threshold: bool = True):
    """Give a photo command the options every photo command shares, each declared once in this module.

    PHOTOS, --out and (``saved_maps``) --map come before the command's own options in its --help; --threshold
    (unless the command has thresholds of its own: segment), --weights, --device, --working-size, --fast,
    --recursive, --overwrite and --json after them. The command declares only its own options and takes the
    shared ones as its first parameter, a :class:`SharedOptions`::

        @app.command("segment")
        @shared_options(threshold=False)
        def segment(shared: SharedOptions, iterations: Annotated[int, typer.Option(...)] = 5) -> None:
            maps = shared.maps()
            ...
            report = shared.run(process, outputs=..., check=maps.check_photos, description=..., columns=...)

    Typer reads a command's options from its signature, so the wrapper returned here has the full one. The
    command's annotations are evaluated in its module, as Typer does: import ``SharedOptions`` at the top.
    """
    head = [_option("photos", PhotosArg), _option("out", OutDirOpt, None)]
    if saved_maps:
        head.append(_option("map_path", MapOpt, None))
    tail = [_option("threshold", ThresholdOpt, None)] if threshold else []
    tail += [
        _option("weights", WeightsOpt, None),
        _option("device", DeviceOpt, "auto"),
        _option("working_size", WorkingSizeOpt, None),
        _option("fast", FastOpt, False),
        _option("recursive", RecursiveOpt, False),
        _option("overwrite", OverwriteOpt, False),
        _option("json_output", JsonOpt, False),
    ]
    names = [p.name for p in head + tail]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        _, *own = inspect.signature(command, eval_str=True).parameters.values()  # the first one is `shared`
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        params = [*head, *own, *tail]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            shared = SharedOptions(**{name: kwargs.pop(name) for name in names})
            if not _names_a_photo(shared.photos, shared.recursive):
                # No argument names a photo (a typo, an empty folder): say so without loading the model, which
                # takes seconds (minutes for matte's first numba compilation) before the first photo is read.
                raise typer.Exit(shared.run(_nothing_to_do, outputs={}).exit_code)
            return command(shared, **kwargs)

        wrapper.__signature__ = inspect.Signature(params)
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


# Name parts that mark blurtool's own outputs (x.blur.png, x.mask.png...). Files named like this are left out when a
# folder or glob is expanded, so that running a command twice on a folder does not process its own outputs.
# Explicitly named files are always taken. Commands add their own tags through `outputs=` of run_batch.
OUTPUT_TAGS = frozenset({
    "blur", "kind", "labels", "overlay", "amount", "mask", "cutout", "matte", "alpha", "foreground", "composite",
    "trimap", "magnified", "deblurred", "kernel",
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


# Width of stdout when it is not a terminal (a pipe, a file): wide enough that a table never folds a file name, which
# rich would otherwise do at its default 80 columns. Tables are not padded to this width.
PIPE_WIDTH = 10_000


def stdout_console():
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(highlight=False, width=PIPE_WIDTH)
    return console


_PARAMETER = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def options_named(message: str, options: Mapping[str, str] | None = None, command=None) -> str:
    """A library message in the command line's words. The library names the parameters an error is about in
    backticks (`strength`, `val_share`); each becomes the option that sets it: from `options` ({parameter: option})
    where the names differ, else the option of that name of `command` (a click command), else --the-name."""
    known = dict(options or {})
    for p in getattr(command, "params", ()):
        opts = [o for o in getattr(p, "opts", ()) if o.startswith("--")]
        if p.name and opts:
            known.setdefault(p.name, opts[0])
    return _PARAMETER.sub(lambda m: known.get(m.group(1), "--" + m.group(1).replace("_", "-")), message)


def print_error(message: str, console=None) -> None:
    """One red line on stderr (through `console`, e.g. a progress bar's, when given)."""
    from rich.markup import escape

    (console or stderr_console()).print(f"[bold red]error:[/] {escape(message)}")


def print_note(message: str, console=None) -> None:
    """One yellow line on stderr: something the user should know that is not a failure."""
    from rich.markup import escape

    (console or stderr_console()).print(f"[yellow]note:[/] {escape(message)}")


def report_left_out(left_out: Sequence[Path], photos: Sequence[Path], console=None) -> None:
    """Say which files a folder or glob left out because they are named like blurtool's outputs.

    A file whose name starts with the name of a photo of this run (x.jpg -> x.blur.png, here or in a folder of maps)
    is most likely an earlier output: those are counted in one line. Any other is listed on its own line: it may well
    be a photo the user wants, and naming it on the command line takes it."""
    if not left_out:
        return
    owners = {base for p in photos for base in (p.stem, p.name)}

    def owned(f: Path) -> bool:
        return any(f.name[:i] in owners for i, ch in enumerate(f.name) if ch == ".")

    earlier = [f for f in left_out if owned(f)]
    for f in left_out:
        if not owned(f):
            print_note(f"left out {f}: named like a blurtool output (.{_output_tag(f)}); give it by name to "
                       "process it", console)
    if earlier:
        n = len(earlier)
        print_note(f"left out {n} file{'s' if n != 1 else ''} named like outputs of these photos "
                   f"(e.g. {earlier[0]}); give a file by name to process it", console)


def expand_photos(
    photos: Sequence[str],
    recursive: bool,
    *,
    out_dir: Path | None = None,
    tags: frozenset[str] = OUTPUT_TAGS,
    exclude_dirs: Sequence[Path] = (),
) -> tuple[list[tuple[Path, Path | None]], list[tuple[str, str]], list[Path]]:
    """The one input rule of every command: files as given, a folder's photos at its top level (in its sub-folders
    too with `recursive`), globs (see `blurtool.io.iter_images`); each photo once.

    -> [(photo, sub-folder relative to `out_dir`, or None)], [(argument, why it gave no photo)], [files left out
    because they are named like outputs (`tags`)]. Files under `exclude_dirs` (rank's --move/--copy destination, so
    that sorted photos are not ranked again) are left out too.
    """
    from blurtool.io import BadInput, iter_images

    left_out: list[Path] = []
    excluded = [Path(d).resolve() for d in exclude_dirs]
    in_dest: list[Path] = []

    def exclude(p: Path) -> bool:
        if _output_tag(p) in tags:
            left_out.append(p)
            return True
        if excluded:
            rp = p.resolve()
            for d in excluded:
                if rp == d or d in rp.parents:
                    in_dest.append(d)
                    return True
        return False

    items: list[tuple[Path, Path | None]] = []
    bad: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for arg in photos:
        is_folder = Path(arg).is_dir()
        in_dest.clear()
        for item in iter_images([arg], recursive, exclude=exclude):
            if isinstance(item, BadInput):
                reason = options_named(item.reason)  # io names its parameter `recursive`
                if in_dest:
                    reason = (f"every photo here is inside the sorting destination {in_dest[0]}, which is left out so "
                              "that sorted photos are not ranked again; sort into a folder outside the photos (e.g. "
                              "a sibling folder)")
                bad.append((item.source, reason))
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
    taken = {p.resolve() for p, _ in items}
    return items, bad, list(dict.fromkeys(p for p in left_out if p.resolve() not in taken))


def _expand(
    photos: Sequence[str], recursive: bool, out_dir: Path | None, tags: frozenset[str]
) -> tuple[list[tuple[Path, Path | None]], list[PhotoResult], list[Path]]:
    """expand_photos, with each argument that gave no photo as a failed PhotoResult."""
    items, bad, left_out = expand_photos(photos, recursive, out_dir=out_dir, tags=tags)
    failed = [PhotoResult(photo=arg, status="failed", error=f"{arg}: {why}") for arg, why in bad]
    return items, failed, left_out


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
    check: Callable[[Sequence[Path]], None] | None = None,
) -> BatchReport:
    """Run `process` on every photo named by `photos`; see the module docstring.

    outputs: tag -> file-name suffix (e.g. {"blur": ".blur.png"}); may be empty for commands that write nothing per
    photo (a photo is then never skipped). process(job) writes job.outputs[tag] and returns a JSON-able summary dict.
    render=False: print nothing on stdout (the caller renders report.results itself, e.g. sorted); failures are still
    listed on stderr. check(photos): called once with every photo before any is processed, to refuse an impossible
    combination once (e.g. one --map file for several photos) rather than for each photo.
    Raises nothing for a bad photo; returns the report (raise typer.Exit(report.exit_code)); Ctrl-C raises
    typer.Exit(130) after saying what was kept. A BlurtoolError in `process` marks that photo failed; any other
    exception is a bug and propagates.
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
    items, results, left_out = _expand(photos, recursive, out_dir, tags)
    if check is not None:
        check([p for p, _ in items])
    plans = _plan_outputs(items, outputs, out_dir)

    err_console = stderr_console()
    report_left_out(left_out, [p for p, _ in items], err_console)

    def emit(r: PhotoResult) -> None:
        if r.status == "failed":  # at once, and again in the list at the end
            print_error(r.error or r.photo, progress.console if progress is not None else err_console)
        if json_output:
            sys.stdout.write(json.dumps(r.as_json()) + "\n")
            sys.stdout.flush()

    progress = None
    task = None
    for r in results:
        emit(r)
    if len(items) > 1 and err_console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=err_console, transient=True,
        )
        progress.start()
        task = progress.add_task(description, total=len(items))
    fresh: list[Path] = []  # outputs the photo in progress may create: removed if it is interrupted
    current: Path | None = None
    finished = 0
    try:
        for index, ((photo, _sub), plan) in enumerate(zip(items, plans)):
            current = photo
            if isinstance(plan, OutputError):
                r = PhotoResult(photo=str(photo), status="failed", error=str(plan))
            else:
                out_strs = {tag: str(p) for tag, p in plan.items()}
                existing = [p for p in plan.values() if os.path.lexists(p)]
                if existing and not overwrite:
                    if len(existing) == len(plan):
                        r = PhotoResult(photo=str(photo), status="skipped", outputs=out_strs)
                    else:
                        r = PhotoResult(photo=str(photo), status="failed", error=_foreign_output(photo, plan, existing))
                else:
                    fresh = [p for p in plan.values() if p not in existing]
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
                        _discard(fresh)
                        r = PhotoResult(photo=str(photo), status="failed", error=naming(photo, str(e)))
                    fresh = []
            results.append(r)
            finished += 1
            current = None
            emit(r)
            if progress is not None:
                progress.advance(task)
    except KeyboardInterrupt:
        if progress is not None:
            progress.stop()
            progress = None
        _discard(fresh)
        done = sum(r.status == "ok" for r in results)
        unfinished = len(items) - finished
        print_error(
            f"interrupted: {done} photo{'s' if done != 1 else ''} finished, outputs kept; "
            + (f"{current} was not finished and left no output; " if current is not None else "")
            + f"{max(unfinished - 1, 0)} not started",
            err_console,
        )
        raise typer.Exit(130) from None
    finally:
        if progress is not None:
            progress.stop()

    report = BatchReport(results)
    if render and not json_output and len(report.failed) < len(results):  # no empty table when every photo failed
        render_table(results, columns, title)
    report_failures(report)
    return report


def _discard(paths: Sequence[Path]) -> None:
    """Remove what a failed or interrupted photo wrote: a photo's outputs are all there or none, so that a re-run
    treats it as new (and a partial set always means a file that is not blurtool's)."""
    for p in paths:
        if os.path.lexists(p):
            os.unlink(p)


def _foreign_output(photo: Path, plan: Mapping[str, Path], existing: Sequence[Path]) -> str:
    """Why a photo is refused when some of its outputs exist but not all: blurtool writes a photo's outputs together
    (and removes them if interrupted), so a partial set holds a file blurtool did not write."""
    missing = [p for p in plan.values() if p not in existing]
    have = ", ".join(map(str, existing))
    return (f"{photo}: {have} already exist{'s' if len(existing) == 1 else ''} but {missing[0]} does not, so "
            f"{'it is' if len(existing) == 1 else 'they are'} not this photo's earlier output; not replaced "
            "(use --overwrite to replace, or --out another folder)")


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

    def check_photos(self, photos: Sequence[Path]) -> None:
        """For run_batch(check=...): one --map file for several photos is refused once, before any work."""
        if self.map_path is not None and not self.map_path.is_dir() and len({p.resolve() for p in photos}) > 1:
            raise InputError(
                f"--map {self.map_path} is the map of one photo, but {len(photos)} photos were given; "
                "for several photos give --map a folder of <stem>.blur.png files"
            )

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
