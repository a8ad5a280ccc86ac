"""Safety of move/copy/undo: clash suffixes, dry-run touches nothing, undo restores and never overwrites."""

import json
import os

import pytest

from blurtool.errors import InputError
from blurtool.library.sort import candidate_names, execute_sort, plan_sort, undo


def snapshot(root):
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def lib(tmp_path):
    src = tmp_path / "photos"
    (src / "sub").mkdir(parents=True)
    (src / "a.jpg").write_bytes(b"A")
    (src / "b.jpg").write_bytes(b"B")
    (src / "sub" / "a.jpg").write_bytes(b"A2")  # same name as photos/a.jpg
    return tmp_path


def test_candidate_names():
    from pathlib import Path

    it = candidate_names(Path("d/x.jpg"))
    assert [next(it).name for _ in range(3)] == ["x.jpg", "x-1.jpg", "x-2.jpg"]


def test_plan_suffixes_clashes_in_plan_and_on_disk(lib):
    out = lib / "out"
    (out / "bad-blur").mkdir(parents=True)
    (out / "bad-blur" / "a.jpg").write_bytes(b"existing")
    p = lib / "photos"
    plan = plan_sort([(p / "a.jpg", "bad-blur"), (p / "sub" / "a.jpg", "bad-blur"), (p / "b.jpg", "ok")], out)
    assert [t.dst.relative_to(out).as_posix() for t in plan] == ["bad-blur/a-1.jpg", "bad-blur/a-2.jpg", "ok/b.jpg"]


def test_dry_run_changes_nothing(lib):
    before = snapshot(lib)
    p = lib / "photos"
    plan = plan_sort([(p / "a.jpg", "bad-blur"), (p / "b.jpg", "no-blur")], lib / "out")
    rep = execute_sort(plan, "move", lib / "log.jsonl", dry_run=True)
    assert len(rep.done) == 2
    assert snapshot(lib) == before
    assert not (lib / "out").exists() and not (lib / "log.jsonl").exists()


@pytest.mark.parametrize("mode", ["move", "copy"])
def test_sort_then_undo_restores_exactly(lib, mode):
    before = snapshot(lib)
    p = lib / "photos"
    out = lib / "out"
    log = lib / "log.jsonl"
    plan = plan_sort([(p / "a.jpg", "bad"), (p / "sub" / "a.jpg", "bad"), (p / "b.jpg", "good")], out)
    rep = execute_sort(plan, mode, log)
    assert not rep.failed and not rep.interrupted
    assert (out / "bad" / "a.jpg").read_bytes() == b"A"
    assert (out / "bad" / "a-1.jpg").read_bytes() == b"A2"
    assert (out / "good" / "b.jpg").read_bytes() == b"B"
    assert (p / "a.jpg").exists() == (mode == "copy")
    # Every operation logged before and after.
    states = [json.loads(line).get("state") for line in log.read_text().splitlines()]
    assert states.count("begin") == 3 and states.count("done") == 3
    u = undo(log)
    assert len(u.restored) == 3 and not u.refused
    assert not out.exists()  # folders we created are removed once empty
    after = snapshot(lib)
    after.pop("log.jsonl")
    assert after == before
    # A second undo does nothing.
    assert undo(log).already == 3


def test_clash_appearing_after_planning_gets_a_suffix(lib):
    p = lib / "photos"
    out = lib / "out"
    plan = plan_sort([(p / "a.jpg", "bad")], out)
    (out / "bad").mkdir(parents=True)
    (out / "bad" / "a.jpg").write_bytes(b"newcomer")
    rep = execute_sort(plan, "move", lib / "log.jsonl")
    assert rep.done[0].dst.name == "a-1.jpg"
    assert (out / "bad" / "a.jpg").read_bytes() == b"newcomer"
    assert (out / "bad" / "a-1.jpg").read_bytes() == b"A"
    undo(lib / "log.jsonl")
    assert (p / "a.jpg").read_bytes() == b"A" and (out / "bad" / "a.jpg").read_bytes() == b"newcomer"


