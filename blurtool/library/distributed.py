"""Rank a large photo library over several machines or processes (optional; needs ``pip install "dask[bag]"``,
plus ``distributed`` for a cluster).

The paths are cut into shards; each shard runs the *same* library function as ``blurtool rank``
(:func:`blurtool.library.iter_rank`) in a worker that loads the network once; the records come back and are merged
(the verdict is recomputed from the scores with the caller's rules, so every shard agrees)::

    from dask.distributed import Client, LocalCluster
    from blurtool.library.distributed import ShardJob, rank_distributed

    client = Client(LocalCluster(n_workers=4, threads_per_worker=1))   # or Client("tcp://scheduler:8786")
    run = rank_distributed(paths, ShardJob(weights="weights/blurnet.pt"), n_shards=64, scheduler=client)
    for rec in sort_records(run.records, "verdict"): ...

Every worker must see the photos under the same paths (a shared file system) and have blurtool installed. On CPU,
give each worker process one thread per core and torch one thread (``OMP_NUM_THREADS=1``; see
``blurtool.library.iter_rank`` for why), e.g. ``LocalCluster(n_workers=os.cpu_count(), threads_per_worker=1)``. Without
dask, ``executor=`` takes any object with a ``map(fn, iterable)`` method (``concurrent.futures`` executors), which is
also how the tests run it. Moving/copying the photos afterwards is done once, by the caller, with the merged records
(``blurtool.library.sort``): file moves are not sharded, so there is one undo log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from blurtool.library.rank import Failure, RankRecord, RankRun, iter_rank
from blurtool.ops.rank import RankRules, verdict


@dataclass(frozen=True)
class ShardJob:
    """What every worker needs to rank its shard (small and picklable: no model, no arrays)."""

    weights: str | None = None
    device: str = "cpu"
    threshold: float | None = None
    working_size: int | None = None
    flip_average: bool = False  # one network pass per photo, as `blurtool rank` does by default
    photo_workers: int = 1  # photos at once per worker (each on one torch thread); 0 = batched GPU mode
    batch_size: int = 4
    rules: dict = field(default_factory=lambda: asdict(RankRules()))


def _load_detector(job: ShardJob):
    from blurtool.inference import BlurDetector

    return BlurDetector.from_weights(job.weights, device=job.device, threshold=job.threshold,
                                     working_size=job.working_size, flip_average=job.flip_average)


def rank_shard(paths: Sequence[str], job: ShardJob, detector_factory: Callable | None = None) -> list:
    """Rank one shard in a worker: RankRecord and Failure objects, in the shard's order."""
    paths = list(paths)
    if not paths:
        return []
    detector = (detector_factory or _load_detector)(job)
    return list(iter_rank(paths, detector, rules=RankRules(**job.rules), threshold=job.threshold,
                          photo_workers=job.photo_workers, batch_size=job.batch_size))


def shards(paths: Sequence[Path | str], n: int) -> list[list[str]]:
    """Cut ``paths`` into ``n`` contiguous, nearly equal shards (fewer if there are fewer paths)."""
    paths = [str(p) for p in paths]
    n = max(1, min(n, len(paths)))
    k, r = divmod(len(paths), n)
    out, i = [], 0
    for s in range(n):
        j = i + k + (1 if s < r else 0)
        out.append(paths[i:j])
        i = j
    return [s for s in out if s]


def _merge(parts, rules: RankRules) -> RankRun:
    recs: list[RankRecord] = []
    fails: list[Failure] = []
    for part in parts:
        for item in part:
            if isinstance(item, Failure):
                fails.append(item)
            else:
                item.verdict, item.reason = verdict(item.scores, rules)
                recs.append(item)
    return RankRun(recs, fails)


def rank_distributed(
    paths: Sequence[Path | str],
    job: ShardJob | None = None,
    *,
    n_shards: int = 8,
    executor=None,
    scheduler=None,
    detector_factory: Callable | None = None,
) -> RankRun:
    """Rank ``paths`` in ``n_shards`` shards and merge the results (see module doc).

    ``executor``: an object with ``map(fn, iterable)`` (e.g. ``concurrent.futures.ProcessPoolExecutor``); else dask:
    a ``dask.bag`` with one partition per shard, computed with ``scheduler`` (a ``distributed.Client``, or a dask
    scheduler name such as "processes", "threads" or "sync"). ``detector_factory(job)`` builds the detector in the
    worker (default: ``BlurDetector.from_weights``); it must be picklable for process or cluster workers.
    """
    from functools import partial

    job = job or ShardJob()
    parts = shards(paths, n_shards)
    fn = partial(rank_shard, job=job, detector_factory=detector_factory)
    if executor is not None:
        results = list(executor.map(fn, parts))
    else:
        try:
            import dask.bag as db
        except ImportError:
            from blurtool.errors import InputError

            raise InputError("distributed ranking needs dask: pip install 'dask[bag]' distributed") from None
        bag = db.from_sequence(parts, npartitions=len(parts)).map(fn)
        if scheduler is not None and hasattr(scheduler, "compute"):  # a distributed.Client
            results = scheduler.compute(bag).result()
        else:
            results = bag.compute(scheduler=scheduler or "processes")
    return _merge(results, RankRules(**job.rules))
