"""Run one callable in several threads at once, with every wait bounded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_in_threads(
    work: Callable[[int], T],
    count: int,
    *,
    start_timeout: float = 30,
    join_timeout: float = 60,
) -> list[T]:
    """Call ``work(0)`` .. ``work(count - 1)``, each in its own thread, and return the results.

    The threads wait behind a barrier so the calls really overlap. What the threads
    raised is raised here (one error as itself, several listed), and so is a thread
    still running after ``join_timeout``: no failure goes unseen.
    """
    barrier = threading.Barrier(count)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=start_timeout)
            results[index] = work(index)
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=join_timeout)
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        errors.append(TimeoutError(f"{stuck} of {count} threads still running"))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise AssertionError(f"{len(errors)} of {count} threads failed: {errors!r}") from errors[0]
    return [results[i] for i in range(count)]
