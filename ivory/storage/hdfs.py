"""HDFS storage on ``pyarrow.fs.HadoopFileSystem`` (libhdfs) (D1.1, D1.2, D1.3).

Each key maps to the file ``<root>/<key>`` of the file system named by an
``hdfs://host:port/path`` location (``hdfs:///path``: the ``fs.defaultFS`` of the Hadoop
configuration). libhdfs needs a JVM and Hadoop's jars: ``JAVA_HOME``, ``HADOOP_HOME`` and
``CLASSPATH=$(hadoop classpath --glob)`` (``ARROW_LIBHDFS_DIR`` if ``libhdfs.so`` is elsewhere);
the user is the login user or ``HADOOP_USER_NAME``. The connection is made on first use.

**What pyarrow's rename does.** ``HadoopFileSystem.move(src, dst)`` calls HDFS's two-argument
``rename``, which fails when ``dst`` is an existing file and moves ``src`` *into* ``dst`` when
``dst`` is an existing directory. When the rename fails and both paths are files, pyarrow then
*deletes ``dst`` and renames again* ("allow file -> file clobber", arrow's
``filesystem/hdfs.cc``). So a plain "temporary file, then rename" would overwrite a concurrent
winner, and is not used for create-if-absent. Instead (D1.2):

* :meth:`HdfsStorage.create_if_absent` stages the value as ``<dir>/.<name>.ivory-tmp-<token>/
  <token>`` and claims a per-key lock by renaming that staging *directory* to
  ``<dir>/.<name>.ivory-lock``. Renaming a directory is atomic on the NameNode: if the lock does
  not exist the staging directory becomes it; if it does, HDFS moves the staging directory
  inside it and pyarrow does not clobber (its fallback is for files only). The writer holds the
  lock exactly when ``<lock>/<token>`` exists. Holding it, it checks that the key is absent and
  renames ``<lock>/<token>`` to the key (the key is absent, so nothing can be overwritten), then
  deletes the lock. A writer that finds the lock held removes its staging directory, backs off
  and tries again; a writer that finds the key present raises
  :class:`~ivory.errors.KeyExistsError`. Of many concurrent callers exactly one creates the key.
  Cost: about ten NameNode calls instead of posix's three.
* Remaining limits, honestly: a writer killed while holding the lock leaves
  ``.<name>.ivory-lock`` behind, and later creators of that key fail after about 20 s with an
  error naming it (delete it once no writer runs); the lock orders create-if-absent callers
  only, so a plain :meth:`~HdfsStorage.write` of the same key racing a create may be
  overwritten by it (the metadata store never does that).
* :meth:`HdfsStorage.write` and ``open_write`` write a hidden temporary file next to the target
  and rename it over the target. Over an existing file that is pyarrow's delete-then-rename,
  so a concurrent reader may briefly find no object (never a partial one); a read that fails
  while the file exists again opens it again (3 times at most).
* :meth:`HdfsStorage.delete` removes parent directories left empty, like posix; pyarrow can
  only delete directories recursively, so a file another writer creates in such a directory
  between the emptiness check and the delete is lost. ivory deletes whole factsets or
  snapshots, never directories other writers are writing into.

Listings read one directory per NameNode call (``get_file_info(FileSelector)``), sorted; hidden
temporary names are listed like any other (as for posix, filtering them is the caller's job).
:meth:`HdfsStorage.uri` returns ``hdfs://host:port/root/key``, what Spark opens.
"""

from __future__ import annotations

import contextlib
import posixpath
import random
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from ivory.errors import KeyExistsError, KeyNotFoundError, StorageError
from ivory.storage.base import ListEntry, Storage, check_key, check_prefix, dir_prefix, roll_up

_LOCK_ATTEMPTS = 60  # claims of a held lock before giving up (about 25 s with the backoff)
_BACKOFF_START, _BACKOFF_CAP = 0.005, 0.5  # seconds
_REOPEN_ATTEMPTS = 3  # opens of a file that exists but vanished while being replaced


