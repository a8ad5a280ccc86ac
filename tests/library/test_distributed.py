"""blurtool.library.distributed: sharded ranking gives the same records as one local run (fake detector)."""

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rank_fakes import FakeDetector, library

from blurtool.library import rank_photos
from blurtool.library.distributed import ShardJob, rank_distributed, shards


def fake_factory(job):
    return FakeDetector()


def paths_of(tmp_path):
    return [*library(tmp_path / "a").values(), *library(tmp_path / "b").values()]


def test_shards_cover_everything_once():
    parts = shards(range(10), 3)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert [x for p in parts for x in p] == [str(i) for i in range(10)]
    assert shards(["x"], 5) == [["x"]]


def test_executor_run_matches_local_run(tmp_path):
    paths = paths_of(tmp_path)
    (tmp_path / "a" / "bad.jpg").write_bytes(b"nope")
    local = rank_photos(paths, FakeDetector())
    with ThreadPoolExecutor(2) as ex:
        dist = rank_distributed([*paths, tmp_path / "a" / "bad.jpg"], ShardJob(), n_shards=3, executor=ex,
                                detector_factory=fake_factory)
    assert [r.to_json() for r in dist.records] == [r.to_json() for r in local.records]
    assert len(dist.failures) == 1


def test_rules_of_the_job_decide_the_verdict(tmp_path):
    paths = paths_of(tmp_path)
    with ThreadPoolExecutor(1) as ex:
        dist = rank_distributed(paths, ShardJob(rules={"no_blur_max": 0.99}), n_shards=2, executor=ex,
                                detector_factory=fake_factory)
    assert {r.verdict.value for r in dist.records} == {"no-blur", "bad-blur"}  # only the all-blurred one is bad


def test_dask_bag_and_local_cluster(tmp_path):
    pytest.importorskip("dask.bag")
    paths = paths_of(tmp_path)
    local = rank_photos(paths, FakeDetector())
    run = rank_distributed(paths, ShardJob(), n_shards=3, scheduler="sync", detector_factory=fake_factory)
    assert [r.to_json() for r in run.records] == [r.to_json() for r in local.records]
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        run = rank_distributed(paths, ShardJob(), n_shards=4, scheduler=client, detector_factory=fake_factory)
    assert [r.to_json() for r in run.records] == [r.to_json() for r in local.records]
