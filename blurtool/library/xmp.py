"""Verdicts where photo managers see them: XMP ratings, colour labels and pick labels (``blurtool rank --xmp``).

For each photo, blurtool writes into its XMP (a sidecar file, or the photo itself for JPEG/TIFF/DNG with
``embed``, and then also a sidecar already beside it):

* ``xmp:Rating`` and ``xmp:Label`` (stars and colour label: Lightroom, Capture One, darktable, digiKam, Bridge) and
  ``digiKam:PickLabel`` (1 rejected, 2 pending, 3 accepted), from the verdict and the burst role by an
  :class:`XmpMapping` (default close to the culling tools': bad-blur 1 star, Red, rejected; ok-blur 3 stars;
  good-blur and no-blur left alone; a burst's pick accepted, its alternates Yellow);
* blurtool's namespace (``http://ns.blurtool.org/1.0/``): verdict, reason, degree, blurred/defocus/motion fractions,
  the model's sha256, the burst, and what blurtool wrote into the three fields above.

**Hand-set values are kept.** A rating (label, pick label) that is present and differs from what blurtool recorded
writing there was set by someone else — the user in the photo manager — and is left alone unless
``overwrite_ratings``; a photo with any such value is the user's judgement, so blurtool then adds none of the three
fields either (no "rejected" beside five stars given by hand) and takes back the label and pick label it wrote
itself. Values blurtool wrote itself are otherwise updated on the next run.

**Nothing else changes.** Every edit goes through ExifTool (``blurtool.library.exiftool`` says why), which keeps every
other property and namespace of an existing sidecar (darktable's history, Lightroom's develop settings, keywords):
the values survive; the layout does not (ExifTool writes one ``rdf:Description`` per namespace, properties as
elements, and drops empty lists such as darktable's ``<darktable:masks_history><rdf:Seq/>``, which hold no value).

**Atomic and undoable.** ExifTool writes a hidden temporary file beside the target, which replaces it with
``os.replace``. Each change is journalled in the rank log (the one ``--move`` uses) *before* (``begin``: the previous
bytes of the sidecar, or a hard link to the original photo when embedding) and *after* (``done``: the sha256 of what
was written); :func:`undo_one` puts the previous bytes back (byte for byte, with their mode and modification time) or
removes a sidecar blurtool created, only if the file is still what blurtool wrote.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from blurtool.errors import InputError, OutputError
from blurtool.library.exiftool import BLURTOOL_TAGS, ExifTool, ExifToolError

# The three fields photo managers show, and their ExifTool names.
MANAGED = {"Rating": "XMP-xmp:Rating", "Label": "XMP-xmp:Label", "PickLabel": "XMP-digiKam:PickLabel"}
_KIND = {"Rating": "integer", "Label": "string", "PickLabel": "integer"}
PICK_LABELS = {"rejected": 1, "pending": 2, "accepted": 3}

VERDICT_KEYS = ("bad-blur", "ok-blur", "good-blur", "no-blur")
ROLE_KEYS = ("pick", "alternate")
KEYS = VERDICT_KEYS + ROLE_KEYS

# Formats whose files carry XMP inside (``embed``); every other photo gets a sidecar.
EMBEDDABLE = frozenset({".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".dng"})


class SidecarNaming(str, Enum):
    """``photo.jpg.xmp`` (darktable, digiKam; never shared by two photos) or ``photo.xmp`` (Lightroom, Capture One)."""

    ext = "ext"
    stem = "stem"


def sidecar_path(photo: Path | str, naming: SidecarNaming | str = SidecarNaming.ext) -> Path:
    photo = Path(photo)
    if SidecarNaming(naming) is SidecarNaming.ext:
        return photo.with_name(photo.name + ".xmp")
    return photo.with_name(photo.stem + ".xmp")


@dataclass(frozen=True)
class XmpMapping:
    """What each verdict and burst role writes. Keys: the four verdicts, ``pick`` and ``alternate``; a key left out
    leaves the field alone. A photo's field takes its verdict's value, else (no value for the verdict) its burst
    role's: a bad-blur alternate is Red, a no-blur alternate Yellow."""

    rating: Mapping[str, int] = field(default_factory=lambda: {"bad-blur": 1, "ok-blur": 3})
    label: Mapping[str, str] = field(default_factory=lambda: {"bad-blur": "Red", "alternate": "Yellow"})
    pick: Mapping[str, int] = field(default_factory=lambda: {"bad-blur": PICK_LABELS["rejected"],
                                                               "pick": PICK_LABELS["accepted"]})

    def wanted(self, verdict: str, role: str | None = None) -> dict[str, Any]:
        """{field: value or None (leave alone)} for a photo of this verdict and burst role."""
        out = {}
        for name, table in (("Rating", self.rating), ("Label", self.label), ("PickLabel", self.pick)):
            v = table.get(verdict)
            if v is None and role is not None:
                v = table.get(role)
            out[name] = v
        return out

    @classmethod
    def from_options(cls, rating: Sequence[str] = (), label: Sequence[str] = (), pick: Sequence[str] = ()):
        """The default mapping changed by ``KEY=VALUE`` items (``--xmp-rating bad-blur=-1``, ``--xmp-label
        ok-blur=Yellow``, ``--xmp-pick alternate=pending``); VALUE ``none`` leaves that field alone for that key."""
        base = cls()
        tables = {"rating": dict(base.rating), "label": dict(base.label), "pick": dict(base.pick)}
        for what, items in (("rating", rating), ("label", label), ("pick", pick)):
            for item in items or ():
                key, sep, value = item.partition("=")
                key, value = key.strip(), value.strip()
                if not sep or key not in KEYS:
                    raise InputError(f"`{what}` {item!r}: expected KEY=VALUE with KEY one of {', '.join(KEYS)}")
                if value.lower() == "none":
                    tables[what].pop(key, None)
                    continue
                tables[what][key] = _parse_value(what, item, value)
        return cls(**tables)


