"""Reading and writing photos and maps.

Reading (`read_image`):
  * Pillow identifies the file and reads its header first, so a missing/empty/non-image/oversized file is rejected
    before any pixel is decoded; the pixel limit (`DEFAULT_MAX_PIXELS`) is checked from the header.
  * Pillow decodes 8-bit images. Its JPEG decoder (with ``ImageFile.LOAD_TRUNCATED_IMAGES`` left False) raises on a
    truncated file, whereas OpenCV and libjpeg's default behaviour is to return the photo with a grey bottom.
  * OpenCV decodes images with 16-bit samples, because Pillow reduces 16-bit colour PNG/TIFF to 8 bits.
  * The EXIF orientation tag is applied, so the array is the photo as a viewer shows it
    (``cv2.IMREAD_UNCHANGED`` ignores EXIF; we read the tag with Pillow and transpose the array ourselves).
  * Transparency: an image with alpha is composited over WHITE (what most viewers show), not just dropped: the RGB
    under fully transparent pixels is often arbitrary (black, or leftover content).
  * ``min_size`` lets a JPEG be decoded at 1/2, 1/4 or 1/8 size with libjpeg's DCT scaling (the same mechanism as
    ``cv2.IMREAD_REDUCED_COLOR_2/4/8``, here through Pillow's ``draft``), the largest reduction that keeps the long side
    >= min_size. It is several times faster than a full decode followed by a resize.

Other formats, each through a well-kept decoder that is an optional extra:
  * HEIC / HEIF through ``pillow-heif`` (registered with Pillow the first time one is met; HEIF's own rotation and
    mirroring are applied by libheif, which then reports EXIF orientation 1), AVIF through Pillow's own plugin
    (Pillow >= 11.3). Without the decoder, such a file is one error line saying what to install.
  * Camera RAW files (`blurtool.raw`, by extension: DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, ...) through LibRaw
    (``rawpy``). With ``min_size`` the embedded JPEG preview is used when it is large enough and matches the RAW.

Writing: every writer encodes in memory, then writes a temporary file in the destination folder and renames it over
the target (`os.replace`), so a crash or Ctrl-C never leaves a half-written output behind.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from blurtool.errors import InputError, OutputError, one_line
from blurtool.kinds import Kind
from blurtool.raw import RAW_EXTENSIONS, is_raw, raw_size, read_raw

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HEIF_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "KIND_COLOURS",
    "MASK_EXTENSIONS",
    "RAW_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "BadInput",
    "check_can_write_in",
    "image_size",
    "iter_images",
    "kind_to_colour",
    "read_image",
    "read_labels",
    "read_map",
    "sample_bits",
    "write_image",
    "write_kind_colour",
    "write_labels",
    "write_map",
    "write_npy",
    "write_rgba",
]

# 250 megapixels: above any current camera (a 100 MP medium-format frame is 11656 x 8742), yet a decoded float32
# copy of it is already 3 GB. Larger files are more likely decompression bombs than photos.
DEFAULT_MAX_PIXELS = 250_000_000

# The formats blurtool writes (maps, overlays, edited photos).
WRITE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".webp"})
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif", ".avif"})

# File extensions taken when a folder is expanded (explicitly named files are tried whatever their extension).
IMAGE_EXTENSIONS = WRITE_EXTENSIONS | HEIF_EXTENSIONS | RAW_EXTENSIONS
# Ground-truth masks (blurtool.cuhk) and maps: the lossless formats OpenCV reads as grayscale, and JPEG.
MASK_EXTENSIONS = frozenset({".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg"})

# Pillow format names accepted. "JPEG" also opens what Pillow calls MPO, the JPEG files many phones write (a JPEG
# with a second embedded picture); its first frame is an ordinary JPEG. HEIF is there once pillow-heif is registered,
# AVIF with a Pillow built with it.
_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP", "HEIF", "AVIF")
_FORMAT_NAMES = "JPEG, PNG, TIFF, BMP, WebP, HEIC, AVIF or camera RAW"
HEIF_INSTALL_HINT = 'pip install pillow-heif "pillow>=11.3" (the "heic" extra of blurtool)'

# Kind map colours (RGB), indexed by Kind, as in Kim et al. 2019 (DMENet): black sharp, red defocus, blue motion.
KIND_COLOURS = np.array([[0, 0, 0], [255, 0, 0], [0, 0, 255]], dtype=np.uint8)

# Image.open runs Pillow's own decompression-bomb check (an error above 2 x Image.MAX_IMAGE_PIXELS, ~179 MP by
# default), which would override a larger `max_pixels` asked for by the caller. We switch it off only while the
# header is read, under a lock because Image.MAX_IMAGE_PIXELS is process-global, and apply our own limit instead.
_PIL_OPEN_LOCK = threading.Lock()


def _check_file(path: Path) -> None:
    """An InputError unless `path` is a readable, non-empty file."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an image file")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot read (permission denied)")


