"""Contact sheets: thumbnails in rank order with their score, verdict and a small blur-map inset.

Two renderings of the same tiles: an image (``.jpg``/``.png``, drawn with OpenCV) and a self-contained ``.html``
(thumbnails embedded as data URIs, so the file can be mailed or opened anywhere; the file name links to the photo).
"""

from __future__ import annotations

import base64
import html
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blurtool.errors import OutputError
from blurtool.io import write_text_atomic

# Border colours per verdict (RGB): red bad, orange ok, green good, blue no blur.
VERDICT_COLOURS = {
    "bad-blur": (220, 40, 40),
    "ok-blur": (240, 160, 30),
    "good-blur": (40, 170, 60),
    "no-blur": (50, 110, 220),
}

# JPEG cannot be taller than 65535 px; a sheet of more tiles is cut (the CLI says so).
_MAX_SIDE = 65000


@dataclass
class Tile:
    thumb: np.ndarray  # RGB uint8 (h, w, 3), any size: fitted into the tile
    blur: np.ndarray | None  # small blur map, uint8 (255 = blurred) or float in [0, 1]; shown as an inset
    title: str  # e.g. "#3  S=0.62"
    verdict: str  # a Verdict value, picks the border colour
    name: str  # file name (shown, and the link target in HTML)
    href: str | None = None


def _fit(img: np.ndarray, box: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = box / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


def _map_rgb(blur: np.ndarray) -> np.ndarray:
    import cv2

    b = blur if blur.dtype == np.uint8 else (np.clip(blur, 0, 1) * 255 + 0.5).astype(np.uint8)
    # Inferno: dark = sharp, bright = blurred; easier to read on a thumbnail than grey.
    return cv2.cvtColor(cv2.applyColorMap(b, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def _with_inset(thumb: np.ndarray, blur: np.ndarray | None) -> np.ndarray:
    """The thumbnail with the blur map, at 1/3 of its width, in the bottom-right corner (1 px white frame)."""
    if blur is None:
        return thumb
    out = thumb.copy()
    h, w = out.shape[:2]
    iw = max(8, w // 3)
    ih = max(4, round(iw * blur.shape[0] / blur.shape[1]))
    if ih + 2 > h or iw + 2 > w:
        return out
    import cv2

    inset = cv2.resize(_map_rgb(blur), (iw, ih), interpolation=cv2.INTER_NEAREST)
    out[h - ih - 2 : h, w - iw - 2 : w] = 255
    out[h - ih - 1 : h - 1, w - iw - 1 : w - 1] = inset
    return out


def render_sheet(tiles: list[Tile], columns: int = 6, thumb: int = 200) -> np.ndarray:
    """The sheet as RGB uint8: ``columns`` tiles per row, each a ``thumb`` px square plus two text lines."""
    import cv2

    if not tiles:
        raise OutputError("contact sheet: no photos to show")
    pad, line = 6, 16
    cell_w, cell_h = thumb + 2 * pad, thumb + 2 * pad + 2 * line
    cols = max(1, min(columns, len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    rows = min(rows, max(1, _MAX_SIDE // cell_h))
    tiles = tiles[: rows * cols]
    sheet = np.full((rows * cell_h, cols * cell_w, 3), 32, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y0, x0 = r * cell_h, c * cell_w
        img = _with_inset(_fit(t.thumb, thumb), t.blur)
        h, w = img.shape[:2]
        ty, tx = y0 + pad + (thumb - h) // 2, x0 + pad + (thumb - w) // 2
        colour = VERDICT_COLOURS.get(t.verdict, (128, 128, 128))
        cv2.rectangle(sheet, (tx - 3, ty - 3), (tx + w + 2, ty + h + 2), colour, 3)
        sheet[ty : ty + h, tx : tx + w] = img
        ybase = y0 + 2 * pad + thumb + line - 4
        # Hershey fonts are ASCII only: other characters would show as '?'. The HTML sheet shows the exact names.
        name = t.name.encode("ascii", "replace").decode()
        if len(name) > 30:
            name = name[:13] + "..." + name[-14:]
        cv2.putText(sheet, f"{t.title}  {t.verdict}", (x0 + pad, ybase), font, 0.4, colour, 1, cv2.LINE_AA)
        cv2.putText(sheet, name, (x0 + pad, ybase + line), font, 0.38, (220, 220, 220), 1, cv2.LINE_AA)
    return sheet


def sheet_capacity(columns: int = 6, thumb: int = 200) -> int:
    """How many tiles an image sheet holds before it is cut (JPEG's 65535 px limit)."""
    return max(1, _MAX_SIDE // (thumb + 12 + 32)) * columns


def write_sheet(path: Path | str, tiles: list[Tile], columns: int = 6, thumb: int = 200) -> int:
    """Write the sheet as an image (``.jpg``, ``.png``, ...) or ``.html``; returns the number of tiles shown."""
    from blurtool.io import write_image

    path = Path(path)
    if path.suffix.lower() in (".html", ".htm"):
        _write_html(path, tiles, thumb)
        return len(tiles)
    write_image(path, render_sheet(tiles, columns, thumb), quality=90)
    return min(len(tiles), sheet_capacity(columns, thumb))


def _data_uri(rgb: np.ndarray) -> str:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise OutputError("contact sheet: cannot encode a thumbnail as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode()


def _write_html(path: Path, tiles: list[Tile], thumb: int) -> None:
    if not tiles:
        raise OutputError("contact sheet: no photos to show")
    cells = []
    for t in tiles:
        img = _with_inset(_fit(t.thumb, thumb), t.blur)
        colour = "#{:02x}{:02x}{:02x}".format(*VERDICT_COLOURS.get(t.verdict, (128, 128, 128)))
        href = html.escape(t.href or t.name, quote=True)
        cells.append(
            f'<figure style="border-color:{colour}"><a href="{href}"><img src="{_data_uri(img)}"></a>'
            f"<figcaption><b>{html.escape(t.title)}</b> <span style=\"color:{colour}\">{html.escape(t.verdict)}"
            f"</span><br>{html.escape(t.name)}</figcaption></figure>"
        )
    doc = (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>blurtool rank</title><style>"
        "body{background:#202020;color:#ddd;font:13px sans-serif}"
        f"figure{{display:inline-block;vertical-align:top;width:{thumb + 8}px;margin:6px;border:3px solid;"
        "padding:4px}"
        "img{max-width:100%}figcaption{word-break:break-all}</style></head><body>\n"
        + "\n".join(cells)
        + "\n</body></html>\n"
    )
    write_text_atomic(path, doc)


def relative_href(photo: Path, sheet: Path) -> str:
    """Link from the sheet's folder to the photo (relative when possible, so the pair can be moved together)."""
    try:
        return Path(os.path.relpath(Path(photo).absolute(), Path(sheet).absolute().parent)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(photo).absolute().as_uri()