def _parse_value(what: str, item: str, value: str):
    if what == "rating":
        try:
            n = int(value)
        except ValueError:
            n = None
        if n is None or not -1 <= n <= 5:
            raise InputError(f"`rating` {item!r}: a rating is a whole number from -1 (rejected) to 5, or none")
        return n
    if what == "pick":
        if value.lower() not in PICK_LABELS:
            raise InputError(f"`pick` {item!r}: a pick label is rejected, pending, accepted or none")
        return PICK_LABELS[value.lower()]
    if not value:
        raise InputError(f"`label` {item!r}: give a label (Red, Yellow, Green, Blue, Purple...) or none")
    return value


def blurtool_values(record, model_sha256: str, version: str) -> dict[str, Any]:
    """blurtool's namespace for one record (a ``blurtool.library.RankRecord``: path, verdict, reason, scores and,
    after burst detection, ``burst``)."""
    s = record.scores
    vals: dict[str, Any] = {
        "Verdict": record.verdict.value, "Reason": record.reason, "Degree": s.degree,
        "BlurredFraction": s.blurred_fraction, "DefocusFraction": s.defocus_fraction,
        "MotionFraction": s.motion_fraction, "ModelSHA256": model_sha256, "Version": version,
        "Burst": None, "BurstRole": None, "BurstSize": None,
    }
    burst = getattr(record, "burst", None)
    if burst and burst.get("burst") is not None:
        vals.update(Burst=str(burst.get("burst_id") or burst["burst"]), BurstRole=burst["burst_role"],
                    BurstSize=burst["burst_size"])
    return vals


def _fmt(kind: str, v) -> str:
    if kind == "real":
        return f"{float(v):.4f}"
    if kind == "integer":
        return str(round(float(v)))
    return str(v)