_HEIF_REGISTERED = False


def _register_heif() -> bool:
    """Register pillow-heif's HEIF opener with Pillow (once); False when pillow-heif is not installed."""
    global _HEIF_REGISTERED
    if not _HEIF_REGISTERED:
        try:
            import pillow_heif
        except ImportError:
            return False
        pillow_heif.register_heif_opener()
        _HEIF_REGISTERED = True
    return True


# ISO base media file brands of HEIF images (HEVC-coded "heic"..., and the generic "mif1"/"msf1") and of AVIF.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}


def _heif_brand(path: Path) -> str | None:
    """'heif' or 'avif' when the file starts like one (an ftyp box), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    return "avif" if brand in _AVIF_BRANDS else "heif" if brand in _HEIF_BRANDS else None


def _unidentified(path: Path) -> InputError:
    """Why Pillow could not open `path`: a HEIF/AVIF without its decoder says what to install."""
    brand = _heif_brand(path)
    if brand == "heif" and not _register_heif():
        return InputError(f"{path}: reading HEIC/HEIF photos needs pillow-heif, which is not installed: "
                          f"{HEIF_INSTALL_HINT}")
    if brand == "avif" and "AVIF" not in Image.OPEN:
        return InputError(f"{path}: reading AVIF photos needs Pillow >= 11.3 built with AVIF: {HEIF_INSTALL_HINT}")
    if brand is not None:
        return InputError(f"{path}: truncated or corrupt {brand.upper()} image (its decoder cannot read it)")
    return InputError(f"{path}: not a {_FORMAT_NAMES} image (unrecognised or corrupt header)")


def _open_header(path: Path, max_pixels: int | None) -> Image.Image:
    """Open `path` with Pillow (header only), with every failure turned into an InputError naming the file."""
    _check_file(path)
    if path.suffix.lower() in HEIF_EXTENSIONS or _heif_brand(path) is not None:
        _register_heif()
    try:
        with _PIL_OPEN_LOCK:
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                Image.init()
                im = Image.open(path, formats=[f for f in _FORMATS if f in Image.OPEN])
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except UnidentifiedImageError:
        raise _unidentified(path) from None
    except PermissionError:
        raise InputError(f"{path}: cannot read (permission denied)") from None
    except OSError as e:  # e.g. "Truncated File Read": the file ends inside its header
        raise InputError(f"{path}: truncated or corrupt image data ({one_line(e)})") from None
    w, h = im.size
    if w <= 0 or h <= 0:
        im.close()
        raise InputError(f"{path}: image has no pixels ({w} x {h})")
    if max_pixels is not None and w * h > max_pixels:
        im.close()
        raise InputError(
            f"{path}: image is too large to decode safely ({w} x {h} = {_mp(w * h)}; the limit is {_mp(max_pixels)})"
        )
    return im


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.0f} MP" if pixels >= 10_000_000 else f"{pixels} pixels"


def image_size(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(height, width) of the photo as displayed (after EXIF orientation), from the header only."""
    path = Path(path)
    if is_raw(path):
        _check_file(path)
        return raw_size(path, max_pixels=max_pixels)
    im = _open_header(path, max_pixels)
    try:
        w, h = im.size
        if _orientation(im, may_decode=False) in (5, 6, 7, 8):
            w, h = h, w
        return h, w
    finally:
        im.close()


