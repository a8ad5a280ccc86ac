"""`blurtool calibrate`: choose a weights file's default threshold on its held-out photos, fit its blur-amount
calibration on training photos, and store both in its card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from blurtool.cli._batch import DeviceOpt


def _default_folders() -> list[Path]:
    from blurtool.train.config import TrainConfig

    return [Path(d) for d in TrainConfig().data]


def _render(cal, title: str) -> None:
    from rich.table import Table

    from blurtool.cli._batch import stdout_console

    console = stdout_console()
    table = Table(title=title, title_justify="left")
    for column in ("check", "threshold", "accuracy", "F1", "mIoU"):
        table.add_column(column, justify="left" if column == "check" else "right")

    def row(label, threshold, figures, style=None):
        table.add_row(label, f"{threshold:.3f}", *(f"{figures[k]:.4f}" for k in ("accuracy", "f1", "miou")),
                      style=style)

    for i, h in enumerate(cal.halves):
        label = f"half {'AB'[i]}: chosen on {h.chosen_on}, scored on the other {h.tested_on}"
        row(label + " at 0.5", 0.5, h.at_half, "dim")
        row(label, h.threshold, h.at_threshold)
    for threshold, figures in cal.sweep:
        chosen = abs(threshold - cal.threshold) < 0.5 / 255
        row(f"all {cal.images}" + (" (chosen)" if chosen else ""), threshold, figures, "bold" if chosen else "dim")
    console.print(table)
    console.print(
        "Per-image means; the threshold maximises mean accuracy over all held-out photos, each folder weighing the "
        "same. Each half's row is an "
        "honest estimate: the threshold was chosen without those photos."
    )


def _render_amount(fit, title: str) -> None:
    from rich.table import Table

    from blurtool.cli._batch import stdout_console

    console = stdout_console()
    table = Table(title=title, title_justify="left")
    for column in ("check", "level accuracy", "MAE"):
        table.add_column(column, justify="left" if column == "check" else "right")
    for i, h in enumerate(fit.halves):
        label = f"half {'AB'[i]}: fitted on {h['fitted_on']}, scored on the other {h['tested_on']}"
        table.add_row(label + ", uncalibrated", f"{h['raw']['level_accuracy']:.3f}", f"{h['raw']['mae']:.2f}",
                      style="dim")
        table.add_row(label, f"{h['calibrated']['level_accuracy']:.3f}", f"{h['calibrated']['mae']:.2f}")
    console.print(table)
    console.print(
        "Amounts in px at a 1000 px long side; readings of photos blurred as a whole by random known disks and "
        "streaks. Each half's row scores a curve fitted without those photos."
    )


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate(
        weights: Annotated[
            Path,
            typer.Argument(
                help="Weights file whose card gets the threshold (e.g. runs/mine/latest-weights.pt).",
                dir_okay=False, show_default=False, metavar="WEIGHTS",
            ),
        ],
        data: Annotated[
            list[Path] | None,
            typer.Option(
                "--data", metavar="DIR",
                help="Folder in CUHK layout holding held-out photos of the model, repeatable; frame folders are "
                "skipped. Default: blurtool train's default folders.",
            ),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Show the chosen threshold; leave the weights file as it is.")
        ] = False,
        device: DeviceOpt = "auto",
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the calibration as one JSON document on stdout.")
        ] = False,
    ) -> None:
        """Choose the default threshold of a weights file on the photos it was held out from (the card's
        validation images), check it half against half, fit the blur-amount calibration on training photos blurred
        by known kernels, and store both in the card.

        [dim]Example: blurtool calibrate runs/mine/latest-weights.pt --data data/cuhk --data data/sharp[/]
        """
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from blurtool.calibration import calibrate_weights
        from blurtool.cli._batch import stderr_console

        folders = data or _default_folders()
        with Progress(
            TextColumn("calibrate"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            console=stderr_console(), transient=True,
        ) as progress:
            task = progress.add_task("", total=None)
            done = calibrate_weights(
                weights, folders, device=device, write=not dry_run,
                on_image=lambda i, n, stem: progress.update(task, completed=i, total=n, description=stem),
            )
        cal, fit = done["threshold"], done["amount"]
        if json_output:
            typer.echo(json.dumps({**cal.to_dict(), "amount": None if fit is None else fit.to_dict(),
                                   "amount_skipped": done["amount_skipped"], "written": not dry_run}))
        else:
            _render(cal, f"Threshold of {weights} on {cal.images} held-out photos")
            if fit is not None:
                _render_amount(fit, f"Blur amount of {weights} on {fit.photos} training photos")
            else:
                stderr_console().print(f"blur amount not calibrated: {done['amount_skipped']}")
        if not dry_run:
            what = f"threshold {cal.threshold:.4f}" + ("" if fit is None else " and the amount calibration")
            stderr_console().print(f"wrote {what} into {weights}")
