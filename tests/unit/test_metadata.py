"""The metadata store against the shared contract (D2), plus versions and a multi-process race."""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

import pytest

from ivory.errors import MetadataError
from ivory.metadata import REPOSITORY, MetadataStore, RepositoryState, Version, check_key
from ivory.storage import MemoryStorage, PosixStorage

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # make `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.contracts import MetadataStoreContract


class TestMemoryMetadataStore(MetadataStoreContract):
    @pytest.fixture
    def metadata_store(self) -> MetadataStore:
        return MetadataStore(MemoryStorage())


class TestPosixMetadataStore(MetadataStoreContract):
    @pytest.fixture
    def metadata_store(self, tmp_path: Path) -> MetadataStore:
        return MetadataStore(PosixStorage(tmp_path / "repo"))


class TestVersion:
    def test_render_and_parse(self) -> None:
        assert Version(0).render() == "00000000"
        assert Version(0xFFFFFFFF).render() == "ffffffff"
        assert str(Version(31)) == f"{Version(31)}" == "0000001f"
        assert Version.parse("0000001f") == 31
        assert Version.parse("0000001F") == 31
        assert isinstance(Version.parse("00000000"), Version)
        assert Version(41).next() == 42 and isinstance(Version(41).next(), Version)

    @pytest.mark.parametrize("text", ["", "0000001", "000000001", "0x00001f", " 0000001",
                                      "0000001g", "+0000001", "0000_001", "０００００００１"])
    def test_parse_rejects(self, text: str) -> None:
        with pytest.raises(MetadataError, match="invalid metadata version"):
            Version.parse(text)

    def test_range(self) -> None:
        for value in [-1, 0x100000000]:
            with pytest.raises(MetadataError):
                Version(value)
        with pytest.raises(MetadataError):
            Version(0xFFFFFFFF).next()


def test_check_key() -> None:
    assert check_key("feature-store-2") == "feature-store-2"
    with pytest.raises(MetadataError, match=r"invalid metadata key 'a/b': keys match "
                                            r"\[A-Za-z0-9-\]\+"):
        check_key("a/b")


def test_repository_state_round_trip() -> None:
    state = RepositoryState(Version(3), {"store": Version(2), "dictionary": Version(10)})
    assert state.render() == b"dictionary 0000000a\nstore 00000002\n"
    assert RepositoryState.parse(Version(3), state.render()) == state
    assert list(state.pins) == ["dictionary", "store"]
    with pytest.raises(TypeError):
        state.pins["x"] = Version(0)  # type: ignore[index]
    for bad in [b"store\n", b"store 1\n", b"a/b 00000000\n", b"s 00000000\ns 00000001\n",
                b"repository 00000000\n", b"\xff"]:
        with pytest.raises(MetadataError, match="repository version 00000003"):
            RepositoryState.parse(Version(3), bad)


# -- several processes committing at once (D2.3) ----------------------------------------------

WORKERS, COMMITS = 4, 10


def _append_lines(root: str, worker: int, start: float) -> None:
    """Commit COMMITS changes, each appending one line to the `store` value."""
    store = MetadataStore(PosixStorage(root))
    time.sleep(max(0.0, start - time.time()))
    for n in range(COMMITS):
        line = f"w{worker}-{n}\n".encode()
        store.commit(lambda state, line=line: {
            "store": ((state.read("store") if state else None) or b"") + line})


def test_concurrent_commits_from_processes_are_linear(tmp_path: Path) -> None:
    root = str(tmp_path / "repo")
    context = multiprocessing.get_context("spawn")
    start = time.time() + 1.5  # let every process import before they race
    processes = [context.Process(target=_append_lines, args=(root, w, start))
                 for w in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * WORKERS

    store = MetadataStore(PosixStorage(root))
    total = WORKERS * COMMITS
    assert store.versions(REPOSITORY) == list(range(total))
    assert store.head(REPOSITORY) == total - 1
    previous: list[bytes] = []
    for version in range(total):
        state = store.read_repository(Version(version))
        assert state is not None
        lines = (state.read("store") or b"").splitlines()
        assert lines[:-1] == previous, f"version {version} does not extend its parent"
        previous = lines
    expected = {f"w{w}-{n}".encode() for w in range(WORKERS) for n in range(COMMITS)}
    assert len(previous) == total and set(previous) == expected
    for w in range(WORKERS):  # each worker's lines in its own order
        mine = [line for line in previous if line.startswith(f"w{w}-".encode())]
        assert mine == [f"w{w}-{n}".encode() for n in range(COMMITS)]
