"""Ingest and snapshot through the driver with the local runner on the shared session:
layout (D2.5), error records (§5.4), commit order (D5.6), reuse and incremental snapshots
(§7.1, §7.4)."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from ivory.debug import dump_facts, object_files, read_rows
from ivory.dictionaries import import_dictionary
from ivory.errors import IngestError, JobError
from ivory.ingest import ingest
from ivory.planning import parse_output_spec
from ivory.repository import Repository
from ivory.snapshot import snapshot

DICTIONARY = """\
fish:weight|encoding=double|tombstone=NA
fish:name|encoding=string|tombstone=NA
fish:caught|encoding=date
fish:fresh|encoding=boolean|mode=set
"""

FACTS_1 = """\
E1|weight|1.5|2014-01-01
E1|weight|2|2014-02-01
E1|name|Wanda|2014-01-01 10:00:00
E2|weight|NA|2014-02-01
E2|caught|2014-01-31|2014-02-01
E3|fresh|true|2014-01-01
E4|weight|heavy|2014-01-01
|name|nobody|2014-01-01
"""

FACTS_2 = """\
E1|weight|3|2014-02-01
E2|weight|7.25|2014-03-01
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


@pytest.fixture
def repository(tmp_path):
    repo, _ = Repository.create(str(tmp_path / "repo"), "Australia/Sydney")
    import_dictionary(repo, [("dictionary.psv", DICTIONARY)])
    write(str(tmp_path / "in1" / "fish" / "a.psv"), FACTS_1)
    write(str(tmp_path / "in2" / "b.psv"), FACTS_2)
    return repo


def test_ingest_writes_partitions_errors_and_commits_section_5(repository, tmp_path,
                                                                local_runner):
    result = ingest(repository, [f"sparse:delimited:psv={tmp_path}/in1"], local_runner)
    assert (result.factset_id, result.facts, result.errors, result.committed) == (
        "00000000", 6, 2, True)
    assert repository.store() == ["00000000"]
    manifest = repository.read_manifest("factset", "00000000")
    assert {p for p, _ in manifest.partitions()} == {"fish"}
    assert sorted({d for _, d in manifest.partitions()}) == [
        dt.date(2014, 1, 1), dt.date(2014, 2, 1)]
    for f in manifest.files:
        assert f.path.startswith(("fish/2014/01/01/", "fish/2014/02/01/"))
        assert repository.data.size(f"factsets/00000000/{f.path}") == f.size
        assert len(f.md5) == 32
    errors = list(read_rows(repository.data, object_files_in(repository, "errors/00000000")))
    assert sorted(e["message"].splitlines()[1] for e in errors) == [
        "Entity id is empty (position: 1)", "Value 'heavy' is not a double (position: 3)"]


def object_files_in(repository, prefix):
    return [e.key for e in repository.data.list(prefix + "/", None)
            if not e.key.rsplit("/", 1)[1].startswith((".", "_"))]


def test_local_time_converted_to_repository_zone_section_5_3(repository, tmp_path,
                                                             local_runner):
    ingest(repository, [f"sparse:delimited:psv={tmp_path}/in1"], local_runner,
           timezone="UTC")
    lines = list(dump_facts(repository, ["00000000"], [], ["E1"], ["fish:name"]))
    # 10:00 UTC is 21:00 in Sydney (AEDT, +11) on the same day.
    assert lines == ["E1|fish|name|Wanda|2014-01-01T21:00:00|Factset[00000000]"]


def test_unknown_namespace_fails_before_any_fact_is_written_section_5_1(repository, tmp_path,
                                                                       local_runner):
    with pytest.raises(IngestError, match="Unknown namespaces: nope"):
        ingest(repository, [f"sparse:delimited:psv|nope={tmp_path}/in2"], local_runner)
    assert repository.store() == []
    assert repository.data.exists("factsets/00000000/.allocated")  # id consumed, as upstream


