"""Maintenance commands (§11.6, §11.8, §11.9) against a posix repository whose factsets are
written with pyarrow (no Spark needed)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ivory.debug import dump_facts
from ivory.dictionaries import import_dictionary
from ivory.dictionary import parse_encoding
from ivory.errors import IvoryError
from ivory.maintenance import convert_dictionary, factset_statistics
from ivory.manifest import Manifest, ManifestFile
from ivory.rename import parse_mappings, rename
from ivory.repository import STORE_KEY, Repository, render_store
from ivory.schema import arrow_fact_schema
from ivory.values import TOMBSTONE, to_columns

DICTIONARY = """\
halibut:warmup|encoding=int|tombstone=NA
halibut:exercise|encoding=double
sauerkraut:relish|encoding=(a:string,b:int*)
"""


def _fact(entity, ns, name, encoding, value, day=1, seconds=0):
    return {"entity": entity, "namespace": ns, "name": name, "date": dt.date(2014, 5, day),
            "seconds": seconds, **to_columns(parse_encoding(encoding), value)}


def _publish(repo: Repository, factset: str, rows) -> None:
    """A factset as ingest leaves it: files, manifest, then the store commit."""
    repo.data.write(f"factsets/{factset}/.allocated", b"")
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_fact_schema()), sink)
    data = sink.getvalue().to_pybytes()
    path = "halibut/2014/05/01/part-0.parquet"
    repo.data.write(f"factsets/{factset}/{path}", data)
    repo.write_manifest(Manifest("factset", factset, (
        ManifestFile(path, len(data), hashlib.md5(data).hexdigest()),), len(rows)))
    store = repo.store()
    repo.commit(lambda state: {STORE_KEY: render_store([factset, *store])})


@pytest.fixture
def repository(tmp_path):
    repo, _ = Repository.create(str(tmp_path / "repo"), "UTC")
    import_dictionary(repo, [("d.psv", DICTIONARY)])
    _publish(repo, "00000000", [
        _fact("E1", "halibut", "warmup", "int", 1),
        _fact("E1", "halibut", "warmup", "int", 2, day=2),
        _fact("E1", "halibut", "exercise", "double", 0.36182843787152693, seconds=1),
        _fact("E2", "sauerkraut", "relish", "(a:string,b:int*)", {"a": "x", "b": 1}),
        _fact("E2", "halibut", "warmup", "int", TOMBSTONE),
    ])
    _publish(repo, "00000001", [_fact("E1", "halibut", "warmup", "int", 5)])
    return repo


def test_rename_section_11_8(repository) -> None:
    """Only mapped features, renamed; the higher-priority factset wins a clash; a new
    factset at the front of the store; the dictionary is unchanged."""
    dictionary = repository.dictionary()
    mappings = parse_mappings(["sauerkraut:relish=sauerkraut2:relish"],
                              "halibut:warmup|halibut2:warmup\n")
    factset, count = rename(repository, mappings)
    assert (factset, count) == ("00000002", 4)
    assert repository.store() == ["00000002", "00000001", "00000000"]
    assert repository.dictionary() == dictionary
    assert sorted(dump_facts(repository, ["00000002"], [], [], [])) == [
        "E1|halibut2|warmup|2|2014-05-02T00:00:00|Factset[00000002]",
        "E1|halibut2|warmup|5|2014-05-01T00:00:00|Factset[00000002]",
        "E2|halibut2|warmup|NA|2014-05-01T00:00:00|Factset[00000002]",
        'E2|sauerkraut2|relish|{"b":1,"a":"x"}|2014-05-01T00:00:00|Factset[00000002]',
    ]


def test_rename_unknown_feature_section_11_8(repository) -> None:
    with pytest.raises(IvoryError, match="The following features do not exist: halibut:nope"):
        rename(repository, parse_mappings(["halibut:nope=halibut:yes"]))
    assert repository.store() == ["00000001", "00000000"]


def test_factset_statistics_section_11_6(repository) -> None:
    key, lines = factset_statistics(repository, "00000000")
    assert key == "factsets/00000000/_stats/part-00000.json"
    records = [json.loads(line) for line in repository.data.read(key).decode().splitlines()]
    assert len(records) == lines == 4
    warmup = next(r for r in records if r["feature"] == "halibut:warmup"
                  and r["date"] == "2014-05-01")
    assert warmup["histogram"] == {"1": 1, "\u2620": 1}
    assert warmup["numerical"] == {"count": 1, "mean": 1.0, "sd": 0.0}


def test_factset_statistics_of_a_missing_legacy_id_writes_nothing_section_11_6_1_1(
        repository) -> None:
    """T: statistics passes ``-f 00000`` (a legacy id, §1.1) where the factset is 00000000
    and expects success: an empty factset. A missing current-form id stays an error."""
    before = sorted(e.key for e in repository.data.list("factsets/", None))
    assert factset_statistics(repository, "00000") == (None, 0)
    assert sorted(e.key for e in repository.data.list("factsets/", None)) == before
    with pytest.raises(IvoryError, match="there is no factset 0000000f"):
        factset_statistics(repository, "0000000f")


def test_convert_dictionary_section_11_9(tmp_path) -> None:
    """v1 pipe lines become v2 lines; the command prints its exact message."""
    (tmp_path / "old.psv").write_text("halibut|preheat|boolean|categorical|11s|NA\n"
                                      "halibut|weight|double|continuous||\n")
    out = subprocess.run([sys.executable, "-m", "ivory", "convert-dictionary", "-i",
                          str(tmp_path / "old.psv"), "-o", str(tmp_path / "new.psv")],
                         capture_output=True, text=True, check=True)
    assert out.stdout == f"File successfully written to {tmp_path / 'new.psv'}\n"
    assert (tmp_path / "new.psv").read_text() == (
        "halibut:preheat|encoding=boolean|mode=state|type=categorical|description=11s|"
        "tombstone=NA\nhalibut:weight|encoding=double|mode=state|type=continuous|"
        "tombstone=\n")
    assert convert_dictionary(str(tmp_path / "old.psv"), str(tmp_path / "b.psv")).startswith(
        "File successfully written to ")