def sample_bits(path: str | os.PathLike) -> int:
    """Bits per sample the photo's pixels have: 16 for a camera RAW (developed at 16 bits) and a 16-bit PNG/TIFF,
    else 8; from the header only. The editing commands write their PNG/TIFF results at this depth, so that the
    pixels they leave alone stay what `read_image` gave."""
    path = Path(path)
    if is_raw(path):
        return 16
    im = _open_header(path, None)
    try:
        return 16 if _is_16bit(im) else 8
    finally:
        im.close()


def _orientation(im: Image.Image, may_decode: bool = True) -> int:
    """EXIF orientation (1-8). Pillow's PNG getexif() decodes the whole image to look for an eXIf chunk after the
    pixel data, so call this after decoding, or with may_decode=False (then only an eXIf chunk that comes before the
    pixel data, the usual place, is seen)."""
    if not may_decode and im.format == "PNG" and "exif" not in im.info:
        return 1
    try:
        value = int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a malformed EXIF block must not make a readable photo unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def _has_orientation_tag(im: Image.Image) -> bool:
    try:
        return 0x0112 in im.getexif()
    except Exception:  # noqa: BLE001 - see _orientation
        return False


def _apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation value (1-8) to an (H, W[, C]) array, as Pillow's ImageOps.exif_transpose does."""
    if orientation == 2:  # mirrored horizontally
        a = a[:, ::-1]
    elif orientation == 3:  # rotated 180
        a = a[::-1, ::-1]
    elif orientation == 4:  # mirrored vertically
        a = a[::-1]
    elif orientation == 5:  # transpose
        a = a.swapaxes(0, 1)
    elif orientation == 6:  # camera rotated 90 CW: rotate back 90 CW
        a = np.rot90(a, -1)
    elif orientation == 7:  # transverse
        a = a.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:  # rotate 90 CCW
        a = np.rot90(a, 1)
    return np.ascontiguousarray(a)


def _is_16bit(im: Image.Image) -> bool:
    if im.mode.startswith("I;16"):
        return True
    # Pillow opens a 16-bit colour PNG/TIFF as mode "RGB(A)" with a 16-bit raw mode and drops the low byte.
    for tile in getattr(im, "tile", None) or []:
        args = tile[3] if len(tile) > 3 else None
        raw = args[0] if isinstance(args, tuple) and args else args
        if isinstance(raw, str) and ";16" in raw:
            return True
    return False


def _composite_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return rgb * a + (1.0 - a)


def _decode_16bit(path: Path) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)  # imdecode, not imread: works with non-ASCII paths on every OS
    a = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if a is None:
        raise InputError(f"{path}: truncated or corrupt image data")
    scale = 65535.0 if a.dtype == np.uint16 else 255.0
    a = a.astype(np.float32) / np.float32(scale)
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    if a.shape[2] == 4:
        return _composite_white(cv2.cvtColor(a[..., :3], cv2.COLOR_BGR2RGB), a[..., 3])
    if a.shape[2] == 2:  # gray + alpha
        return np.repeat(_composite_white(a[..., :1], a[..., 1])[..., :1], 3, axis=2)
    return cv2.cvtColor(a[..., :3], cv2.COLOR_BGR2RGB)


