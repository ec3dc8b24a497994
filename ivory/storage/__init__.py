"""Storage backends behind one interface (D1.1), and :func:`open_storage` to pick one by location.

Backends: ``memory://NAME`` (:class:`MemoryStorage`) and local paths or ``file:///abs``
(:class:`PosixStorage`). ``s3://`` and ``hdfs://`` are recognised but not available yet.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ivory.errors import StorageError
from ivory.storage.base import ListEntry, PrefixedStorage, Storage, check_key, check_prefix
from ivory.storage.memory import MemoryStorage
from ivory.storage.posix import PosixStorage

__all__ = [
    "ListEntry",
    "MemoryStorage",
    "PosixStorage",
    "PrefixedStorage",
    "Storage",
    "check_key",
    "check_prefix",
    "open_storage",
]


def _open_memory(location: str) -> Storage:
    name, _, prefix = location.removeprefix("memory://").partition("/")
    return MemoryStorage.named(name).child(prefix)


def _open_file(location: str) -> Storage:
    path = location.removeprefix("file://")
    path = path.removeprefix("localhost")
    if not path.startswith("/"):
        raise StorageError(f"invalid location {location!r}: file URIs are absolute "
                           "(file:///path/to/dir)")
    return PosixStorage(path)


def _not_yet(location: str) -> Storage:
    scheme = location.partition("://")[0]
    raise StorageError(f"cannot open {location!r}: the {scheme} storage backend is not "
                       "available yet; use a local path or memory://NAME")


#: Location scheme -> opener. Adding a backend is one line here.
_OPENERS: dict[str, Callable[[str], Storage]] = {
    "memory": _open_memory,
    "file": _open_file,
    "s3": _not_yet,
    "hdfs": _not_yet,
}


def open_storage(location: str) -> Storage:
    """Open the storage at ``location`` (D1.1, D1.3).

    Args:
        location (str): ``memory://NAME[/prefix]`` (a process-wide registry, so two opens of the
            same name share data), ``file:///abs/path``, or a plain local path (``~`` expanded,
            made absolute). ``s3://`` and ``hdfs://`` are reserved for backends to come.

    Returns:
        Storage: The storage rooted at ``location``.

    Raises:
        StorageError: Unknown scheme, malformed location, or a backend not available yet.
    """
    if not isinstance(location, str) or not location:
        raise StorageError(f"invalid storage location {location!r}: give a path or a URI")
    scheme, sep, _ = location.partition("://")
    if not sep:
        return PosixStorage(os.path.abspath(os.path.expanduser(location)))
    opener = _OPENERS.get(scheme.lower())
    if opener is None:
        raise StorageError(f"cannot open {location!r}: unknown scheme {scheme!r} "
                           f"(supported: {', '.join(sorted(_OPENERS))})")
    return opener(scheme.lower() + location[len(scheme):])
