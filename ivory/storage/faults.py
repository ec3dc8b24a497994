"""Fault injection for storage (D5.6): fail, or "kill the process", at the N-th request.

:class:`FaultyStorage` wraps any :class:`~ivory.storage.base.Storage` and counts every request
made through it (and through its :meth:`~FaultyStorage.child` views, which share the count).
With a :class:`FaultPlan` it raises at request number ``N`` (1-based), before the request
reaches the backend:

* ``mode="fail"`` raises :class:`InjectedFault`, a :class:`~ivory.errors.StorageError`: what a
  backend failure looks like to ivory, so ivory's own error handling runs;
* ``mode="kill"`` raises :class:`SimulatedCrash`, a :class:`BaseException` that ivory never
  catches: the rest of the operation (including any clean-up) does not run, as when the
  process dies at that point.

A request is one call of ``read``, ``write``, ``create_if_absent``, ``exists``, ``size``,
``list``, ``delete``, ``delete_prefix``, ``copy``, ``open_read`` or ``open_write``. ``uri``
and ``describe`` make no request and are not counted. A listing counts once when it starts,
however many pages it fetches.

The sweep that uses it: count the requests of a clean run (:attr:`FaultCounter.total`), then
run the operation again for every ``N`` in ``1..total`` on a fresh copy of the repository and
check that it holds the old or the new committed state (``tests/integration/test_faults.py``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from ivory.errors import StorageError
from ivory.storage.base import ListEntry, Storage

MODES = ("fail", "kill")


class InjectedFault(StorageError):
    """A storage request failed on purpose (``mode="fail"``)."""


class SimulatedCrash(BaseException):
    """The process "died" at a storage request (``mode="kill"``); nothing in ivory catches
    a :class:`BaseException` that is not an :class:`Exception`, so no clean-up runs."""


@dataclass
class FaultPlan:
    """When and how to fail.

    Attributes:
        at (int | None): The 1-based request number that fails; None: never.
        mode (str): ``"fail"`` (:class:`InjectedFault`) or ``"kill"`` (:class:`SimulatedCrash`).
    """

    at: int | None = None
    mode: str = "fail"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"invalid fault mode {self.mode!r}: use one of {', '.join(MODES)}")


@dataclass
class FaultCounter:
    """The request count shared by a :class:`FaultyStorage` and its views.

    Attributes:
        total (int): Requests made so far.
        log (list[tuple[str, str]]): ``(method, key)`` of each request, in order.
        fired (tuple[str, str] | None): The request that was failed, once it has been.
    """

    plan: FaultPlan = field(default_factory=FaultPlan)
    total: int = 0
    log: list[tuple[str, str]] = field(default_factory=list)
    fired: tuple[str, str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def tick(self, method: str, key: str) -> None:
        """Count one request; raise if it is the planned one."""
        with self._lock:
            self.total += 1
            self.log.append((method, key))
            if self.plan.at != self.total:
                return
            self.fired = (method, key)
        message = f"injected fault at request {self.total}: {method} {key!r}"
        if self.plan.mode == "kill":
            raise SimulatedCrash(message)
        raise InjectedFault(message)


class FaultyStorage(Storage):
    """A storage that counts its requests and fails at a planned one (D5.6).

    Args:
        inner (Storage): The storage to delegate to.
        counter (FaultCounter | None): A shared counter (default: a new one that never fails).
    """

    def __init__(self, inner: Storage, counter: FaultCounter | None = None) -> None:
        self.inner = inner
        self.counter = counter if counter is not None else FaultCounter()
        self.scheme = inner.scheme

    def _tick(self, method: str, key: str) -> None:
        self.counter.tick(method, key)

    def read(self, key: str) -> bytes:
        self._tick("read", key)
        return self.inner.read(key)

    def write(self, key: str, data: bytes) -> None:
        self._tick("write", key)
        self.inner.write(key, data)

    def create_if_absent(self, key: str, data: bytes) -> None:
        self._tick("create_if_absent", key)
        self.inner.create_if_absent(key, data)

    def exists(self, key: str) -> bool:
        self._tick("exists", key)
        return self.inner.exists(key)

    def size(self, key: str) -> int:
        self._tick("size", key)
        return self.inner.size(key)

    def list(self, prefix: str = "", delimiter: str | None = "/", *,
             start_after: str | None = None, page_size: int = 1000) -> Iterator[ListEntry]:
        self._tick("list", prefix)
        return self.inner.list(prefix, delimiter, start_after=start_after, page_size=page_size)

    def _list(self, prefix: str, delimiter: str | None, start_after: str | None,
              page_size: int) -> Iterator[ListEntry]:  # pragma: no cover - list() overridden
        return self.inner.list(prefix, delimiter, start_after=start_after, page_size=page_size)

    def delete(self, key: str) -> None:
        self._tick("delete", key)
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        self._tick("delete_prefix", prefix)
        return self.inner.delete_prefix(prefix)

    def copy(self, src: str, dst: str) -> None:
        self._tick("copy", src)
        self.inner.copy(src, dst)

    def open_read(self, key: str) -> BinaryIO:
        self._tick("open_read", key)
        return self.inner.open_read(key)

    def open_write(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        self._tick("open_write", key)
        return self.inner.open_write(key)

    def uri(self, key: str = "") -> str:
        return self.inner.uri(key)

    def child(self, prefix: str) -> Storage:
        if not prefix:
            return self
        return FaultyStorage(self.inner.child(prefix), self.counter)

    def describe(self) -> str:
        return self.inner.describe()

    def cache_identity(self) -> str | None:
        return None  # never cache through a test wrapper
