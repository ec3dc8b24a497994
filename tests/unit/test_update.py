"""The upstream view (commit records §2.3, ``.manifest.json`` §2.5), ``ivory update`` and
metadata versions (§2.6), and snapshot records whose data is gone (§7.4)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest

from ivory import __version__
from ivory.cli import main
from ivory.errors import RepositoryError
from ivory.manifest import Manifest, ManifestFile
from ivory.repository import (
    CONFIG_KEY,
    DICTIONARY_KEY,
    SNAPSHOTS_KEY,
    Repository,
    RepositoryConfig,
    SnapshotRecord,
    render_snapshots,
)
from ivory.snapshot import plan_snapshot
from ivory.update import parse_snapshot_metadata, update
from ivory.upstream import (
    factset_manifest_json,
    latest_commit_id,
    render_json,
    snapshot_manifest_json,
)


@pytest.fixture(params=["memory", "posix"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Repository:
    location = (f"memory://update-{uuid.uuid4().hex}" if request.param == "memory"
                else str(tmp_path / "repo"))
    return Repository.create(location, "Australia/Sydney")[0]


def records(repository: Repository) -> dict[str, bytes]:
    storage = repository.metadata_storage
    return {e.key.rsplit("/", 1)[1]: storage.read(e.key)
            for e in storage.list("metadata/commits/", "/") if not e.is_prefix}


def set_version(repository: Repository, version: str) -> None:
    old = RepositoryConfig("Australia/Sydney", version).render().encode()
    repository.commit(lambda _: {CONFIG_KEY: old})


# -- §2.3 commit records --------------------------------------------------------------------


def test_commit_records_follow_the_upstream_sequence_s2_3(repository: Repository) -> None:
    """create -> 0; a dictionary -> 1; a store -> 2; the same dictionary again -> 3 (T:
    commits); a commit of only snapshots writes no record."""
    assert records(repository) == {"00000000": b"00000000\n00000000\n00000000\n"}
    repository.commit(lambda _: {DICTIONARY_KEY: b"d1"})
    repository.commit(lambda _: {"store": b"00000000\n"})
    repository.commit(lambda _: {DICTIONARY_KEY: b"d1"})
    repository.commit(lambda _: {SNAPSHOTS_KEY: b""})
    assert records(repository) == {
        "00000000": b"00000000\n00000000\n00000000\n",
        "00000001": b"00000001\n00000000\n00000000\n",
        "00000002": b"00000001\n00000001\n00000000\n",
        "00000003": b"00000002\n00000001\n00000000\n",
    }
    assert latest_commit_id(repository.metadata_storage, repository.state().pins) == "00000003"


# -- §2.5 manifests -------------------------------------------------------------------------


def test_manifest_json_is_argonaut_spaces2_s2_5() -> None:
    assert render_json({"a": [], "b": {}, "c": None, "d": [1, "x"]}) == (
        '{\n  "a" : [],\n  "b" : {},\n  "c" : null,\n  "d" : [\n    1,\n    "x"\n  ]\n}')
    text = factset_manifest_json("00000000", [("b", dt.date(2014, 1, 2), 5),
                                              ("a", dt.date(2014, 1, 3), 7)])
    value = json.loads(text)
    assert value["version"] == {"metadata": "v5", "ivory": __version__}
    assert list(value["metadata"]) == ["type", "id", "format", "partitions"]
    assert value["metadata"]["partitions"] == [
        {"value": {"name": "a", "date": "2014-01-03"}, "size": 7},
        {"value": {"name": "b", "date": "2014-01-02"}, "size": 5}]
    snap = json.loads(snapshot_manifest_json("00000001", dt.date(2014, 6, 30), "00000003"))
    assert snap["metadata"] == {"type": "snapshot", "commit": "00000003", "store": None,
                                "snapshot": "00000001", "format": "v2", "date": "2014-06-30"}
    old = json.loads(snapshot_manifest_json("00000000", dt.date(2014, 6, 30), None,
                                            "00000002", file_format="v1"))["metadata"]
    assert (old["commit"], old["store"], old["format"]) == (None, "00000002", "v1")


# -- §2.6 versions and update ---------------------------------------------------------------


def test_update_at_latest_version_changes_nothing_s2_6(repository: Repository) -> None:
    before = repository.state()
    result = update(repository)
    assert result.message() == "Repository is already at latest version [v5]"
    assert repository.state() == before


@pytest.mark.parametrize("version", ["v0", "v1", "v2", "v3", "v4"])
def test_update_bumps_old_versions_to_v5_with_a_commit_s2_6(repository: Repository,
                                                            version: str) -> None:
    """§2.6; §12.3: after ``update`` the config says v5 (upstream's data-regression
    expectation of v4 is stale, and deliberately not reproduced)."""
    set_version(repository, version)
    with pytest.raises(RepositoryError, match="ivory update"):
        Repository.open(repository.location)
    result = update(Repository.open(repository.location, check_version=False))
    assert result.message() == f"Repository updated from [{version}] to [v5]"
    opened = Repository.open(repository.location)
    assert opened.config() == RepositoryConfig("Australia/Sydney", "v5")
    # the new config is config 2 (0: created, 1: the old version), named by the last record
    assert records(repository)["00000002"] == b"00000000\n00000000\n00000002\n"


@pytest.mark.parametrize("version", ["v6", "garbage"])
def test_unknown_version_fails_open_and_update_s2_6(repository: Repository, version: str
                                                    ) -> None:
    set_version(repository, version)
    with pytest.raises(RepositoryError, match="does not know about metadata version"):
        Repository.open(repository.location)
    with pytest.raises(RepositoryError, match="does not know about metadata version"):
        update(Repository.open(repository.location, check_version=False))


def test_update_converts_old_snapshot_metadata_and_writes_factset_manifests_s2_6(
        repository: Repository) -> None:
    """v2: `.metadata.json` and `.snapmeta` become v1 snapshot manifests (T:
    update-v2-v3-metadata); bad entries are warned about; store factsets get manifests."""
    data = repository.data
    factset = repository.allocate("factsets")
    repository.write_manifest(Manifest("factset", factset, (
        ManifestFile("ns/2014/06/02/part-0.parquet", 11, "0" * 32),), 1))
    repository.commit(lambda _: {"store": f"{factset}\n".encode()})
    data.write("snapshots/00000000/.snapmeta", b"2014-06-30\n00000001\n")
    data.write("snapshots/00000001/.metadata.json",
               b'{"id": "00000001", "date": "2014-07-01", "commit_id": "00000002"}')
    data.write("snapshots/00000002/.snapmeta", b"not a date\n")
    data.write("snapshots/junk/x", b"")
    set_version(repository, "v2")
    warnings: list[str] = []
    update(Repository.open(repository.location, check_version=False), echo=warnings.append)
    assert warnings == ["WARNING: Snapshot skipped 00000002", "WARNING: Invalid snapshot path junk"]
    s0 = json.loads(data.read("snapshots/00000000/.manifest.json"))["metadata"]
    assert (s0["store"], s0["commit"], s0["format"], s0["date"]) == (
        "00000001", None, "v1", "2014-06-30")
    s1 = json.loads(data.read("snapshots/00000001/.manifest.json"))["metadata"]
    assert (s1["commit"], s1["store"], s1["date"]) == ("00000002", None, "2014-07-01")
    f = json.loads(data.read(f"factsets/{factset}/.manifest.json"))["metadata"]
    assert f["partitions"] == [{"value": {"name": "ns", "date": "2014-06-02"}, "size": 11}]


def test_parse_snapshot_metadata_prefers_metadata_json_s2_6() -> None:
    assert parse_snapshot_metadata(
        "00000000", b'{"id":"00000000","date":"2014-01-01","commit_id":"00000004"}',
        b"2015-01-01\n00000001\n") == (dt.date(2014, 1, 1), "00000004", None)
    assert parse_snapshot_metadata("00000000", None, b"2015-01-01\n00000001\n00000003\n") == (
        dt.date(2015, 1, 1), "00000003", "00000001")


def test_update_command_prints_one_line_s2_6(tmp_path: Path, capsys: pytest.CaptureFixture
                                             ) -> None:
    location = str(tmp_path / "repo")
    repository = Repository.create(location, "UTC")[0]
    set_version(repository, "v3")
    assert main(["update", "-r", location]) == 0
    assert main(["update", "-r", location]) == 0
    assert capsys.readouterr().out == ("Repository updated from [v3] to [v5]\n"
                                       "Repository is already at latest version [v5]\n")


# -- §7.4 snapshot records whose data is gone -----------------------------------------------


def test_a_snapshot_whose_allocated_marker_is_gone_is_not_reused_s7_4(
        repository: Repository) -> None:
    state = repository.state()
    date = dt.date(2014, 6, 30)
    record = SnapshotRecord("00000000", date, str(state.pins["store"]),
                            str(state.pins["dictionary"]))
    repository.write_manifest(Manifest("snapshot", "00000000", (), 0, date=date))
    state = repository.commit(lambda _: {SNAPSHOTS_KEY: render_snapshots([record])})
    reuse, partial = plan_snapshot(repository, state, date, "pessimistic")
    assert reuse is None and partial["previous"] is None  # neither reused nor built upon
    repository.data.write("snapshots/00000000/.allocated", b"")
    assert plan_snapshot(repository, state, date, "pessimistic")[0] == record
    repository.data.delete("snapshots/00000000/.allocated")
    # and its id is not handed out again while its manifest exists
    assert repository.allocate("snapshots") == "00000001"


def test_snapshot_stats_file_s2() -> None:
    """``snapshots/<id>/.stats`` of the §2 layout: version, datetime, fact_count."""
    import datetime as dt

    from ivory.upstream import snapshot_stats_json

    assert snapshot_stats_json(7, dt.datetime(2014, 6, 30, 1, 2, 3)) == (
        '{\n  "version" : "v1",\n  "datetime" : "2014-06-30T01:02:03",\n'
        '  "fact_count" : 7\n}\n')
