"""HdfsStorage (D1.1, D1.2, D2).

* Against a real HDFS: the storage and metadata contracts, only when ``IVORY_TEST_HDFS`` is set
  to a writable ``hdfs://host:port/path`` (each test works in a fresh sub-directory and removes
  it); otherwise they skip with the reason.
* Everywhere: the same contracts on :class:`HdfsSemantics`, a local directory behind pyarrow's
  ``PyFileSystem`` that renames the way HDFS and pyarrow's ``HadoopFileSystem.move`` do (a file
  onto an existing file: the rename fails and pyarrow deletes the target and renames again; a
  directory onto an existing directory: it moves inside). It exercises HdfsStorage's code,
  including the lock protocol of create-if-absent, not libhdfs.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import secrets
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # make `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pyarrow.fs as pafs

from ivory.errors import KeyExistsError, KeyNotFoundError, StorageError
from ivory.metadata import MetadataStore
from ivory.storage import HdfsStorage, Storage, open_storage
from ivory.storage.hdfs import parse_location
from tests.contracts import MetadataStoreContract, StorageContract, keys

HDFS = os.environ.get("IVORY_TEST_HDFS", "")
needs_hdfs = pytest.mark.skipif(
    not HDFS, reason="no HDFS here: set IVORY_TEST_HDFS=hdfs://host:port/path (a writable "
                     "directory; libhdfs needs JAVA_HOME, HADOOP_HOME and CLASSPATH) to run")


class HdfsSemantics(pafs.FileSystemHandler):
    """A local directory with HDFS's rename and pyarrow ``HadoopFileSystem.move``'s clobbering
    fallback. Paths are absolute (``/root/key``), as with ``HadoopFileSystem``.

    Args:
        base (str): The local directory that plays the file system's root.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        self.local = pafs.LocalFileSystem()
        self.lock = threading.Lock()  # the NameNode: one rename at a time
        self.moves = 0

    def _p(self, path: str) -> str:
        return os.path.join(self.base, path.lstrip("/"))

    def _back(self, local: str) -> str:
        return "/" + os.path.relpath(local, self.base)

    def get_type_name(self) -> str:
        return "hdfs-semantics"

    def normalize_path(self, path: str) -> str:
        return path

    def equals(self, other: Any) -> bool:
        return self is other

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        infos = self.local.get_file_info([self._p(p) for p in paths])
        return [pafs.FileInfo(p, i.type, size=i.size) for p, i in zip(paths, infos, strict=True)]

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        local = pafs.FileSelector(self._p(selector.base_dir), selector.allow_not_found,
                                  selector.recursive)
        return [pafs.FileInfo(self._back(i.path), i.type, size=i.size)
                for i in self.local.get_file_info(local)]

    # Namespace changes are atomic, as on the NameNode.

    def create_dir(self, path: str, recursive: bool) -> None:
        with self.lock:
            self.local.create_dir(self._p(path), recursive=recursive)

    def delete_dir(self, path: str) -> None:
        with self.lock:
            self.local.delete_dir(self._p(path))

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.local.delete_dir_contents(self._p(path), missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        self.local.delete_dir_contents(self.base)

    def delete_file(self, path: str) -> None:
        with self.lock:
            self.local.delete_file(self._p(path))

    def _rename2(self, src: str, dest: str) -> None:
        """HDFS ``rename(src, dst)``: into an existing directory; fails onto an existing file
        or without a parent."""
        with self.lock:
            source, target = self._p(src), self._p(dest)
            if not os.path.exists(source):
                raise FileNotFoundError(f"rename {src}: no such file")
            if os.path.isdir(target):
                target = os.path.join(target, os.path.basename(source))
            if os.path.exists(target) or not os.path.isdir(os.path.dirname(target)):
                raise OSError(f"rename {src} -> {dest} failed")
            os.rename(source, target)

    def move(self, src: str, dest: str) -> None:
        self.moves += 1
        try:
            self._rename2(src, dest)
        except OSError:
            # arrow's HadoopFileSystem::Move: "Allow file -> file clobber".
            if os.path.isfile(self._p(src)) and os.path.isfile(self._p(dest)):
                self.delete_file(dest)
                self._rename2(src, dest)
            else:
                raise

    def copy_file(self, src: str, dest: str) -> None:
        self.local.copy_file(self._p(src), self._p(dest))

    def open_input_stream(self, path: str) -> Any:
        return self.local.open_input_stream(self._p(path))

    def open_input_file(self, path: str) -> Any:
        return self.local.open_input_file(self._p(path))

    def open_output_stream(self, path: str, metadata: Any = None) -> Any:
        os.makedirs(os.path.dirname(self._p(path)), exist_ok=True)  # HDFS creates parents
        return self.local.open_output_stream(self._p(path))

    def open_append_stream(self, path: str, metadata: Any = None) -> Any:
        return self.local.open_append_stream(self._p(path))


def emulated(tmp_path: Path, location: str = "hdfs://namenode:8020/data/repo") -> HdfsStorage:
    return HdfsStorage(location, filesystem=pafs.PyFileSystem(HdfsSemantics(str(tmp_path))))


# -- the contracts on a real HDFS --------------------------------------------------------------


@pytest.fixture
def hdfs_root() -> Iterator[str]:
    location = f"{HDFS.rstrip('/')}/ivory-test-{secrets.token_hex(6)}"
    yield location
    storage = HdfsStorage(location)
    storage.delete_prefix("")
    with contextlib.suppress(OSError):
        storage.fs.delete_dir(storage.root)


class HdfsReplaceContract(StorageContract):
    """The contract, with HDFS's replace: a reader sees the old or the new content, never a
    partial one, but may briefly find no object (pyarrow replaces a file by deleting it, then
    renaming; see ivory/storage/hdfs.py)."""

    def test_readers_never_see_a_partial_write(self, storage: Storage) -> None:
        values = [bytes([n]) * 200_000 for n in range(2)]
        storage.write("big", values[0])
        done = threading.Event()
        seen: set[bytes] = set()
        missing = [0]

        def reader() -> None:
            while not done.is_set():
                try:
                    seen.add(storage.read("big"))
                except KeyNotFoundError:
                    missing[0] += 1

        thread = threading.Thread(target=reader)
        thread.start()
        for n in range(30):
            storage.write("big", values[n % 2])
        done.set()
        thread.join()
        assert seen <= set(values)
        assert storage.read("big") == values[1]


@needs_hdfs
class TestHdfsStorage(HdfsReplaceContract):
    @pytest.fixture
    def storage(self, hdfs_root: str) -> HdfsStorage:
        return HdfsStorage(hdfs_root)


@needs_hdfs
class TestHdfsMetadataStore(MetadataStoreContract):
    @pytest.fixture
    def metadata_store(self, hdfs_root: str) -> MetadataStore:
        return MetadataStore(HdfsStorage(hdfs_root))


# -- the contracts on the HDFS-semantics emulation ----------------------------------------------


class TestEmulatedHdfsStorage(HdfsReplaceContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> HdfsStorage:
        return emulated(tmp_path)


class TestEmulatedHdfsMetadataStore(MetadataStoreContract):
    @pytest.fixture
    def metadata_store(self, tmp_path: Path) -> MetadataStore:
        return MetadataStore(emulated(tmp_path))


# -- specifics ---------------------------------------------------------------------------------


def test_pyarrow_move_clobbers_files_so_create_if_absent_does_not_use_it(tmp_path: Path) -> None:
    handler = HdfsSemantics(str(tmp_path))
    fs = pafs.PyFileSystem(handler)
    with fs.open_output_stream("/a") as f:
        f.write(b"winner")
    with fs.open_output_stream("/b") as f:
        f.write(b"loser")
    fs.move("/b", "/a")  # what a plain "temporary file, then rename" would do
    with fs.open_input_stream("/a") as f:
        assert f.read() == b"loser", "the emulation reproduces pyarrow's clobber"

    storage = HdfsStorage("hdfs://nn:8020/r", filesystem=fs)
    storage.create_if_absent("k", b"winner")
    with pytest.raises(KeyExistsError):
        storage.create_if_absent("k", b"loser")
    assert storage.read("k") == b"winner"


def test_create_if_absent_waits_for_a_held_lock_and_reports_a_stale_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = emulated(tmp_path, "hdfs://nn/r")
    lock = tmp_path / "r" / "d" / ".k.ivory-lock"
    lock.mkdir(parents=True)  # another writer holds the lock ...
    released = threading.Timer(0.2, lambda: shutil.rmtree(lock))  # ... and finishes
    released.start()
    storage.create_if_absent("d/k", b"v")
    released.join()
    assert storage.read("d/k") == b"v"
    assert keys(storage.list("", None)) == ["d/k"]

    monkeypatch.setattr("ivory.storage.hdfs._LOCK_ATTEMPTS", 3)
    lock = tmp_path / "r" / "d" / ".j.ivory-lock"
    lock.mkdir()  # a crashed writer's lock
    with pytest.raises(StorageError, match=r"the lock /r/d/\.j\.ivory-lock stayed held"):
        storage.create_if_absent("d/j", b"v")
    assert not storage.exists("d/j")
    assert [p.name for p in lock.iterdir()] == [], "no staging left inside the lock"


def test_create_if_absent_races_in_many_rounds(tmp_path: Path) -> None:
    storage = emulated(tmp_path)
    for round_ in range(5):
        barrier = threading.Barrier(8)
        winners: list[int] = []

        def attempt(n: int, round_: int = round_, barrier: threading.Barrier = barrier,
                    winners: list[int] = winners) -> None:
            barrier.wait()
            try:
                storage.create_if_absent(f"r{round_}/v", f"{n}".encode())
                winners.append(n)
            except KeyExistsError:
                pass

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1
        assert storage.read(f"r{round_}/v") == f"{winners[0]}".encode()
    assert keys(storage.list("", None)) == [f"r{n}/v" for n in range(5)]


def test_writes_into_a_directory_are_refused(tmp_path: Path) -> None:
    storage = emulated(tmp_path)
    storage.write("d/x", b"x")
    with pytest.raises(StorageError, match="is a directory"):
        storage.write("d", b"y")
    with pytest.raises(StorageError, match="is a directory"):
        storage.create_if_absent("d", b"y")
    assert keys(storage.list("", None)) == ["d/x"]


def test_locations() -> None:
    assert parse_location("hdfs://nn:8020/data/repo/") == ("nn:8020", "nn", 8020, "/data/repo")
    assert parse_location("hdfs://nn/data") == ("nn", "nn", 0, "/data")
    assert parse_location("hdfs:///data") == ("", "default", 0, "/data")
    assert parse_location("hdfs://nn:8020") == ("nn:8020", "nn", 8020, "")
    for bad in ["hdfs://nn:port/x", "hdfs://nn/a//b", "hdfs://nn/../x", "s3://b/x"]:
        with pytest.raises(StorageError):
            parse_location(bad)
    storage = open_storage("hdfs://nn:8020/data/repo")  # no connection until a request
    assert isinstance(storage, HdfsStorage)
    assert storage.uri("factsets/f1") == "hdfs://nn:8020/data/repo/factsets/f1"
    assert storage.uri() == "hdfs://nn:8020/data/repo"
    assert storage.describe() == "hdfs://nn:8020/data/repo"
    assert storage.child("metadata").uri("x") == "hdfs://nn:8020/data/repo/metadata/x"
    assert HdfsStorage("hdfs:///data").uri("k") == "hdfs:///data/k"
    assert HdfsStorage("hdfs://nn:8020").uri() == "hdfs://nn:8020/"
    assert HdfsStorage("hdfs://nn:8020").uri("k") == "hdfs://nn:8020/k"
    copy = pickle.loads(pickle.dumps(storage))  # e.g. to Spark tasks: reconnects on first use
    assert copy.uri("k") == storage.uri("k") and copy._fs.host == "nn" and copy._fs.port == 8020


def test_connection_errors_are_storage_errors() -> None:
    if HDFS:
        pytest.skip("IVORY_TEST_HDFS is set: libhdfs may well connect")
    storage = HdfsStorage("hdfs://127.0.0.1:1/x")
    with pytest.raises(StorageError, match=r"cannot connect to HDFS at 127\.0\.0\.1:1"):
        storage.read("k")
