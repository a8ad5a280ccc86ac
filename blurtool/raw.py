"""Camera RAW files through LibRaw (the optional ``rawpy`` package: ``pip install rawpy``, the "raw" extra).

`blurtool.io.read_image` calls :func:`read_raw` for a file with a RAW extension (:data:`RAW_EXTENSIONS`); nothing
else in blurtool needs to know about RAW files. Two ways to get pixels:

* **Developing** (demosaicing) the sensor data with LibRaw: the camera's white balance (its daylight balance when
  the file has none), LibRaw's usual brightness, sRGB primaries and the sRGB tone curve (``gamma=(2.4, 12.92)``,
  dcraw's spelling of it; LibRaw's default is the BT.709 curve), 16 bits per sample, rotated by LibRaw as the file's
  orientation says. At full size for the map commands; at half size (``half_size``: each 2 x 2 Bayer cell becomes
  one pixel, no interpolation, about 4x faster) when the caller only needs ``min_size`` pixels.
* The camera's **embedded preview** (the JPEG the camera rendered and shows on its screen; many RAWs carry one at
  full or near-full size), when the caller only needs ``min_size`` pixels and the preview has them: no demosaic at
  all, the JPEG is even decoded at 1/2, 1/4 or 1/8 size by libjpeg. A preview is used only if, oriented (its own
  EXIF orientation, else the RAW's), it has the RAW's aspect ratio within :data:`PREVIEW_ASPECT_TOLERANCE`: a
  preview cropped to another format in the camera (16:9, 1:1) or left unrotated would give a map of another picture.

Every LibRaw failure becomes an InputError naming the file (unsupported camera or not a RAW file, truncated data,
too large), so a batch reports one line and goes on.
"""

from __future__ import annotations

import io as _bytes_io
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from blurtool.errors import InputError, one_line

__all__ = [
    "INSTALL_HINT",
    "PREVIEW_ASPECT_TOLERANCE",
    "RAW_EXTENSIONS",
    "is_raw",
    "preview_fits",
    "raw_size",
    "read_raw",
]

# LibRaw reads many more; these are the usual extensions of the cameras it supports (Adobe DNG, Canon CR2/CR3/CRW,
# Nikon NEF/NRW, Sony ARW/SRF/SR2, Fujifilm RAF, Olympus/OM ORF, Panasonic RW2/RAW, Leica RWL, Pentax PEF, Samsung
# SRW, Sigma X3F, Hasselblad 3FR/FFF, Phase One IIQ, Mamiya MEF, Leaf MOS, Epson ERF, Kodak DCR/KDC, Minolta MRW).
RAW_EXTENSIONS = frozenset({
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".raw", ".rwl",
    ".pef", ".srw", ".x3f", ".3fr", ".fff", ".iiq", ".mef", ".mos", ".erf", ".dcr", ".kdc", ".mrw",
})

INSTALL_HINT = 'pip install rawpy (the "raw" extra of blurtool)'

# Previews and the RAW's visible area differ by a few pixels of margin (a Nikon's 6048 x 4024 sensor area against
# its 6000 x 4000 preview is 0.2 %); a crop to another format in the camera changes the ratio by 11 % (3:2 -> 16:9)
# or more.
PREVIEW_ASPECT_TOLERANCE = 0.02

# LibRaw's `flip` (dcraw: bit 4 transpose, bit 2 flip rows, bit 1 flip columns) as an EXIF orientation (1-8):
# the inverse of dcraw's EXIF -> flip table "50132467".
_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


# What LibRaw's default data-error callback prints on the process's stderr (libraw_datastream.cpp: "%s: Unexpected
# end of file", "%s: data corrupted at %d") while it decodes a damaged file. The failure also comes back as an
# exception, which becomes blurtool's one-line error; the printed copy would be a second, unexplained line.
_LIBRAW_NOISE = re.compile(rb"^.*: (Unexpected end of file|data corrupted at -?\d+)\r?$")
_stderr_lock = threading.Lock()
_stderr_users = 0
_stderr_saved: tuple[int, object] | None = None  # (the real stderr's fd copy, the temporary file fd 2 points to)