def test_undo_refuses_to_overwrite_a_file_that_reappeared(lib):
    p = lib / "photos"
    log = lib / "log.jsonl"
    execute_sort(plan_sort([(p / "a.jpg", "bad"), (p / "b.jpg", "bad")], lib / "out"), "move", log)
    (p / "a.jpg").write_bytes(b"new photo at the origin")
    u = undo(log)
    assert [x[0].name for x in u.refused] == ["a.jpg"]
    assert (p / "a.jpg").read_bytes() == b"new photo at the origin"
    assert (lib / "out" / "bad" / "a.jpg").read_bytes() == b"A"  # both kept
    assert (p / "b.jpg").read_bytes() == b"B"


def test_undo_keeps_a_modified_copy(lib):
    p = lib / "photos"
    log = lib / "log.jsonl"
    execute_sort(plan_sort([(p / "a.jpg", "bad")], lib / "out"), "copy", log)
    (lib / "out" / "bad" / "a.jpg").write_bytes(b"edited copy")
    u = undo(log)
    assert u.refused and (lib / "out" / "bad" / "a.jpg").exists()


def test_undo_of_move_interrupted_between_link_and_unlink(lib):
    # Simulate a hard kill after the destination name was claimed but before the source was unlinked.
    p = lib / "photos"
    out = lib / "out" / "bad"
    out.mkdir(parents=True)
    os.link(p / "a.jpg", out / "a.jpg")
    log = lib / "log.jsonl"
    rec = {"v": 1, "op": "move", "state": "begin", "id": "x", "src": str(p / "a.jpg"), "dst": str(out / "a.jpg"),
           "size": 1, "mtime_ns": 0}
    log.write_text(json.dumps(rec) + "\n" + '{"v": 1, "op": "mo')  # last line cut by the kill
    u = undo(log)
    assert len(u.restored) == 1
    assert (p / "a.jpg").read_bytes() == b"A" and not (out / "a.jpg").exists()


def test_missing_source_is_reported_and_others_go_on(lib):
    p = lib / "photos"
    plan = plan_sort([(p / "gone.jpg", "bad"), (p / "b.jpg", "bad")], lib / "out")
    rep = execute_sort(plan, "move", lib / "log.jsonl")
    assert [f[0].name for f in rep.failed] == ["gone.jpg"]
    assert [t.src.name for t in rep.done] == ["b.jpg"]


def test_bad_inputs(lib):
    with pytest.raises(InputError):
        undo(lib / "nope.jsonl")
    (lib / "junk.jsonl").write_text("hello\nworld\n")
    with pytest.raises(InputError):
        undo(lib / "junk.jsonl")
    with pytest.raises(InputError):
        plan_sort([(lib / "photos" / "a.jpg", "../x")], lib / "out")
    with pytest.raises(InputError):
        execute_sort([], "delete", lib / "log.jsonl")


def test_ctrl_c_stops_between_photos_and_leaves_an_undoable_log(lib):
    before = snapshot(lib)
    p = lib / "photos"
    log = lib / "log.jsonl"
    plan = plan_sort([(p / "a.jpg", "bad"), (p / "sub" / "a.jpg", "bad"), (p / "b.jpg", "good")], lib / "out")

    def interrupt(done):
        raise KeyboardInterrupt  # as if Ctrl-C came right after the first photo

    rep = execute_sort(plan, "move", log, on_done=interrupt)
    assert rep.interrupted and len(rep.done) == 1
    assert not (p / "a.jpg").exists() and (p / "b.jpg").exists()
    assert undo(log).restored
    after = snapshot(lib)
    after.pop("log.jsonl")
    assert after == before


