"""The local cache (D5.5): atomic, checked, LRU-bounded by bytes, shared by processes, and
used by the metadata store for immutable values."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ivory.cache import Cache, default_cache
from ivory.metadata import MetadataStore, Version
from ivory.storage import MemoryStorage, PosixStorage
from tests.contracts import WrappedStorage


class IdentifiedStorage(WrappedStorage):
    """A counting storage that says who it is, so the metadata store caches its values."""

    def cache_identity(self) -> str | None:
        return f"test://{self.inner.describe()}"


def test_round_trip_and_namespaces_d5_5(tmp_path: Path) -> None:
    cache = Cache(str(tmp_path))
    assert cache.get("a", "k") is None
    cache.put("a", "k", b"value")
    assert cache.get("a", "k") == b"value"
    assert cache.get("b", "k") is None
    cache.put("a", "empty", b"")
    assert cache.get("a", "empty") == b""
    cache.forget("a")
    assert cache.get("a", "k") is None
    assert (cache.stats.hits, cache.stats.writes) == (2, 2)


def test_a_damaged_file_is_a_miss_and_is_removed_d5_5(tmp_path: Path) -> None:
    cache = Cache(str(tmp_path))
    cache.put("n", "k", b"0123456789")
    path = cache._path("n", "k")
    with open(path, "r+b") as handle:
        handle.seek(-1, os.SEEK_END)
        handle.write(b"X")
    assert cache.get("n", "k") is None
    assert cache.stats.corrupt == 1
    assert not os.path.exists(path)


def test_lru_eviction_by_bytes_d5_5(tmp_path: Path) -> None:
    entry = 100 + 36  # value + header
    cache = Cache(str(tmp_path), max_bytes=5 * entry)
    for n in range(5):
        cache.put("n", f"k{n}", bytes([n]) * 100)
        os.utime(cache._path("n", f"k{n}"), (1000.0 + n, 1000.0 + n))
    assert cache.usage() == 5 * entry
    assert cache.get("n", "k0") is not None  # k0 is now the most recently used
    cache.put("n", "k5", b"5" * 100)  # over the bound: evict down to 90%, oldest first
    assert cache.usage() <= 0.9 * 5 * entry
    assert cache.get("n", "k1") is None and cache.get("n", "k2") is None
    assert cache.get("n", "k0") is not None and cache.get("n", "k5") is not None
    assert cache.stats.evicted == 2


def test_values_larger_than_the_bound_are_not_cached_d5_5(tmp_path: Path) -> None:
    cache = Cache(str(tmp_path), max_bytes=50)
    cache.put("n", "big", b"x" * 100)
    assert cache.get("n", "big") is None and cache.usage() == 0


def test_two_processes_at_once_never_see_a_torn_value_d5_5(tmp_path: Path) -> None:
    """Two processes put and get the same keys while evicting (a bound of ~6 values): every
    hit is the exact value, and no file ever fails its digest check (atomic renames)."""
    script = textwrap.dedent("""
        import sys
        from ivory.cache import Cache
        cache = Cache(sys.argv[1], max_bytes=6 * 200_100)
        bad = hits = 0
        for round in range(40):
            for n in range(12):
                value = bytes([n]) * (200_000 + n)
                got = cache.get("shared", f"k{n}")
                if got is None:
                    cache.put("shared", f"k{n}", value)
                elif got != value:
                    bad += 1
                else:
                    hits += 1
        print(bad, hits, cache.stats.corrupt)
    """)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    workers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=env,
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    results = [w.communicate(timeout=300)[0].split() for w in workers]
    assert all(w.returncode == 0 for w in workers)
    for bad, hits, corrupt in results:
        assert bad == "0" and corrupt == "0"
        assert int(hits) > 0
    assert Cache(str(tmp_path), max_bytes=6 * 200_100).usage() <= 6 * 200_100
    assert not [p for p in tmp_path.rglob(".tmp-*")], "no temporary file left behind"


def test_metadata_store_reads_each_version_once_d5_5(tmp_path: Path) -> None:
    storage = IdentifiedStorage(MemoryStorage())
    cache = Cache(str(tmp_path))
    store = MetadataStore(storage, cache=cache)
    store.create("config", Version(0), b"{}")
    store.commit(lambda _: {"store": b"a\n"})
    storage.calls.clear()
    first = store.read_repository()
    assert first is not None and first.read("store") == b"a\n"
    cold = storage.calls["read"]
    # another process: a new store object on the same cache directory
    again = MetadataStore(storage, cache=Cache(str(tmp_path)))
    storage.calls.clear()
    state = again.read_repository()
    assert state is not None and state.read("store") == b"a\n"
    # the hint read of head() remains; the repository and store values come from the cache
    assert storage.calls["read"] == cold - 2
    assert storage.calls["read"] == 1


def test_memory_and_posix_are_not_cached_d5_5(tmp_path: Path) -> None:
    cache = Cache(str(tmp_path / "cache"))
    for storage in (MemoryStorage(), PosixStorage(str(tmp_path / "repo"))):
        store = MetadataStore(storage, cache=cache)
        store.create("config", Version(0), b"{}")
        assert store.read("config", Version(0)) == b"{}"
    assert cache.stats.writes == 0 and not (tmp_path / "cache").exists()


def test_configuration_from_the_environment_d5_5(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVORY_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("IVORY_CACHE_BYTES", "1234")
    cache = default_cache()
    assert cache is not None and cache.root == str(tmp_path / "c") and cache.max_bytes == 1234
    monkeypatch.setenv("IVORY_CACHE_BYTES", "0")
    assert default_cache() is None
    assert MetadataStore(MemoryStorage()).cache is None


def test_the_cache_is_off_unless_sized_d5_5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            ) -> None:
    """Opt-in: a repository re-created at the same location must never be read from stale
    cached values, so without ``$IVORY_CACHE_BYTES`` nothing is cached."""
    monkeypatch.setenv("IVORY_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.delenv("IVORY_CACHE_BYTES", raising=False)
    assert default_cache() is None
    monkeypatch.setenv("IVORY_CACHE_BYTES", "not a number")
    assert default_cache() is None