def _decode_pillow(im: Image.Image, path: Path, min_size: int | None) -> np.ndarray:
    if min_size is not None and im.format in ("JPEG", "MPO"):
        w, h = im.size
        scale = 1
        for s in (8, 4, 2):
            if -(-max(w, h) // s) >= min_size:  # libjpeg's scaled size is ceil(size / s)
                scale = s
                break
        if scale > 1:
            # draft() picks the largest DCT scale whose output is >= the requested size.
            im.draft("RGB", (w // scale, h // scale))
    # Pillow raises on truncated data as long as ImageFile.LOAD_TRUNCATED_IMAGES keeps its default, False
    # (we do not flip that process-wide setting back if an application set it).
    im.load()
    mode = im.mode
    if mode in ("RGB", "L"):
        a = np.asarray(im.convert("RGB") if mode == "L" else im)
        return a.astype(np.float32) / np.float32(255.0)
    if mode == "P" or mode == "PA":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "RGBa", "La"):
        a = np.asarray(im.convert("RGBA")).astype(np.float32) / np.float32(255.0)
        return _composite_white(a[..., :3], a[..., 3])
    if mode == "I":
        # 32-bit integer samples: Pillow's container for 16-bit data from some codecs.
        a = np.asarray(im).astype(np.float32)
        a = np.clip(a / np.float32(65535.0), 0.0, 1.0)
        return np.repeat(a[..., None], 3, axis=2)
    if mode == "F":
        a = np.clip(np.asarray(im).astype(np.float32), 0.0, 1.0)
        return np.repeat(a[..., None], 3, axis=2)
    # CMYK, YCbCr, 1-bit, LAB...: let Pillow convert.
    return np.asarray(im.convert("RGB")).astype(np.float32) / np.float32(255.0)


def read_image(
    path: str | os.PathLike,
    *,
    min_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Read a photo as RGB float32 (H, W, 3) in [0, 1], oriented as a viewer shows it.

    JPEG, PNG, TIFF, BMP, WebP, HEIC/HEIF, AVIF; 8 or 16 bits per sample; grayscale (repeated to 3 channels), RGB,
    or with alpha (composited over white); camera RAW files (`blurtool.raw`). `min_size`: decode a JPEG at 1/2, 1/4
    or 1/8 size when its long side stays >= min_size, and take a RAW's embedded preview (else develop it at half
    size) when that has min_size pixels (other formats are decoded at full size; the caller resizes). `max_pixels`:
    refuse larger images before decoding (None: no limit). Raises InputError naming the file and the reason.
    """
    path = Path(path)
    if is_raw(path):
        _check_file(path)
        return read_raw(path, min_size=min_size, max_pixels=max_pixels)
    im = _open_header(path, max_pixels)
    try:
        try:
            if _is_16bit(im):
                a = _decode_16bit(path)
            else:
                a = _decode_pillow(im, path, min_size)
            orientation = _orientation(im)  # after decoding: see _orientation
        except InputError:
            raise
        except Image.DecompressionBombError as e:
            raise InputError(f"{path}: image is too large to decode safely ({one_line(e)})") from None
        except MemoryError:
            raise InputError(f"{path}: not enough memory to decode this image") from None
        except (OSError, ValueError, EOFError, SyntaxError, IndexError) as e:
            # Pillow says "image file is truncated (N bytes not processed)", "broken data stream", ...
            raise InputError(f"{path}: truncated or corrupt image data ({one_line(e)})") from None
    finally:
        im.close()
    return _apply_orientation(a, orientation)


def read_map(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a blur map saved by `write_map` (8- or 16-bit grayscale PNG, 255/65535 = blurred) as float32 (H, W).

    `shape`: the (H, W) the map must have (the photo's size); a mismatch is an InputError.
    """
    path = Path(path)
    im = _open_header(path, DEFAULT_MAX_PIXELS)
    im.close()
    a = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise InputError(f"{path}: truncated or corrupt image data")
    if a.ndim == 3:
        if a.shape[2] >= 3 and not (np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2])):
            raise InputError(f"{path}: a blur map must be a grayscale image, got a colour image")
        a = a[..., 0]
    scale = 65535.0 if a.dtype == np.uint16 else 255.0
    blur = a.astype(np.float32) / np.float32(scale)
    if shape is not None and blur.shape != tuple(shape):
        raise InputError(
            f"{path}: blur map is {blur.shape[1]} x {blur.shape[0]} but the photo is {shape[1]} x {shape[0]}"
        )
    return blur


