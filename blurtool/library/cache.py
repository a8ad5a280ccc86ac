"""A score cache so that re-ranking a grown photo library only runs the network on the new photos.

SQLite (standard library): one row per (photo path, model key), committed every few photos, so a Ctrl-C or crash
loses at most the last few results and concurrent readers see a consistent file. A row is valid only while the
photo's size and modification time (ns) are unchanged; the *model key* joins the weights' sha256, the decision
threshold and the scoring grid, so new weights or another threshold never reuse old scores.

A photo moved or copied by ``blurtool rank --move/--copy`` (which keep the modification time) is found again by
file name, size and modification time when its path is not in the cache: re-ranking a sorted library costs nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from blurtool.errors import InputError, OutputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    path TEXT NOT NULL,
    model TEXT NOT NULL,
    name TEXT NOT NULL,        -- file name, with size and mtime_ns the key of a moved photo
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    data TEXT NOT NULL,        -- JSON: scores and photo size
    mini BLOB,                 -- small blur map (uint8) for contact sheets, PNG-encoded
    PRIMARY KEY (path, model)
);
CREATE INDEX IF NOT EXISTS moved ON scores (model, size, mtime_ns, name);
"""


def _encode_png(a: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", a)
    return buf.tobytes() if ok else b""


def _decode_png(b: bytes | None) -> np.ndarray | None:
    import cv2

    if not b:
        return None
    return cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED)


class ScoreCache:
    """``get(path)`` -> ``(data dict, mini map)`` or None; ``put(path, data, mini)``. Use as a context manager."""

    def __init__(self, path: Path | str, model_key: str, commit_every: int = 16):
        self.path = Path(path)
        self.model_key = model_key
        self.commit_every = commit_every
        self._pending = 0
        self.hits = 0
        self.misses = 0
        try:
            # A new cache in a folder that does not exist yet (~/.cache on a fresh account) is created with it.
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{self.path}: cannot create the cache's folder ({e.strerror or e})") from None
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.executescript(_SCHEMA)
            self.db.commit()
        except sqlite3.DatabaseError as e:
            raise InputError(f"{self.path}: not a usable blurtool cache ({e})") from None

    @staticmethod
    def _stat(photo: Path) -> tuple[str, int, int]:
        st = os.stat(photo)
        return str(Path(photo).resolve()), st.st_size, st.st_mtime_ns

    def get(self, photo: Path | str):
        try:
            key, size, mtime = self._stat(Path(photo))
        except OSError:
            return None
        row = self.db.execute(
            "SELECT size, mtime_ns, data, mini FROM scores WHERE path = ? AND model = ?", (key, self.model_key)
        ).fetchone()
        if row is None:
            row = self.db.execute(
                "SELECT size, mtime_ns, data, mini FROM scores WHERE model = ? AND size = ? AND mtime_ns = ? "
                "AND name = ? LIMIT 1", (self.model_key, size, mtime, Path(key).name),
            ).fetchone()
        if row is None or row[0] != size or row[1] != mtime:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[2]), _decode_png(row[3])

    def put(self, photo: Path | str, data: dict, mini: np.ndarray | None = None) -> None:
        key, size, mtime = self._stat(Path(photo))
        self.db.execute(
            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, self.model_key, Path(key).name, size, mtime, json.dumps(data),
             None if mini is None else _encode_png(mini)),
        )
        self._pending += 1
        if self._pending >= self.commit_every:
            self.commit()

    def commit(self) -> None:
        self.db.commit()
        self._pending = 0

    def close(self) -> None:
        self.commit()
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
