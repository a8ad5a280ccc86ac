"""The `blurtool` command line: one Typer app, one module per command.

Every command module `blurtool/cli/<name>.py` defines `register(app)`, which adds its command(s) with
`@app.command(...)`. Command modules import numpy/OpenCV/torch inside their command bodies only, so that
`blurtool --help` stays instant.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer
import typer.core

from blurtool import __version__
from blurtool.errors import BlurtoolError

# The order of `blurtool --help`.
COMMANDS = ["detect", "segment", "matte", "magnify", "rank", "deblur", "train", "calibrate", "eval"]


class _Group(typer.core.TyperGroup):
    """Turns an expected error (BlurtoolError) into one red line on stderr and exit code 1, and Ctrl-C into
    "interrupted" and exit code 130.

    Done here rather than in main() so that it also holds when the app is invoked by typer.testing.CliRunner.
    Unexpected exceptions are bugs and keep their traceback.
    """

    def list_commands(self, ctx):  # keep the workflow order of COMMANDS, not alphabetical
        order = {name: i for i, name in enumerate(COMMANDS)}
        return sorted(super().list_commands(ctx), key=lambda n: (order.get(n, len(order)), n))

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BlurtoolError as e:
            from blurtool.cli._batch import options_named, print_error

            # The library names parameters; the user typed options (see options_named).
            command = self.get_command(ctx, ctx.invoked_subcommand) if ctx.invoked_subcommand else None
            print_error(options_named(str(e), command=command))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:  # commands that keep partial work say what they kept; any other stops here
            from blurtool.cli._batch import print_error

            print_error("interrupted")
            raise typer.Exit(130) from None


app = typer.Typer(
    name="blurtool",
    cls=_Group,
    help="Find where a photo is blurred and how (sharp / defocus / motion), and edit photos with that map.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals can hold 50 MP arrays
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"blurtool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Find where a photo is blurred and how (sharp / defocus / motion), and edit photos with that map."""


for _name in COMMANDS:
    importlib.import_module(f"blurtool.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point (`blurtool`)."""
    app(prog_name="blurtool")
