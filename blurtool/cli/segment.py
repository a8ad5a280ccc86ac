"""`blurtool segment`: cut out the sharp region with GrabCut seeded by the blur map (Ma et al. 2018)."""

from __future__ import annotations

from typing import Annotated

import typer

from blurtool.cli._batch import SharedOptions, shared_options
from blurtool.ops.segment import SegmentOptions

_D = SegmentOptions()

OUTPUTS = {"mask": ".mask.png", "cutout": ".cutout.png"}


def register(app: typer.Typer) -> None:
    @app.command("segment")
    @shared_options(threshold=False)
    def segment(
        shared: SharedOptions,
        iterations: Annotated[int, typer.Option("--iterations", min=1, max=50, help="GrabCut iterations.")] = (
            _D.iterations
        ),
        sure_sharp_below: Annotated[float, typer.Option(
            "--sure-sharp-below", min=0.0, max=1.0, help="Blur below this is certainly sharp (GrabCut foreground)."
        )] = _D.sure_sharp_below,
        probably_sharp_below: Annotated[float, typer.Option(
            "--probably-sharp-below", min=0.0, max=1.0,
            help="Blur below this is probably sharp, above it probably blurred.",
        )] = _D.probably_sharp_below,
        sure_blurred_from: Annotated[float, typer.Option(
            "--sure-blurred-from", min=0.0, max=1.0, help="Blur from this up is certainly blurred (background)."
        )] = _D.sure_blurred_from,
        grabcut: Annotated[bool, typer.Option(
            "--grabcut/--no-grabcut",
            help="Refine the map with GrabCut, or just threshold it at --probably-sharp-below.",
        )] = _D.grabcut,
        max_pixels: Annotated[int, typer.Option(
            "--max-pixels", min=10_000, help="GrabCut runs at most at this many pixels; the mask is upsampled."
        )] = _D.max_pixels,
    ) -> None:
        """Cut out the sharp part of each photo: GrabCut refines the blur map into a mask (Ma et al. 2018).

        Writes [bold]<stem>.mask.png[/] (white = sharp) and [bold]<stem>.cutout.png[/] (the photo, transparent where
        blurred). Example: [cyan]blurtool segment photo.jpg --out cut/[/]  (or [cyan]--map photo.blur.png[/] to
        reuse a map saved by [cyan]blurtool detect[/]).
        """
        from blurtool.io import read_image, sample_bits, write_image, write_rgba
        from blurtool.ops.segment import segment_sharp

        options = SegmentOptions(
            sure_sharp_below=sure_sharp_below, probably_sharp_below=probably_sharp_below,
            sure_blurred_from=sure_blurred_from, iterations=iterations, max_pixels=max_pixels, grabcut=grabcut,
        )
        # segment uses Ma et al.'s fixed thresholds, not the model card's decision threshold; giving one here
        # lets --map work without loading any weights.
        maps = shared.maps(threshold=probably_sharp_below)

        def process(job):
            image = read_image(job.path)
            result = segment_sharp(image, maps(job.path, image).blur, options)
            write_image(job.outputs["mask"], result.mask.astype("uint8") * 255)
            write_rgba(job.outputs["cutout"], image, result.mask.astype("float32"), bits=sample_bits(job.path))
            return {"method": result.method, "sharp_fraction": float(result.mask.mean()), "note": result.note}

        report = shared.run(
            process, outputs=OUTPUTS, check=maps.check_photos, description="Segmenting",
            columns=[("sharp_fraction", "sharp", "{:.0%}"), ("method", "method", None), ("note", "note", None)],
        )
        raise typer.Exit(report.exit_code)
