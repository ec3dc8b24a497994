"""Thrift input (§5.5) through the ingest driver, and ``cat-thrift`` (§11.4)."""

from __future__ import annotations

import os

from ivory.debug import dump_facts, read_rows, thrift_lines
from ivory.dictionaries import import_dictionary
from ivory.dictionary import parse_encoding
from ivory.ingest import ingest
from ivory.repository import Repository
from ivory.sequencefile import write_values
from ivory.thrift.facts import ThriftFact, ThriftFactDense, ThriftFactSparse, encode, to_thrift
from ivory.values import TOMBSTONE

DICTIONARY = """\
fish:weight|encoding=double
fish:count|encoding=int
fish:catch|encoding=(b:boolean,s:string,d:double)
fish:tags|encoding=[string]
"""


def _fact(entity: str, attribute: str, encoding: str | None, value: object,
          when: str = "2014-01-01") -> bytes:
    enc = parse_encoding(encoding) if encoding else None
    return encode(ThriftFact(entity=entity, attribute=attribute, value=to_thrift(enc, value),
                             datetime=when))


def test_thrift_ingest_section_5_5(tmp_path, local_runner) -> None:
    """SequenceFiles of compact ThriftFacts ingest like text lines: the same checks, facts
    for good values (primitive, struct, list, tombstone), error records with the message
    only for bad ones, undecodable bytes included."""
    repo, _ = Repository.create(str(tmp_path / "repo"), "UTC")
    import_dictionary(repo, [("d.psv", DICTIONARY)])
    os.makedirs(tmp_path / "in")
    values = [
        _fact("E1", "weight", "double", 1.5),
        _fact("E1", "count", "int", 7, "2014-01-02T10:00:00Z"),
        _fact("E1", "catch", "(b:boolean,s:string,d:double)",
              {"b": True, "s": "x", "d": 2.0}),
        _fact("E1", "tags", "[string]", ["b", "a"]),
        _fact("E2", "weight", "double", TOMBSTONE),
        _fact("E2", "count", None, "many"),
        _fact("E2", "catch", None, {"s": "x"}),
        b"\x01\x02garbage",
    ]
    with open(tmp_path / "in" / "part-0", "wb") as handle:
        write_values(handle, values)
    result = ingest(repo, [f"sparse:thrift|fish={tmp_path / 'in'}"], local_runner)
    assert (result.facts, result.errors, result.committed) == (5, 3, True)
    lines = sorted(dump_facts(repo, [result.factset_id], [], [], []))
    assert lines == [
        'E1|fish|catch|{"d":2.0,"s":"x","b":true}|2014-01-01T00:00:00|Factset[00000000]',
        "E1|fish|count|7|2014-01-02T10:00:00|Factset[00000000]",
        'E1|fish|tags|["b","a"]|2014-01-01T00:00:00|Factset[00000000]',
        "E1|fish|weight|1.5|2014-01-01T00:00:00|Factset[00000000]",
        "E2|fish|weight|NA|2014-01-01T00:00:00|Factset[00000000]",
    ]
    errors = sorted((r["line"], r["message"]) for r in read_rows(
        repo.data, [e.key for e in repo.data.list("errors/00000000/", None)
                    if e.key.endswith(".parquet")]))
    assert errors[1:] == [
        (None, "E2, catch, {\"s\":\"x\"}, 2014-01-01\nMandatory field 'b' not found in "
               "'{\"s\":\"x\"}' (position: 3)"),
        (None, "E2, count, many, 2014-01-01\nValue 'many' is not an integer (position: 3)"),
    ]
    assert errors[0][0] is None and errors[0][1].startswith("\nNot a ThriftFact")


def test_cat_thrift_formats_section_11_4(tmp_path) -> None:
    """dense, sparse and fact rows print with JSON values, rule-4 key order, NA tombstones,
    and the -e entity filter."""
    struct = parse_encoding("(i:int,l:long)")
    dense = [encode(ThriftFactDense(entity="E1", value=[
        to_thrift(struct, {"i": 1, "l": 2}), to_thrift(None, TOMBSTONE),
        to_thrift(None, "x")]))]
    sparse = [encode(ThriftFactSparse(entity="E1", value={
        "ns:a": to_thrift(struct, {"l": 2, "i": 1}), "ns:b": to_thrift(None, 2.0)})),
        encode(ThriftFactSparse(entity="E2", value={"ns:a": to_thrift(None, 1)}))]
    facts = [_fact("E1", "tags", "[string]", ["a"])]
    for name, values in (("dense", dense), ("sparse", sparse), ("fact", facts)):
        with open(tmp_path / name, "wb") as handle:
            write_values(handle, values)
    assert list(thrift_lines(str(tmp_path / "dense"), "dense")) == ['E1|{"i":1,"l":2}|NA|x']
    assert list(thrift_lines(str(tmp_path / "sparse"), "sparse", ["E1"])) == [
        'E1|ns:a|{"i":1,"l":2}', "E1|ns:b|2.0"]
    assert list(thrift_lines(str(tmp_path / "fact"), "fact")) == [
        'E1|tags|["a"]|2014-01-01']


def test_snapshot_thrift_outputs_section_9_4(tmp_path, local_runner) -> None:
    """dense:thrift and sparse:thrift extracts of a snapshot: SequenceFiles of typed rows
    (tombstone for every missing dense column, only present values in sparse), readable by
    cat-thrift, with an empty missing value in ``.dictionary`` (§9.5)."""
    import datetime as dt

    from ivory.planning import parse_output_spec
    from ivory.snapshot import snapshot

    repo, _ = Repository.create(str(tmp_path / "repo"), "UTC")
    import_dictionary(repo, [("d.psv", DICTIONARY)])
    os.makedirs(tmp_path / "in" / "fish")
    (tmp_path / "in" / "fish" / "a.psv").write_text(
        'E1|weight|1.5|2014-01-01\nE1|catch|{"b":true,"s":"x","d":2}|2014-01-01\n'
        "E2|count|3|2014-01-01\n")
    ingest(repo, [f"sparse:delimited:psv={tmp_path / 'in'}"], local_runner)
    outputs = [parse_output_spec(f"{form}:thrift={tmp_path / form}")
               for form in ("dense", "sparse")]
    result = snapshot(repo, dt.date(2014, 2, 1), outputs, local_runner)
    assert dict(result.extract_lines) == {str(tmp_path / "dense"): 2,
                                          str(tmp_path / "sparse"): 2} or sorted(
        n for _, n in result.extract_lines) == [2, 2]
    dense = sorted(thrift_lines(str(tmp_path / "dense" / "part-r-*"), "dense"))
    assert dense == ['E1|{"b":true,"s":"x","d":2.0}|NA|NA|1.5', "E2|NA|3|NA|NA"]
    sparse = sorted(thrift_lines(str(tmp_path / "sparse" / "part-r-*"), "sparse"))
    assert sparse == ['E1|fish:catch|{"b":true,"s":"x","d":2.0}', "E1|fish:weight|1.5",
                      "E2|fish:count|3"]
    assert (tmp_path / "dense" / ".dictionary").read_text().splitlines()[0] == \
        "0|fish|catch|(b:boolean,s:string,d:double)|||"
