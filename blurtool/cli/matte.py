"""`blurtool matte`: alpha matte of the sharp subject and composites onto a new background (Kim et al. 2019)."""

from __future__ import annotations

from typing import Annotated

import typer

from blurtool.cli._batch import SharedOptions, shared_options
from blurtool.ops.matting import MatteOptions

_D = MatteOptions()

BackgroundOpt = Annotated[
    str | None,
    typer.Option(
        "--background", "-b",
        help="Also write <stem>.composite.jpg: the sharp subject over this image file (resized and cropped to "
        "fill), or over a colour: a name like 'white' or '#RRGGBB'.",
        show_default=False,
    ),
]


def load_background(spec: str):
    """An image file, else a colour. Returns an RGB float32 image or an (r, g, b) tuple."""
    from pathlib import Path

    from blurtool.io import read_image
    from blurtool.ops.matting import parse_color

    path = Path(spec)
    if path.is_file():
        return read_image(path)
    if path.suffix and not spec.startswith("#"):
        # Looks like a file name (photo.jpg) rather than a colour: say the file is missing.
        from blurtool.errors import InputError

        raise InputError(f"{spec}: --background image not found (or give a colour like 'white' or '#RRGGBB')")
    return parse_color(spec)


def register(app: typer.Typer) -> None:
    @app.command("matte")
    @shared_options()
    def matte_command(
        shared: SharedOptions,
        background: BackgroundOpt = None,
        band: Annotated[float, typer.Option(
            "--band", min=0.001, max=0.2,
            help="Half-width of the unknown band around the map's boundary, as a fraction of the image diagonal.",
        )] = _D.band,
        max_pixels: Annotated[int, typer.Option(
            "--max-pixels", min=10_000,
            help="Matting is solved at most at this many pixels; alpha is upsampled along the photo's edges.",
        )] = _D.max_pixels,
    ) -> None:
        """Matte the sharp subject: closed-form alpha matting (Levin et al. 2008) on a trimap from the blur map.

        Writes [bold]<stem>.alpha.png[/] (white = subject), [bold]<stem>.matte.png[/] (RGBA cut-out, background
        colour removed from the edge), and with [cyan]--background[/] [bold]<stem>.composite.jpg[/].
        Example: [cyan]blurtool matte portrait.jpg --background beach.jpg --out edits/[/]
        """
        from blurtool.io import read_image, sample_bits, write_image, write_rgba
        from blurtool.ops.matting import composite, matte, warm_up

        bg = load_background(background) if background is not None else None
        maps = shared.maps()
        warm_up()  # numba's one-off compilation / cache load happens here, not inside the first photo's work
        outputs = {"alpha": ".alpha.png", "matte": ".matte.png"}
        if bg is not None:
            outputs["composite"] = ".composite.jpg"

        def process(job):
            image = read_image(job.path)
            m = maps(job.path, image)
            options = MatteOptions(threshold=m.threshold, band=band, max_pixels=max_pixels)
            result = matte(image, m.blur, options)
            write_image(job.outputs["alpha"], result.alpha)
            write_rgba(job.outputs["matte"], result.foreground, result.alpha, bits=sample_bits(job.path))
            if bg is not None:
                write_image(job.outputs["composite"], composite(result.foreground, result.alpha, bg))
            return {"method": result.method, "subject_fraction": float(result.alpha.mean()), "note": result.note}

        report = shared.run(
            process, outputs=outputs, check=maps.check_photos, description="Matting",
            columns=[("subject_fraction", "subject", "{:.0%}"), ("method", "method", None), ("note", "note", None)],
        )
        raise typer.Exit(report.exit_code)
