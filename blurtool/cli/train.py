"""`blurtool train`: every TrainConfig field becomes an option, so the dataclass is the single source of defaults."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Annotated

import typer

from blurtool.train.config import TrainConfig


def _option_for(f: dataclasses.Field) -> inspect.Parameter:
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    name = "--" + f.name.replace("_", "-")
    help_ = f.metadata.get("help", "")
    if f.type in ("list", list):
        metavar = f.metadata.get("metavar", "DIR")
        annotation = Annotated[list[Path], typer.Option(name, help=help_, metavar=metavar)]
        default = [Path(d) for d in default]
    elif f.type in ("bool", bool):
        flag = f"{name}/--no-{f.name.replace('_', '-')}"
        annotation = Annotated[bool, typer.Option(flag, help=help_)]
    else:
        py_type = {"int": int, "float": float, "str": str}.get(f.type, f.type)
        metavar = {int: "INT", float: "FLOAT", str: "TEXT"}.get(py_type)
        annotation = Annotated[py_type, typer.Option(name, help=help_, metavar=metavar)]
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def train_command(calibrate: bool = True, **options) -> None:
    """Train the blur network on labelled photo folders and video frames (CPU or CUDA); checkpoints in --out,
    resumable; --init continues from a weights file; the weights are then calibrated (threshold on the
    held-out photos, blur amount on training photos)."""
    from rich.console import Console

    from blurtool.train.loop import train

    console = Console(stderr=True)
    for name in ("data", "init"):  # the repeatable path options
        options[name] = [str(p) for p in options[name]]
    cfg = TrainConfig(**options)
    # train() checks every option (ranges, files, an existing run at --out) before it writes anything.
    best = train(cfg, console=console)
    if calibrate:
        _calibrate_run(cfg, console)
    typer.echo(str(best))


def _calibrate_run(cfg: TrainConfig, console) -> None:
    """Each weights file of the run calibrated as `blurtool calibrate` does (threshold on its held-out photos, blur
    amount on training photos); best.pt saved at the same step as latest-weights.pt holds the same weights and takes
    the same calibration."""
    from blurtool.calibration import calibrate_weights, write_amount, write_threshold
    from blurtool.weights import load_weights

    calibrated = {}  # training step -> calibrate_weights' result
    for path in (Path(cfg.out) / "latest-weights.pt", Path(cfg.out) / "best.pt"):
        if not path.is_file():
            continue
        step = load_weights(path)[1].get("training", {}).get("steps")
        if step not in calibrated:
            calibrated[step] = calibrate_weights(path, cfg.data, write=False)
        done = calibrated[step]
        write_threshold(path, done["threshold"])
        if done["amount"] is not None:
            write_amount(path, done["amount"])
        console.print(f"{path}: threshold {done['threshold'].threshold:.4f}, calibrated on "
                      f"{done['threshold'].images} held-out photos" + ("" if done["amount"] is None else
                      f"; blur amount on {done['amount'].photos} training photos"))


_CALIBRATE = inspect.Parameter(
    "calibrate", inspect.Parameter.KEYWORD_ONLY, default=True,
    annotation=Annotated[bool, typer.Option(
        "--calibrate/--no-calibrate",
        help="After training, calibrate the run's weights files (threshold on the held-out photos, blur amount on "
        "training photos) and store it in their cards (as `blurtool calibrate`).",
    )],
)
train_command.__signature__ = inspect.Signature(
    [_option_for(f) for f in dataclasses.fields(TrainConfig)] + [_CALIBRATE]
)


def register(app: typer.Typer) -> None:
    app.command("train", help=train_command.__doc__)(train_command)
