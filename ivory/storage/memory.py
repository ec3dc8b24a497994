"""In-memory storage, for tests and throw-away repositories (D1.1, D1.3).

Objects live in a dict guarded by a lock, so every operation (including create-if-absent, D1.2)
is atomic within the process. :meth:`MemoryStorage.named` returns the process-wide instance for a
name, which is what ``open_storage("memory://NAME")`` uses.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import ClassVar

from ivory.errors import KeyExistsError, KeyNotFoundError, StorageError
from ivory.storage.base import ListEntry, Storage, check_key, check_prefix, roll_up


class MemoryStorage(Storage):
    """A storage held in this process's memory (D1.1).

    Args:
        name (str): A name for messages (``memory://NAME``); :meth:`named` shares instances
            by name.
    """

    scheme = "memory"

    _registry: ClassVar[dict[str, MemoryStorage]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()
    _anonymous: ClassVar[Iterator[int]] = itertools.count()

    def __init__(self, name: str | None = None) -> None:
        self.name = name if name is not None else f"anonymous-{next(self._anonymous)}"
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def named(cls, name: str) -> MemoryStorage:
        """Return the process-wide storage called ``name``, creating it on first use.

        Args:
            name (str): Any non-empty name without ``/``.

        Raises:
            StorageError: The name is empty or contains ``/``.
        """
        if not name or "/" in name:
            raise StorageError(f"invalid memory storage name {name!r}: use a non-empty name "
                               "without '/'")
        with cls._registry_lock:
            if name not in cls._registry:
                cls._registry[name] = cls(name)
            return cls._registry[name]

    def read(self, key: str) -> bytes:
        check_key(key)
        with self._lock:
            data = self._objects.get(key)
        if data is None:
            raise KeyNotFoundError(key)
        return data

    def write(self, key: str, data: bytes) -> None:
        check_key(key)
        data = bytes(data)
        with self._lock:
            self._objects[key] = data

    def create_if_absent(self, key: str, data: bytes) -> None:
        check_key(key)
        data = bytes(data)
        with self._lock:
            if key in self._objects:
                raise KeyExistsError(key)
            self._objects[key] = data

    def exists(self, key: str) -> bool:
        check_key(key)
        with self._lock:
            return key in self._objects

    def size(self, key: str) -> int:
        return len(self.read(key))

    def _list(self, prefix: str, delimiter: str | None, start_after: str | None,
              page_size: int) -> Iterator[ListEntry]:
        # One page per lock acquisition; each page resumes after the last entry returned.
        cursor = start_after
        while True:
            with self._lock:
                objects = sorted((key, len(data)) for key, data in self._objects.items()
                                 if key.startswith(prefix) and (cursor is None or key > cursor))
            page = list(itertools.islice(roll_up(objects, prefix, delimiter, cursor), page_size))
            yield from page
            if len(page) < page_size:
                return
            cursor = page[-1].key

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        check_prefix(prefix)
        with self._lock:
            keys = [key for key in self._objects if key.startswith(prefix)]
            for key in keys:
                del self._objects[key]
        return len(keys)

    def uri(self, key: str = "") -> str:
        raise StorageError(f"memory storage is not reachable from Spark ({self.describe()}); "
                           "use a file://, s3:// or hdfs:// location for data")

    def describe(self) -> str:
        return f"memory://{self.name}"