class FailingRunner:
    def run(self, plan):
        raise JobError("the ingest job failed: boom")


class LyingRunner:
    def __init__(self, inner):
        self.inner = inner

    def run(self, plan):
        result = self.inner.run(plan)
        result["files"][0]["size"] += 1
        return result


def test_failed_or_unverified_job_commits_nothing_d5_6(repository, tmp_path, local_runner):
    before = repository.state().version
    with pytest.raises(JobError):
        ingest(repository, [f"sparse:delimited:psv={tmp_path}/in1"], FailingRunner())
    with pytest.raises(JobError, match="bytes in storage"):
        ingest(repository, [f"sparse:delimited:psv={tmp_path}/in1"],
               LyingRunner(local_runner))
    assert repository.state().version == before
    assert repository.store() == []


def test_snapshot_outputs_reuse_and_incremental_section_7(repository, tmp_path, local_runner):
    ingest(repository, [f"sparse:delimited:psv={tmp_path}/in1"], local_runner)
    first = snapshot(repository, dt.date(2014, 2, 15),
                     [parse_output_spec(f"sparse:psv={tmp_path}/s1"),
                      parse_output_spec(f"dense:psv={tmp_path}/d1")], local_runner)
    assert (first.snapshot_id, first.reused, first.incremental_from) == ("00000000", False, None)
    sparse = read_parts(tmp_path / "s1")
    assert sparse == ["E1|fish|name|Wanda", "E1|fish|weight|2.0", "E2|fish|caught|2014-01-31"]
    # columns: caught, fresh, name, weight; E2's weight is a tombstone.
    assert read_parts(tmp_path / "d1") == ["E1|NA|NA|Wanda|2.0", "E2|2014-01-31|NA|NA|NA"]
    assert (tmp_path / "d1" / ".dictionary").read_text().splitlines()[0] == (
        "0|fish|caught|date|||NA")

    again = snapshot(repository, dt.date(2014, 2, 15), [], local_runner)
    assert (again.snapshot_id, again.reused) == ("00000000", True)

    ingest(repository, [f"sparse:delimited:psv|fish={tmp_path}/in2"], local_runner)
    later = snapshot(repository, dt.date(2014, 3, 1),
                     [parse_output_spec(f"sparse:psv={tmp_path}/s2")], local_runner)
    assert (later.snapshot_id, later.incremental_from) == ("00000001", "00000000")
    # The newer factset wins the 2014-02-01 tie for E1; E2's weight comes back on 03-01.
    assert read_parts(tmp_path / "s2") == [
        "E1|fish|name|Wanda", "E1|fish|weight|3.0", "E2|fish|caught|2014-01-31",
        "E2|fish|weight|7.25"]
    stored = sorted(dump_facts(repository, [], ["00000001"], [], []))
    assert "E3|fish|fresh|true|2014-01-01T00:00:00|Snapshot[00000001]" in stored
    assert len(object_files(repository, "snapshot", "00000001")) >= 1


def test_snapshot_output_must_not_exist_section_7_1(repository, tmp_path, local_runner):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    from ivory.errors import SnapshotError

    with pytest.raises(SnapshotError, match="already exists"):
        snapshot(repository, dt.date(2014, 2, 15),
                 [parse_output_spec(f"sparse:psv={tmp_path}/taken")], local_runner)


def read_parts(directory):
    lines = []
    for name in sorted(os.listdir(directory)):
        if name.startswith("part-"):
            lines += (directory / name).read_text().splitlines()
    return sorted(lines)


def test_ingest_with_every_line_rejected_commits_nothing_section_5_6(repository, tmp_path,
                                                                     local_runner):
    write(str(tmp_path / "bad" / "fish" / "x.psv"), "E1|weight|heavy|2014-01-01\n|name|x|y\n")
    result = ingest(repository, [f"sparse:delimited:psv={tmp_path}/bad"], local_runner)
    assert (result.facts, result.errors, result.committed) == (0, 2, False)
    assert repository.store() == []
