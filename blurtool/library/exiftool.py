"""A long-running ExifTool process (``-stay_open``), the one metadata engine behind ``rank --xmp`` and burst times.

Why ExifTool and not an XMP library or hand-written XML: a sidecar that darktable, Lightroom or digiKam wrote holds
their own namespaces (darktable's edit history, Lightroom's ``crs:`` develop settings, keywords, face regions...).
Editing it must keep every one of those properties. ExifTool reads any XMP, keeps the properties of namespaces it
does not know, writes XMP into JPEG, TIFF and DNG without touching their other metadata (EXIF, IPTC, maker notes),
and is what photographers already trust for this; python-xmp-toolkit/Exempi would also keep unknown namespaces but
embeds through a C library that is less widely packaged, and pyexiv2 wheels do not cover every platform. A
hand-written XML merge would have to re-implement RDF's attribute/element/struct forms and is the way sidecars get
damaged. ExifTool is a Perl program: Debian/Ubuntu ``apt install libimage-exiftool-perl``, macOS ``brew install
exiftool``. It is looked up on ``PATH`` when needed, never downloaded.

``-stay_open True -@ -`` keeps one process for a whole run: each command costs a few milliseconds instead of the
~150 ms of starting Perl and ExifTool again (see benchmarks/bench_xmp.py).

blurtool's own XMP namespace (``http://ns.blurtool.org/1.0/``, prefix ``blurtool``) is declared to ExifTool by a small
config file written to a temporary folder when the process starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from blurtool.errors import OutputError

NEEDS_EXIFTOOL = "writing XMP needs ExifTool: apt install libimage-exiftool-perl"

BLURTOOL_NS = "http://ns.blurtool.org/1.0/"
BLURTOOL_PREFIX = "blurtool"

# The properties of blurtool's namespace and their XMP value types (ExifTool's writable types).
BLURTOOL_TAGS = {
    "Verdict": "string",  # no-blur / good-blur / ok-blur / bad-blur
    "Reason": "string",  # the rule that gave the verdict ("camera shake", ...)
    "Degree": "real",  # blur degree S (mean of the blur map)
    "BlurredFraction": "real",
    "DefocusFraction": "real",
    "MotionFraction": "real",
    "ModelSHA256": "string",  # sha256 of the weights file that scored the photo
    "Version": "string",  # blurtool's version
    # What blurtool itself last wrote into xmp:Rating, xmp:Label and digiKam:PickLabel: a value there that differs
    # (or has no record here) was set by the user, and is kept unless --overwrite-ratings.
    "Rating": "integer",
    "Label": "string",
    "PickLabel": "integer",
    "Burst": "string",  # burst id (shared by the frames of one burst)
    "BurstRole": "string",  # pick / alternate
    "BurstSize": "integer",
}


def _config_text() -> str:
    tags = "\n".join(f"    {name} => {{ Writable => '{kind}' }}," for name, kind in BLURTOOL_TAGS.items())
    return f"""# Written by blurtool: its XMP namespace, for ExifTool.
%Image::ExifTool::UserDefined::{BLURTOOL_PREFIX} = (
    GROUPS => {{ 0 => 'XMP', 1 => 'XMP-{BLURTOOL_PREFIX}', 2 => 'Image' }},
    NAMESPACE => {{ '{BLURTOOL_PREFIX}' => '{BLURTOOL_NS}' }},
    WRITABLE => 'string',
{tags}
);
%Image::ExifTool::UserDefined = (
    'Image::ExifTool::XMP::Main' => {{
        {BLURTOOL_PREFIX} => {{ SubDirectory => {{ TagTable => 'Image::ExifTool::UserDefined::{BLURTOOL_PREFIX}' }} }},
    }},
);
1;
"""


def find_exiftool(needed_for: str = NEEDS_EXIFTOOL) -> str:
    """Path of the ``exiftool`` program, or an OutputError saying what to install (one line)."""
    exe = os.environ.get("BLURTOOL_EXIFTOOL") or shutil.which("exiftool")
    if not exe or not os.access(exe, os.X_OK):
        raise OutputError(needed_for)
    return exe


class ExifToolError(OutputError):
    """ExifTool refused a command (its own message follows)."""


class ExifTool:
    """One ``exiftool -stay_open`` process. ``execute(args)`` -> (stdout, stderr) of that command.

    Use as a context manager (the process and its config file are removed on exit). Thread-safe: commands are
    serialised. Arguments go one per line through ExifTool's ``-@ -`` argument file, so no shell is involved; a
    file name holding a newline cannot be passed and is refused.
    """

    def __init__(self, exe: str | None = None, needed_for: str = NEEDS_EXIFTOOL):
        self.exe = exe or find_exiftool(needed_for)
        self._dir = tempfile.mkdtemp(prefix="blurtool-exiftool-")
        self.config = Path(self._dir) / "blurtool.config"
        self.config.write_text(_config_text(), encoding="utf-8")
        self._n = 0
        self._lock = threading.Lock()
        try:
            # -config must come first. stderr is read after stdout for each command; both end with a marker.
            self._p = subprocess.Popen(
                [self.exe, "-config", str(self.config), "-stay_open", "True", "-@", "-"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        except OSError as e:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise OutputError(f"{needed_for} (could not start {self.exe}: {e.strerror or e})") from None

    def execute(self, args: Sequence[str]) -> tuple[str, str]:
        for a in args:
            if "\n" in a or "\r" in a:
                raise ExifToolError(f"{a!r}: a name or value with a line break cannot be passed to ExifTool")
        with self._lock:
            self._n += 1
            n = self._n
            marker = f"{{ready{n}}}"
            text = "\n".join([*args, "-echo4", marker, f"-execute{n}", ""])
            try:
                self._p.stdin.write(text.encode("utf-8", "surrogateescape"))
                self._p.stdin.flush()
                out = self._read_until(self._p.stdout, marker)
                err = self._read_until(self._p.stderr, marker)
            except (BrokenPipeError, OSError) as e:
                raise ExifToolError(f"ExifTool stopped unexpectedly ({e})") from None
        return out, err

    @staticmethod
    def _read_until(stream, marker: str) -> str:
        buf = bytearray()
        end = marker.encode()
        fd = stream.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ExifToolError("ExifTool stopped unexpectedly")
            buf += chunk
            stripped = buf.rstrip()
            if stripped.endswith(end):
                return stripped[: -len(end)].decode("utf-8", "replace")

    def read_json(self, files: Sequence[Path | str], tags: Sequence[str]) -> dict[str, dict]:
        """{absolute path: {"Group:Tag": value}} for the given tags (raw values, ``-n``; groups as ``-G1``)."""
        if not files:
            return {}
        out, _ = self.execute(["-j", "-n", "-G1", "-fast2", *[f"-{t}" for t in tags],
                               *[str(Path(f).absolute()) for f in files]])
        try:
            rows = json.loads(out) if out.strip() else []
        except json.JSONDecodeError as e:
            raise ExifToolError(f"ExifTool gave output that is not JSON ({e})") from None
        return {str(Path(r.get("SourceFile", "")).absolute()): r for r in rows if isinstance(r, dict)}

    def close(self) -> None:
        p = getattr(self, "_p", None)
        if p is not None and p.poll() is None:
            try:
                p.stdin.write(b"-stay_open\nFalse\n")
                p.stdin.flush()
                p.stdin.close()
                p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                p.kill()
                p.wait()
        for s in (getattr(p, "stdout", None), getattr(p, "stderr", None)):
            if s is not None:
                s.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