def _same(kind: str, a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        return _fmt(kind, a) == _fmt(kind, b)
    except (TypeError, ValueError):
        return str(a) == str(b)


@dataclass
class XmpChange:
    """What will be written for one file: ``tags`` (ExifTool name -> value; ``""`` deletes) into ``path``."""

    photo: Path
    path: Path  # the sidecar, or the photo itself when embedded
    embedded: bool
    exists: bool  # False: a new sidecar
    tags: dict[str, str]
    shown: dict[str, str] = field(default_factory=dict)  # managed field -> "old -> new" / "new", for --dry-run
    kept: dict[str, Any] = field(default_factory=dict)  # managed field -> value set by hand, left as it is

    def describe(self) -> str:
        what = "embed in" if self.embedded else ("update" if self.exists else "create")
        parts = [f"{k} {v}" for k, v in self.shown.items()]
        parts += [f"{k} {v!r} kept (set by hand)" for k, v in self.kept.items()]
        own = sum(1 for t in self.tags if t.startswith("XMP-blurtool:"))
        if own:
            parts.append(f"{own} blurtool field{'s' if own != 1 else ''}")
        return f"{what} {self.path}: " + ", ".join(parts)


@dataclass
class XmpPlan:
    changes: list[XmpChange] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)  # targets that already say all of it
    failed: list[tuple[Path, str]] = field(default_factory=list)


def _decide(current: dict, recorded: dict, wanted: dict, overwrite: bool, new_file: bool):
    """-> (managed tags to set: {field: value or None = delete}, own records: {field: value or None}, kept)."""
    put: dict[str, Any] = {}
    own: dict[str, Any] = {}
    kept: dict[str, Any] = {}

    def ours(f) -> bool:
        c, w = current.get(f), recorded.get(f)
        return c is not None and w is not None and _same(_KIND[f], c, w)

    # A photo the user has judged (a rating, label or pick label of their own) is theirs: blurtool adds or changes
    # none of the three fields beside a hand-set one (no 5-star photo marked rejected). It takes back its own label
    # and pick label, which the user has overruled (its Red and "rejected" beside the 4 stars they gave later), and
    # its own rating only when the verdict no longer asks for one.
    judged = not overwrite and any(current.get(f) is not None and not ours(f) for f in MANAGED)
    for f in MANAGED:
        kind = _KIND[f]
        c, w, d = current.get(f), recorded.get(f), wanted.get(f)
        if judged:
            if ours(f) and (d is None or f != "Rating"):
                put[f], own[f] = None, None
            elif c is not None and not ours(f):
                kept[f] = c
                if new_file:
                    put[f] = c  # a new sidecar carries the rating the user gave the photo itself
            if w is not None and not ours(f):
                own[f] = None
            continue
        if c is None:
            if d is not None:
                put[f], own[f] = d, d
            elif w is not None:
                own[f] = None  # blurtool's value was removed by hand: forget it
        elif ours(f):
            if d is None:
                put[f], own[f] = None, None  # the verdict no longer asks for it: take blurtool's value back
            elif not _same(kind, c, d):
                put[f], own[f] = d, d
        elif overwrite and d is not None:
            if not _same(kind, c, d) or new_file:
                put[f] = d
            own[f] = d
        else:
            kept[f] = c
            if new_file:
                put[f] = c  # a new sidecar carries the rating the user gave the photo itself
            if w is not None:
                own[f] = None
    return put, own, kept


READ_TAGS = (*MANAGED.values(), "XMP-blurtool:all")


def _state(row: dict | None) -> tuple[dict, dict]:
    """(managed fields, blurtool's fields) of an ExifTool ``-G1`` JSON row."""
    row = row or {}
    current = {f: row.get(tag) for f, tag in MANAGED.items() if row.get(tag) not in (None, "")}
    own = {k[len("XMP-blurtool:"):]: v for k, v in row.items() if k.startswith("XMP-blurtool:")}
    return current, own


