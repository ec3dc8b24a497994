"""Repositories on memory and posix storage: create/open (§2.1, §2.6, §12.2), store and
snapshots values (§2.2), id allocation (§1.1), manifests and racing commits (D2.3)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ivory.dictionary import dictionary_to_bytes, parse_dictionary
from ivory.errors import KeyExistsError, RepositoryError
from ivory.manifest import Manifest, ManifestFile
from ivory.metadata import RepositoryState, Version
from ivory.repository import (
    CONFIG_KEY,
    DICTIONARY_KEY,
    SNAPSHOTS_KEY,
    STORE_KEY,
    Repository,
    RepositoryConfig,
    SnapshotRecord,
    parse_snapshots,
    parse_store,
    render_snapshots,
    render_store,
)

SYDNEY_CONFIG = '{\n  "version" : "v5",\n  "timezone" : "Australia/Sydney"\n}'


@pytest.fixture(params=["memory", "posix"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return f"memory://test-repository-{uuid.uuid4().hex}"
    return str(tmp_path / "repo")


@pytest.fixture
def repository(location: str) -> Repository:
    repository, created = Repository.create(location, "Australia/Sydney")
    assert created
    return repository


def _prepend(factset: str):
    def change(state: RepositoryState | None) -> dict[str, bytes]:
        assert state is not None
        current = parse_store(state.read(STORE_KEY) or b"")
        return {STORE_KEY: render_store([factset, *current])}
    return change


# -- §2.1 config ----------------------------------------------------------------------------


def test_config_render_is_exactly_s2_1() -> None:
    assert RepositoryConfig("Australia/Sydney").render() == SYDNEY_CONFIG
    assert RepositoryConfig.parse(SYDNEY_CONFIG.encode()) == RepositoryConfig("Australia/Sydney",
                                                                              "v5")


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b'{"version": "v5"}', b"\xff"])
def test_config_parse_malformed_s2_1(data: bytes) -> None:
    with pytest.raises(RepositoryError, match="malformed"):
        RepositoryConfig.parse(data)


def test_create_stores_the_config_json_of_s2_1(location: str) -> None:
    repository, created = Repository.create(location, "Australia/Sydney")
    assert created
    config = repository.config()
    assert (config.version, config.timezone) == ("v5", "Australia/Sydney")
    stored = repository.metadata.read(CONFIG_KEY, repository.state().pins[CONFIG_KEY])
    assert stored.decode("utf-8") == SYDNEY_CONFIG
    assert repository.data.exists(".allocated")
    # Initial state (§2.3 analogue): empty dictionary, empty store, no snapshot.
    assert repository.store() == []
    assert repository.snapshots() == []
    assert repository.dictionary().is_empty


def test_create_posix_writes_files_on_disk_s2(tmp_path: Path) -> None:
    Repository.create(str(tmp_path / "repo"), "Australia/Sydney")
    assert (tmp_path / "repo" / ".allocated").is_file()
    assert (tmp_path / "repo" / "metadata" / "config" / "00000000" / "value").read_text() == (
        SYDNEY_CONFIG)


def test_second_create_is_a_no_op_s12_2(location: str) -> None:
    first, _ = Repository.create(location, "Australia/Sydney")
    head = first.state()
    again, created = Repository.create(location, "UTC")
    assert created is False
    assert again.state() == head  # nothing committed
    assert again.config().timezone == "Australia/Sydney"  # the first config is kept


def test_create_with_unknown_time_zone_fails_s2_1(location: str) -> None:
    with pytest.raises(RepositoryError, match="unknown time zone 'Mars/Olympus_Mons'"):
        Repository.create(location, "Mars/Olympus_Mons")
    with pytest.raises(RepositoryError):  # and nothing was created
        Repository.open(location)


# -- opening (§2.6) -------------------------------------------------------------------------


def test_open_not_a_repository_s2_6(location: str) -> None:
    with pytest.raises(RepositoryError, match="not an ivory repository"):
        Repository.open(location)


def test_open_created_repository(repository: Repository, location: str) -> None:
    opened = Repository.open(location)
    assert opened.state() == repository.state()
    assert opened.config().timezone == "Australia/Sydney"


def test_open_old_metadata_version_asks_for_ivory_update_s2_6(repository: Repository,
                                                              location: str) -> None:
    old = RepositoryConfig("Australia/Sydney", "v4").render().encode()
    repository.commit(lambda state: {CONFIG_KEY: old})
    with pytest.raises(RepositoryError, match="ivory update") as e:
        Repository.open(location)
    assert "v4" in str(e.value)
    # `update` bypasses the check.
    assert Repository.open(location, check_version=False).config().version == "v4"


# -- store and snapshots values (§2.2) ------------------------------------------------------


def test_render_and_parse_store_s2_2() -> None:
    assert render_store([]) == b""
    assert render_store(["00000002", "00000000"]) == b"00000002\n00000000\n"
    assert parse_store(b"00000002\n0000000A\n") == ["00000002", "0000000a"]
    assert parse_store(b"") == []


def test_render_and_parse_snapshots_s7_1() -> None:
    records = [SnapshotRecord("00000000", dt.date(2014, 6, 1), "00000001", "00000002"),
               SnapshotRecord("00000001", dt.date(2014, 7, 1), "00000003", "00000002")]
    data = render_snapshots(records)
    assert data == (b"00000000 2014-06-01 00000001 00000002\n"
                    b"00000001 2014-07-01 00000003 00000002\n")
    assert parse_snapshots(data) == records
    assert parse_snapshots(b"") == []


def test_store_and_snapshots_round_trip_s2_2(repository: Repository, location: str) -> None:
    record = SnapshotRecord("00000000", dt.date(2014, 6, 1), "00000001", "00000000")
    repository.commit(_prepend("00000000"))
    repository.commit(_prepend("00000001"))
    repository.commit(lambda state: {SNAPSHOTS_KEY: render_snapshots([record])})
    reopened = Repository.open(location)
    assert reopened.store() == ["00000001", "00000000"]  # prepend: newest first
    assert reopened.snapshots() == [record]
    # Older states stay readable.
    first = reopened.metadata.read_repository(Version(1))
    assert first is not None and reopened.store(first) == ["00000000"]


def test_dictionary_round_trip_by_version_s2_4(repository: Repository) -> None:
    dictionary = parse_dictionary("halibut:a|encoding=int\n")
    state = repository.commit(lambda s: {DICTIONARY_KEY: dictionary_to_bytes(dictionary)})
    assert repository.dictionary() == dictionary
    assert repository.dictionary(version=state.pins[DICTIONARY_KEY]) == dictionary
    assert repository.dictionary(version=Version(0)).is_empty


# -- id allocation (§1.1) ---------------------------------------------------------------------


def test_allocate_gives_consecutive_ids_per_kind_s1_1(repository: Repository) -> None:
    assert [repository.allocate("factsets") for _ in range(3)] == [
        "00000000", "00000001", "00000002"]
    assert repository.allocate("snapshots") == "00000000"
    assert repository.data.exists("factsets/00000002/.allocated")
    assert repository.data.exists("snapshots/00000000/.allocated")


def test_allocate_ignores_hidden_names_and_follows_the_largest_id_s1_1(
        repository: Repository) -> None:
    repository.data.write("factsets/_tmp/x", b"")
    repository.data.write("factsets/.staging/x", b"")
    assert repository.allocate("factsets") == "00000000"
    repository.data.write("factsets/0000000f/.allocated", b"")
    assert repository.allocate("factsets") == "00000010"


def test_allocate_after_legacy_ids_s1_1(repository: Repository) -> None:
    repository.data.write("factsets/00012/.allocated", b"")
    assert repository.allocate("factsets") == "00000000"


def test_allocate_never_gives_an_id_twice_across_threads_s1_1(repository: Repository) -> None:
    barrier = threading.Barrier(8)

    def allocate_some(_: int) -> list[str]:
        barrier.wait()
        return [repository.allocate("factsets") for _ in range(4)]

    with ThreadPoolExecutor(8) as pool:
        ids = [i for chunk in pool.map(allocate_some, range(8)) for i in chunk]
    assert len(ids) == 32
    assert sorted(ids) == [f"{i:08x}" for i in range(32)]


# -- manifests (D2.2) -------------------------------------------------------------------------


def test_manifest_round_trip_d2_2(repository: Repository, location: str) -> None:
    manifest = Manifest("factset", "00000003",
                        (ManifestFile("halibut/2014/06/02/p.parquet", 12, "a" * 32),), 5)
    snapshot = Manifest("snapshot", "00000003", (), 0, date=dt.date(2014, 7, 1),
                        store_version="00000001", dictionary_version="00000000")
    assert repository.read_manifest("factset", "00000003") is None
    repository.write_manifest(manifest)
    repository.write_manifest(snapshot)  # same id, other kind: another key
    reopened = Repository.open(location)
    assert reopened.read_manifest("factset", "00000003") == manifest
    assert reopened.read_manifest("snapshot", "00000003") == snapshot
    with pytest.raises(KeyExistsError):  # immutable
        repository.write_manifest(manifest)


# -- racing commits (D2.3) --------------------------------------------------------------------


def test_store_prepend_is_reapplied_after_another_writer_committed_d2_3(
        repository: Repository, location: str) -> None:
    """Writer A computes its change, writer B commits first, A re-applies on B's state."""
    writer_a = Repository.open(location)
    writer_b = Repository.open(location)
    seen: list[list[str]] = []

    def change_a(state: RepositoryState | None) -> dict[str, bytes]:
        assert state is not None
        current = parse_store(state.read(STORE_KEY) or b"")
        seen.append(current)
        if len(seen) == 1:  # B wins the race while A is between reading and publishing
            writer_b.commit(_prepend("00000001"))
        return {STORE_KEY: render_store(["00000002", *current])}

    state = writer_a.commit(change_a)
    assert seen == [[], ["00000001"]]  # called again on the winner's state
    assert Repository.open(location).store() == ["00000002", "00000001"]
    assert state.version == writer_b.state().version == 2
    assert writer_b.store() == ["00000002", "00000001"]


def test_metadata_and_data_on_different_backends_d1_3(tmp_path: Path) -> None:
    meta = f"memory://test-repository-{uuid.uuid4().hex}"
    data = str(tmp_path / "data")
    repository, created = Repository.create(meta, "UTC", data_location=data)
    assert created
    assert repository.allocate("factsets") == "00000000"
    assert (tmp_path / "data" / "factsets" / "00000000" / ".allocated").is_file()
    assert not (tmp_path / "data" / "metadata").exists()
    reopened = Repository.open(meta)  # the data location is recorded in the metadata
    assert reopened.config().timezone == "UTC"
    assert reopened.data.uri("x") == repository.data.uri("x")
    assert reopened.allocate("factsets") == "00000001"
