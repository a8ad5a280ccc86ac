"""`blurtool magnify`: make the existing defocus stronger, lens-like (Kim et al. 2019 Sec. 6.3, Ma et al. 2018)."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from blurtool.cli._batch import FormatOpt, ImageFormat, SharedOptions, shared_options
from blurtool.ops.magnify import MagnifyOptions

_D = MagnifyOptions()


class Method(str, enum.Enum):
    lens = "lens"  # disk kernels in linear light, growing with the map, subject recomposed through its matte
    gaussian = "gaussian"  # Ma et al. 2018: one Gaussian on every pixel with blur above --sharp-below


def register(app: typer.Typer) -> None:
    @app.command("magnify")
    @shared_options()
    def magnify_command(
        shared: SharedOptions,
        strength: Annotated[str, typer.Option(
            "--strength", "-s",
            help="Largest added blur: a disk radius as a fraction of the image diagonal (0.015) or in pixels "
            "(20px). The radius grows with the blur map up to this.",
        )] = str(_D.strength),
        sharp_below: Annotated[float, typer.Option(
            "--sharp-below", min=0.0, max=1.0, help="Pixels whose blur is below this are left exactly as they are.",
        )] = _D.sharp_below,
        method: Annotated[Method, typer.Option(
            "--method", help="lens: bokeh-like disks, subject recomposed through its matte; gaussian: Ma et al.'s "
            "single Gaussian (sigma = radius / 2).",
        )] = Method.lens,
        fmt: FormatOpt = ImageFormat.png,
    ) -> None:
        """Magnify the defocus blur: blurred parts get more (lens-like) blur, the sharp subject stays untouched.

        Writes [bold]<stem>.magnified.png[/] (or .jpg). --threshold is the blur level that separates the subject
        for its matte (default: the model card's). Example: [cyan]blurtool magnify portrait.jpg -s 25px[/]
        """
        from blurtool.io import read_image, sample_bits, write_image
        from blurtool.ops.magnify import magnify_blur, magnify_naive, max_radius, parse_strength
        from blurtool.ops.matting import MatteOptions, matte, warm_up

        frac, px = parse_strength(strength)
        options = MagnifyOptions(strength=frac, strength_px=px, sharp_below=sharp_below)
        maps = shared.maps()
        if method is Method.lens:
            warm_up()  # numba's one-off compilation / cache load, outside the per-photo work

        def process(job):
            image = read_image(job.path)
            m = maps(job.path, image)
            radius = max_radius(options, *image.shape[:2])
            note = None
            if method is Method.gaussian:
                result = magnify_naive(image, m.blur, sigma=max(radius / 2, 1e-3), threshold=sharp_below)
            else:
                mt = matte(image, m.blur, MatteOptions(threshold=m.threshold))
                note = mt.note
                result = magnify_blur(image, m.blur, options, alpha=mt.alpha, foreground=mt.foreground)
            write_image(job.outputs["magnified"], result, bits=sample_bits(job.path))  # 16-bit photo: 16-bit PNG
            changed = float((m.blur >= sharp_below).mean())
            return {"max_radius_px": round(radius, 1), "changed_fraction": changed, "note": note}

        report = shared.run(
            process, outputs={"magnified": f".magnified.{fmt.value}"}, check=maps.check_photos,
            description="Magnifying",
            columns=[("max_radius_px", "radius px", "{:.1f}"), ("changed_fraction", "changed", "{:.0%}"),
                     ("note", "note", None)],
        )
        raise typer.Exit(report.exit_code)