def plan_xmp(
    records: Sequence,
    et: ExifTool,
    *,
    model_sha256: str,
    version: str,
    mapping: XmpMapping | None = None,
    naming: SidecarNaming | str = SidecarNaming.ext,
    embed: bool = False,
    overwrite_ratings: bool = False,
) -> XmpPlan:
    """Read the current XMP of every record's files (one ExifTool command) and work out what to write.

    Every file of a record (``record.files``: a RAW+JPEG pair has two) gets the record's values; a target named for
    two records (``photo.xmp`` naming with ``a.jpg`` and ``a.png`` side by side) is written for the first only.
    """
    mapping = mapping or XmpMapping()
    plan = XmpPlan()
    targets: list[tuple[Any, Path, Path, bool]] = []  # (record, file, target, embedded)
    owner: dict[Path, Path] = {}
    for r in records:
        seen: set[Path] = set()
        for f in getattr(r, "files", (r.path,)):
            f = Path(f)
            embedded = embed and f.suffix.lower() in EMBEDDABLE
            side = sidecar_path(f, naming)
            # Embedding, a sidecar already beside the photo is merged too: darktable and digiKam read the sidecar
            # before the photo, so left alone it would go on showing the old verdict there.
            for t in ((f, side) if embedded and side.is_file() else (f if embedded else side,)):
                key = t.absolute()
                if key in seen:
                    continue  # photo.xmp of a RAW+JPEG pair: one sidecar for the shot
                seen.add(key)
                if key in owner and owner[key] != Path(r.path).absolute():
                    why = (f"{t} is also the sidecar of {owner[key]}; not written twice "
                           "(use `naming` ext: photo.ext.xmp is never shared)")
                    plan.failed.append((f, why))
                    continue
                owner[key] = Path(r.path).absolute()
                if os.path.isdir(t):
                    plan.failed.append((f, f"{t} is a folder; no sidecar written"))
                    continue
                targets.append((r, f, t, t == f))
    to_read = sorted({str(t.absolute()) for _, _, t, _ in targets if t.is_file()}
                     | {str(f.absolute()) for _, f, t, _ in targets if not t.is_file() and f.is_file()})
    rows = et.read_json(to_read, READ_TAGS) if to_read else {}

    for r, f, t, embedded in targets:
        exists = t.is_file()
        # A new sidecar starts from what the photo itself says (a rating given in the camera or in another program).
        current, own = _state(rows.get(str((t if exists else f).absolute())))
        wanted = mapping.wanted(r.verdict.value, (getattr(r, "burst", None) or {}).get("burst_role"))
        put, own_new, kept = _decide(current, own, wanted, overwrite_ratings, new_file=not exists)
        tags: dict[str, str] = {}
        shown: dict[str, str] = {}
        for fld, v in put.items():
            tags[MANAGED[fld]] = "" if v is None else _fmt(_KIND[fld], v)
            if fld in kept:
                continue  # the user's own value, copied into a new sidecar
            old = current.get(fld)
            shown[fld] = (f"{old!r} -> " if old is not None else "") + ("removed" if v is None else repr(v))
        values = blurtool_values(r, model_sha256, version)
        values.update({k: v for k, v in own_new.items()})
        for name, v in values.items():
            kind = BLURTOOL_TAGS[name]
            if name in MANAGED and name not in own_new:
                continue  # blurtool's record of that field stays as it is
            if v is None:
                if own.get(name) is not None:
                    tags[f"XMP-blurtool:{name}"] = ""
            elif not _same(kind, own.get(name), v):
                tags[f"XMP-blurtool:{name}"] = _fmt(kind, v)
        if not tags:
            plan.unchanged.append(t)
            continue
        plan.changes.append(XmpChange(Path(f), t, embedded, exists, tags, shown, kept))
    return plan


@dataclass
class XmpReport:
    done: list[XmpChange] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    interrupted: bool = False


def _sha256_file(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        return None
    return h.hexdigest()


def _tmp_for(target: Path) -> Path:
    # Hidden (left out of folder walks), in the target's folder (os.replace stays on one file system), and with the
    # target's extension, which is how ExifTool knows what kind of file to write.
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.blurtool-tmp{target.suffix}")


def _link_or_copy(src: Path, dst: Path) -> None:
    import shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)  # the original photo's bytes, kept at no cost: os.replace gives the photo a new inode
    except OSError:
        shutil.copy2(src, dst)


# Files written per journal fsync: every change of a batch is journalled (with the previous bytes) and the journal
# synced to disk once before the first of them is replaced; their "done" lines are synced once at the end. Two
# fsyncs per file would cost more than ExifTool itself (~4 ms each on an ordinary disk).
BATCH = 32


