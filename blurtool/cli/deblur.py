"""`blurtool deblur`: deblur only the blurred region of a photo (Kim et al. 2019 Sec. 6.1)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from blurtool.cli._batch import FormatOpt, ImageFormat, SharedOptions, shared_options
from blurtool.ops.deblur import DeblurConfig
from blurtool.ops.deconvolution import DeconvolutionConfig

_D = DeblurConfig()
_DC = DeconvolutionConfig()


class Kind(str, enum.Enum):
    any = "any"
    motion = "motion"
    defocus = "defocus"


class KernelModel(str, enum.Enum):
    auto = "auto"
    free = "free"
    disk = "disk"


# The core's defaults as the CLI's choices, made once (an option's default is not a call made per invocation).
_KIND = Kind(_D.kind)
_KERNEL_MODEL = KernelModel(_D.kernel_model)


def register(app: typer.Typer) -> None:
    @app.command("deblur")
    @shared_options()
    def deblur_command(
        shared: SharedOptions,
        kind: Annotated[Kind, typer.Option(
            "--kind", help="Deblur every blurred pixel (any), or only motion- or only defocus-blurred ones "
            "(uses the kind map; with --map it is read from <stem>.labels.png beside the map).",
        )] = _KIND,
        kernel: Annotated[Path | None, typer.Option(
            "--kernel", dir_okay=False,
            help="Non-blind mode: use this kernel image (e.g. a <stem>.kernel.png written before) instead of "
            "estimating one.",
        )] = None,
        kernel_size: Annotated[int | None, typer.Option(
            "--kernel-size", min=3, max=301,
            help="Side of the estimated kernel in pixels; make it larger than the blur streak. "
            "Default: 4% of the photo's longer side (11 to 101).",
        )] = _D.kernel_size,
        kernel_model: Annotated[KernelModel, typer.Option(
            "--kernel-model", help="free: any blur shape (camera shake, motion); disk: a defocus radius only; "
            "auto: disk with --kind defocus, else free.",
        )] = _KERNEL_MODEL,
        strength: Annotated[float, typer.Option(
            "--strength", min=10.0, max=1e6,
            help="Data weight of the deconvolution (Krishnan & Fergus's lambda): higher is sharper but amplifies "
            "noise and JPEG artefacts; lower is smoother.",
        )] = _DC.lam,
        feather: Annotated[int | None, typer.Option(
            "--feather", min=0, help="Width in pixels of the soft mask edge. Default: 1% of the longer side.",
        )] = _D.feather,
        max_side: Annotated[int, typer.Option(
            "--max-side", min=64, max=4096,
            help="Kernel estimation works on at most this many pixels squared of the region (time grows with it).",
        )] = _D.max_side,
        check: Annotated[bool, typer.Option(
            "--check/--no-check",
            help="Blind mode: leave the photo unchanged (with a warning) when the region has too few edges above its "
            "noise for a trustworthy kernel: deconvolution would only add ringing. --no-check deblurs anyway.",
        )] = _D.check,
        check_min_edges: Annotated[float, typer.Option(
            "--check-min-edges", min=0.0,
            help="Edges the check requires in every direction, in multiples of the kernel size (lower = bolder).",
        )] = _D.check_min_edges,
        explained_min: Annotated[float, typer.Option(
            "--explained-min", min=0.0, max=1.0,
            help="Deconvolve only the region's pixels whose detail the kernel explains: the share of their local "
            "detail that survives blurring them once more by the kernel (0.35-0.6 for blurred texture, 0.1-0.25 "
            "for sharp texture, ~0 for a flat sky the map called blurred); where the map is barely sure, also more "
            "than 90% of the photo's own sharp detail. 0 deconvolves the whole region.",
        )] = _D.explained_min,
        fmt: FormatOpt = ImageFormat.png,
    ) -> None:
        """Deblur only the blurred region: estimate the blur kernel from the blurred pixels, deconvolve them,
        leave the sharp part exactly as it is.

        Writes [bold]<stem>.deblurred.png[/] (or .jpg), the kernel [bold]<stem>.kernel.png[/] (maximum = 255) and
        the blend mask [bold]<stem>.deblurred.mask.png[/]. Works for one uniform blur in the region (a moving
        object, a shaken background, an out-of-focus background); not for blur that varies inside the region.
        When the region has too few strong edges for a trustworthy kernel, the photo is written unchanged with a
        warning (--no-check to deblur anyway).
        Example: [cyan]blurtool deblur photo.jpg --kind motion --out sharp/[/]
        """
        import dataclasses

        import numpy as np
        from rich.markup import escape

        from blurtool.cli._batch import stderr_console
        from blurtool.errors import InputError
        from blurtool.io import read_image, sample_bits, write_image, write_map
        from blurtool.ops.deblur import deblur, kernel_from_image, kernel_to_image

        given_kernel = None
        if kernel is not None:
            if not kernel.is_file():
                raise InputError(f"{kernel}: --kernel: file not found")
            given_kernel = kernel_from_image(read_image(kernel), name=str(kernel))
        maps = shared.maps()
        base = DeblurConfig(
            kind=kind.value, kernel_size=kernel_size, kernel_model=kernel_model.value, feather=feather,
            max_side=max_side, deconvolution=dataclasses.replace(_DC, lam=strength), check=check,
            check_min_edges=check_min_edges, explained_min=explained_min,
        )

        def process(job):
            image = read_image(job.path)
            m = maps(job.path, image)
            if kind is not Kind.any and m.kind is None:
                raise InputError(
                    f"{job.path}: --kind {kind.value} needs a kind map, but --map came without a "
                    f"<stem>.labels.png beside it (run `blurtool detect` to save one, or use --kind any)"
                )
            cfg = dataclasses.replace(base, threshold=m.threshold)
            res = deblur(image, m.blur, m.kind, kernel=given_kernel, config=cfg)
            write_image(job.outputs["deblurred"], res.image, bits=sample_bits(job.path))  # 16-bit photo: 16-bit PNG
            write_map(job.outputs["kernel"], kernel_to_image(res.kernel).astype(np.float32) / 255)
            write_map(job.outputs["mask"], res.mask)
            if res.reliable is False:
                # One line on stderr (also in --json mode), and exit 0: leaving the photo alone is a result.
                stderr_console().print(f"[bold yellow]warning:[/] {escape(str(job.path))}: {escape(res.reason)}; "
                                       f"region left unchanged (--no-check deblurs anyway, or give --kernel)")
                note = "unreliable kernel: unchanged"
            elif not res.changed and res.region_fraction > 0:
                note = "the kernel explains none of the region (flat or sharp): copied unchanged"
            elif not res.changed:
                note = "no blurred region: copied unchanged"
            else:
                note = None
            return {
                "region_fraction": res.region_fraction,
                "deblurred_fraction": res.deblurred_fraction,
                "kernel_px": res.kernel.shape[0] if res.region_fraction > 0 else None,
                "deblurred": res.changed,
                "reliable": res.reliable,
                "edges": None if res.edges is None else round(res.edges, 1),
                "seconds": round(sum(res.seconds.values()), 1),
                "note": note,
            }

        report = shared.run(
            process,
            outputs={"deblurred": f".deblurred.{fmt.value}", "kernel": ".kernel.png", "mask": ".deblurred.mask.png"},
            check=maps.check_photos,
            description="Deblurring",
            columns=[("region_fraction", "region", "{:.0%}"), ("kernel_px", "kernel px", None),
                     ("edges", "edges", "{:.1f}"), ("seconds", "s", "{:.1f}"), ("note", "note", None)],
        )
        raise typer.Exit(report.exit_code)
