"""Backup and restore (D5.4) between memory and posix, without Spark: the data files are
written directly with their manifests, as the ingest and snapshot drivers publish them."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from ivory.backup import BackupError, backup, plan_copy, restore
from ivory.cli import main
from ivory.dictionaries import import_dictionary
from ivory.manifest import Manifest, ManifestFile
from ivory.metadata import REPOSITORY, RepositoryState
from ivory.repository import (
    SNAPSHOTS_KEY,
    STORE_KEY,
    Repository,
    SnapshotRecord,
    parse_snapshots,
    parse_store,
    render_snapshots,
    render_store,
)
from ivory.storage import MemoryStorage, open_storage
from ivory.verify import verify_repository

DICTIONARY = "fish:weight|encoding=double\n"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("IVORY_REPOSITORY", raising=False)
    monkeypatch.setenv("IVORY_CACHE_DIR", str(tmp_path / "cache"))


def publish_factset(repository: Repository, payload: bytes) -> str:
    object_id = repository.allocate("factsets")
    path = "fish/2014/01/01/part-0.parquet"
    repository.data.write(f"factsets/{object_id}/{path}", payload)
    repository.write_manifest(Manifest("factset", object_id, (
        ManifestFile(path, len(payload), hashlib.md5(payload).hexdigest()),), 1))

    def prepend(state: RepositoryState | None) -> dict[str, bytes]:
        assert state is not None
        return {STORE_KEY: render_store([object_id, *parse_store(state.read(STORE_KEY))])}

    repository.commit(prepend)
    return object_id


def publish_snapshot(repository: Repository, payload: bytes) -> str:
    state = repository.state()
    object_id = repository.allocate("snapshots")
    repository.data.write(f"snapshots/{object_id}/fish/part-0.parquet", payload)
    repository.write_manifest(Manifest(
        "snapshot", object_id,
        (ManifestFile("fish/part-0.parquet", len(payload), hashlib.md5(payload).hexdigest()),),
        1, date=dt.date(2014, 6, 1), store_version=str(state.pins[STORE_KEY]),
        dictionary_version=str(state.pins["dictionary"]),
        repository_version=str(state.version)))
    record = SnapshotRecord(object_id, dt.date(2014, 6, 1), str(state.pins[STORE_KEY]),
                            str(state.pins["dictionary"]))

    def add(current: RepositoryState | None) -> dict[str, bytes]:
        assert current is not None
        records = parse_snapshots(current.read(SNAPSHOTS_KEY))
        return {SNAPSHOTS_KEY: render_snapshots([*records, record])}

    repository.commit(add)
    return object_id


def build(location: str) -> Repository:
    repository, _ = Repository.create(location, "UTC")
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    publish_factset(repository, b"first factset")
    publish_snapshot(repository, b"a snapshot")
    publish_factset(repository, b"second factset")  # the snapshot's store is now older
    return Repository.open(location)


def committed(location: str) -> dict[str, bytes]:
    repository = Repository.open(location)
    state = repository.state()
    out = {REPOSITORY: str(state.version).encode()}
    out.update({k: repository.metadata.read(k, v) for k, v in state.pins.items()})
    return out


def keys(location: str) -> list[str]:
    return sorted(e.key for e in open_storage(location).list("", None))


@pytest.mark.parametrize("pair", ["posix-posix", "memory-posix", "posix-memory"])
def test_backup_and_restore_reproduce_the_committed_state_d5_4(tmp_path: Path,
                                                               pair: str) -> None:
    token = f"{pair}-{tmp_path.name}"
    source, dest = (str(tmp_path / "repo") if pair.startswith("posix") else f"memory://s{token}",
                    str(tmp_path / "backup") if pair.endswith("posix") else f"memory://b{token}")
    repository = build(source)
    report = backup(repository, dest, data=not source.startswith("memory"))
    assert report.version == repository.state().version
    target = str(tmp_path / "restored")
    restored = restore(dest, target, data=not source.startswith("memory"))
    assert committed(target) == committed(source)
    if not source.startswith("memory"):
        assert restored.files_copied == 3
        assert verify_repository(Repository.open(target)).ok
        # the reached store and dictionary versions of the snapshot are there too (§7.4)
        reopened = Repository.open(target)
        record = reopened.snapshots()[0]
        assert reopened.store_at(record.store_version) == [reopened.store()[-1]]


def test_backup_copies_only_what_the_pinned_version_reaches_d5_4(tmp_path: Path) -> None:
    repository = build(str(tmp_path / "repo"))
    leftover = repository.allocate("factsets")
    repository.data.write(f"factsets/{leftover}/x.parquet", b"unpublished")
    repository.metadata.write_next(STORE_KEY, b"zzz\n")  # an unpinned value
    backup(repository, str(tmp_path / "backup"), data=True)
    copied = keys(str(tmp_path / "backup"))
    assert not any(k.startswith(f"factsets/{leftover}/x") for k in copied)
    assert not any(k.startswith("errors/") for k in copied)
    state = repository.state()
    store_versions = {k.split("/")[2] for k in copied if k.startswith("metadata/store/")
                      and k.endswith("/value")}
    snapshot_store = repository.snapshots()[0].store_version
    assert store_versions == {str(state.pins[STORE_KEY]), snapshot_store}
    assert len(plan_copy(repository.metadata, state).manifests) == 3


def test_backup_is_incremental_d5_4(tmp_path: Path) -> None:
    repository = build(str(tmp_path / "repo"))
    first = backup(repository, str(tmp_path / "backup"), data=True)
    assert first.files_copied == 3 and first.files_skipped == 0
    publish_factset(repository, b"third factset")
    second = backup(Repository.open(str(tmp_path / "repo")), str(tmp_path / "backup"),
                    data=True)
    assert second.files_copied == 1 and second.files_skipped == 3
    assert second.metadata_skipped > 0
    target = str(tmp_path / "restored")
    restore(str(tmp_path / "backup"), target, data=True)
    assert committed(target) == committed(str(tmp_path / "repo"))
    assert verify_repository(Repository.open(target)).ok


def test_restore_refuses_a_non_empty_target_d5_4(tmp_path: Path) -> None:
    repository = build(str(tmp_path / "repo"))
    backup(repository, str(tmp_path / "backup"))
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "something").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        restore(str(tmp_path / "backup"), str(tmp_path / "target"))
    assert keys(str(tmp_path / "target")) == ["something"]
    with pytest.raises(BackupError, match="not empty"):
        restore(str(tmp_path / "backup"), str(tmp_path / "repo"))


def test_a_corrupt_source_file_fails_the_backup_and_publishes_nothing_d5_4(
        tmp_path: Path) -> None:
    repository = build(str(tmp_path / "repo"))
    store = repository.store()
    corrupt = f"factsets/{store[0]}/fish/2014/01/01/part-0.parquet"
    data = repository.data.read(corrupt)
    repository.data.write(corrupt, bytes([data[0] ^ 1]) + data[1:])  # same size, other MD5
    with pytest.raises(BackupError, match=f"{corrupt}.*source is corrupt"):
        backup(repository, str(tmp_path / "backup"), data=True)
    copied = keys(str(tmp_path / "backup"))
    assert not any(k.startswith(f"metadata/{REPOSITORY}/") for k in copied)
    assert corrupt not in copied


def test_restore_without_data_in_the_backup_says_so_d5_4(tmp_path: Path) -> None:
    repository = build(str(tmp_path / "repo"))
    backup(repository, str(tmp_path / "backup"))  # metadata only
    with pytest.raises(BackupError, match="without --data"):
        restore(str(tmp_path / "backup"), str(tmp_path / "target"), data=True)
    assert keys(str(tmp_path / "target")) == []


def test_backup_into_another_repositorys_backup_is_refused_d5_4(tmp_path: Path) -> None:
    backup(build(str(tmp_path / "one")), str(tmp_path / "backup"))
    other, _ = Repository.create(str(tmp_path / "two"), "Australia/Sydney")
    with pytest.raises(BackupError, match="another repository"):
        backup(other, str(tmp_path / "backup"))


def test_restore_of_a_restore_allocates_new_ids_d5_4(tmp_path: Path) -> None:
    repository = build(str(tmp_path / "repo"))
    backup(repository, str(tmp_path / "backup"))
    target = str(tmp_path / "restored")
    restore(str(tmp_path / "backup"), target)  # metadata only: markers keep ids taken
    restored = Repository.open(target)
    assert restored.allocate("factsets") not in restored.store()


def test_cli_backup_and_restore_d5_4(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    build(str(tmp_path / "repo"))
    assert main(["backup", "-r", str(tmp_path / "repo"), "--data",
                 str(tmp_path / "backup")]) == 0
    out = capsys.readouterr().out
    assert "data files 3 copied" in out
    monkeypatch.setenv("IVORY_REPOSITORY", str(tmp_path / "restored"))
    assert main(["restore", "--data", str(tmp_path / "backup")]) == 0
    assert "Restored" in capsys.readouterr().out
    assert main(["verify"]) == 0
    assert main(["restore", str(tmp_path / "backup")]) == 1
    assert "not empty" in capsys.readouterr().err
    assert committed(str(tmp_path / "restored")) == committed(str(tmp_path / "repo"))


def test_memory_to_memory_round_trip_d5_4() -> None:
    repository, _ = Repository.create("memory://bk-src", "UTC")
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    backup(repository, "memory://bk-dst")
    restore("memory://bk-dst", "memory://bk-restored")
    assert committed("memory://bk-restored") == committed("memory://bk-src")
    assert MemoryStorage.named("bk-dst").exists(f"metadata/{REPOSITORY}/00000001/value")