def write_xmp(plan: XmpPlan | Sequence[XmpChange], et: ExifTool, log, backup_dir: Path | None = None,
              on_failed=None) -> XmpReport:
    """Carry out the changes, journalled in ``log`` (a ``blurtool.library.sort`` log). ``backup_dir``: where
    the original bytes of photos written in place (``embed``) are kept for undo (a hard link when it is on the same
    file system). Ctrl-C stops between files (``report.interrupted``)."""
    from blurtool.library.sort import _DeferSigint

    changes = plan.changes if isinstance(plan, XmpPlan) else list(plan)
    report = XmpReport()

    def fail(ch: XmpChange, e: Exception) -> None:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        for name in (f"{ch.path.absolute()}: ", f"{ch.path}: "):  # the caller names the file: once is enough
            if why.startswith(name):
                why = why[len(name):]
                break
        report.failed.append((ch.path, why))
        if on_failed is not None:
            on_failed(ch.path, why)

    for b in range(0, len(changes), BATCH):
        batch: list[tuple[XmpChange, dict]] = []
        written: set[str] = set()
        try:
            with _DeferSigint():
                for ch in changes[b : b + BATCH]:
                    try:
                        batch.append((ch, _begin(ch, backup_dir)))
                    except (OSError, OutputError) as e:
                        fail(ch, e)
                for _, rec in batch:
                    log.write(_sync=False, **rec)
                log.sync()
            for ch, rec in batch:
                try:
                    with _DeferSigint():
                        new_sha = _replace(ch, rec, et)
                        written.add(rec["id"])
                        log.write(_sync=False, op="xmp", state="done", id=rec["id"], new_sha256=new_sha)
                        report.done.append(ch)
                except (OSError, OutputError) as e:
                    fail(ch, e)
        except KeyboardInterrupt:
            report.interrupted = True
            for _, rec in batch:
                if rec["id"] not in written:
                    _drop_backup(rec)  # journalled but never written: no original to keep
        finally:
            log.sync()
        if report.interrupted:
            break
    return report


