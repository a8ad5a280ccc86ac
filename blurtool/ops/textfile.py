"""Atomic text output (CSV, HTML) for rank: a temporary file in the target folder, renamed over the target."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from blurtool.errors import OutputError


def _umask() -> int:
    # os.umask can only be read by setting it; done once, before any thread of ours writes files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def write_text_atomic(path: Path | str, text: str, newline: str | None = None) -> None:
    """Write ``text`` to ``path`` so that a crash or Ctrl-C leaves either the old file or the new one.

    mkstemp creates the temporary file with mode 0600; it gets the usual 0666 & ~umask before the rename, so the
    output is as readable as any file the user creates.
    """
    path = Path(path)
    folder = path.absolute().parent
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write, folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OutputError(f"{path}: cannot write in folder {folder} ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