def parse_location(location: str) -> tuple[str, str, int, str]:
    """Split ``hdfs://host[:port]/path`` into its parts.

    Returns:
        tuple[str, str, int, str]: The authority as written (``"nn:8020"``, ``""`` for the
        default file system), the host for libhdfs (``"default"`` when none is given), the port
        (0: the configured one) and the root directory (absolute, no trailing ``/``; ``""`` for
        the file system root).

    Raises:
        StorageError: Not an ``hdfs://`` URI, a bad port, or a path with empty, ``.`` or ``..``
            segments.
    """
    scheme, sep, rest = location.partition("://")
    if not sep or scheme.lower() != "hdfs":
        raise StorageError(f"invalid HDFS location {location!r}: use hdfs://host:port/path")
    authority, _, path = rest.partition("/")
    host, _, port_text = authority.rpartition(":") if ":" in authority else (authority, "", "")
    try:
        port = int(port_text) if port_text else 0
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise StorageError(f"invalid HDFS location {location!r}: bad port {port_text!r}") from None
    path = path.strip("/")
    if path:
        try:
            check_key(path)
        except StorageError as e:
            raise StorageError(f"invalid HDFS location {location!r}: {e}") from None
    return authority, host or "default", port, "/" + path if path else ""


class _LazyFileSystem:
    """One ``HadoopFileSystem``, connected on first use and shared by a storage's children."""

    def __init__(self, host: str, port: int, filesystem: Any = None) -> None:
        self.host, self.port = host, port
        self._fs = filesystem
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._fs is None:
            with self._lock:
                if self._fs is None:
                    from pyarrow.fs import HadoopFileSystem

                    try:
                        self._fs = HadoopFileSystem(self.host, self.port)
                    except Exception as e:
                        raise StorageError(
                            f"cannot connect to HDFS at {self.host}:{self.port}: {e} (libhdfs "
                            "needs JAVA_HOME, HADOOP_HOME and CLASSPATH=$(hadoop classpath "
                            "--glob))") from None
        return self._fs


