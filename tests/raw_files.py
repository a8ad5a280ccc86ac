"""Real RAW files written in code: a DNG holding a Bayer mosaic, as a camera writes it, that LibRaw reads.

``write_dng(path, rgb)`` turns an sRGB picture into what a sensor would have recorded (linear light, one colour per
pixel in an RGGB Bayer pattern, 12-bit) and writes it with the DNG tags LibRaw needs: DNGVersion, the CFA layout
(CFARepeatPatternDim, CFAPattern), Black/WhiteLevel, a ColorMatrix1 that makes the camera's primaries the sRGB ones
(so that LibRaw's sRGB output is the picture again, up to demosaicing), AsShotNeutral (white balance 1) and the
Orientation. Optionally an embedded JPEG preview in IFD 0 (NewSubfileType 1, the raw data then in a SubIFD), as
cameras store them. tifffile writes the TIFF structure; imagecodecs is what lets it store JPEG-compressed strips.
Also used by benchmarks/bench_raw_rank.py.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

# sRGB (D65) -> XYZ; its inverse is DNG's ColorMatrix1 (XYZ -> camera) of a camera whose primaries are sRGB's.
_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])


def srgb_to_linear(s: np.ndarray) -> np.ndarray:
    return np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)


def mosaic(rgb: np.ndarray, white: int) -> np.ndarray:
    """sRGB float (H, W, 3) in [0, 1] -> RGGB Bayer mosaic uint16 of linear values up to `white`."""
    lin = srgb_to_linear(np.clip(rgb.astype(np.float64), 0, 1)) * white
    cfa = np.empty(rgb.shape[:2], np.uint16)
    cfa[0::2, 0::2] = np.round(lin[0::2, 0::2, 0])
    cfa[0::2, 1::2] = np.round(lin[0::2, 1::2, 1])
    cfa[1::2, 0::2] = np.round(lin[1::2, 0::2, 1])
    cfa[1::2, 1::2] = np.round(lin[1::2, 1::2, 2])
    return cfa


def _srational(values) -> tuple[int, ...]:
    out: list[int] = []
    for v in np.ravel(values):
        out += [round(float(v) * 10000), 10000]
    return tuple(out)


def jpeg_bytes(rgb8: np.ndarray, quality: int = 90, exif_orientation: int | None = None) -> bytes:
    """A baseline JPEG of uint8 RGB. With `exif_orientation`, its EXIF block comes first (JFIF segment dropped), as in
    previews that carry their own EXIF; without, it has none, as most cameras' previews (LibRaw then gives it one
    with the RAW's orientation)."""
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(rgb8)
    if exif_orientation is None:
        im.save(buf, "JPEG", quality=quality)
        return buf.getvalue()
    exif = Image.Exif()
    exif[0x0112] = exif_orientation
    im.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    b = buf.getvalue()
    if b[2:4] == b"\xff\xe0":  # drop the JFIF APP0 segment so that EXIF follows SOI
        (n,) = struct.unpack(">H", b[4:6])
        b = b[:2] + b[4 + n:]
    return b


def write_dng(
    path: str | Path,
    rgb: np.ndarray,
    *,
    orientation: int = 1,
    preview: np.ndarray | None = None,
    preview_jpeg: bytes | None = None,
    white: int = 4095,
    cfa: np.ndarray | None = None,
) -> Path:
    """Write `rgb` (sRGB float (H, W, 3) in [0, 1] or uint8, as the sensor sees it: not yet rotated) as a DNG whose
    Orientation tag is `orientation`. `preview`: uint8 RGB stored as the embedded JPEG preview (or `preview_jpeg`,
    ready-made JPEG bytes of that picture). `cfa`: a ready-made mosaic (for speed, when many files are written)."""
    import tifffile

    path = Path(path)
    if rgb.dtype == np.uint8:
        rgb = rgb.astype(np.float32) / 255
    if cfa is None:
        cfa = mosaic(rgb, white)
    camera = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "blurtool test camera", True),  # UniqueCameraModel
        (271, "s", 0, "blurtool", True),  # Make
        (272, "s", 0, "test camera", True),  # Model
        (274, "H", 1, orientation, True),  # Orientation
        (50721, "2i", 9, _srational(np.linalg.inv(_SRGB_TO_XYZ)), True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
    ]
    sensor = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
        (50714, "H", 1, 0, True),  # BlackLevel
        (50717, "H", 1, white, True),  # WhiteLevel
    ]
    with tifffile.TiffWriter(path) as tif:
        if preview is None and preview_jpeg is None:
            tif.write(cfa, photometric=32803, subfiletype=0, extratags=camera + sensor)
        else:
            jpeg = preview_jpeg if preview_jpeg is not None else jpeg_bytes(preview)
            shape = preview.shape if preview is not None else _jpeg_shape(jpeg)
            # Pre-compressed strip (the JPEG as it is) in IFD 0, the mosaic in its SubIFD, as cameras lay them out.
            tif.write(iter([jpeg]), shape=shape, dtype=np.uint8, photometric="ycbcr", compression="jpeg",
                      subsampling=(2, 2), rowsperstrip=shape[0], subifds=1, subfiletype=1, extratags=camera)
            tif.write(cfa, photometric=32803, subfiletype=0, extratags=sensor)
    return path


def _jpeg_shape(jpeg: bytes) -> tuple[int, int, int]:
    from PIL import Image

    w, h = Image.open(io.BytesIO(jpeg)).size
    return (h, w, 3)
