"""Sort photos into sub-folders safely: never overwrite, log every step, undo from the log.

Safety model (what a Ctrl-C or a crash can leave, and how undo copes):

* A destination name is *claimed* with ``os.link(src, dst)`` (or ``os.link(tmp, dst)`` for a copy), which fails if
  ``dst`` exists: two photos never overwrite each other, even if another program creates files meanwhile. A clash
  gets the next free suffix (``name-1.jpg``, ``name-2.jpg``...). A move is then completed by unlinking the source, so
  at every instant the photo exists under at least one name (a hard-link "rename" that cannot overwrite; Python has
  no ``renameat2(RENAME_NOREPLACE)``).
* Cross-device moves (``EXDEV``) copy to a hidden temporary file in the destination folder, claim the name from it,
  then delete the source. File systems without hard links fall back to "check, then ``os.rename``".
* Every operation is written to a JSON-lines log *before* (``begin``) and *after* (``done``) it runs, flushed each
  time. SIGINT is deferred while one operation runs, so Ctrl-C stops between photos; a hard kill leaves at most one
  ``begin`` without ``done``, and undo handles each of its possible states.
* ``undo(log)`` walks the log backwards, puts moved photos back and deletes copies that are unchanged, never
  overwriting anything that reappeared at the origin (it reports those and leaves both files), and appends
  ``undone`` records so a second undo does nothing.
* The same log journals the XMP written by ``rank --xmp`` (``op: "xmp"`` records, see ``blurtool.library.xmp``); undo
  takes every operation back newest first, so photos are back in place before their metadata is restored.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from blurtool.errors import InputError, OutputError

LOG_VERSION = 1
_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


@dataclass(frozen=True)
class Transfer:
    """One planned move/copy: ``src`` goes to ``dst`` (already made unique against the disk and the plan)."""

    src: Path
    dst: Path
    group: str


@dataclass
class SortReport:
    done: list[Transfer] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    interrupted: bool = False


@dataclass
class UndoReport:
    restored: list[Path] = field(default_factory=list)  # moves put back / copies deleted
    restored_xmp: list[Path] = field(default_factory=list)  # sidecars / photos whose XMP was put back as it was
    refused: list[tuple[Path, str]] = field(default_factory=list)  # left alone, with the reason
    already: int = 0  # entries undone by an earlier undo


def candidate_names(dst: Path) -> Iterator[Path]:
    """``dst``, then ``stem-1.ext``, ``stem-2.ext``, ... (the suffix a name clash gets).

    A sidecar named after its photo's full name (``a.jpg.xmp``) gets the suffix where the photo's name gets it
    (``a-1.jpg.xmp``, beside ``a-1.jpg``), so that it still belongs to the photo.
    """
    yield dst
    base, ext = dst.stem, dst.suffix
    if ext.lower() == ".xmp" and Path(base).suffix:
        base, ext = Path(base).stem, Path(base).suffix + ext
    i = 1
    while True:
        yield dst.with_name(f"{base}-{i}{ext}")
        i += 1


def sidecars_of(files: Sequence[Path], listing=None, pending: Collection[Path] = ()) -> list[Path]:
    """The XMP sidecars beside a shot's files, which travel with them: ``photo.ext.xmp`` (darktable, digiKam) of
    each file, and ``photo.xmp`` (Lightroom, Capture One) when every file of that stem in the folder is in the shot
    (a ``photo.xmp`` shared with another photo, ``a.jpg`` beside ``a.png``, stays where it is).
    ``listing(folder)``: the folder's names (a cache, for many photos of one folder). ``pending``: sidecars that do
    not exist yet but will when the plan runs (those ``rank --xmp --dry-run`` would create), taken as if they did."""
    files = [Path(f) for f in files]
    names = {(f.parent, f.name) for f in files}
    seen: set[tuple[int, int]] = set()
    out: list[Path] = []

    def add(p: Path) -> None:
        try:
            st = os.stat(p)
        except OSError:
            if p in pending and (p.parent, p.name) not in names and p not in out:
                out.append(p)
            return
        key = (st.st_dev, st.st_ino)  # a.jpg.xmp and a.jpg.XMP are one file on a case-insensitive file system
        if key not in seen and (p.parent, p.name) not in names and os.path.isfile(p):
            seen.add(key)
            out.append(p)

    for f in files:
        for ext in (".xmp", ".XMP"):
            add(f.with_name(f.name + ext))
    for folder, stem in dict.fromkeys((f.parent, f.stem) for f in files):
        here = [folder / (stem + ext) for ext in (".xmp", ".XMP")
                if os.path.isfile(folder / (stem + ext)) or folder / (stem + ext) in pending]
        if not here:
            continue
        listed = listing(folder) if listing is not None else os.listdir(folder)
        others = [n for n in listed if Path(n).stem == stem and Path(n).suffix.lower() != ".xmp"
                  and (folder, n) not in names]
        if not others:
            for p in here:
                add(p)
    return out


def plan_sort(items: Iterable[tuple[Path | str | Sequence[Path | str], str]], dest: Path | str,
              pending: Collection[Path] = ()) -> list[Transfer]:
    """Plan ``src -> dest/group/name`` for each ``(src, group)``; names clashing on disk or in the plan get a suffix.

    ``src`` may be a sequence of files of one shot (a RAW and its JPEG): they go to the same folder with the same
    suffix (the first one free for all of them), so that they still share a stem there. The XMP sidecars of each file
    (:func:`sidecars_of`; ``pending``: absolute paths of sidecars still to be written) go with them the same way.
    Refuses a destination inside which a source lies in a group folder of the same name (sorting twice into the same
    place would move a photo onto itself).
    """
    import functools

    dest = Path(dest).absolute()
    taken: set[Path] = set()
    plan = []
    listing = functools.lru_cache(maxsize=64)(lambda folder: tuple(os.listdir(folder)))
    for src, group in items:
        files = [Path(f).absolute() for f in ([src] if isinstance(src, (str, os.PathLike)) else src)]
        files += sidecars_of(files, listing, pending)  # a photo manager's edits and ratings go where the photo goes
        if not group or "/" in group or "\\" in group or group in (".", ".."):
            raise InputError(f"invalid group folder name {group!r} for {files[0]}")
        if files[0].parent == dest / group:
            continue  # already sorted there: nothing to do
        names = [candidate_names(dest / group / f.name) for f in files]
        while True:
            cands = [next(n) for n in names]
            if all(c not in taken and not os.path.lexists(c) for c in cands):
                break
        taken.update(cands)
        plan.extend(Transfer(f, c, group) for f, c in zip(files, cands))
    return plan


class _DeferSigint:
    """Hold SIGINT while one file operation runs, re-raise KeyboardInterrupt after it (main thread only)."""

    def __init__(self):
        self.pending = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        self.pending = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        if self.pending and exc[0] is None:
            raise KeyboardInterrupt
        return False


class _Log:
    def __init__(self, path: Path | None):
        self.path = path
        self.f = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Kept open for the whole run (closed by close()); append: several runs may share one log.
                self.f = open(path, "a", encoding="utf-8")  # noqa: SIM115
            except OSError as e:
                raise OutputError(f"{path}: cannot write the log ({e.strerror or e})") from None

    def write(self, _sync: bool = True, **rec):
        """Append a record, flushed to the OS (it survives the process being killed) and, unless ``_sync=False``,
        to the disk (``sync()`` later does that for records written without it)."""
        if self.f is None:
            return
        rec = {"v": LOG_VERSION, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **rec}
        self.f.write(json.dumps(rec) + "\n")
        self.f.flush()
        if _sync:
            os.fsync(self.f.fileno())  # so the log on disk is never behind the files it describes

    def sync(self):
        if self.f is not None:
            os.fsync(self.f.fileno())

    def close(self):
        if self.f is not None:
            self.f.close()


def _tmp_name(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.blurtool-tmp")


def _link_no_replace(src: Path, dst: Path) -> bool:
    """Create ``dst`` as a new name of ``src``; FileExistsError if it exists. False if links are unsupported."""
    try:
        os.link(src, dst, follow_symlinks=False)
        return True
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno == errno.EXDEV or e.errno in _NO_LINK:
            return False
        raise


def _rename_no_replace(src: Path, dst: Path) -> None:
    # Fallback for file systems without hard links: a small check-then-rename race remains, documented above.
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "exists", str(dst))
    os.rename(src, dst)


def _move_one(src: Path, dst: Path, log: _Log, op_id: str) -> None:
    if _link_no_replace(src, dst):
        os.unlink(src)
        return
    if os.stat(src).st_dev == os.stat(dst.parent).st_dev:
        _rename_no_replace(src, dst)
        return
    _copy_one(src, dst, log, op_id)  # another file system: copy, then remove the original
    os.unlink(src)


def _copy_one(src: Path, dst: Path, log: _Log, op_id: str) -> None:
    tmp = _tmp_name(dst)
    log.write(op="tmp", id=op_id, tmp=str(tmp))
    shutil.copy2(src, tmp)
    try:
        if not _link_no_replace(tmp, dst):
            _rename_no_replace(tmp, dst)
    finally:
        if tmp.exists():
            os.unlink(tmp)


def execute_sort(
    plan: list[Transfer],
    mode: str,
    log_path: Path | str | None,
    dry_run: bool = False,
    on_done=None,
    on_failed=None,
) -> SortReport:
    """Carry out a plan (``mode`` "move" or "copy"), logging each step to ``log_path`` (JSON lines).

    ``dry_run`` touches nothing (no folder, no log) and reports the plan as done. A destination that appeared since
    planning gets the next free suffix. A source that fails (vanished, unreadable, destination not writable) is
    reported (``on_failed(src, reason)`` as it happens) and skipped. Ctrl-C stops after the current photo with
    ``report.interrupted`` set; the log is complete up to there. A log that cannot be opened is an OutputError.
    """
    if mode not in ("move", "copy"):
        raise InputError(f"mode must be 'move' or 'copy', got {mode!r}")
    report = SortReport()
    if dry_run:
        report.done = list(plan)
        return report
    if log_path is None:
        raise OutputError("a log file is needed to move or copy photos (it is what makes undo possible)")
    log = _Log(Path(log_path).absolute())
    made_dirs: set[Path] = set()
    try:
        for t in plan:
            try:
                with _DeferSigint():
                    final = _do_one(t, mode, log, made_dirs)
                    report.done.append(final)
                if on_done is not None:
                    on_done(final)
            except KeyboardInterrupt:
                report.interrupted = True
                break
            except OSError as e:
                report.failed.append((t.src, e.strerror or str(e)))
                if on_failed is not None:
                    on_failed(*report.failed[-1])
    finally:
        log.close()
    return report


def _do_one(t: Transfer, mode: str, log: _Log, made_dirs: set[Path]) -> Transfer:
    folder = t.dst.parent
    if folder not in made_dirs:
        missing = [d for d in (folder, *folder.parents) if not d.exists()]
        for d in reversed(missing):  # outermost first, each logged so undo can remove it once empty
            log.write(op="mkdir", path=str(d))
            d.mkdir(exist_ok=True)
        made_dirs.add(folder)
    st = os.stat(t.src)
    for cand in candidate_names(t.dst):
        op_id = uuid.uuid4().hex
        log.write(op=mode, state="begin", id=op_id, src=str(t.src), dst=str(cand), size=st.st_size,
                  mtime_ns=st.st_mtime_ns)
        try:
            (_move_one if mode == "move" else _copy_one)(t.src, cand, log, op_id)
        except FileExistsError:
            log.write(op=mode, state="clash", id=op_id)
            continue
        log.write(op=mode, state="done", id=op_id)
        return Transfer(t.src, cand, t.group)
    raise AssertionError("unreachable")  # candidate_names is infinite


# The fields undo reads from each kind of log record, and their types.
_BEGIN = {"id": str, "src": str, "dst": str, "size": int, "mtime_ns": int}
_FIELDS = {"state": {"id": str, "state": str}, "tmp": {"id": str, "tmp": str}, "undone": {"id": str},
           "mkdir": {"path": str}}


def _check_record(rec: dict, where: str) -> None:
    op = rec["op"]
    if op == "xmp":
        from blurtool.library.xmp import check_log_record

        check_log_record(rec, where)
        return
    if op in ("move", "copy"):
        fields = _BEGIN if rec.get("state") == "begin" else _FIELDS["state"]
    elif op in _FIELDS:
        fields = _FIELDS[op]
    else:
        return  # a record of a later version: not needed to undo
    for name, kind in fields.items():
        value = rec.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InputError(f"{where}: not a usable blurtool rank log line (a {op!r} record needs {name!r})")


def _read_log(path: Path) -> list[dict]:
    if not path.is_file():
        raise InputError(f"{path}: no such log file")
    recs = []
    try:
        f = open(path, "rb")  # noqa: SIM115 - bytes: a photo given by mistake must not fail inside the decoder
    except OSError as e:
        raise InputError(f"{path}: cannot read the log ({e.strerror or e})") from None
    with f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise InputError(f"{path}:{n}: not a blurtool rank log (binary data, not JSON lines)") from None
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                # A hard kill can cut the last line; anything else means this is not our log.
                if n == 1 or f.readline():
                    raise InputError(f"{path}:{n}: not a blurtool rank log line") from None
                break
            if not isinstance(rec, dict) or not isinstance(rec.get("op"), str):
                raise InputError(f"{path}:{n}: not a blurtool rank log line")
            _check_record(rec, f"{path}:{n}")
            recs.append(rec)
    return recs


def _same_content(a: Path, size: int, mtime_ns: int) -> bool:
    try:
        st = os.stat(a)
    except FileNotFoundError:
        return False
    return st.st_size == size and st.st_mtime_ns == mtime_ns


def undo(log_path: Path | str, dry_run: bool = False) -> UndoReport:
    """Undo every move/copy and XMP write of a log, newest first (see module doc). Appends ``undone`` records."""
    path = Path(log_path).absolute()
    recs = _read_log(path)
    ops: dict[str, dict] = {}
    order: list[str] = []
    tmps: dict[str, list[str]] = {}
    dirs: list[str] = []
    for r in recs:
        if r["op"] in ("move", "copy", "xmp"):
            if r.get("state") == "begin":
                ops[r["id"]] = dict(r)
                order.append(r["id"])
            elif r["id"] in ops:
                ops[r["id"]]["state"] = r["state"]
                if r["op"] == "xmp":
                    ops[r["id"]]["new_sha256"] = r.get("new_sha256")
        elif r["op"] == "tmp":
            tmps.setdefault(r["id"], []).append(r["tmp"])
        elif r["op"] == "undone" and r.get("id") in ops:
            ops[r["id"]]["undone"] = True
        elif r["op"] == "mkdir":
            dirs.append(r["path"])
    report = UndoReport()
    log = _Log(None if dry_run else path)
    try:
        for op_id in reversed(order):
            o = ops[op_id]
            if o.get("undone"):
                report.already += 1
                continue
            if o["state"] == "clash":
                continue
            with _DeferSigint():
                for tmp in tmps.get(op_id, []):
                    # A temporary copy left by an interrupted cross-device move/copy is ours to delete.
                    if os.path.lexists(tmp) and not dry_run:
                        os.unlink(tmp)
                if o["op"] == "xmp":
                    from blurtool.library.xmp import undo_one as undo_xmp

                    outcome = undo_xmp(o, dry_run)
                else:
                    outcome = _undo_one(o, dry_run)
                if outcome is None:
                    if o["op"] == "xmp":
                        report.restored_xmp.append(Path(o["path"]))
                    else:
                        report.restored.append(Path(o["dst"]))
                    log.write(op="undone", id=op_id)
                elif outcome:
                    report.refused.append((Path(o.get("dst") or o["path"]), outcome))
                else:
                    log.write(op="undone", id=op_id)  # nothing had happened: mark it so
        if not dry_run:
            for d in reversed(dirs):
                with contextlib.suppress(FileNotFoundError, OSError):
                    os.rmdir(d)  # only if empty: folders we created and that hold nothing else
            for d in {os.path.dirname(o["backup"]) for o in ops.values() if o.get("backup")}:
                with contextlib.suppress(FileNotFoundError, OSError):
                    os.rmdir(d)  # the folder of originals kept for undo of embedded XMP, once empty
    finally:
        log.close()
    return report


def _undo_one(o: dict, dry_run: bool) -> str | None | bool:
    """None: restored. False: there was nothing to undo. str: refused, with the reason."""
    src, dst = Path(o["src"]), Path(o["dst"])
    if not os.path.lexists(dst):
        if o["state"] == "done":
            return "no longer at its destination"
        return False  # interrupted before the destination name was claimed
    if o["op"] == "copy":
        if not _same_content(dst, o["size"], o["mtime_ns"]):
            return "the copy was modified since; left in place"
        if not dry_run:
            os.unlink(dst)
        return None
    # move
    if os.path.lexists(src):
        if os.path.samefile(src, dst):
            # Interrupted between link and unlink: both names are the same file; drop the new one.
            if not dry_run:
                os.unlink(dst)
            return None
        return f"{src} exists again at the origin; not overwritten"
    if dry_run:
        return None
    try:
        _move_one(dst, src, _Log(None), "")
    except FileExistsError:
        return f"{src} exists again at the origin; not overwritten"
    except FileNotFoundError:
        src.parent.mkdir(parents=True, exist_ok=True)
        _move_one(dst, src, _Log(None), "")
    return None