class HdfsStorage(Storage):
    """A storage in a directory of HDFS (D1.1, D1.2).

    Args:
        location (str): ``hdfs://host:port/path``, ``hdfs://host/path`` (the configured port) or
            ``hdfs:///path`` (the configured default file system).
        filesystem: A ``pyarrow.fs.FileSystem`` with HDFS semantics to use instead of connecting
            with ``HadoopFileSystem`` (tests).

    Raises:
        StorageError: A malformed location. Connection errors come with the first request.
    """

    scheme = "hdfs"

    def __init__(self, location: str, *, filesystem: Any = None) -> None:
        self.authority, host, port, self.root = parse_location(location)
        self._fs = filesystem if isinstance(filesystem, _LazyFileSystem) else _LazyFileSystem(
            host, port, filesystem)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fs"] = (self._fs.host, self._fs.port)  # reconnect on first use after unpickling
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        host, port = state.pop("_fs")
        self.__dict__.update(state)
        self._fs = _LazyFileSystem(host, port)

    @property
    def fs(self) -> Any:
        """The ``pyarrow.fs`` file system (connected on first use).

        Raises:
            StorageError: The connection fails.
        """
        return self._fs.get()

    # -- plumbing --------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def _error(self, action: str, key: str, error: Exception) -> StorageError:
        return StorageError(f"cannot {action} {key!r} in {self.describe()}: {error}")

    def _type(self, path: str) -> Any:
        from pyarrow.fs import FileType

        try:
            return self.fs.get_file_info(path).type
        except FileNotFoundError:
            return FileType.NotFound

    def _is_file(self, path: str) -> bool:
        from pyarrow.fs import FileType

        return self._type(path) == FileType.File

    def _check_absent(self, key: str, path: str) -> None:
        from pyarrow.fs import FileType

        kind = self._type(path)
        if kind == FileType.File:
            raise KeyExistsError(key)
        if kind == FileType.Directory:
            raise StorageError(f"cannot create {key!r} in {self.describe()}: it is a directory")

    def _delete_quietly(self, path: str, directory: bool) -> None:
        with contextlib.suppress(OSError):
            if directory:
                self.fs.delete_dir(path)
            else:
                self.fs.delete_file(path)

    def _write_file(self, path: str, data: bytes) -> None:
        with self.fs.open_output_stream(path) as out:
            out.write(data)
        self._check_written(path, len(data))

    def _check_written(self, path: str, expected: int) -> None:
        """Check that the file just written holds ``expected`` bytes (one NameNode call: the
        cheap part of write-time verification, D5.3); raise OSError otherwise."""
        size = self.fs.get_file_info(path).size
        if size != expected:
            raise OSError(f"wrote {expected} bytes but {path} holds {size}: upload incomplete")

    # -- objects ---------------------------------------------------------------------------

    def read(self, key: str) -> bytes:
        with self.open_read(key) as f:
            return f.read()

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        for attempt in range(_REOPEN_ATTEMPTS):
            try:
                return self.fs.open_input_stream(path)
            except OSError as e:
                if not self._is_file(path):
                    raise KeyNotFoundError(key) from None
                if attempt == _REOPEN_ATTEMPTS - 1:
                    raise self._error("read", key, e) from e
                # The file was being replaced (pyarrow deletes, then renames): open it again.
        raise AssertionError("unreachable")  # pragma: no cover

    def exists(self, key: str) -> bool:
        path = self._path(key)
        try:
            return self._is_file(path)
        except OSError as e:
            raise self._error("check", key, e) from e

    def size(self, key: str) -> int:
        from pyarrow.fs import FileType

        path = self._path(key)
        try:
            info = self.fs.get_file_info(path)
        except FileNotFoundError:
            raise KeyNotFoundError(key) from None
        except OSError as e:
            raise self._error("stat", key, e) from e
        if info.type != FileType.File:
            raise KeyNotFoundError(key)
        return int(info.size)

    def write(self, key: str, data: bytes) -> None:
        with self.open_write(key) as f:
            f.write(bytes(data))

    def open_write(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        path = self._path(key)
        return self._replace_on_close(key, path)

    @contextlib.contextmanager
    def _replace_on_close(self, key: str, path: str) -> Iterator[BinaryIO]:
        from pyarrow.fs import FileType

        parent, name = posixpath.split(path)
        temp = f"{parent}/.{name}.ivory-tmp-{secrets.token_hex(6)}"
        try:
            if self._type(path) == FileType.Directory:  # rename would move into it
                raise StorageError(f"cannot write {key!r} in {self.describe()}: "
                                   "it is a directory")
            self.fs.create_dir(parent, recursive=True)
            out = self.fs.open_output_stream(temp)
        except OSError as e:
            raise self._error("write", key, e) from e
        try:
            with out:
                yield out
                written = out.tell()
            self._check_written(temp, written)
            self.fs.move(temp, path)  # replaces a file: pyarrow deletes it, then renames
        except BaseException as e:
            self._delete_quietly(temp, directory=False)
            if isinstance(e, OSError) and not isinstance(e, StorageError):
                raise self._error("write", key, e) from e
            raise

    def create_if_absent(self, key: str, data: bytes) -> None:
        """Create the file only if absent, under a per-key lock claimed by an atomic directory
        rename (D1.2; the protocol is in the module docstring).

        Raises:
            KeyExistsError: The key exists; nothing was written.
            StorageError: Invalid key, the key is a directory, the lock stayed held by another
                writer for ~25 s (a crashed writer's lock: the message names it), or an HDFS
                failure.
        """
        path = self._path(key)
        parent, name = posixpath.split(path)
        lock = f"{parent}/.{name}.ivory-lock"
        started = time.monotonic()
        for attempt in range(_LOCK_ATTEMPTS):
            token = secrets.token_hex(8)
            staging = f"{parent}/.{name}.ivory-tmp-{token}"
            try:
                self._check_absent(key, path)
                self.fs.create_dir(staging, recursive=True)
                try:
                    self._write_file(f"{staging}/{token}", data)
                    self.fs.move(staging, lock)  # atomic: becomes the lock or goes inside it
                except OSError:
                    self._delete_quietly(staging, directory=True)
                    raise
                if self._is_file(f"{lock}/{token}"):  # we hold the lock
                    try:
                        self._check_absent(key, path)
                        self.fs.move(f"{lock}/{token}", path)  # absent: nothing to clobber
                    finally:
                        self._delete_quietly(lock, directory=True)
                    return
                self._delete_quietly(f"{lock}/{posixpath.basename(staging)}", directory=True)
            except (KeyExistsError, StorageError):
                raise
            except OSError as e:
                raise self._error("create", key, e) from e
            delay = min(_BACKOFF_CAP, _BACKOFF_START * 2 ** attempt)
            time.sleep(random.uniform(delay / 2, delay))
        raise StorageError(
            f"cannot create {key!r} in {self.describe()}: the lock {lock} stayed held for "
            f"{time.monotonic() - started:.0f} s; if no ivory writer is running, a crashed one "
            "left it: delete it")

    def delete(self, key: str) -> None:
        from pyarrow.fs import FileType

        path = self._path(key)
        try:
            if self._type(path) != FileType.File:
                return
            self.fs.delete_file(path)
        except FileNotFoundError:
            return
        except OSError as e:
            raise self._error("delete", key, e) from e
        self._prune(posixpath.dirname(path))

    def _prune(self, directory: str) -> None:
        """Delete ``directory`` and its parents, up to the root, while they are empty
        (best-effort; see the module docstring for the race)."""
        from pyarrow.fs import FileSelector

        while directory != "/" and directory.startswith(self.root + "/"):
            try:
                if self.fs.get_file_info(FileSelector(directory, allow_not_found=True)):
                    return
                self.fs.delete_dir(directory)
            except OSError:
                return
            directory = posixpath.dirname(directory)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every file under ``prefix``: whole directories at once where the prefix
        covers them, then empty parents as :meth:`delete` does.

        Raises:
            StorageError: Invalid prefix or an HDFS failure.
        """
        check_prefix(prefix)
        dir_key, _, name_prefix = prefix.rpartition("/")
        directory = f"{self.root}/{dir_key}" if dir_key else self.root
        count = 0
        try:
            for info in self._children(directory, name_prefix):
                if info.is_file:
                    self.fs.delete_file(info.path)
                    count += 1
                elif info.type.name == "Directory":
                    count += sum(1 for _ in self._files_under(info.path))
                    self.fs.delete_dir(info.path)
        except OSError as e:
            raise self._error("delete objects under", prefix or "/", e) from e
        if dir_key:
            self._prune(directory)
        return count

    def copy(self, src: str, dst: str) -> None:
        check_key(dst)
        with self.open_read(src) as source, self.open_write(dst) as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)

    # -- listing ---------------------------------------------------------------------------

    def _children(self, directory: str, name_prefix: str = "") -> list[Any]:
        """The entries of one directory whose name starts with ``name_prefix``, sorted by
        path; none when the directory does not exist or is a file."""
        from pyarrow.fs import FileSelector, FileType

        try:
            infos = self.fs.get_file_info(FileSelector(directory or "/", allow_not_found=True))
        except OSError:
            if self._type(directory or "/") != FileType.Directory:
                return []
            raise
        return sorted((i for i in infos if posixpath.basename(i.path).startswith(name_prefix)),
                      key=lambda i: i.path)

    def _files_under(self, directory: str) -> Iterator[Any]:
        for info in self._children(directory):
            if info.is_file:
                yield info
            elif info.type.name == "Directory":
                yield from self._files_under(info.path)

    def _key_of(self, path: str) -> str:
        return path[len(self.root) + 1:]

    def _list(self, prefix: str, delimiter: str | None, start_after: str | None,
              page_size: int) -> Iterator[ListEntry]:
        # page_size is irrelevant: the NameNode returns a directory per call (pyarrow pages).
        dir_key, _, name_prefix = prefix.rpartition("/")
        directory = f"{self.root}/{dir_key}" if dir_key else self.root
        try:
            children = self._children(directory, name_prefix)
            if delimiter == "/":
                entries = []
                for info in children:
                    key = self._key_of(info.path)
                    if info.type.name == "Directory":
                        entries.append(ListEntry(key + "/", None, True))
                    elif info.is_file:
                        entries.append(ListEntry(key, int(info.size), False))
                entries.sort(key=lambda e: e.key)
                yield from (e for e in entries if start_after is None or e.key > start_after)
                return
            objects = self._objects(children, start_after)
            yield from roll_up(objects, prefix, delimiter, start_after)
        except OSError as e:
            raise self._error("list", prefix or "/", e) from e

    def _objects(self, children: list[Any], start_after: str | None
                 ) -> Iterator[tuple[str, int]]:
        """``(key, size)`` of every file under ``children``, in key order, skipping directories
        entirely before ``start_after``."""
        entries = sorted(
            (self._key_of(i.path) + ("/" if i.type.name == "Directory" else ""), i)
            for i in children if i.is_file or i.type.name == "Directory")
        for key, info in entries:
            if info.is_file:
                if start_after is None or key > start_after:
                    yield key, int(info.size)
                continue
            if start_after is not None and key <= start_after and not start_after.startswith(key):
                continue
            yield from self._objects(self._children(info.path), start_after)

    # -- views and locations ---------------------------------------------------------------

    def child(self, prefix: str) -> Storage:
        if not prefix:
            return self
        return HdfsStorage(f"hdfs://{self.authority}{self.root}/{dir_prefix(prefix)}",
                           filesystem=self._fs)

    def uri(self, key: str = "") -> str:
        """Return ``hdfs://host:port/root/key`` (the root without a trailing ``/``)."""
        if key:
            return f"hdfs://{self.authority}{self.root}/{check_prefix(key)}"
        return f"hdfs://{self.authority}{self.root or '/'}"

    def cache_identity(self) -> str | None:
        return self.uri()

    def describe(self) -> str:
        return self.uri()
