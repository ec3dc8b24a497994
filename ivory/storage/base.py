"""The storage interface every part of ivory uses (D1.1).

A :class:`Storage` holds *objects* (byte strings) under *keys*: relative, ``/``-separated paths
such as ``metadata/store/00000001/value``. Backends (memory, posix, later S3 and HDFS) implement
the abstract methods; this module also provides key checks, the shared listing roll-up and a
generic :class:`PrefixedStorage` view used by :meth:`Storage.child`.
"""

from __future__ import annotations

import abc
import contextlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ivory.errors import KeyExistsError, KeyNotFoundError, StorageError, UsageError

#: The delimiter that separates key segments.
SEP = "/"


@dataclass(frozen=True)
class ListEntry:
    """One result of :meth:`Storage.list` (D1.1).

    Attributes:
        key (str): The full key relative to the storage root. For a common prefix it ends with
            the delimiter (``"metadata/store/"``).
        size (int | None): Object size in bytes; ``None`` for a common prefix.
        is_prefix (bool): True for a common prefix (a "directory"), False for an object.
    """

    key: str
    size: int | None
    is_prefix: bool


def check_key(key: str) -> str:
    """Check that ``key`` is a valid object key (D1.1).

    A key is a non-empty relative path: no leading ``/``, and no empty, ``.`` or ``..`` segment
    (so no trailing ``/`` and no ``//``).

    Args:
        key (str): The key to check.

    Returns:
        str: ``key`` unchanged.

    Raises:
        StorageError: The key is not a string or breaks one of the rules; the message names the
            key and the reason.
    """
    if not isinstance(key, str):
        raise StorageError(f"invalid storage key {key!r}: keys are strings")
    reason = _key_problem(key.split(SEP)) if key else "keys are not empty"
    if key.startswith(SEP):
        reason = "keys are relative (no leading '/')"
    if "\x00" in key:
        reason = "keys contain no NUL character"
    if reason:
        raise StorageError(f"invalid storage key {key!r}: {reason}")
    return key


def check_prefix(prefix: str) -> str:
    """Check a listing prefix: ``""``, or a key with an optional trailing ``/`` or a partial last
    segment (``"metadata/st"``), as in S3 ListObjectsV2 (D1.1).

    Args:
        prefix (str): The prefix to check.

    Returns:
        str: ``prefix`` unchanged.

    Raises:
        StorageError: A segment before the last one is empty, ``.`` or ``..``, the prefix starts
            with ``/``, or it is not a string.
    """
    if not isinstance(prefix, str):
        raise StorageError(f"invalid storage prefix {prefix!r}: prefixes are strings")
    if not prefix:
        return prefix
    reason = _key_problem(prefix.split(SEP)[:-1])
    if prefix.startswith(SEP):
        reason = "prefixes are relative (no leading '/')"
    if "\x00" in prefix:
        reason = "prefixes contain no NUL character"
    if reason:
        raise StorageError(f"invalid storage prefix {prefix!r}: {reason}")
    return prefix


def _key_problem(segments: list[str]) -> str | None:
    for segment in segments:
        if segment in ("", ".", ".."):
            return f"segments are not empty, '.' or '..' (found {segment!r})"
    return None


def check_list_args(prefix: str, delimiter: str | None, start_after: str | None,
                    page_size: int) -> None:
    """Check the arguments of :meth:`Storage.list`.

    Raises:
        StorageError: ``prefix`` is invalid (see :func:`check_prefix`).
        UsageError: ``delimiter`` is empty, ``start_after`` is not a string, or ``page_size``
            is below 1.
    """
    check_prefix(prefix)
    if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
        raise UsageError(f"invalid listing delimiter {delimiter!r}: use a non-empty string or None")
    if start_after is not None and not isinstance(start_after, str):
        raise UsageError(f"invalid start_after {start_after!r}: use a string or None")
    if not isinstance(page_size, int) or page_size < 1:
        raise UsageError(f"invalid page_size {page_size!r}: use an integer >= 1")


def roll_up(objects: Iterable[tuple[str, int]], prefix: str, delimiter: str | None,
            start_after: str | None) -> Iterator[ListEntry]:
    """Turn a sorted stream of objects into listing entries (S3 ListObjectsV2 semantics).

    With a delimiter, every key that contains the delimiter after ``prefix`` collapses into one
    common prefix (up to and including that delimiter). An entry (object or common prefix) is
    returned only if its key sorts after ``start_after``, so resuming from the last returned key
    never repeats an entry.

    Args:
        objects (Iterable[tuple[str, int]]): ``(key, size in bytes)`` in key order, every key
            starting with ``prefix``.
        prefix (str): The listing prefix.
        delimiter (str | None): The delimiter, or None for a recursive listing.
        start_after (str | None): Return only entries whose key sorts after this one.

    Yields:
        ListEntry: In key order.
    """
    last_prefix = None
    for key, size in objects:
        if delimiter is not None:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                if common != last_prefix and (start_after is None or common > start_after):
                    last_prefix = common
                    yield ListEntry(common, None, True)
                continue
        if start_after is None or key > start_after:
            yield ListEntry(key, size, False)


