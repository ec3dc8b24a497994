"""``health-recreate`` (§11.7) against a posix repository whose factsets are written with
pyarrow (no Spark): facts unchanged, originals moved to ``tmp/expired``, one commit that pins
new manifest versions, nothing visible after a failure, and every reader (debug, planning,
verify, ls, backup, gc) following the pin."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ivory.backup import plan_copy
from ivory.debug import dump_facts
from ivory.dictionaries import import_dictionary
from ivory.dictionary import parse_encoding
from ivory.errors import IvoryError, MetadataError, StorageError
from ivory.gc import collect_garbage
from ivory.manifest import Manifest, ManifestFile
from ivory.metadata import REPOSITORY, Version
from ivory.planning import select_partitions
from ivory.recreate import (
    RecreateError,
    conform_table,
    expired_directory,
    health_recreate,
    render_recreated,
)
from ivory.repository import (
    MANIFESTS_KEY,
    STORE_KEY,
    Repository,
    parse_manifests,
    render_manifests,
    render_store,
)
from ivory.schema import arrow_fact_schema
from ivory.values import TOMBSTONE, to_columns
from ivory.verify import object_states, verify_repository

DICTIONARY = """\
halibut:warmup|encoding=int|tombstone=NA
halibut:exercise|encoding=double
sauerkraut:relish|encoding=(a:string,b:int*)
"""
NOW = dt.datetime(2015, 3, 4, 13, 5, 6, tzinfo=dt.UTC)  # 2015-03-05 00:05:06 in Sydney


def _fact(entity, ns, name, encoding, value, day=1, seconds=0):
    return {"entity": entity, "namespace": ns, "name": name, "date": dt.date(2014, 5, day),
            "seconds": seconds, **to_columns(parse_encoding(encoding), value)}


def _parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _publish(repo: Repository, factset: str, files: dict[str, bytes], facts: int) -> None:
    """A factset as ingest leaves it: files, manifest, then the store commit."""
    repo.data.write(f"factsets/{factset}/.allocated", b"")
    entries = []
    for path, data in sorted(files.items()):
        repo.data.write(f"factsets/{factset}/{path}", data)
        entries.append(ManifestFile(path, len(data), hashlib.md5(data).hexdigest()))
    repo.write_manifest(Manifest("factset", factset, tuple(entries), facts))
    store = repo.store()
    repo.commit(lambda state: {STORE_KEY: render_store([factset, *store])})


OLD_FORMAT = pa.schema([  # the layout before struct/list columns, with wider seconds
    ("entity", pa.string()), ("namespace", pa.string()), ("name", pa.string()),
    ("date", pa.date32()), ("seconds", pa.int64()), ("tombstone", pa.bool_()),
    ("boolean_value", pa.bool_()), ("int_value", pa.int32()), ("long_value", pa.int64()),
    ("double_value", pa.float64()), ("string_value", pa.string()), ("date_value", pa.date32()),
])


@pytest.fixture
def repository(tmp_path) -> Repository:
    repo, _ = Repository.create(str(tmp_path / "repo"), "Australia/Sydney")
    import_dictionary(repo, [("d.psv", DICTIONARY)])
    current = [
        _fact("E1", "halibut", "warmup", "int", 1),
        _fact("E2", "sauerkraut", "relish", "(a:string,b:int*)", {"a": "x", "b": 1}),
        _fact("E2", "halibut", "warmup", "int", TOMBSTONE),
    ]
    old = [{"entity": "E1", "namespace": "halibut", "name": "exercise",
            "date": dt.date(2014, 5, 2), "seconds": 7, "tombstone": False,
            "double_value": 0.36182843787152693}]
    _publish(repo, "00000000", {
        "halibut/2014/05/01/part-0.parquet": _parquet(pa.Table.from_pylist(
            current, schema=arrow_fact_schema())),
        "halibut/2014/05/02/part-0.parquet": _parquet(pa.Table.from_pylist(
            old, schema=OLD_FORMAT)),
    }, 4)
    _publish(repo, "00000001", {"halibut/2014/05/01/part-0.parquet": _parquet(
        pa.Table.from_pylist([_fact("E1", "halibut", "warmup", "int", 5)],
                             schema=arrow_fact_schema()))}, 1)
    return repo


def _dump(repo: Repository, factset: str = "00000000") -> list[str]:
    return sorted(dump_facts(repo, [factset], [], [], []))


def _parquet_files(repo: Repository, prefix: str) -> list[str]:
    return sorted(e.key for e in repo.data.list(prefix, None) if e.key.endswith(".parquet"))


def test_manifests_value_round_trip_section_11_7() -> None:
    versions = {("factset", "00000003"): Version(2), ("factset", "00000001"): Version(1)}
    data = render_manifests(versions)
    assert data == b"factset 00000001 00000001\nfactset 00000003 00000002\n"
    assert parse_manifests(data) == versions
    with pytest.raises(MetadataError, match="line 2 'factset 00000001': expected"):
        parse_manifests(b"factset 00000000 00000001\nfactset 00000001\n")
    with pytest.raises(MetadataError, match="named twice"):
        parse_manifests(b"factset 00000000 00000001\nfactset 00000000 00000002\n")


def test_recreate_keeps_facts_and_expires_originals_section_11_7(repository) -> None:
    """Facts identical before/after (debug-dump-facts); new files conformed to the current
    schema beside the originals; originals under tmp/expired/<id>.<yyyyMMddHHmmss> (repository
    time zone); one commit pinning manifest version 1; verify clean."""
    before = _dump(repository)
    assert "E1|halibut|exercise|0.3618284378715269|2014-05-02T00:00:07|Factset[00000000]" \
        in before and len(before) == 4
    head = repository.state().version
    originals = _parquet_files(repository, "factsets/00000000/")
    result = health_recreate(repository, ["00000000"], NOW)
    expired = "tmp/expired/00000000.20150305000506"
    assert [(r.factset, r.expired) for r in result] == [("00000000", expired)]
    assert _dump(repository) == before
    assert repository.state().version == head.next()
    assert repository.manifest_versions() == {("factset", "00000000"): Version(1)}
    assert _parquet_files(repository, "factsets/00000000/") == [
        "factsets/00000000/halibut/2014/05/01/recreated-20150305000506-00000.parquet",
        "factsets/00000000/halibut/2014/05/02/recreated-20150305000506-00001.parquet"]
    assert _parquet_files(repository, expired + "/") == [
        k.replace("factsets/00000000", expired) for k in originals]
    for key in _parquet_files(repository, "factsets/00000000/"):
        schema = pq.read_schema(pa.BufferReader(repository.data.read(key)))
        assert schema.equals(arrow_fact_schema(), check_metadata=False)
    manifest = repository.read_manifest("factset", "00000000")
    assert manifest.fact_count == 4 and len(manifest.files) == 2
    assert repository.read_manifest("factset", "00000000", version=Version(0)).files[0].path \
        == "halibut/2014/05/01/part-0.parquet"
    assert _dump(repository, "00000001") == [
        "E1|halibut|warmup|5|2014-05-01T00:00:00|Factset[00000001]"]
    report = verify_repository(repository)
    assert report.problems == [] and report.files == 3
    states = {(s.kind, s.object_id): s for s in object_states(repository)}
    assert states[("factset", "00000000")].facts == 4


def test_readers_follow_the_pinned_manifest_section_11_7(repository) -> None:
    """Snapshot planning (store_manifests, select_partitions) and backup (plan_copy) see the
    recreated files only."""
    health_recreate(repository, ["00000000"], NOW)
    state = repository.state()
    manifests = repository.store_manifests(repository.store(state), state)
    selection = select_partitions(repository.store(state), manifests, dt.date(2014, 6, 1))
    keys = [k for part in selection for k in part["files"]]
    assert any("recreated-" in k for k in keys)
    assert not any("part-0" in k and "00000000" in k for k in keys)
    reachable = plan_copy(repository.metadata, state)
    assert ("manifest-factset-00000000", Version(1)) in reachable.values
    assert all("recreated-" in f.path for f in reachable.manifests["factsets/00000000"].files)
    assert (MANIFESTS_KEY, state.pins[MANIFESTS_KEY]) in reachable.values


def test_recreate_twice_pins_version_2_section_11_7(repository) -> None:
    before = _dump(repository)
    health_recreate(repository, ["00000000", "00000001"], NOW)
    later = NOW + dt.timedelta(seconds=1)
    health_recreate(repository, ["00000000"], later)
    assert repository.manifest_versions() == {("factset", "00000000"): Version(2),
                                              ("factset", "00000001"): Version(1)}
    assert _dump(repository) == before
    assert verify_repository(repository).problems == []


def _assert_unchanged(repository, head, before) -> None:
    assert repository.state().version == head
    assert repository.manifest_versions() == {}
    assert _dump(repository) == before
    assert not any("recreated-" in k for k in _parquet_files(repository, "factsets/"))
    assert _parquet_files(repository, "tmp/") == []
    assert repository.metadata.versions("manifest-factset-00000000") == [Version(0)]
    assert verify_repository(repository).problems == []


def test_failed_recreate_leaves_previous_version_section_11_7(repository) -> None:
    """A corrupt original (MD5 differs from the manifest) fails before the commit: the files
    already recreated (factset 00000001) and the new manifest versions are deleted."""
    head, before = repository.state().version, _dump(repository)
    key = "factsets/00000000/halibut/2014/05/02/part-0.parquet"
    good = repository.data.read(key)
    repository.data.write(key, good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(RecreateError, match=r"its manifest says .* not recreating a corrupt"):
        health_recreate(repository, ["00000001", "00000000"], NOW)
    repository.data.write(key, good)
    _assert_unchanged(repository, head, before)
    assert repository.metadata.versions("manifest-factset-00000001") == [Version(0)]


def test_failed_commit_leaves_previous_version_section_11_7(repository, monkeypatch) -> None:
    """The repository write itself fails: the head does not pin the new manifests, so the new
    files are deleted and the originals stay in place."""
    head, before = repository.state().version, _dump(repository)
    create = repository.metadata.create

    def failing(key, version, value):
        if key == REPOSITORY:
            raise StorageError("injected: repository write failed")
        return create(key, version, value)

    monkeypatch.setattr(repository.metadata, "create", failing)
    with pytest.raises(StorageError, match="injected"):
        health_recreate(repository, ["00000000"], NOW)
    monkeypatch.undo()
    _assert_unchanged(repository, head, before)


def test_recreate_refuses_a_factset_outside_the_store_section_11_7(repository) -> None:
    repository.data.write("factsets/00000002/.allocated", b"")
    with pytest.raises(RecreateError, match="factset 00000002 is not in the store"):
        health_recreate(repository, ["00000000", "00000002"], NOW)
    assert not any("recreated-" in k for k in _parquet_files(repository, "factsets/"))


def test_gc_keeps_recreated_files_section_11_7(repository) -> None:
    """gc with zero grace and retention deletes nothing the pinned manifests list."""
    health_recreate(repository, ["00000000"], NOW)
    before = _dump(repository)
    files = _parquet_files(repository, "factsets/")
    collect_garbage(repository, 0, 0, echo=lambda _line: None)
    assert _parquet_files(repository, "factsets/") == files
    assert repository.manifest_versions() == {("factset", "00000000"): Version(1)}
    assert repository.metadata.versions("manifest-factset-00000000") == [Version(0), Version(1)]
    assert _dump(repository) == before
    assert verify_repository(repository).problems == []


def test_conform_table_errors_name_the_file_section_11_7() -> None:
    with pytest.raises(RecreateError, match=r"f\.parquet: unknown column"):
        conform_table(pa.table({"entity": ["E"], "colour": ["red"]}), "f.parquet")
    with pytest.raises(RecreateError, match=r"f\.parquet: required column namespace is absent"):
        conform_table(pa.table({"entity": ["E"]}), "f.parquet")


def test_expired_directory_and_output_section_11_7() -> None:
    """The directory uses the 24-hour clock in the repository time zone; the output lists the
    most recent recreation first, as upstream does."""
    assert expired_directory("00000003", NOW, "UTC") == "tmp/expired/00000003.20150304130506"
    lines = render_recreated([type("R", (), {"factset": "00000000", "expired": "a"})(),
                              type("R", (), {"factset": "00000001", "expired": "b"})()],
                             lambda k: f"file:///r/{k}")
    assert lines == ["Successful recreations with their original data:",
                     "00000001 -> file:///r/b", "00000000 -> file:///r/a"]


def test_cli_section_11_7(repository) -> None:
    env = {**os.environ, "IVORY_REPOSITORY": ""}
    out = subprocess.run([sys.executable, "-m", "ivory", "health-recreate", "-r",
                          repository.location, "-f", "00000001"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "Successful recreations with their original data:"
    assert len(lines) == 2 and lines[1].startswith(
        f"00000001 -> {repository.data.uri('tmp/expired/00000001.')}")
    bad = subprocess.run([sys.executable, "-m", "ivory", "health-recreate", "-r",
                          repository.location, "-f", "00000009"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1
    assert "factset 00000009 is not in the store" in bad.stderr
    with pytest.raises(IvoryError):
        health_recreate(repository, [], NOW)


def test_recreate_on_s3_section_11_7(s3_bucket) -> None:
    """The same through the storage abstraction on S3 (local S3 server): facts unchanged,
    originals under tmp/expired, verify clean."""
    repo, _ = Repository.create(f"s3://{s3_bucket}/repo", "UTC")
    import_dictionary(repo, [("d.psv", DICTIONARY)])
    _publish(repo, "00000000", {"halibut/2014/05/01/part-0.parquet": _parquet(
        pa.Table.from_pylist([_fact("E1", "halibut", "warmup", "int", 5)],
                             schema=arrow_fact_schema()))}, 1)
    before = _dump(repo)
    [result] = health_recreate(repo, ["00000000"], NOW)
    assert result.expired == "tmp/expired/00000000.20150304130506"
    assert _dump(repo) == before == ["E1|halibut|warmup|5|2014-05-01T00:00:00|Factset[00000000]"]
    assert _parquet_files(repo, "tmp/") == [
        "tmp/expired/00000000.20150304130506/halibut/2014/05/01/part-0.parquet"]
    assert _parquet_files(repo, "factsets/") == [
        "factsets/00000000/halibut/2014/05/01/recreated-20150304130506-00000.parquet"]
    assert verify_repository(Repository.open(repo.location)).problems == []


def test_backup_and_restore_of_a_recreated_factset_section_11_7(repository, tmp_path) -> None:
    """A backup copies the pinned manifest version and the recreated files; the restored
    repository dumps the same facts and verifies clean."""
    from ivory.backup import backup, restore

    health_recreate(repository, ["00000000"], NOW)
    before = _dump(repository)
    backup(repository, str(tmp_path / "backup"), data=True)
    restore(str(tmp_path / "backup"), str(tmp_path / "restored"), data=True)
    restored = Repository.open(str(tmp_path / "restored"))
    assert restored.manifest_versions() == {("factset", "00000000"): Version(1)}
    assert _dump(restored) == before
    assert verify_repository(restored).problems == []


def test_snapshot_and_chord_plans_read_the_recreated_files_section_11_7(repository) -> None:
    """The snapshot (§7.4) and chord plans computed after a recreate list the recreated
    files only (planning reads manifests at the pinned version, D3.1)."""
    from ivory.chord import ChordRequests, plan_chord
    from ivory.planning import parse_output_spec
    from ivory.snapshot import plan_snapshot

    health_recreate(repository, ["00000000"], NOW)
    state = repository.state()
    _, partial = plan_snapshot(repository, state, dt.date(2014, 6, 1), "pessimistic")
    chord = plan_chord(repository, state, ChordRequests("e", "file:///e", (
        ("E1", dt.date(2014, 6, 1)),)), [parse_output_spec("sparse:psv=/tmp/x")], "NA")
    for files in ([k for p in partial["inputs"] for k in p["files"]],
                  [k for p in chord["inputs"] for k in p["files"]]):
        mine = [k for k in files if "factsets/00000000/" in k]
        assert len(mine) == 2 and all("/recreated-20150305000506-" in k for k in mine), files