def _signature(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


def _drop_backup(rec: dict) -> None:
    if rec.get("backup") and os.path.lexists(rec["backup"]):
        os.unlink(rec["backup"])


def _begin(ch: XmpChange, backup_dir: Path | None) -> dict:
    """The journal's "begin" record of one change: the previous bytes (or a link to the original photo)."""
    target = ch.path.absolute()
    op_id = uuid.uuid4().hex
    rec: dict[str, Any] = {"op": "xmp", "state": "begin", "id": op_id, "path": str(target),
                           "tmp": str(_tmp_for(target)), "embedded": ch.embedded}
    if target.exists():
        st = os.stat(target)
        rec.update(created=False, mode=st.st_mode & 0o7777, mtime_ns=st.st_mtime_ns,
                   signature=list(_signature(target)))
        if ch.embedded:
            if backup_dir is None:
                raise OutputError(f"{target}: no place to keep the original for undo")
            backup = Path(backup_dir).absolute() / f"{op_id[:12]}-{target.name}"
            _link_or_copy(target, backup)
            rec.update(backup=str(backup), old_sha256=_sha256_file(backup))
        else:
            old = target.read_bytes()
            rec.update(old=base64.b64encode(old).decode("ascii"), old_sha256=hashlib.sha256(old).hexdigest())
    else:
        if ch.embedded:
            raise OutputError(f"{target}: photo not found")
        rec.update(created=True, old_sha256=None)
    return rec


def _without_names(line: str, *paths: Path) -> str:
    """ExifTool's message without the ``" - FILE"`` it ends with: the error line names the file already."""
    for p in paths:
        if line.endswith(f" - {p}"):
            return line[: -len(f" - {p}")]
    return line


def _replace(ch: XmpChange, rec: dict, et: ExifTool) -> str:
    """ExifTool writes the new version beside the target, which then replaces it; -> its sha256."""
    target, tmp = Path(rec["path"]), Path(rec["tmp"])
    replaced = False
    try:
        sets = [f"-{tag}={value}" for tag, value in ch.tags.items()]
        if rec["created"]:
            args = [*sets, str(tmp)]  # ExifTool creates an XMP file from nothing
        else:
            args = ["-o", str(tmp), *sets, str(target)]
        out, err = et.execute(args)
        if not tmp.is_file():
            why = "; ".join(_without_names(line.strip(), target, tmp) for line in (err or out).splitlines()
                            if line.strip()) or "no file written"
            raise ExifToolError(f"{target}: ExifTool could not write it ({why})")
        # Someone (the photo manager) changed the file while ExifTool read it: do not replace their version.
        if not rec["created"] and list(_signature(target)) != rec["signature"]:
            raise OutputError(f"{target}: changed while blurtool was writing it; not replaced (run again)")
        if "mode" in rec:
            os.chmod(tmp, rec["mode"])
        if ch.embedded:
            os.utime(tmp, ns=(rec["mtime_ns"], rec["mtime_ns"]))  # the photo keeps its modification time
        new_sha = _sha256_file(tmp)
        # Like every file blurtool writes: a rename, so a reader sees the old file or the new one, never half.
        if not rec["created"]:
            os.replace(tmp, target)
        else:
            # A sidecar that appeared meanwhile is not replaced (a hard link cannot overwrite).
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise OutputError(f"{target}: appeared while blurtool was writing it; not replaced") from None
            except OSError:
                if os.path.lexists(target):
                    raise OutputError(f"{target}: appeared while blurtool was writing it; not replaced") from None
                os.replace(tmp, target)
        replaced = True
    finally:
        if tmp.exists():
            tmp.unlink()
        if not replaced:
            _drop_backup(rec)  # nothing was changed: no original to keep
    return new_sha


# Fields each xmp log record must have, for blurtool.library.sort's log check.
LOG_FIELDS = {"begin": {"id": str, "path": str, "tmp": str}, "done": {"id": str, "new_sha256": str}}


def check_log_record(rec: dict, where: str) -> None:
    fields = LOG_FIELDS.get(rec.get("state"), {"id": str})
    for name, kind in fields.items():
        if not isinstance(rec.get(name), kind):
            raise InputError(f"{where}: not a usable blurtool rank log line (an 'xmp' record needs {name!r})")
    if rec.get("state") == "begin" and not isinstance(rec.get("created"), bool):
        raise InputError(f"{where}: not a usable blurtool rank log line (an 'xmp' record needs 'created')")


def _restore_bytes(path: Path, data: bytes, mode: int | None, mtime_ns: int | None) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.blurtool-tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if mtime_ns is not None:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def undo_one(o: dict, dry_run: bool) -> str | None | bool:
    """Undo one journalled XMP write. None: restored (or removed). False: nothing to undo. str: refused, why."""
    path = Path(o["path"])
    tmp = Path(o["tmp"])
    if os.path.lexists(tmp) and not dry_run:
        tmp.unlink()  # left by a run killed while ExifTool wrote
    backup = Path(o["backup"]) if o.get("backup") else None
    current = _sha256_file(path) if path.is_file() else None
    what = "photo" if o.get("embedded") else "sidecar"

    def drop_backup():
        if backup is not None and not dry_run and os.path.lexists(backup):
            backup.unlink()

    if o.get("state") != "done":
        # Killed between the two journal lines: if the file is still as it was, nothing happened.
        if current == o.get("old_sha256"):
            drop_backup()
            return False
        return f"{what} {path} changed after a run that was killed while writing it; left as it is"
    if current is None:
        if o["created"]:
            return False  # the sidecar blurtool created is gone already
        return f"{what} {path} is no longer there; not restored"
    if current != o.get("new_sha256"):
        return f"{what} {path} was changed after blurtool wrote it; left as it is"
    if dry_run:
        return None
    if o["created"]:
        path.unlink()
    elif backup is not None:
        if not backup.is_file():
            return f"the original of {path} kept for undo ({backup}) is missing; left as it is"
        try:
            os.replace(backup, path)
        except OSError:  # the backup was copied to another file system
            _restore_bytes(path, backup.read_bytes(), o.get("mode"), None)
            backup.unlink()
    else:
        _restore_bytes(path, base64.b64decode(o["old"]), o.get("mode"), o.get("mtime_ns"))
    return None
