"""``ivory validate`` (issue 4): every kind of violation is found, counted and exemplified;
a clean store passes. Facts are written with pyarrow straight into a factset so that
facts ingest could never produce can be stored (§4.1, §4.2, §5.2, §5.3)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ivory.dictionaries import import_dictionary
from ivory.dictionary import parse_encoding
from ivory.repository import Repository
from ivory.schema import arrow_fact_schema
from ivory.validate import render_report, validate
from ivory.values import TOMBSTONE, to_columns

DICTIONARY = """\
fish:weight|encoding=double|tombstone=NA
fish:name|encoding=string
fish:catch|encoding=(kind:string,size:double*)
fish:hauls|encoding=[(w:int)]
fish:tags|encoding=[string]
fish:heavy|source=fish:weight|expression=count
"""
DAY = dt.date(2014, 1, 1)


def _fact(entity: str, name: str, encoding: str, value: object, date: dt.date = DAY,
          seconds: int = 0, **override: object) -> dict[str, object]:
    row = {"entity": entity, "namespace": "fish", "name": name, "date": date,
           "seconds": seconds, **to_columns(parse_encoding(encoding), value)}
    row.update(override)
    return row


def _write(repo: Repository, factset: str, rows: list[dict[str, object]]) -> None:
    repo.data.write(f"factsets/{factset}/.allocated", b"")
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_fact_schema()), sink)
    repo.data.write(f"factsets/{factset}/fish/2014/01/01/part-0.parquet",
                          sink.getvalue().to_pybytes())


@pytest.fixture
def repository(tmp_path):
    repo, _ = Repository.create(str(tmp_path / "repo"), "UTC")
    import_dictionary(repo, [("dictionary.psv", DICTIONARY)])
    return repo


GOOD = [
    _fact("E1", "weight", "double", 1.5),
    _fact("E1", "weight", "double", TOMBSTONE),
    _fact("E1", "catch", "(kind:string,size:double*)", {"kind": "wahoo", "size": 2.0}),
    _fact("E1", "catch", "(kind:string,size:double*)", TOMBSTONE),
    _fact("E1", "hauls", "[(w:int)]", [{"w": 1}, {"w": 2}]),
    _fact("E1", "tags", "[string]", []),
]
BAD = [
    _fact("E2", "nope", "string", "x"),                                      # unknown
    _fact("E3", "heavy", "long", 3),                                         # virtual
    _fact("E4", "weight", "double", 1.0, date=dt.date(1600, 2, 1)),          # date
    _fact("E5", "weight", "double", 1.0, seconds=86400),                     # seconds
    _fact("E6", "name", "string", TOMBSTONE),                                # tombstone
    _fact("E7", "weight", "long", 7),                                        # encoding
    _fact("E8", "catch", "(kind:string,size:int*)", {"kind": "x", "size": 1}),
    _fact("E9", "tags", "[int]", [1]),
    _fact("EA", "hauls", "[(w:int,x:int*)]", [{"w": 1, "x": 2}]),
    _fact("EB", "catch", "(kind:string*,size:double*)", {"size": 1.0}),      # mandatory
    _fact("EC", "hauls", "[(w:int*)]", [{"w": 1}, {}]),
]


def test_validate_finds_each_kind_of_violation(repository, local_runner) -> None:
    """Each violation kind of :mod:`ivory.jobs.validate` is counted, with examples that
    name entity, feature, value, datetime, factset and reason; good facts pass."""
    _write(repository, "00000000", GOOD + BAD)
    result = validate(repository, local_runner, ["00000000"], examples=2)
    assert result.facts == len(GOOD) + len(BAD)
    assert result.counts == {
        "unknown-feature": 1, "virtual-feature": 1, "date-out-of-range": 2,
        "tombstone-not-declared": 1, "wrong-encoding": 4, "missing-mandatory-field": 2,
    }
    assert [e["entity"] for e in result.examples["wrong-encoding"]] == ["E7", "E8"]
    lines = render_report(result)
    assert "  E7|fish:weight|7|2014-01-01T00:00:00|Factset[00000000]|value is not of " \
           "encoding double" in lines
    assert "  EB|fish:catch|{\"size\":1.0}|2014-01-01T00:00:00|Factset[00000000]|a mandatory " \
           "field of (kind:string,size:double*) is missing" in lines
    assert "  E5|fish:weight|1.0|2014-01-01T24:00:00|Factset[00000000]|date 2014-01-01 " \
           "seconds 86400 not within 1600-03-01..3000-12-31, 0..86399" in lines
    assert lines[-1] == "Validated 17 facts in 1 factsets: 11 violations"


def test_validate_clean_store_has_no_violations(repository, local_runner) -> None:
    """Facts ingest wrote (struct, list, tombstone) validate clean over the whole store."""
    _write(repository, "00000000", GOOD)
    # publish the factset the way ingest does: a store with it
    from ivory.repository import STORE_KEY, render_store

    repository.commit(lambda state: {STORE_KEY: render_store(["00000000"])})
    result = validate(repository, local_runner)
    assert result.factsets == ("00000000",)
    assert (result.facts, result.counts, result.violations) == (len(GOOD), {}, 0)