def read_labels(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a raw kind-label PNG written by `write_labels` (uint8, values 0 sharp, 1 defocus, 2 motion)."""
    path = Path(path)
    a = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED) if path.is_file() else None
    if a is None or a.dtype != np.uint8 or a.ndim != 2:
        raise InputError(f"{path}: not a kind-label PNG (8-bit grayscale with values 0, 1, 2)")
    if a.max(initial=0) > max(Kind):
        raise InputError(f"{path}: kind labels must be 0, 1 or 2, found {int(a.max())}")
    if shape is not None and a.shape != tuple(shape):
        raise InputError(f"{path}: label map is {a.shape[1]} x {a.shape[0]} but the photo is {shape[1]} x {shape[0]}")
    return a


# ----------------------------------------------------------------------------------------------------- writing


def _read_umask() -> int:
    # os.umask can only be read by setting it: done once at import, before any thread of ours writes files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path` (atomic on POSIX and Windows), so
    an interrupted run leaves either the old file or the new one, never half of one.

    mkstemp creates the temporary file with mode 0600; it gets the usual 0666 & ~umask before the rename, so the
    output is as readable as any file the user creates."""
    path = Path(path)
    folder = path.absolute().parent
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write, folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OutputError(f"{path}: cannot write in folder {folder} ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text_atomic(path: str | os.PathLike, text: str, newline: str | None = None) -> None:
    """Atomic text output (CSV, HTML) in UTF-8. `newline` as in open(): None writes os.linesep for each "\\n";
    "" or "\\n" writes the text as it is (what the csv module wants)."""
    sep = os.linesep if newline is None else (newline or "\n")
    if sep != "\n":
        text = text.replace("\n", sep)
    write_bytes_atomic(path, text.encode("utf-8"))


def check_can_write_in(folder: str | os.PathLike, what: str) -> None:
    """Raise OutputError unless files can be created in `folder`, or it can be created (nothing is created): checked
    before a long run, so that the run's work is not lost at its end."""
    folder = Path(folder).absolute()
    probe = folder
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{folder}: {what}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: {what}: cannot write in {probe} (permission denied)")


def _encode(path: Path, bgr_or_gray: np.ndarray, params: list[int] | None = None) -> bytes:
    ext = path.suffix.lower()
    if ext not in WRITE_EXTENSIONS:
        raise OutputError(f"{path}: unsupported output format {ext!r} (use .png, .jpg, .tif, .bmp or .webp)")
    try:
        ok, buf = cv2.imencode(ext, bgr_or_gray, params or [])
    except cv2.error as e:
        raise OutputError(f"{path}: cannot encode image ({one_line(e)})") from None
    if not ok:
        raise OutputError(f"{path}: cannot encode image as {ext}")
    return buf.tobytes()


def _to_uint(a: np.ndarray, bits: int) -> np.ndarray:
    if a.dtype == np.uint8 and bits == 8:
        return a
    if a.dtype == np.uint16 and bits == 16:
        return a
    if a.dtype == np.uint8:
        return a.astype(np.uint16) * 257
    if a.dtype == np.uint16:
        return (a.astype(np.uint32) * 255 + 32767) // 65535
    top = 255.0 if bits == 8 else 65535.0
    out = np.clip(np.nan_to_num(a.astype(np.float32, copy=False)), 0.0, 1.0) * np.float32(top) + np.float32(0.5)
    return out.astype(np.uint8 if bits == 8 else np.uint16)


def _check_image_shape(image: np.ndarray, channels: tuple[int, ...], what: str) -> None:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{what}: expected a numpy array, got {type(image).__name__}")
    ok = (image.ndim == 2 and 1 in channels) or (image.ndim == 3 and image.shape[2] in channels)
    if not ok:
        raise ValueError(f"{what}: expected shape (H, W) or (H, W, C) with C in {channels}, got {image.shape}")


def write_image(path: str | os.PathLike, image: np.ndarray, *, quality: int = 95, bits: int | None = None) -> None:
    """Write an RGB image (float in [0, 1], uint8 or uint16; (H, W), (H, W, 3) or (H, W, 4) RGBA) atomically.

    The format follows the extension. `bits`: 8 or 16 (16 only for PNG/TIFF); default 16 for uint16 input, else 8.
    `quality`: JPEG/WebP quality.
    """
    path = Path(path)
    _check_image_shape(image, (1, 3, 4), "write_image")
    if bits is None:
        bits = 16 if image.dtype == np.uint16 else 8
    if bits == 16 and path.suffix.lower() not in (".png", ".tif", ".tiff"):
        bits = 8
    a = _to_uint(image, bits)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3:
        if a.shape[2] == 4 and path.suffix.lower() in (".jpg", ".jpeg", ".jpe", ".bmp"):
            raise OutputError(f"{path}: {path.suffix} cannot store transparency; write RGBA images as .png")
        a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR if a.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params: list[int] = []
    ext = path.suffix.lower()
    if ext in (".jpg", ".jpeg", ".jpe"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif ext == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    write_bytes_atomic(path, _encode(path, a, params))


def write_rgba(path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray, *, bits: int = 8) -> None:
    """Write RGB (H, W, 3) plus alpha (H, W) in [0, 1] (float) as an RGBA PNG (or TIFF/WebP), atomically."""
    _check_image_shape(rgb, (3,), "write_rgba rgb")
    if alpha.shape != rgb.shape[:2]:
        raise ValueError(f"write_rgba: alpha shape {alpha.shape} does not match image shape {rgb.shape[:2]}")
    rgb_f = rgb.astype(np.float32) / (255.0 if rgb.dtype == np.uint8 else 65535.0 if rgb.dtype == np.uint16 else 1.0)
    al_f = alpha.astype(np.float32) / (255.0 if alpha.dtype == np.uint8 else 1.0)
    write_image(path, np.dstack([rgb_f, al_f]), bits=bits)


def write_map(path: str | os.PathLike, blur: np.ndarray, *, bits: int = 8) -> None:
    """Write a blur map (float (H, W) in [0, 1], 1 = blurred) as a grayscale PNG, 255 (or 65535) = blurred."""
    path = Path(path)
    if not isinstance(blur, np.ndarray) or blur.ndim != 2:
        raise ValueError(f"write_map: expected a (H, W) array, got {getattr(blur, 'shape', type(blur))}")
    if bits not in (8, 16):
        raise ValueError(f"write_map: bits must be 8 or 16, got {bits}")
    write_bytes_atomic(path, _encode(path, _to_uint(blur.astype(np.float32, copy=False), bits)))


def kind_to_colour(kind: np.ndarray) -> np.ndarray:
    """Kind map (uint8 (H, W): 0 sharp, 1 defocus, 2 motion) -> RGB uint8 (black, red, blue)."""
    if kind.ndim != 2:
        raise ValueError(f"kind_to_colour: expected a (H, W) array, got {kind.shape}")
    return KIND_COLOURS[np.clip(kind, 0, max(Kind))]


def write_kind_colour(path: str | os.PathLike, kind: np.ndarray) -> None:
    """Write a kind map as a colour image: black sharp, red defocus, blue motion."""
    write_image(path, kind_to_colour(kind))


def write_labels(path: str | os.PathLike, kind: np.ndarray) -> None:
    """Write a kind map as a raw 8-bit label PNG (values 0 sharp, 1 defocus, 2 motion) for other programs."""
    path = Path(path)
    if kind.ndim != 2:
        raise ValueError(f"write_labels: expected a (H, W) array, got {kind.shape}")
    write_bytes_atomic(path, _encode(path, kind.astype(np.uint8)))


def write_amount(path: str | os.PathLike, amount: np.ndarray) -> None:
    """Write a blur-amount map (blurtool.amount's unit) as an 8-bit grey PNG: grey = 10 x amount, saturating at 255
    (blurtool.amount.to_png; from_png reads it back)."""
    from blurtool.amount import to_png

    path = Path(path)
    if amount.ndim != 2:
        raise ValueError(f"write_amount: expected a (H, W) array, got {amount.shape}")
    write_bytes_atomic(path, _encode(path, to_png(amount)))


def write_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save an array as .npy, atomically."""
    import io as _io

    buf = _io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    write_bytes_atomic(Path(path), buf.getvalue())


# ---------------------------------------------------------------------------------------------- input expansion


@dataclass(frozen=True)
class BadInput:
    """An input argument that gives no image (missing, a folder without images, a glob matching nothing)."""

    source: str
    reason: str

    def error(self) -> InputError:
        return InputError(f"{self.source}: {self.reason}")


def _has_glob(s: str) -> bool:
    return any(c in s for c in "*?[")


def _walk(root: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk that follows symlinked folders but enters each real folder (st_dev, st_ino) once, in sorted order,
    hidden folders skipped: a symlink cycle (``a/up -> ..``) ends, and a folder reached by two names is read once."""
    seen: set[tuple[int, int]] = set()
    for top, dirs, files in os.walk(root, followlinks=True):
        try:
            st = os.stat(top)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []  # already walked under another name: do not go round again
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # skip .git, .cache, ...
        yield top, dirs, files


def _image_files(root: str, files: Iterable[str], exclude: Callable[[Path], bool] | None) -> Iterator[Path]:
    for name in files:
        p = Path(root) / name
        if name.startswith(".") or p.suffix.lower() not in IMAGE_EXTENSIONS or not p.is_file():
            continue
        if exclude is not None and exclude(p):
            continue
        yield p


def _folder_images(folder: Path, recursive: bool, exclude: Callable[[Path], bool] | None) -> list[Path]:
    walker = _walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    found: list[Path] = []
    for root, _, files in walker:
        found.extend(_image_files(root, files, exclude))
    return sorted(found)


def _matches(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether path components match glob components, ``**`` standing for any number of folders."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_matches(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatch(parts[0], pattern[0]) and _matches(parts[1:], pattern[1:])


def _recursive_glob(pattern: str, exclude: Callable[[Path], bool] | None) -> list[Path]:
    """The images a ``**`` pattern names, found by :func:`_walk` rather than glob.glob: glob follows symlinked folders
    without end (``loop/a/up -> ..`` makes ``loop/**`` infinite). A matching folder gives every image below it."""
    parts = Path(pattern).parts
    first = next(i for i, part in enumerate(parts) if _has_glob(part))
    base = Path(*parts[:first]) if first else None
    rest = parts[first:]
    root = base if base is not None else Path(".")
    if not root.is_dir():
        return []
    found: list[Path] = []
    taken: list[tuple[str, ...]] = []  # matching folders: everything below them is in
    for top, _, files in _walk(root):
        rel = Path(top).relative_to(root).parts
        if any(rel[: len(t)] == t for t in taken) or _matches(rel, rest):
            if rel not in taken:
                taken.append(rel)
            chosen = files
        else:
            chosen = [f for f in files if _matches((*rel, f), rest)]
        folder = base.joinpath(*rel) if base is not None else Path(*rel)
        found.extend(_image_files(str(folder), chosen, exclude))
    return sorted(found)


def _no_images(folder: Path, recursive: bool) -> str:
    if not recursive:
        try:
            subs = any(e.is_dir() and not e.name.startswith(".") for e in os.scandir(folder))
        except OSError:
            subs = False
        if subs:
            return "folder has no images at its top level (add `recursive` to take those in its sub-folders)"
    return "folder contains no images (JPEG, PNG, TIFF, BMP, WebP, HEIC, AVIF or camera RAW)"


def iter_images(
    paths: Iterable[str | os.PathLike],
    recursive: bool = False,
    *,
    exclude: Callable[[Path], bool] | None = None,
) -> Iterator[Path | BadInput]:
    """Expand command-line inputs into image paths, in argument order, each path once.

    * A file is yielded as it is (whatever its extension: reading it will say if it is not an image).
    * A folder gives the images (by extension) at its top level, sorted, hidden files skipped; with `recursive`,
      every image below it, in its sub-folders too (hidden folders skipped). Descending only on request keeps a typo
      from processing a whole tree, the same rule for every command.
    * A pattern with * ? [ ] that is not an existing file is expanded with glob (``**`` only with `recursive`);
      matching folders are treated as above.
    * `exclude(path)` drops files found in folders/globs, e.g. blurtool's own outputs next to the inputs.

    Yields a Path per image, or a BadInput for an argument that gives nothing (so a batch can report it and go on).
    """
    seen: set[Path] = set()

    def emit(p: Path) -> Iterator[Path]:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            yield p

    for raw in paths:
        s = os.fspath(raw)
        p = Path(s)
        if p.is_dir():
            try:
                images = _folder_images(p, recursive, exclude)
            except OSError as e:
                yield BadInput(s, f"cannot read this folder ({e.strerror or e})")
                continue
            if not images:
                yield BadInput(s, _no_images(p, recursive))
            for q in images:
                yield from emit(q)
        elif p.exists():
            yield from emit(p)
        elif _has_glob(s):
            if recursive and "**" in p.parts:
                files = _recursive_glob(s, exclude)
            else:
                files = []
                for m in sorted(glob.glob(s)):  # no ** recursion: glob cannot loop
                    mp = Path(m)
                    if mp.is_dir():
                        files.extend(_folder_images(mp, recursive, exclude))
                    elif mp.suffix.lower() in IMAGE_EXTENSIONS and not (exclude is not None and exclude(mp)):
                        files.append(mp)
            if not files:
                yield BadInput(s, "no image files match this pattern")
            for q in files:
                yield from emit(q)
        else:
            yield BadInput(s, "file not found")
