"""One look-ahead thread pool for the batch paths (BlurDetector.predict_many, blurtool.library.iter_rank): work on
the next items runs in threads while the caller handles the current one, a bounded number ahead so that memory stays
bounded (a decoded photo is tens of MB), results in input order.

Decoding (libjpeg, Pillow, OpenCV) and the network (torch) release the GIL, so the threads do run in parallel."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
_END = object()


def lookahead(
    func: Callable[[T], R], items: Iterable[T], *, workers: int, ahead: int, name: str = "blurtool"
) -> Iterator[R]:
    """``func(item)`` for each item, in ``workers`` threads, at most ``ahead`` items started and not yet yielded;
    yields the results in the order of ``items``. An exception of ``func`` is raised when its result's turn comes.
    Closing the generator early (a ``break``, Ctrl-C) cancels what has not started and waits for what has."""
    it = iter(items)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name) as pool:
        queue: deque = deque()

        def refill() -> None:
            while len(queue) < max(1, ahead):
                item = next(it, _END)
                if item is _END:
                    return
                queue.append(pool.submit(func, item))

        refill()
        try:
            while queue:
                result = queue.popleft().result()
                refill()
                yield result
        finally:
            for future in queue:
                future.cancel()