class Storage(abc.ABC):
    """A flat store of objects under keys (D1.1).

    Keys are relative ``/``-separated paths (``'metadata/store/00000001/value'``): no leading
    ``/``, no empty, ``.`` or ``..`` segments; every method checks them with :func:`check_key`
    and raises :class:`~ivory.errors.StorageError` naming the key and the reason. Errors from the
    backend are raised as :class:`~ivory.errors.StorageError` (or a subclass).

    Attributes:
        scheme (str): ``"memory"``, ``"file"``, later ``"s3"`` and ``"hdfs"``.
    """

    scheme: str = ""

    @abc.abstractmethod
    def read(self, key: str) -> bytes:
        """Read a whole object.

        Args:
            key (str): The object key.

        Returns:
            bytes: The object's content.

        Raises:
            KeyNotFoundError: No object under ``key``.
            StorageError: Invalid key or backend failure.
        """

    @abc.abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Create or replace an object atomically: readers see the old or the new content, never
        a partial object (D1.1).

        Args:
            key (str): The object key.
            data (bytes): The new content.

        Raises:
            StorageError: Invalid key or backend failure.
        """

    @abc.abstractmethod
    def create_if_absent(self, key: str, data: bytes) -> None:
        """Create an object only if no object exists under ``key``, atomically (D1.2).

        Of many concurrent callers exactly one succeeds; a reader never sees a partial object.

        Args:
            key (str): The object key.
            data (bytes): The content.

        Raises:
            KeyExistsError: An object already exists under ``key``; nothing was written.
            StorageError: Invalid key or backend failure.
        """

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Tell whether an object exists under ``key`` (a common prefix is not an object).

        Raises:
            StorageError: Invalid key or backend failure.
        """

    @abc.abstractmethod
    def size(self, key: str) -> int:
        """Return the size of an object in bytes.

        Raises:
            KeyNotFoundError: No object under ``key``.
            StorageError: Invalid key or backend failure.
        """

    def list(self, prefix: str = "", delimiter: str | None = "/", *,
             start_after: str | None = None, page_size: int = 1000) -> Iterator[ListEntry]:
        """List objects by prefix, in key (byte) order, lazily paginated (D1.1).

        S3 ListObjectsV2 semantics: ``prefix`` is a plain string prefix (``"metadata/st"``
        matches ``metadata/store/...``). With a delimiter, the result holds the objects directly
        under the prefix and one common prefix (ending with the delimiter) for each group of
        deeper keys; with ``delimiter=None`` it holds every object under the prefix, recursively.
        Posix directories map to common prefixes; empty directories may be omitted.

        Args:
            prefix (str): Only keys starting with this string (``""``: everything).
            delimiter (str | None): Group keys at the first delimiter after the prefix, or None
                for a recursive listing.
            start_after (str | None): Only entries whose key sorts strictly after this string
                (for a common prefix, the prefix string itself is compared), so passing the last
                key seen resumes a listing.
            page_size (int): Entries fetched per backend request (a hint; >= 1).

        Returns:
            Iterator[ListEntry]: Entries in key order, fetched page by page as consumed.

        Raises:
            StorageError: Invalid prefix or backend failure.
            UsageError: Invalid delimiter, start_after or page_size.
        """
        check_list_args(prefix, delimiter, start_after, page_size)
        return self._list(prefix, delimiter, start_after, page_size)

    @abc.abstractmethod
    def _list(self, prefix: str, delimiter: str | None, start_after: str | None,
              page_size: int) -> Iterator[ListEntry]:
        """Backend part of :meth:`list`, called with checked arguments."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete an object; a missing object is fine.

        Raises:
            StorageError: Invalid key or backend failure.
        """

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix`` (a plain string prefix).

        Args:
            prefix (str): As for :meth:`list`; ``""`` deletes everything.

        Returns:
            int: The number of objects deleted.

        Raises:
            StorageError: Invalid prefix or backend failure.
        """
        check_prefix(prefix)
        keys = [entry.key for entry in self.list(prefix, None)]
        for key in keys:
            self.delete(key)
        return len(keys)

    def copy(self, src: str, dst: str) -> None:
        """Copy an object within this storage; ``dst`` appears atomically.

        Raises:
            KeyNotFoundError: No object under ``src``.
            StorageError: Invalid key or backend failure.
        """
        check_key(dst)
        self.write(dst, self.read(src))

    def open_read(self, key: str) -> BinaryIO:
        """Open an object for a streaming read; close the returned file when done.

        Raises:
            KeyNotFoundError: No object under ``key``.
            StorageError: Invalid key or backend failure.
        """
        return io.BytesIO(self.read(key))

    def open_write(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """Open an object for a streaming write, as a context manager.

        The object appears atomically (as with :meth:`write`) when the block exits normally;
        if the block raises, nothing is written and the exception propagates.

        Raises:
            StorageError: Invalid key or backend failure.
        """
        check_key(key)
        return self._buffered_write(key)

    @contextlib.contextmanager
    def _buffered_write(self, key: str) -> Iterator[BinaryIO]:
        buffer = io.BytesIO()
        yield buffer
        self.write(key, buffer.getvalue())

    @abc.abstractmethod
    def uri(self, key: str = "") -> str:
        """Return a URI that Hadoop/Spark can open for ``key`` (or a ``/``-terminated prefix, or
        ``""`` for the root).

        Raises:
            StorageError: Invalid key, or the backend is not reachable from Spark (memory).
        """

    def child(self, prefix: str) -> Storage:
        """Return a view of this storage rooted at ``prefix``; its keys are relative to it.

        Args:
            prefix (str): A key, with or without a trailing ``/``; ``""`` returns ``self``.

        Raises:
            StorageError: Invalid prefix.
        """
        if not prefix:
            return self
        return PrefixedStorage(self, prefix)

    @abc.abstractmethod
    def describe(self) -> str:
        """Return a human-readable location for messages (a path, ``memory://name``, a URI)."""

    def cache_identity(self) -> str | None:
        """A string naming this storage's root for every process on this machine, under which
        immutable values read from it may be cached locally (D5.5); None (the default): do
        not cache (memory storage is per process, local disk is as fast as the cache)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def dir_prefix(prefix: str) -> str:
    """Check a :meth:`Storage.child` prefix and return it ``/``-terminated.

    Raises:
        StorageError: ``prefix`` without its trailing ``/`` is not a valid key.
    """
    check_key(prefix[:-1] if prefix.endswith(SEP) else prefix)
    return prefix if prefix.endswith(SEP) else prefix + SEP


class PrefixedStorage(Storage):
    """A view of another storage rooted at a prefix (the generic :meth:`Storage.child`).

    Args:
        base (Storage): The storage to delegate to.
        prefix (str): A valid key with or without a trailing ``/``.

    Raises:
        StorageError: Invalid prefix.
    """

    def __init__(self, base: Storage, prefix: str) -> None:
        self.base = base
        self.prefix = dir_prefix(prefix)
        self.scheme = base.scheme

    def _k(self, key: str) -> str:
        return self.prefix + check_key(key)

    @staticmethod
    @contextlib.contextmanager
    def _relative(key: str) -> Iterator[None]:
        """Re-raise key errors from the base storage with the key relative to this view."""
        try:
            yield
        except KeyNotFoundError:
            raise KeyNotFoundError(key) from None
        except KeyExistsError:
            raise KeyExistsError(key) from None

    def read(self, key: str) -> bytes:
        with self._relative(key):
            return self.base.read(self._k(key))

    def write(self, key: str, data: bytes) -> None:
        self.base.write(self._k(key), data)

    def create_if_absent(self, key: str, data: bytes) -> None:
        with self._relative(key):
            self.base.create_if_absent(self._k(key), data)

    def exists(self, key: str) -> bool:
        return self.base.exists(self._k(key))

    def size(self, key: str) -> int:
        with self._relative(key):
            return self.base.size(self._k(key))

    def _list(self, prefix: str, delimiter: str | None, start_after: str | None,
              page_size: int) -> Iterator[ListEntry]:
        after = None if start_after is None else self.prefix + start_after
        cut = len(self.prefix)
        entries = self.base.list(self.prefix + prefix, delimiter, start_after=after,
                                 page_size=page_size)
        return (ListEntry(e.key[cut:], e.size, e.is_prefix) for e in entries)

    def delete(self, key: str) -> None:
        self.base.delete(self._k(key))

    def delete_prefix(self, prefix: str) -> int:
        return self.base.delete_prefix(self.prefix + check_prefix(prefix))

    def copy(self, src: str, dst: str) -> None:
        dst = self._k(dst)
        with self._relative(src):
            self.base.copy(self._k(src), dst)

    def open_read(self, key: str) -> BinaryIO:
        with self._relative(key):
            return self.base.open_read(self._k(key))

    def open_write(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self.base.open_write(self._k(key))

    def uri(self, key: str = "") -> str:
        return self.base.uri(self.prefix + (check_prefix(key) if key else ""))

    def child(self, prefix: str) -> Storage:
        if not prefix:
            return self
        return PrefixedStorage(self.base, self.prefix + dir_prefix(prefix))

    def describe(self) -> str:
        return f"{self.base.describe().rstrip(SEP)}/{self.prefix}"

    def cache_identity(self) -> str | None:
        identity = self.base.cache_identity()
        return None if identity is None else f"{identity.rstrip(SEP)}/{self.prefix}"
