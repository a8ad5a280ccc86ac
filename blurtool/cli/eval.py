"""`blurtool eval`: measure the network on a folder in CUHK layout (images/ + gt/)."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from blurtool.cli._batch import DeviceOpt, FastOpt, ThresholdOpt, WeightsOpt, WorkingSizeOpt, flip_average_for


class Split(str, enum.Enum):
    all = "all"
    val = "val"


def _load_detector(weights: Path | None, device: str, threshold: float | None, working_size: int | None,
                   fast: bool = False):
    """The detector and its weights card (tests replace this function with a fake)."""
    from blurtool.inference import BlurDetector

    detector = BlurDetector.from_weights(
        weights, device=device, threshold=threshold, working_size=working_size, flip_average=flip_average_for(fast)
    )
    card = getattr(detector, "card", None)
    if card is None:
        from blurtool.weights import load_weights

        _, card = load_weights(weights)
    return detector, card


# (label, key, format) rows of the table; a key missing or None shows as "-".
_ROWS = [
    ("images", "images", "{}"),
    ("accuracy", "accuracy", "{:.4f}"),
    ("  std across images", "accuracy_std", "{:.4f}"),
    ("precision", "precision", "{:.4f}"),
    ("recall", "recall", "{:.4f}"),
    ("F1", "f1", "{:.4f}"),
    ("Fβ (β² = 0.3)", "fbeta", "{:.4f}"),
    ("mIoU (blur / sharp)", "miou", "{:.4f}"),
    ("MAE of the soft map", "mae", "{:.4f}"),
    ("AP (all pixels)", "ap", "{:.4f}"),
    ("ODS max F1 (threshold)", "ods_f1", "{:.4f}"),
    ("ODS max Fβ (threshold)", "ods_fbeta", "{:.4f}"),
    ("best single threshold", "best_threshold", "{:.3f}"),
    ("  accuracy there", "best_accuracy", "{:.4f}"),
    ("  F1 there", "best_f1", "{:.4f}"),
    ("  mIoU there", "best_miou", "{:.4f}"),
    ("kind accuracy (3 classes)", "kind_accuracy", "{:.4f}"),
    ("kind mIoU (3 classes)", "kind_miou", "{:.4f}"),
]


def _cell(summary: dict | None, key: str, fmt: str) -> str:
    if summary is None:
        return "-"
    if key == "accuracy_std":
        return fmt.format(summary["accuracy_var"] ** 0.5)
    v = summary.get(key)
    if v is None:
        return "-"
    s = fmt.format(v)
    if key in ("ods_f1", "ods_fbeta") and summary.get(key + "_threshold") is not None:
        s += f" ({summary[key + '_threshold']:.2f})"
    return s


def _render(report, title: str) -> None:
    from rich.table import Table

    from blurtool.cli._batch import stdout_console

    columns = [("all", report.overall)] + list(report.groups.items())
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for name, _ in columns:
        table.add_column(name, justify="right")
    for label, key, fmt in _ROWS:
        table.add_row(label, *(_cell(s, key, fmt) for _, s in columns))
    console = stdout_console()
    console.print(table)
    console.print(
        f"Per image, then averaged; blurred = blur map ≥ {report.threshold:g}. AP and ODS pool all pixels. "
        f"Best single threshold: the one of 255 levels that maximises mean accuracy over all images."
    )


def _render_amount(scores: dict) -> None:
    from blurtool.cli._batch import stdout_console

    def f(key, fmt):
        return "-" if scores.get(key) is None else fmt.format(scores[key])

    stdout_console().print(
        f"Blur amount, {scores['images']} photos x 10 known kernels: Spearman {f('spearman', '{:.3f}')}, "
        f"MAE {f('mae', '{:.2f}')} px at a 1000 px long side, level accuracy {f('level_accuracy', '{:.3f}')}, "
        f"disk r = 10 above r = 5 in {f('no_saturation', '{:.0%}')} of photos."
    )


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_(
        data_dir: Annotated[
            Path,
            typer.Argument(
                help="Folder in CUHK layout: images/<stem>.jpg and gt/<stem>.png (255 = blurred). "
                "Stems motion* / out_of_focus* give the kind of blur.",
                show_default=False,
            ),
        ],
        weights: WeightsOpt = None,
        device: DeviceOpt = "auto",
        threshold: ThresholdOpt = None,
        working_size: WorkingSizeOpt = None,
        fast: FastOpt = False,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the results as one JSON document on stdout.")
        ] = False,
        pr_curve: Annotated[
            Path | None,
            typer.Option(
                "--pr-curve", dir_okay=False, help="Also draw the precision-recall curve into this PNG."
            ),
        ] = None,
        stem_list: Annotated[
            Path | None,
            typer.Option("--list", dir_okay=False, help="Text file of image stems to use, one a line."),
        ] = None,
        split: Annotated[
            Split,
            typer.Option(
                "--split",
                help="all: every image of DATA_DIR. val: only the validation images recorded in the weights "
                "card (images the model never trained on).",
            ),
        ] = Split.all,
        amount: Annotated[
            bool,
            typer.Option(
                "--amount",
                help="Also measure the blur amount against known kernels: each photo blurred by disks of radius "
                "1-10 px and motion streaks of 5-31 px at the working size (ten more passes a photo), read where "
                "the ground truth is sharp.",
            ),
        ] = False,
    ) -> None:
        """Measure the blur network on labelled photos: accuracy, precision, recall, F, mIoU, MAE, AP, kind
        accuracy, overall and per kind (motion / defocus).

        [dim]Example: blurtool eval data/cuhk --split val --pr-curve pr.png[/]
        """
        from blurtool.cli._batch import stderr_console
        from blurtool.cuhk import list_samples
        from blurtool.errors import InputError
        from blurtool.evaluate import draw_pr_curve, evaluate, evaluate_amount, read_stem_list, val_stems

        if stem_list is not None and split is Split.val:
            raise InputError("use either --list or --split val, not both")
        stems = read_stem_list(stem_list) if stem_list is not None else None
        samples = list_samples(data_dir, stems)  # check the folder before loading the model
        detector, card = _load_detector(weights, device, threshold, working_size, fast)
        if amount and not getattr(detector, "has_amount", False):
            raise InputError("--amount: these weights have no blur-amount channel")
        if split is Split.val:
            source = f"{(card or {}).get('path', weights or 'weights')} card"
            # A model trained on several folders holds out images of each: measure those of this folder.
            here = {s.stem for s in samples}  # --split val excludes --list: these are all the folder's images
            stems = [s for s in val_stems(card, source) if s in here]
            if not stems:
                raise InputError(f"{data_dir}: none of the validation images the {source} names are in this folder")

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("eval"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
            console=stderr_console(),
            transient=True,
        ) as progress:
            task = progress.add_task("", total=None)

            def on_image(i: int, n: int, stem: str) -> None:
                progress.update(task, completed=i, total=n, description=stem)

            report = evaluate(detector, data_dir, stems=stems, threshold=threshold, on_image=on_image)
            amount_scores = None
            if amount:
                progress.update(task, completed=0, description="amount")
                amount_scores = evaluate_amount(detector, data_dir, stems=stems, on_image=on_image)

        if pr_curve is not None:
            name = Path(data_dir).resolve().name
            draw_pr_curve(
                report.curves(), pr_curve, title=f"{name} ({split.value}, {report.overall['images']} images)"
            )
        if json_output:
            d = report.to_dict()
            d["split"] = split.value
            d["weights"] = (card or {}).get("path", str(weights) if weights else None)
            d["flip_average"] = bool(getattr(detector, "flip_average", False))
            if amount_scores is not None:
                d["amount"] = amount_scores
            typer.echo(json.dumps(d, indent=2, allow_nan=False))
        else:
            passes = " photo + mirror" if getattr(detector, "flip_average", False) else ""
            _render(report, f"blurtool eval {data_dir} ({split.value}, {report.overall['images']} images{passes})")
            if amount_scores is not None:
                _render_amount(amount_scores)
        if pr_curve is not None:
            stderr_console().print(f"precision-recall curve: {pr_curve}")