def test_sigint_during_a_move_is_held_until_the_move_is_complete(lib, monkeypatch):
    import signal

    import blurtool.library.sort as ls

    real = ls._move_one

    def move_with_sigint(src, dst, log, op_id):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives in the middle of the operation
        real(src, dst, log, op_id)

    monkeypatch.setattr(ls, "_move_one", move_with_sigint)
    # Start from Python's own Ctrl-C handler whatever the test runner inherited (a job started in the background
    # by a shell, as CI may be, has SIGINT ignored), and put the inherited one back afterwards.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _sigint_case(lib)
    finally:
        signal.signal(signal.SIGINT, inherited)


def _sigint_case(lib):
    import signal

    p = lib / "photos"
    log = lib / "log.jsonl"
    rep = execute_sort(plan_sort([(p / "a.jpg", "bad"), (p / "b.jpg", "bad")], lib / "out"), "move", log)
    assert rep.interrupted and len(rep.done) == 1
    assert (lib / "out" / "bad" / "a.jpg").read_bytes() == b"A" and not (p / "a.jpg").exists()
    assert [json.loads(x)["state"] for x in log.read_text().splitlines() if "state" in x] == ["begin", "done"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_plan_sort_keeps_the_files_of_a_shot_together(tmp_path):
    lib, out = tmp_path / "lib", tmp_path / "out"
    lib.mkdir()
    (out / "bad").mkdir(parents=True)
    (out / "bad" / "a.dng").write_bytes(b"taken")  # only the RAW's name is taken: both get -1
    plan = plan_sort([((lib / "a.jpg", lib / "a.dng"), "bad"), (lib / "b.jpg", "bad")], out)
    assert [(t.src.name, t.dst.name) for t in plan] == [("a.jpg", "a-1.jpg"), ("a.dng", "a-1.dng"),
                                                        ("b.jpg", "b.jpg")]


@pytest.mark.parametrize("mode", ["move", "copy"])
def test_sidecars_travel_with_their_photo_under_its_new_name(lib, mode):
    p = lib / "photos"
    (p / "a.jpg.xmp").write_bytes(b"darktable edits of a.jpg")
    (p / "b.xmp").write_bytes(b"Lightroom settings of b.jpg")
    (p / "c.jpg").write_bytes(b"C")
    (p / "c.png").write_bytes(b"C as PNG")
    (p / "c.xmp").write_bytes(b"whose? c.jpg's or c.png's")
    out = lib / "out"
    (out / "bad").mkdir(parents=True)
    (out / "bad" / "a.jpg").write_bytes(b"in the way")
    before = snapshot(lib)
    log = lib / "log.jsonl"
    plan = plan_sort([(p / "a.jpg", "bad"), (p / "b.jpg", "good"), (p / "c.jpg", "good")], out)
    assert {t.src.name: t.dst.relative_to(out).as_posix() for t in plan} == {
        "a.jpg": "bad/a-1.jpg", "a.jpg.xmp": "bad/a-1.jpg.xmp",  # the sidecar keeps naming its photo
        "b.jpg": "good/b.jpg", "b.xmp": "good/b.xmp", "c.jpg": "good/c.jpg",  # c.xmp is shared: it stays
    }
    rep = execute_sort(plan, mode, log)
    assert len(rep.done) == 5 and not rep.failed
    assert (out / "bad" / "a-1.jpg.xmp").read_bytes() == b"darktable edits of a.jpg"
    assert (p / "c.xmp").exists() and (p / "a.jpg.xmp").exists() == (mode == "copy")
    undo(log)
    after = snapshot(lib)
    after.pop("log.jsonl")
    assert after == before


def test_candidate_names_of_a_sidecar():
    from pathlib import Path

    it = candidate_names(Path("d/x.jpg.xmp"))
    assert [next(it).name for _ in range(3)] == ["x.jpg.xmp", "x-1.jpg.xmp", "x-2.jpg.xmp"]
    it = candidate_names(Path("d/x.xmp"))
    assert [next(it).name for _ in range(2)] == ["x.xmp", "x-1.xmp"]