@contextmanager
def _libraw_stderr():
    """Hold LibRaw's messages on fd 2 back while LibRaw runs, then pass on whatever else was written there.

    rawpy has no way to silence LibRaw's C-level fprintf(stderr, ...), so fd 2 itself points at a temporary file
    for the duration. Threads share fd 2: the first LibRaw call in redirects it, the last one out restores it and
    replays what was captured (a progress bar drawn meanwhile, another thread's error) minus LibRaw's own lines."""
    global _stderr_users, _stderr_saved
    with _stderr_lock:
        if _stderr_users == 0:
            try:
                sys.stderr.flush()
                capture = tempfile.TemporaryFile()
                saved = os.dup(2)
                os.dup2(capture.fileno(), 2)
                _stderr_saved = (saved, capture)
            except (OSError, ValueError, AttributeError):  # no usable fd 2 (an embedding host): let LibRaw print
                _stderr_saved = None
        _stderr_users += 1
    try:
        yield
    finally:
        with _stderr_lock:
            _stderr_users -= 1
            if _stderr_users == 0 and _stderr_saved is not None:
                saved, capture = _stderr_saved
                _stderr_saved = None
                try:
                    sys.stderr.flush()
                except (OSError, ValueError, AttributeError):
                    pass
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                kept = b"".join(
                    line for line in capture.read().splitlines(keepends=True)
                    if not _LIBRAW_NOISE.match(line.rstrip(b"\n"))
                )
                capture.close()
                if kept:
                    os.write(2, kept)


def is_raw(path: str | os.PathLike) -> bool:
    """Whether `path` is read as a camera RAW file (by its extension)."""
    return Path(path).suffix.lower() in RAW_EXTENSIONS


def _rawpy():
    try:
        import rawpy
    except ImportError:
        return None
    return rawpy


def _text(e: BaseException) -> str:
    msg = e.args[0] if e.args else str(e)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return one_line(msg) or type(e).__name__


