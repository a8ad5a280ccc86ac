"""blurtool.lookahead: results in input order, never more than `ahead` started ahead, errors at their turn."""

import threading
import time

import pytest

from blurtool.lookahead import lookahead


def test_results_come_in_input_order_whatever_order_they_finish_in():
    def slow_first(i):
        time.sleep(0.02 if i == 0 else 0)
        return i * i

    assert list(lookahead(slow_first, range(7), workers=3, ahead=4)) == [i * i for i in range(7)]
    assert list(lookahead(slow_first, [], workers=2, ahead=2)) == []


def test_never_more_than_ahead_items_started_and_not_yet_taken():
    started, lock = [], threading.Lock()

    def work(i):
        with lock:
            started.append(i)
        return i

    taken = 0
    for i in lookahead(work, range(20), workers=2, ahead=3):
        taken += 1
        assert len(started) <= taken + 3 and i == taken - 1


def test_an_error_is_raised_at_its_turn_and_closing_cancels_the_rest():
    started = []

    def work(i):
        started.append(i)
        if i == 2:
            raise ValueError("two")
        return i

    got = lookahead(work, range(100), workers=1, ahead=2)
    assert [next(got), next(got)] == [0, 1]
    with pytest.raises(ValueError, match="two"):
        next(got)
    assert len(started) <= 6
