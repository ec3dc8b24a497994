"""Storage backends behind one interface (D1.1), and :func:`open_storage` to pick one by location.

Backends: ``memory://NAME`` (:class:`MemoryStorage`), local paths or ``file:///abs``
(:class:`PosixStorage`), ``s3://bucket/prefix`` or ``s3a://...`` (:class:`S3Storage`, on boto3;
server-side encryption from ``IVORY_S3_SSE``) and ``hdfs://host:port/path``
(:class:`HdfsStorage`, on pyarrow's libhdfs). The S3 and HDFS modules import boto3 and pyarrow
only when a client is first needed.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ivory.errors import StorageError
from ivory.storage.base import ListEntry, PrefixedStorage, Storage, check_key, check_prefix
from ivory.storage.hdfs import HdfsStorage
from ivory.storage.memory import MemoryStorage
from ivory.storage.posix import PosixStorage
from ivory.storage.s3 import S3Storage, open_s3

__all__ = [
    "HdfsStorage",
    "ListEntry",
    "MemoryStorage",
    "PosixStorage",
    "PrefixedStorage",
    "S3Storage",
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


#: Location scheme -> opener. Adding a backend is one line here.
_OPENERS: dict[str, Callable[[str], Storage]] = {
    "memory": _open_memory,
    "file": _open_file,
    "s3": open_s3,
    "s3a": open_s3,
    "hdfs": HdfsStorage,
}


def open_storage(location: str) -> Storage:
    """Open the storage at ``location`` (D1.1, D1.3).

    Args:
        location (str): ``memory://NAME[/prefix]`` (a process-wide registry, so two opens of the
            same name share data), ``file:///abs/path``, a plain local path (``~`` expanded,
            made absolute), ``s3://bucket[/prefix]`` or ``s3a://bucket[/prefix]`` (credentials,
            region and endpoint from the standard AWS chain; ``IVORY_S3_SSE`` sets server-side
            encryption: ``AES256``, ``aws:kms`` or ``aws:kms:dsse``), or
            ``hdfs://host:port/path`` (``hdfs:///path`` for the configured default file
            system).

    Returns:
        Storage: The storage rooted at ``location``.

    Raises:
        StorageError: Unknown scheme or malformed location.
        UsageError: ``IVORY_S3_SSE`` holds an unknown value.
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
