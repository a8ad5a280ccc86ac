"""`blurtool detect`: the blur map and blur kind of each photo, saved as images, plus a per-photo summary."""

from __future__ import annotations

from typing import Annotated

import typer

from blurtool.cli._batch import SharedOptions, shared_options

# What --save can name -> the files it writes (tag -> suffix). "kind" writes both the colour picture and the raw
# labels (0/1/2) that other programs and `--map` users read.
SAVE_CHOICES = {
    "blur": {"blur": ".blur.png"},
    "kind": {"kind": ".kind.png", "labels": ".labels.png"},
    "overlay": {"overlay": ".overlay.jpg"},
    "npy": {"npy": ".blur.npy"},
    "amount": {"amount": ".amount.png"},
}
DEFAULT_SAVE = "blur,kind,overlay,amount"

# Overlay: blurred pixels tinted half-way towards the kind colour (red defocus, blue motion); sharp pixels untouched.
OVERLAY_ALPHA = 0.5


def parse_save(value: str) -> dict[str, str]:
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in SAVE_CHOICES]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown output {', '.join(unknown) or '(none)'}; choose from {', '.join(SAVE_CHOICES)}",
            param_hint="--save",
        )
    outputs: dict[str, str] = {}
    for n in names:
        outputs.update(SAVE_CHOICES[n])
    return outputs


def overlay(image, kind):
    """The photo (float RGB) with blurred pixels tinted by kind, as uint8 RGB."""
    import cv2
    import numpy as np

    from blurtool.io import KIND_COLOURS
    from blurtool.kinds import Kind

    img8 = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    tinted = cv2.addWeighted(img8, 1 - OVERLAY_ALPHA, KIND_COLOURS[kind], OVERLAY_ALPHA, 0)
    return np.where((kind != Kind.SHARP)[..., None], tinted, img8)


OVERLAY_MAX_SIDE = 2048  # the overlay is for looking at: a 12 MP one costs ~1 s to make and encode, for nothing


def small_overlay(image, kind):
    """overlay() at most OVERLAY_MAX_SIDE px on its long side."""
    import cv2

    h, w = kind.shape
    s = OVERLAY_MAX_SIDE / max(h, w)
    if s < 1:
        size = (max(1, round(w * s)), max(1, round(h * s)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        kind = cv2.resize(kind, size, interpolation=cv2.INTER_NEAREST)
    return overlay(image, kind)


def write_outputs(paths: dict, image, result, writers) -> None:
    """Write the outputs `detect` was asked for (tag -> path) for one photo.

    Encoding four full-size images is most of the end-to-end time of a large photo; cv2.imencode releases the GIL,
    so they are written on the `writers` thread pool (two threads: one per core here)."""
    from blurtool.io import write_amount, write_image, write_kind_colour, write_labels, write_map, write_npy

    tasks = []
    if "blur" in paths:
        tasks.append(writers.submit(write_map, paths["blur"], result.blur))
    if "kind" in paths:
        tasks.append(writers.submit(write_kind_colour, paths["kind"], result.kind))
        tasks.append(writers.submit(write_labels, paths["labels"], result.kind))
    if "overlay" in paths:
        tasks.append(writers.submit(lambda: write_image(paths["overlay"], small_overlay(image, result.kind), quality=90)))
    if "npy" in paths:
        tasks.append(writers.submit(write_npy, paths["npy"], result.blur))
    if "amount" in paths:
        tasks.append(writers.submit(write_amount, paths["amount"], result.amount))
    try:
        for t in tasks:
            t.result()  # re-raises an OutputError of any writer
    except BaseException:
        # Ctrl-C or a failed writer: let the other writers finish before the batch removes this photo's outputs,
        # or one of them could rename its file into place afterwards.
        from concurrent.futures import wait

        wait(tasks)
        raise


def register(app: typer.Typer) -> None:
    @app.command("detect")
    @shared_options(saved_maps=False)
    def detect(
        shared: SharedOptions,
        save: Annotated[
            str,
            typer.Option(
                "--save",
                help="Outputs to write, comma-separated: blur (grey map, white = blurred), kind (colour map: "
                "black sharp, red defocus, blue motion, and raw 0/1/2 labels), overlay (the photo tinted by kind), "
                "npy (float32 map), amount (blur radius per pixel: grey = 10 x px at a 1000 px long side).",
            ),
        ] = DEFAULT_SAVE,
    ) -> None:
        """Find where each photo is blurred and how: per-pixel blur map and kind (sharp / defocus / motion).

        Writes, next to each photo or in [bold]--out[/]: [bold]<stem>.blur.png[/] (255 = blurred, same size as the
        photo), [bold]<stem>.kind.png[/] (black sharp, red defocus, blue motion), [bold]<stem>.labels.png[/]
        (0/1/2), [bold]<stem>.overlay.jpg[/] and [bold]<stem>.amount.png[/] (blur radius, grey = 10 x px at a
        1000 px long side). Prints per photo the blurred fraction, the fraction by kind, the blur degree (mean of
        the map, Ma et al. 2018), the dominant kind, and the blur amount (mean radius over the blurred pixels) with
        its level (none, low, medium, high).

        Example: [cyan]blurtool detect holiday/*.jpg --out maps/[/]
        """
        outputs = parse_save(save)

        from blurtool.errors import WeightsError
        from blurtool.io import read_image

        detector = shared.detector()
        if not detector.has_amount and "amount" in outputs:
            if save != DEFAULT_SAVE:
                raise WeightsError("--save amount: these weights have no blur-amount channel")
            del outputs["amount"]  # a model from before the amount channel: the other outputs as before

        from concurrent.futures import ThreadPoolExecutor

        writers = ThreadPoolExecutor(max_workers=2)

        def process(job):
            image = read_image(job.path)
            res = detector.predict(image)
            write_outputs(job.outputs, image, res, writers)
            return {"width": image.shape[1], "height": image.shape[0], **res.summary()}

        report = shared.run(
            process, outputs=outputs, description="Detecting blur",
            columns=[
                ("blurred_fraction", "blurred", "{:.0%}"),
                ("defocus_fraction", "defocus", "{:.0%}"),
                ("motion_fraction", "motion", "{:.0%}"),
                ("degree", "degree", "{:.2f}"),
                ("dominant_kind", "dominant", None),
                *([("amount", "amount", "{:.1f}"), ("amount_level", "level", None)] if detector.has_amount else []),
            ],
        )
        writers.shutdown()
        raise typer.Exit(report.exit_code)
