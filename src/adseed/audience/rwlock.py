"""A readers-writer lock: many searches at once, or one index mutation, never both.

FAISS CPU indexes are safe for concurrent searches but not for a search running while
``add`` or ``update_vectors`` changes the inverted lists (FAISS wiki, "Threads and
asynchronous calls"); its Python wrapper releases the GIL inside both, so the caller
must exclude them. Writers are preferred: once a writer waits, new readers queue
behind it, so a stream of searches cannot starve real-time updates. Writers hold the
lock only for the mutation itself (microseconds to milliseconds per batch), never
while they compute vectors.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RWLock:
    """Shared (read) / exclusive (write) lock; not reentrant."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