class _Raw:
    """A RAW file opened by LibRaw (metadata parsed, nothing decoded yet), every failure an InputError."""

    def __init__(self, path: Path):
        rawpy = _rawpy()
        if rawpy is None:
            raise InputError(f"{path}: reading RAW photos needs LibRaw, which is not installed: {INSTALL_HINT}")
        self.rawpy = rawpy
        self.path = path
        self.raw = self._call(rawpy.imread, str(path), opening=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.raw.close()

    def _call(self, fn, *args, opening: bool = False, **kwargs):
        rawpy, path = self.rawpy, self.path
        try:
            with _libraw_stderr():
                return fn(*args, **kwargs)
        except rawpy.LibRawFileUnsupportedError:
            version = ".".join(map(str, rawpy.libraw_version))
            raise InputError(
                # LibRaw says "unsupported" too when a RAW's metadata is cut off or damaged: it cannot tell the two.
                f"{path}: unsupported or damaged RAW file (LibRaw {version} does not know this camera or format, the "
                "file is cut off or corrupt, or it is not a RAW photo)"
            ) from None
        except (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError, MemoryError):
            raise InputError(f"{path}: not enough memory to decode this RAW photo") from None
        except (rawpy.LibRawIOError, rawpy.LibRawDataError) as e:
            if opening:  # LibRaw could not read even the header: a few bytes, or not a RAW photo at all
                raise InputError(f"{path}: not a RAW photo, or cut off before its header ({_text(e)})") from None
            raise InputError(f"{path}: truncated or corrupt RAW data ({_text(e)})") from None
        except rawpy.LibRawError as e:
            raise InputError(f"{path}: cannot decode this RAW photo ({_text(e)})") from None

    @property
    def orientation(self) -> int:
        return _FLIP_TO_ORIENTATION.get(int(self.raw.sizes.flip) & 7, 1)

    def size(self) -> tuple[int, int]:
        """(height, width) of the developed photo as displayed (orientation applied)."""
        s = self.raw.sizes
        h, w = int(s.height), int(s.width)
        return (w, h) if self.orientation in (5, 6, 7, 8) else (h, w)

    def develop(self, *, half_size: bool, bits: int) -> np.ndarray:
        a = self._call(
            self.raw.postprocess, use_camera_wb=True, output_color=self.rawpy.ColorSpace.sRGB, gamma=(2.4, 12.92),
            half_size=half_size, output_bps=bits,
        )
        return a.astype(np.float32) / np.float32(65535.0 if a.dtype == np.uint16 else 255.0)

    def preview(self, min_size: int) -> np.ndarray | None:
        """The embedded preview as float RGB, oriented, decoded at reduced size when it stays >= min_size; None when
        there is none, it is too small or it does not match the RAW (see the module docstring)."""
        rawpy = self.rawpy
        try:
            with _libraw_stderr():
                thumb = self.raw.extract_thumb()
        except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
            return None
        except rawpy.LibRawError:
            return None  # a damaged preview: the sensor data may still be fine
        if thumb.format == rawpy.ThumbFormat.JPEG:
            return _jpeg_preview(self.path, thumb.data, self.orientation, self.size(), min_size)
        if thumb.format == rawpy.ThumbFormat.BITMAP:
            from blurtool.io import _apply_orientation

            a = np.asarray(thumb.data)
            if a.ndim != 3 or a.shape[2] != 3:
                return None
            a = _apply_orientation(a, self.orientation)  # a bitmap has no EXIF of its own
            if not preview_fits(self.size(), a.shape[:2], min_size):
                return None
            return a.astype(np.float32) / np.float32(65535.0 if a.dtype == np.uint16 else 255.0)
        return None


def _jpeg_preview(path: Path, data: bytes, raw_orientation: int, raw_hw: tuple[int, int], min_size: int):
    from PIL import Image

    from blurtool.io import _apply_orientation, _decode_pillow, _has_orientation_tag, _orientation

    try:
        im = Image.open(_bytes_io.BytesIO(data), formats=("JPEG",))
    except Exception:  # noqa: BLE001 - an undecodable preview is only a missed shortcut: develop the RAW instead
        return None
    try:
        # LibRaw gives the preview an EXIF block with the RAW's orientation when it has none of its own; a preview
        # that has its own is oriented by it.
        orientation = _orientation(im) if _has_orientation_tag(im) else raw_orientation
        w, h = im.size
        shown = (w, h) if orientation in (5, 6, 7, 8) else (h, w)
        if not preview_fits(raw_hw, shown, min_size):
            return None
        try:
            a = _decode_pillow(im, path, min_size)
        except Exception:  # noqa: BLE001 - as above: a truncated preview, develop the RAW instead
            return None
    finally:
        im.close()
    return _apply_orientation(a, orientation)


def preview_fits(raw_hw: tuple[int, int], preview_hw: tuple[int, int], min_size: int) -> bool:
    """Whether a preview of (height, width) `preview_hw`, as displayed, can stand for a RAW of `raw_hw`: its long
    side is >= min_size and its aspect ratio is the RAW's within PREVIEW_ASPECT_TOLERANCE (a preview in the other
    orientation has the inverse ratio, so it fails too)."""
    (rh, rw), (ph, pw) = raw_hw, preview_hw
    if min(rh, rw, ph, pw) <= 0 or max(ph, pw) < min_size:
        return False
    return abs((ph / pw) / (rh / rw) - 1.0) <= PREVIEW_ASPECT_TOLERANCE


def _open(path: Path, max_pixels: int | None) -> _Raw:
    raw = _Raw(path)
    h, w = raw.size()
    if max_pixels is not None and w * h > max_pixels:
        raw.raw.close()
        from blurtool.io import _mp

        raise InputError(
            f"{path}: image is too large to decode safely ({w} x {h} = {_mp(w * h)}; the limit is {_mp(max_pixels)})"
        )
    return raw


def raw_size(path: str | os.PathLike, *, max_pixels: int | None = None) -> tuple[int, int]:
    """(height, width) of the developed RAW as displayed, from its metadata only."""
    with _open(Path(path), max_pixels) as raw:
        return raw.size()


def read_raw(path: str | os.PathLike, *, min_size: int | None = None, max_pixels: int | None = None) -> np.ndarray:
    """A RAW photo as RGB float32 (H, W, 3) in [0, 1], oriented as a viewer shows it.

    `min_size` None: developed at full size. Otherwise the embedded preview when it fits (see the module docstring),
    else developed at half size if that keeps the long side >= min_size, else at full size; the caller resizes.
    """
    path = Path(path)
    with _open(path, max_pixels) as raw:
        if min_size is not None:
            preview = raw.preview(min_size)
            if preview is not None:
                return preview
            half = max(raw.size()) // 2 >= min_size
            return raw.develop(half_size=half, bits=8)
        return raw.develop(half_size=False, bits=16)
