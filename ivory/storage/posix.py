"""Local-disk storage (D1.1, D1.2).

Each key maps to the file ``<root>/<key>``; directories map to common prefixes in listings.
Writes go to a hidden temporary file in the target's directory (``.<name>.ivory-tmp-<hex>``),
which is fsync'd and then renamed over the target (:meth:`PosixStorage.write`) or hard-linked to
it (:meth:`PosixStorage.create_if_absent`, which fails if the target exists), so no reader ever
sees a partial object. Listings skip nothing, so while a write is in flight its temporary file
is visible: filtering hidden names (``.`` and ``_`` prefixes) is the caller's job.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from typing import BinaryIO

from ivory.errors import KeyExistsError, KeyNotFoundError, StorageError
from ivory.storage.base import (
    ListEntry,
    Storage,
    check_key,
    check_prefix,
    dir_prefix,
    roll_up,
)

_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class PosixStorage(Storage):
    """A storage in a local directory (D1.1).

    Args:
        root (str | os.PathLike[str]): The directory holding the objects; made absolute. It need
            not exist yet: writes create it and any parent directories as needed.

    Raises:
        StorageError: ``root`` is empty.
    """

    scheme = "file"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        root = os.fspath(root)
        if not root:
            raise StorageError("invalid posix storage root '': give a directory path")
        self.root = os.path.abspath(root)

    def _path(self, key: str) -> str:
        return os.path.join(self.root, check_key(key))

    def _error(self, action: str, key: str, error: OSError) -> StorageError:
        return StorageError(f"cannot {action} {key!r} in {self.root}: "
                            f"{error.strerror or error}")

    def read(self, key: str) -> bytes:
        with self.open_read(key) as f:
            return f.read()

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")
        except _MISSING:
            raise KeyNotFoundError(key) from None
        except OSError as e:
            raise self._error("read", key, e) from e

    def _open_temp(self, key: str) -> tuple[str, str, BinaryIO]:
        """Create the parent directories and a temporary file next to ``key``'s file.

        Returns:
            tuple[str, str, BinaryIO]: The final path, the temporary path and its open file.
        """
        path = self._path(key)
        parent, name = os.path.split(path)
        for _ in range(10):  # a concurrent delete may remove an empty parent: try again
            temp = os.path.join(parent, f".{name}.ivory-tmp-{secrets.token_hex(6)}")
            try:
                os.makedirs(parent, exist_ok=True)
                return path, temp, open(temp, "xb")
            except FileNotFoundError:
                continue
            except OSError as e:
                raise self._error("write", key, e) from e
        raise StorageError(f"cannot write {key!r} in {self.root}: its directory keeps vanishing")

    @staticmethod
    def _sync(f: BinaryIO) -> None:
        """Flush, fsync and close; check the file holds every byte written (a short write on
        a full or network file system raises OSError instead of publishing a truncated
        object: the cheap part of write-time verification, D5.3)."""
        written = f.tell()
        f.flush()
        os.fsync(f.fileno())
        size = os.fstat(f.fileno()).st_size
        f.close()
        if size != written:
            raise OSError(f"wrote {written} bytes but the file holds {size}")

    @staticmethod
    def _sync_dir(directory: str) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def write(self, key: str, data: bytes) -> None:
        with self.open_write(key) as f:
            f.write(data)

    def open_write(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        self._path(key)  # check the key now; the temporary file is created on entry
        return self._replace_on_close(key)

    @contextlib.contextmanager
    def _replace_on_close(self, key: str) -> Iterator[BinaryIO]:
        path, temp, f = self._open_temp(key)
        try:
            yield f
            try:
                self._sync(f)
                os.replace(temp, path)
            except OSError as e:
                raise self._error("write", key, e) from e
        except BaseException:
            f.close()
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        self._sync_dir(os.path.dirname(path))

    def create_if_absent(self, key: str, data: bytes) -> None:
        path, temp, f = self._open_temp(key)
        try:
            with f:
                f.write(data)
                self._sync(f)
            os.link(temp, path)  # atomic, and fails if path exists (D1.2)
        except FileExistsError:
            if os.path.isdir(path):
                raise StorageError(f"cannot create {key!r} in {self.root}: "
                                   "it is a directory") from None
            raise KeyExistsError(key) from None
        except OSError as e:
            raise self._error("create", key, e) from e
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        self._sync_dir(os.path.dirname(path))

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def size(self, key: str) -> int:
        try:
            st = os.stat(self._path(key))
        except _MISSING:
            raise KeyNotFoundError(key) from None
        except OSError as e:
            raise self._error("stat", key, e) from e
        if not stat.S_ISREG(st.st_mode):
            raise KeyNotFoundError(key)
        return st.st_size

    def copy(self, src: str, dst: str) -> None:
        check_key(dst)
        with self.open_read(src) as source, self.open_write(dst) as target:
            shutil.copyfileobj(source, target)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            os.unlink(path)
        except (*_MISSING, PermissionError) as e:
            if isinstance(e, PermissionError) and not os.path.isdir(path):
                raise self._error("delete", key, e) from e
            return
        except OSError as e:
            raise self._error("delete", key, e) from e
        # Remove directories left empty, up to the root (best-effort; a concurrent writer
        # recreates what it needs).
        parent = os.path.dirname(path)
        while parent != self.root and parent.startswith(self.root):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)

    def _list(self, prefix: str, delimiter: str | None, start_after: str | None,
              page_size: int) -> Iterator[ListEntry]:
        # page_size is irrelevant here: directories are read one at a time, lazily.
        dir_key, _, name_prefix = prefix.rpartition("/")
        base_key = dir_key + "/" if dir_key else ""
        directory = os.path.join(self.root, dir_key) if dir_key else self.root
        real_root = os.path.realpath(self.root)
        real_dir = os.path.realpath(directory)
        if not _within(real_dir, real_root):
            return
        if delimiter == "/":
            for key, size, subdir in self._children(directory, base_key, name_prefix, real_root):
                if start_after is None or key > start_after:
                    yield ListEntry(key, size, subdir is not None)
            return
        objects = self._walk(directory, base_key, name_prefix, start_after, real_root,
                             frozenset([real_dir]))
        yield from roll_up(objects, prefix, delimiter, start_after)

    def _children(self, directory: str, base_key: str, name_prefix: str,
                  real_root: str) -> list[tuple[str, int | None, str | None]]:
        """The entries of one directory as ``(key, size, subdirectory path or None)``, sorted.

        Symbolic links count as what they point to if that is inside the root; others are
        left out.
        """
        try:
            with os.scandir(directory) as it:
                entries = [e for e in it if e.name.startswith(name_prefix)]
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as e:
            raise self._error("list", base_key or "/", e) from e
        children: list[tuple[str, int | None, str | None]] = []
        for entry in entries:
            try:
                if entry.is_symlink() and not _within(os.path.realpath(entry.path), real_root):
                    continue
                if entry.is_dir():
                    children.append((f"{base_key}{entry.name}/", None, entry.path))
                elif entry.is_file():
                    children.append((base_key + entry.name, entry.stat().st_size, None))
            except FileNotFoundError:  # removed while listing
                continue
        children.sort()
        return children

    def _walk(self, directory: str, base_key: str, name_prefix: str, start_after: str | None,
              real_root: str, ancestors: frozenset[str]) -> Iterator[tuple[str, int]]:
        """Every object under ``directory`` as ``(key, size)``, in key order, after
        ``start_after``; subdirectories entirely before ``start_after`` are not read."""
        for key, size, subdir in self._children(directory, base_key, name_prefix, real_root):
            if subdir is None:
                if start_after is None or key > start_after:
                    yield key, size or 0
                continue
            if start_after is not None and key <= start_after and not start_after.startswith(key):
                continue  # every key under it sorts before start_after
            real = os.path.realpath(subdir)
            if real not in ancestors:  # a symlink loop otherwise
                yield from self._walk(subdir, key, "", start_after, real_root, ancestors | {real})

    def uri(self, key: str = "") -> str:
        """Return ``file://`` plus the absolute path, not percent-encoded (Hadoop's form)."""
        path = os.path.join(self.root, check_prefix(key)) if key else self.root
        return "file://" + path

    def child(self, prefix: str) -> Storage:
        if not prefix:
            return self
        return PosixStorage(os.path.join(self.root, dir_prefix(prefix)))

    def describe(self) -> str:
        return self.root


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
