"""GroupCommit with plain threads (how ``flask run`` and the tests call a store): items that arrive while a
batch is written go together in the next one, each gets its own outcome, and a batch that fails whole
fails every item in it and no other."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from app.offload import GroupCommit, SerialThread


class Disk:
    """A batch writer whose first batch waits until the test lets it go; it records every batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()

    def write(self, items: Sequence[str]) -> list[BaseException | None]:
        if not self.batches:
            self.first_started.set()
            assert self.release_first.wait(10)
        self.batches.append(list(items))
        if "disk-full" in items:
            raise OSError("disk full")
        return [ValueError(item) if item.startswith("bad") else None for item in items]


def submit_all(group: GroupCommit[str], items: Sequence[str]) -> tuple[list[threading.Thread], dict[str, object]]:
    """A thread per item; what each submit ended with (None, or the exception it raised)."""
    outcomes: dict[str, object] = {}

    def one(item: str) -> None:
        try:
            group.submit(item)
            outcomes[item] = None
        except BaseException as exc:  # the outcome under test
            outcomes[item] = exc

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, outcomes


def queued(group: GroupCommit[str], count: int) -> None:
    """Wait until ``count`` items wait behind the batch being written."""
    ready = threading.Event()
    while not ready.wait(0.002):
        with group._lock:
            if len(group._pending) >= count:
                ready.set()


def test_items_that_queue_behind_a_batch_go_together_each_with_its_own_outcome():
    disk = Disk()
    group = GroupCommit(disk.write, SerialThread().call)
    first, first_outcome = submit_all(group, ["a"])
    assert disk.first_started.wait(10)
    rest, outcomes = submit_all(group, ["b", "bad-c", "d"])
    queued(group, 3)
    disk.release_first.set()
    for thread in first + rest:
        thread.join(10)
    assert len(disk.batches) == 2 and disk.batches[0] == ["a"]
    assert sorted(disk.batches[1]) == ["b", "bad-c", "d"]  # in the order they arrived, whichever that was
    assert first_outcome == {"a": None}
    assert outcomes["b"] is None and outcomes["d"] is None
    assert isinstance(outcomes["bad-c"], ValueError)  # only the item that failed raises
    assert group.batches == 2


def test_a_batch_that_fails_whole_fails_each_of_its_items_and_the_next_batch_still_runs():
    disk = Disk()
    group = GroupCommit(disk.write, SerialThread().call)
    first, first_outcome = submit_all(group, ["a"])
    assert disk.first_started.wait(10)
    rest, outcomes = submit_all(group, ["b", "disk-full"])
    queued(group, 2)
    disk.release_first.set()
    for thread in first + rest:
        thread.join(10)
    assert first_outcome == {"a": None}
    assert all(isinstance(outcomes[item], OSError) for item in ("b", "disk-full"))
    group.submit("e")  # nobody left writing: the next item leads a batch of its own at once
    assert disk.batches[-1] == ["e"]


def test_a_batch_is_no_larger_than_its_limit():
    disk = Disk()
    group = GroupCommit(disk.write, SerialThread().call, max_batch=2)
    first, _ = submit_all(group, ["a"])
    assert disk.first_started.wait(10)
    rest, outcomes = submit_all(group, ["b", "c", "d", "e", "f"])
    queued(group, 5)
    disk.release_first.set()
    for thread in first + rest:
        thread.join(10)
    assert outcomes == dict.fromkeys("bcdef")
    assert [len(batch) for batch in disk.batches] == [1, 2, 2, 1]


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_is_refused(limit):
    with pytest.raises(ValueError):
        GroupCommit(Disk().write, SerialThread().call, max_batch=limit)
