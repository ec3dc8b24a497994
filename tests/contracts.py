"""Reusable contract suites for storage backends (D1.1, D1.2) and the metadata store (D2).

Subclass :class:`StorageContract` with a ``storage`` fixture, or :class:`MetadataStoreContract`
with a ``metadata_store`` fixture, in a ``test_*.py`` module (the class name must start with
``Test``). Every backend must pass the same suite.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pytest

from ivory.errors import (
    KeyExistsError,
    KeyNotFoundError,
    MetadataConflictError,
    MetadataError,
    StorageError,
    UsageError,
)
from ivory.metadata import REPOSITORY, MetadataStore, RepositoryState, Version
from ivory.storage.base import ListEntry, Storage

BAD_KEYS = ["", "/a", "a//b", "a/../b", "a/./b", "a/", "..", "."]
BAD_METADATA_KEYS = ["", "a/b", "a b", "a_b", "a.b", "caf\u00e9", "a\n"]

# Keys chosen so that no key is also a directory of another (posix cannot hold both).
TREE = {
    "a-b": b"1",
    "a/b": b"22",
    "a/c/d": b"333",
    "a0": b"4444",
    "ab/y": b"55555",
    "b/x": b"666666",
    "c": b"7777777",
}


class WrappedStorage(Storage):
    """Delegates every call to ``inner``, counting calls per method in ``calls`` and running
    ``hooks[method](*args)`` (if set) before delegating. Used to count requests and to inject
    races."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.scheme = inner.scheme
        self.calls: collections.Counter[str] = collections.Counter()
        self.hooks: dict[str, Callable[..., None]] = {}

    def _call(self, method: str, *args: object) -> None:
        self.calls[method] += 1
        if method in self.hooks:
            self.hooks[method](*args)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def read(self, key: str) -> bytes:
        self._call("read", key)
        return self.inner.read(key)

    def write(self, key: str, data: bytes) -> None:
        self._call("write", key)
        self.inner.write(key, data)

    def create_if_absent(self, key: str, data: bytes) -> None:
        self._call("create_if_absent", key)
        self.inner.create_if_absent(key, data)

    def exists(self, key: str) -> bool:
        self._call("exists", key)
        return self.inner.exists(key)

    def size(self, key: str) -> int:
        self._call("size", key)
        return self.inner.size(key)

    def list(self, prefix: str = "", delimiter: str | None = "/", *,
             start_after: str | None = None, page_size: int = 1000) -> Iterator[ListEntry]:
        self._call("list", prefix)
        return self.inner.list(prefix, delimiter, start_after=start_after, page_size=page_size)

    def _list(self, prefix: str, delimiter: str | None, start_after: str | None,
              page_size: int) -> Iterator[ListEntry]:  # pragma: no cover - list() is overridden
        return self.inner.list(prefix, delimiter, start_after=start_after, page_size=page_size)

    def delete(self, key: str) -> None:
        self._call("delete", key)
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        self._call("delete_prefix", prefix)
        return self.inner.delete_prefix(prefix)

    def copy(self, src: str, dst: str) -> None:
        self._call("copy", src)
        self.inner.copy(src, dst)

    def open_read(self, key: str) -> BinaryIO:
        self._call("open_read", key)
        return self.inner.open_read(key)

    def open_write(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        self._call("open_write", key)
        return self.inner.open_write(key)

    def uri(self, key: str = "") -> str:
        return self.inner.uri(key)

    def describe(self) -> str:
        return self.inner.describe()


def keys(entries: Iterator[ListEntry]) -> list[str]:
    return [entry.key for entry in entries]


class StorageContract:
    """Every :class:`~ivory.storage.base.Storage` backend passes these (D1.1, D1.2).

    Subclasses provide a ``storage`` fixture returning an empty storage.
    """

    @pytest.fixture
    def tree(self, storage: Storage) -> Storage:
        for key, data in TREE.items():
            storage.write(key, data)
        return storage

    # -- objects ---------------------------------------------------------------------------

    def test_round_trip(self, storage: Storage) -> None:
        assert not storage.exists("x/y")
        storage.write("x/y", b"hello")
        assert storage.exists("x/y")
        assert storage.read("x/y") == b"hello"
        assert storage.size("x/y") == 5
        storage.write("x/y", b"replaced")
        assert storage.read("x/y") == b"replaced"
        storage.write("empty", b"")
        assert storage.read("empty") == b""
        assert storage.size("empty") == 0
        assert not storage.exists("x"), "a common prefix is not an object"

    def test_missing(self, storage: Storage) -> None:
        with pytest.raises(KeyNotFoundError) as raised:
            storage.read("no/such")
        assert raised.value.key == "no/such"
        with pytest.raises(KeyNotFoundError):
            storage.size("no/such")
        with pytest.raises(KeyNotFoundError):
            storage.open_read("no/such")
        assert not storage.exists("no/such")

    def test_create_if_absent(self, storage: Storage) -> None:
        storage.create_if_absent("k/v", b"first")
        with pytest.raises(KeyExistsError) as raised:
            storage.create_if_absent("k/v", b"second")
        assert raised.value.key == "k/v"
        assert storage.read("k/v") == b"first"
        assert keys(storage.list("", None)) == ["k/v"], "no temporary object left behind"

    def test_create_if_absent_race(self, storage: Storage) -> None:
        threads, barrier = 16, threading.Barrier(16)
        winners: list[int] = []
        losers: list[int] = []

        def attempt(n: int) -> None:
            barrier.wait()
            try:
                storage.create_if_absent("race/value", f"writer {n}".encode())
                winners.append(n)
            except KeyExistsError:
                losers.append(n)

        workers = [threading.Thread(target=attempt, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(winners) == 1 and len(losers) == threads - 1
        assert storage.read("race/value") == f"writer {winners[0]}".encode()

    def test_readers_never_see_a_partial_write(self, storage: Storage) -> None:
        values = [bytes([n]) * 200_000 for n in range(2)]
        storage.write("big", values[0])
        done = threading.Event()
        seen: set[bytes] = set()

        def reader() -> None:
            while not done.is_set():
                seen.add(storage.read("big"))

        thread = threading.Thread(target=reader)
        thread.start()
        for n in range(30):
            storage.write("big", values[n % 2])
        done.set()
        thread.join()
        assert seen <= set(values)

    # -- listing ---------------------------------------------------------------------------

    def test_list_delimiter(self, tree: Storage) -> None:
        entries = list(tree.list(""))
        assert keys(iter(entries)) == ["a-b", "a/", "a0", "ab/", "b/", "c"]
        assert entries[0] == ListEntry("a-b", 1, False)
        assert entries[1] == ListEntry("a/", None, True)
        assert keys(tree.list("a/")) == ["a/b", "a/c/"]
        assert keys(tree.list("a/c/")) == ["a/c/d"]
        assert next(tree.list("a/c/")) == ListEntry("a/c/d", 3, False)
        assert keys(tree.list("zz")) == []
        assert keys(tree.list("no/such/dir/")) == []

    def test_list_prefix_not_at_a_directory_boundary(self, tree: Storage) -> None:
        assert keys(tree.list("a")) == ["a-b", "a/", "a0", "ab/"]
        assert keys(tree.list("a/c")) == ["a/c/"]
        assert keys(tree.list("a/b")) == ["a/b"]
        assert keys(tree.list("a", None)) == ["a-b", "a/b", "a/c/d", "a0", "ab/y"]
        assert keys(tree.list("a/c", None)) == ["a/c/d"]

    def test_list_recursive(self, tree: Storage) -> None:
        entries = list(tree.list("", None))
        assert keys(iter(entries)) == sorted(TREE)
        assert all(not e.is_prefix and e.size == len(TREE[e.key]) for e in entries)
        assert keys(tree.list("a/", None)) == ["a/b", "a/c/d"]

    def test_list_start_after(self, tree: Storage) -> None:
        assert keys(tree.list("", start_after="a/")) == ["a0", "ab/", "b/", "c"]
        assert keys(tree.list("", start_after="a-b")) == ["a/", "a0", "ab/", "b/", "c"]
        assert keys(tree.list("", start_after="b")) == ["b/", "c"]
        assert keys(tree.list("", None, start_after="a/b")) == ["a/c/d", "a0", "ab/y", "b/x", "c"]
        assert keys(tree.list("", None, start_after="a/c")) == ["a/c/d", "a0", "ab/y", "b/x", "c"]
        assert keys(tree.list("", None, start_after="a/c/d")) == ["a0", "ab/y", "b/x", "c"]
        assert keys(tree.list("a/", None, start_after="zzz")) == []

    def test_list_pagination(self, storage: Storage) -> None:
        names = [f"p/k{n:02d}" for n in range(7)] + [f"p/sub/x{n}" for n in range(5)]
        names += [f"p/t{n}/y" for n in range(3)] + ["q"]
        for name in names:
            storage.write(name, b"x")
        for prefix, delimiter in [("", "/"), ("p/", "/"), ("p/", None), ("", None), ("p/t", "/")]:
            full = list(storage.list(prefix, delimiter))
            assert list(storage.list(prefix, delimiter, page_size=2)) == full
            assert list(storage.list(prefix, delimiter, page_size=1)) == full
            assert keys(iter(full)) == sorted(set(keys(iter(full)))), "sorted, no duplicates"
        assert keys(storage.list("p/", page_size=2)) == (
            [f"p/k{n:02d}" for n in range(7)] + ["p/sub/", "p/t0/", "p/t1/", "p/t2/"])
        # Resuming from the last entry seen continues the listing without repeats.
        first = list(storage.list("p/", page_size=2))[:8]
        rest = list(storage.list("p/", start_after=first[-1].key, page_size=2))
        assert first + rest == list(storage.list("p/"))

    def test_list_is_lazy(self, storage: Storage) -> None:
        for n in range(10):
            storage.write(f"k{n}", b"x")
        listing = storage.list("", page_size=2)
        assert next(listing).key == "k0"
        storage.write("k99", b"x")  # keys written after the first page may or may not show
        assert keys(listing)[:8] == [f"k{n}" for n in range(1, 9)]

    def test_list_bad_arguments(self, storage: Storage) -> None:
        for prefix in ["/a", "a//b/", "a/../"]:
            with pytest.raises(StorageError, match="invalid storage prefix"):
                storage.list(prefix)
        with pytest.raises(UsageError):
            storage.list("", page_size=0)
        with pytest.raises(UsageError):
            storage.list("", "")

    # -- delete and copy -------------------------------------------------------------------

    def test_delete(self, tree: Storage) -> None:
        tree.delete("a/c/d")
        assert not tree.exists("a/c/d")
        tree.delete("a/c/d")  # missing is fine
        tree.delete("never/there")
        assert keys(tree.list("a/")) == ["a/b"]

    def test_delete_prefix(self, tree: Storage) -> None:
        assert tree.delete_prefix("nothing") == 0
        assert tree.delete_prefix("a/") == 2
        assert keys(tree.list("", None)) == ["a-b", "a0", "ab/y", "b/x", "c"]
        assert tree.delete_prefix("a") == 3  # a plain string prefix
        assert keys(tree.list("")) == ["b/", "c"]
        assert tree.delete_prefix("") == 2
        assert keys(tree.list("", None)) == []
        assert keys(tree.list("")) == []

    def test_copy(self, tree: Storage) -> None:
        tree.copy("a/c/d", "copied/d")
        assert tree.read("copied/d") == b"333"
        assert tree.read("a/c/d") == b"333"
        tree.copy("c", "copied/d")  # replaces
        assert tree.read("copied/d") == TREE["c"]
        with pytest.raises(KeyNotFoundError):
            tree.copy("no/such", "x")
        assert not tree.exists("x")

    # -- streaming -------------------------------------------------------------------------

    def test_open_read(self, storage: Storage) -> None:
        storage.write("s", b"0123456789")
        with storage.open_read("s") as f:
            assert f.read(4) == b"0123"
            assert f.read() == b"456789"

    def test_open_write(self, storage: Storage) -> None:
        with storage.open_write("w/x") as f:
            f.write(b"abc")
            f.write(b"def")
            assert not storage.exists("w/x"), "appears only on close"
        assert storage.read("w/x") == b"abcdef"

    def test_open_write_exception_writes_nothing(self, storage: Storage) -> None:
        class Boom(Exception):
            pass

        with pytest.raises(Boom), storage.open_write("w/new") as f:
            f.write(b"partial")
            raise Boom
        assert not storage.exists("w/new")
        storage.write("w/old", b"old")
        with pytest.raises(Boom), storage.open_write("w/old") as f:
            f.write(b"partial")
            raise Boom
        assert storage.read("w/old") == b"old"
        assert keys(storage.list("", None)) == ["w/old"], "no temporary object left behind"

    # -- keys, views, locations ------------------------------------------------------------

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_bad_keys_rejected(self, storage: Storage, key: str) -> None:
        storage.write("ok", b"x")
        calls: list[Callable[[], object]] = [
            lambda: storage.read(key),
            lambda: storage.write(key, b"x"),
            lambda: storage.create_if_absent(key, b"x"),
            lambda: storage.exists(key),
            lambda: storage.size(key),
            lambda: storage.delete(key),
            lambda: storage.copy("ok", key),
            lambda: storage.copy(key, "ok2"),
            lambda: storage.open_read(key),
            lambda: storage.open_write(key),
        ]
        for call in calls:
            with pytest.raises(StorageError, match="invalid storage key") as raised:
                call()
            assert repr(key) in str(raised.value)
        assert keys(storage.list("", None)) == ["ok"]

    def test_child(self, storage: Storage) -> None:
        storage.write("root/a/x", b"1")
        view = storage.child("root/a")
        assert view.read("x") == b"1"
        view.write("sub/y", b"2")
        assert storage.read("root/a/sub/y") == b"2"
        assert keys(view.list("")) == ["sub/", "x"]
        assert keys(view.list("", None, start_after="sub/y")) == ["x"]
        assert view.child("sub").read("y") == b"2"
        assert view.delete_prefix("sub/") == 1
        assert keys(storage.list("", None)) == ["root/a/x"]
        assert storage.child("") is storage
        with pytest.raises(StorageError):
            view.read("../x")
        with pytest.raises(StorageError):
            storage.child("a//b")
        assert "root/a" in view.describe()

    def test_uri(self, storage: Storage) -> None:
        if storage.scheme == "memory":
            with pytest.raises(StorageError, match="not reachable from Spark"):
                storage.uri("a/b")
            return
        assert storage.uri("a/b").startswith(storage.scheme + "://")
        assert storage.uri("a/b").endswith("/a/b")
        assert storage.uri("a/").endswith("/a/")
        assert storage.uri("a/b") == storage.uri("").rstrip("/") + "/a/b"
        assert storage.child("a").uri("b") == storage.uri("a/b")

    def test_describe(self, storage: Storage) -> None:
        assert isinstance(storage.describe(), str) and storage.describe()


class MetadataStoreContract:
    """Every :class:`~ivory.metadata.MetadataStore` over any storage passes these (D2).

    Subclasses provide a ``metadata_store`` fixture over an empty storage.
    """

    @staticmethod
    def fill(store: MetadataStore, key: str, count: int) -> None:
        for n in range(count):
            store.create(key, Version(n), f"value {n}".encode())

    def test_versions_and_read(self, metadata_store: MetadataStore) -> None:
        assert metadata_store.versions("store") == []
        assert metadata_store.head("store") is None
        self.fill(metadata_store, "store", 3)
        assert metadata_store.versions("store") == [0, 1, 2]
        assert all(isinstance(v, Version) for v in metadata_store.versions("store"))
        assert metadata_store.head("store") == 2
        assert metadata_store.read("store", Version(1)) == b"value 1"
        assert metadata_store.storage.read("metadata/store/00000001/value") == b"value 1"
        with pytest.raises(MetadataError, match=r"'store' has no version 00000007"):
            metadata_store.read("store", Version(7))
        with pytest.raises(KeyExistsError):
            metadata_store.create("store", Version(1), b"other")
        assert metadata_store.read("store", Version(1)) == b"value 1"
        assert metadata_store.versions("stor") == [], "keys are not prefixes of each other"

    def test_head_with_missing_stale_or_bad_hint(self, metadata_store: MetadataStore) -> None:
        self.fill(metadata_store, "k", 6)
        storage = metadata_store.storage
        assert storage.read("metadata/k/.head") == b"00000005\n"
        storage.delete("metadata/k/.head")
        assert metadata_store.head("k") == 5
        storage.write("metadata/k/.head", b"00000001\n")
        assert metadata_store.head("k") == 5
        storage.write("metadata/k/.head", b"0000000f\n")  # ahead: a version that does not exist
        assert metadata_store.head("k") == 5
        storage.write("metadata/k/.head", b"garbage")
        assert metadata_store.head("k") == 5
        storage.write("metadata/k/.head", b"00000000\n")
        self.fill_from(metadata_store, "k", 6, 40)  # further behind than the probe limit
        storage.write("metadata/k/.head", b"00000000\n")
        assert metadata_store.head("k") == 39

    @staticmethod
    def fill_from(store: MetadataStore, key: str, start: int, stop: int) -> None:
        for n in range(start, stop):
            store.storage.create_if_absent(f"metadata/{key}/{n:08x}/value", b"x")

    def test_head_costs_constant_requests(self, metadata_store: MetadataStore) -> None:
        self.fill(metadata_store, "long", 300)
        counted = WrappedStorage(metadata_store.storage)
        store = MetadataStore(counted)
        assert store.head("long") == 299
        assert counted.total <= 3, counted.calls
        assert counted.calls["list"] == 0
        counted.calls.clear()
        metadata_store.storage.write("metadata/long/.head", b"0000012a\n")  # 298: 1 behind
        assert store.head("long") == 299
        assert counted.total <= 4, counted.calls

    def test_write_next(self, metadata_store: MetadataStore) -> None:
        assert metadata_store.write_next("dictionary", b"a") == 0
        assert metadata_store.write_next("dictionary", b"b") == 1
        assert metadata_store.read("dictionary", Version(1)) == b"b"
        assert metadata_store.head("dictionary") == 1

    def test_write_next_probes_past_a_concurrent_writer(
            self, metadata_store: MetadataStore) -> None:
        self.fill(metadata_store, "d", 2)
        wrapped = WrappedStorage(metadata_store.storage)
        store = MetadataStore(wrapped)

        def other_writer_first(key: str) -> None:  # takes the version just before we try
            if wrapped.calls["create_if_absent"] <= 2:
                metadata_store.storage.create_if_absent(key, b"theirs")

        wrapped.hooks["create_if_absent"] = other_writer_first
        assert store.write_next("d", b"mine") == 4
        assert metadata_store.read("d", Version(2)) == b"theirs"
        assert metadata_store.read("d", Version(3)) == b"theirs"
        assert metadata_store.read("d", Version(4)) == b"mine"
        assert metadata_store.versions("d") == [0, 1, 2, 3, 4]

    @pytest.mark.parametrize("key", BAD_METADATA_KEYS)
    def test_bad_keys(self, metadata_store: MetadataStore, key: str) -> None:
        message = f"invalid metadata key {key!r}: keys match"
        for call in [
            lambda: metadata_store.head(key),
            lambda: metadata_store.versions(key),
            lambda: metadata_store.read(key, Version(0)),
            lambda: metadata_store.create(key, Version(0), b"x"),
            lambda: metadata_store.write_next(key, b"x"),
            lambda: metadata_store.commit(lambda state: {key: b"x"}),
        ]:
            with pytest.raises(MetadataError) as raised:
                call()
            assert message in str(raised.value)
        assert metadata_store.read_repository() is None

    def test_commit(self, metadata_store: MetadataStore) -> None:
        assert metadata_store.read_repository() is None
        first = metadata_store.commit(lambda state: {"store": b"f1\n", "config": b"{}"})
        assert first is not None
        assert first.version == 0 and dict(first.pins) == {"config": 0, "store": 0}
        assert first.read("store") == b"f1\n" and first.read("dictionary") is None
        assert metadata_store.read(REPOSITORY, Version(0)) == b"config 00000000\nstore 00000000\n"
        assert metadata_store.read_repository() == first

        def prepend(state: RepositoryState | None) -> dict[str, bytes]:
            assert state is not None
            return {"store": b"f2\n" + (state.read("store") or b"")}

        second = metadata_store.commit(prepend)
        assert second is not None
        assert second.version == 1 and dict(second.pins) == {"config": 0, "store": 1}
        assert second.read("store") == b"f2\nf1\n"
        assert metadata_store.read_repository(Version(0)) == first
        assert metadata_store.read_repository() == second
        assert metadata_store.head(REPOSITORY) == 1

    def test_commit_nothing_or_abort(self, metadata_store: MetadataStore) -> None:
        assert metadata_store.commit(lambda state: {}) is None
        state = metadata_store.commit(lambda state: {"store": b"x"})
        assert metadata_store.commit(lambda state: {}) == state

        def abort(state: RepositoryState | None) -> dict[str, bytes]:
            raise RuntimeError("factset already in the store")

        with pytest.raises(RuntimeError, match="already"):
            metadata_store.commit(abort)
        with pytest.raises(MetadataError, match="cannot change 'repository'"):
            metadata_store.commit(lambda state: {REPOSITORY: b""})
        with pytest.raises(UsageError):
            metadata_store.commit(lambda state: {"store": b"y"}, max_attempts=0)
        assert metadata_store.versions(REPOSITORY) == [0]
        assert metadata_store.versions("store") == [0]

    def test_commit_reapplies_after_losing_the_race(self, metadata_store: MetadataStore) -> None:
        metadata_store.commit(lambda state: {"store": b"base\n"})
        other = MetadataStore(metadata_store.storage)
        seen: list[int] = []

        def append(line: bytes) -> Callable[[RepositoryState | None], dict[str, bytes]]:
            def change(state: RepositoryState | None) -> dict[str, bytes]:
                assert state is not None
                seen.append(state.version)
                if len(seen) == 1:  # another writer commits between our read and our create
                    other.commit(lambda s: {"store": (s.read("store") or b"") + b"other\n"})
                return {"store": (state.read("store") or b"") + line}
            return change

        final = metadata_store.commit(append(b"mine\n"))
        assert seen == [0, 1]
        assert final is not None and final.version == 2
        assert final.read("store") == b"base\nother\nmine\n"
        assert metadata_store.versions(REPOSITORY) == [0, 1, 2]
        # The losing attempt's value exists but was never pinned.
        pinned = {metadata_store.read_repository(v).pins["store"] for v in range(3)}  # type: ignore[union-attr]
        assert len(metadata_store.versions("store")) == 4 and len(pinned) == 3

    def test_commit_gives_up_after_max_attempts(self, metadata_store: MetadataStore) -> None:
        other = MetadataStore(metadata_store.storage)
        calls: list[RepositoryState | None] = []

        def always_loses(state: RepositoryState | None) -> dict[str, bytes]:
            calls.append(state)
            other.commit(lambda s: {"store": b"theirs"})
            return {"store": b"mine"}

        with pytest.raises(MetadataConflictError, match=r"'repository'.* 3 times"):
            metadata_store.commit(always_loses, max_attempts=3)
        assert len(calls) == 3
        assert metadata_store.versions(REPOSITORY) == [0, 1, 2]
        assert all(s.read("store") == b"theirs"  # type: ignore[union-attr]
                   for s in map(metadata_store.read_repository, map(Version, range(3))))

    def test_commit_request_count(self, metadata_store: MetadataStore) -> None:
        for n in range(50):
            metadata_store.commit(lambda state, n=n: {"store": f"{n}\n".encode()})
        counted = WrappedStorage(metadata_store.storage)
        store = MetadataStore(counted)

        def prepend(state: RepositoryState | None) -> dict[str, bytes]:
            assert state is not None
            return {"store": b"new\n" + (state.read("store") or b"")}

        assert store.commit(prepend) is not None
        # head(repository) 3 + read repository 1 + change's read 1 + write_next: head 3,
        # create 1, hint 1 + create repository 1, hint 1.
        assert counted.total <= 12, counted.calls
        assert counted.calls["list"] == 0

    def test_malformed_repository_value(self, metadata_store: MetadataStore) -> None:
        metadata_store.create(REPOSITORY, Version(0), b"store 0000000g\n")
        with pytest.raises(MetadataError, match="repository version 00000000, line 1"):
            metadata_store.read_repository()
        with pytest.raises(MetadataError, match="has no version 00000005"):
            metadata_store.read_repository(Version(5))
