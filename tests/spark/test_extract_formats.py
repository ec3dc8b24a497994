"""Extract output formats of snapshots and chords: the ``deprecated`` text format (§4.4,
§9.1, §9.2, §9.3) and virtual features in Thrift outputs (§9.4)."""

from __future__ import annotations

import datetime as dt
import glob
import json
import os

from pyspark.sql import functions as F

from ivory.dictionaries import import_dictionary
from ivory.dictionary import parse_encoding
from ivory.ingest import ingest
from ivory.jobs import columns as C
from ivory.planning import parse_output_spec
from ivory.repository import Repository
from ivory.sequencefile import read_values
from ivory.snapshot import snapshot
from ivory.thrift.facts import ThriftFactDense, ThriftFactSparse, decode
from ivory.values import parse_value, render_value, to_columns


def _field(name: str, **value: object) -> dict[str, object]:
    return {"name": name, **value}


def test_deprecated_struct_rendering_matches_thrift_structs_section_4_4(spark) -> None:
    """§4.4, §9.1 (T: thrift-structs ``sparse-deprecated.psv``): structs print as
    ``(k:v,...)`` with plain values, keys in the §4.5 order of stored values (rule 1 for
    five keys, rule 2 otherwise; the fields are stored in declaration order b,i,l,d,s)."""
    rows = [
        [_field("b", boolean_value=True), _field("i", int_value=12345),
         _field("l", long_value=1234567898765432), _field("d", double_value=3.14159265359),
         _field("s", string_value="foo")],
        [_field("i", int_value=12345), _field("l", long_value=1234567898765432)],
        [_field("b", boolean_value=False), _field("d", double_value=6.28318530718),
         _field("s", string_value="bar")],
        [_field("s", string_value='a"b\\c'), _field("t", date_value=dt.date(2014, 1, 2))],
    ]
    frame = spark.createDataFrame([(r,) for r in rows], f"fields array<{C.FIELD.simpleString()}>")
    got = [r[0] for r in frame.select(C.render_struct_deprecated(F.col("fields"))).collect()]
    assert got == [
        "(s:foo,i:12345,b:true,l:1234567898765432,d:3.14159265359)",
        "(l:1234567898765432,i:12345)",
        "(d:6.28318530718,s:bar,b:false)",
        '(s:a"b\\c,t:2014-01-02)',
    ]


def test_deprecated_render_value_is_the_reference_twin_section_9_1(spark) -> None:
    """§9.1: ``render_value(..., deprecated=True)`` equals the pure reference
    (:func:`ivory.values.render_value` with ``text_format="deprecated"``) for lists of
    primitives and of structs, primitives and tombstones; json is unchanged."""
    cases = [
        ("[string]", '["b","a,c"]'),
        ("[(n:string,w:double)]", '[{"n":"x","w":1},{"n":"y","w":0.5}]'),
        ("[int]", "[]"),
        ("(c:string,d:date*)", '{"c":"Wahoo","d":"2014-03-04"}'),
        ("double", "1e-4"),
        ("string", "x|y"),
        ("[string]", "null"),
    ]
    rows = []
    expected = []
    for encoding, raw in cases:
        enc = parse_encoding(encoding)
        value = parse_value(enc, raw, ["null"] if raw == "null" else [])
        rows.append({"encoding": encoding, "tombstone": raw == "null",
                     **to_columns(enc, value)})
        expected.append((render_value(enc, value, "NA", "deprecated"),
                         render_value(enc, value, "NA", "json")))
    schema = ("encoding string, tombstone boolean, "
              + ", ".join(f"{f.name} {f.dataType.simpleString()}"
                          for f in C.FACT_SCHEMA.fields[6:]))
    frame = spark.createDataFrame(
        [(r["encoding"], r["tombstone"], *[r.get(f.name) for f in C.FACT_SCHEMA.fields[6:]])
         for r in rows], schema)
    got = frame.select(C.render_value(F.col("encoding"), "NA", True),
                       C.render_value(F.col("encoding"), "NA")).collect()
    assert [tuple(r) for r in got] == expected
    assert expected[0] == ("[b,a,c]", '["b","a,c"]')
    assert expected[1][0] == "[(w:1.0,n:x),(w:0.5,n:y)]"  # §4.5 rule 2 key order


DICTIONARY = """\
fish:catch|encoding=(c:string,n:int*)|mode=state
fish:size|encoding=int|mode=set
fish:sizes_total|source=fish:size|expression=sum|window=2 years
fish:last_sizes|source=fish:size|expression=latestN,2|window=2 years
fish:by_name|source=fish:catch|expression=count_by,c|window=2 years
fish:last_n|source=fish:catch|expression=latest,n
fish:name_days|source=fish:catch|expression=days_since_latest_by,c|window=2 years
"""

FACTS = (
    'E1|catch|{"c":"Wahoo","n":3}|2014-01-01\n'
    'E1|catch|{"c":"Bream"}|2014-01-05\n'
    "E1|size|4|2014-01-01\n"
    "E1|size|5|2014-01-02\n"
    "E2|size|7|2014-01-03\n"
)


def _repository(tmp_path, local_runner) -> Repository:
    repo, _ = Repository.create(str(tmp_path / "repo"), "UTC")
    import_dictionary(repo, [("d.psv", DICTIONARY)])
    os.makedirs(tmp_path / "in" / "fish")
    (tmp_path / "in" / "fish" / "a.psv").write_text(FACTS)
    ingest(repo, [f"sparse:delimited:psv={tmp_path / 'in'}"], local_runner)
    return repo


def _lines(path) -> list[str]:
    return sorted(line for f in sorted(glob.glob(str(path / "part-*")))
                  for line in open(f, encoding="utf-8").read().splitlines())


def _thrift_rows(path, kind: type) -> list[object]:
    rows = []
    for name in sorted(glob.glob(str(path / "part-r-*"))):
        with open(name, "rb") as handle:
            rows.extend(decode(kind, v) for v in read_values(handle, name))
    return sorted(rows, key=lambda r: r.entity)


def test_snapshot_deprecated_and_thrift_outputs_with_virtual_features_section_9(
        tmp_path, local_runner) -> None:
    """One snapshot, five outputs. §9.2/§9.3 deprecated: concrete structs and virtual
    results (maps, lists) as ``(k:v)`` / ``[v]``; a tombstone result (``latest,n`` without
    the field, §8.4) prints the missing value; json output is unchanged; ``.dictionary`` is
    the same as for json (§9.5). §9.4: thrift outputs carry the virtual features typed as
    upstream saves them (int ``sum`` as i64, ``count_by`` counts i64, ``days_since_*_by``
    i32); sparse drops tombstone results, dense keeps them as tombstones."""
    repo = _repository(tmp_path, local_runner)
    specs = ["sparse:psv:deprecated", "dense:psv:deprecated", "sparse:psv", "dense:thrift",
             "sparse:thrift"]
    outputs = [parse_output_spec(f"{s}={tmp_path / s.replace(':', '_')}") for s in specs]
    snapshot(repo, dt.date(2014, 1, 10), outputs, local_runner, missing="MISSING")
    out = {s: tmp_path / s.replace(":", "_") for s in specs}

    json_lines = _lines(out["sparse:psv"])
    maps = {line.split("|")[2]: json.loads(line.split("|")[3]) for line in json_lines
            if line.startswith("E1|fish|by_name|") or line.startswith("E1|fish|name_days|")}
    assert maps == {"by_name": {"Bream": 1, "Wahoo": 1}, "name_days": {"Bream": 5, "Wahoo": 9}}
    # Maps keep the key order of the json output (§4.5), as ``(k:v)``.
    by_name, name_days = (
        "(" + ",".join(f"{k}:{v}" for k, v in maps[n].items()) + ")"
        for n in ("by_name", "name_days"))
    assert _lines(out["sparse:psv:deprecated"]) == [
        f"E1|fish|by_name|{by_name}",
        "E1|fish|catch|(c:Bream)",
        "E1|fish|last_n|MISSING",
        "E1|fish|last_sizes|[5,4]",
        f"E1|fish|name_days|{name_days}",
        "E1|fish|sizes_total|9",
        "E2|fish|last_sizes|[7]",
        "E2|fish|sizes_total|7",
    ]
    assert json_lines[1:4] == [
        'E1|fish|catch|{"c":"Bream"}',
        "E1|fish|last_n|MISSING",
        "E1|fish|last_sizes|[5,4]",
    ]
    # Columns in feature-index order: by_name, catch, last_n, last_sizes, name_days, size,
    # sizes_total.
    assert _lines(out["dense:psv:deprecated"]) == [
        f"E1|{by_name}|(c:Bream)|MISSING|[5,4]|{name_days}|MISSING|9",
        "E2|MISSING|MISSING|MISSING|[7]|MISSING|MISSING|7",
    ]
    dictionary = (out["sparse:psv:deprecated"] / ".dictionary").read_text()
    assert dictionary == (out["sparse:psv"] / ".dictionary").read_text()
    assert dictionary.splitlines()[0] == "0|fish|by_name|()|||MISSING"

    sparse = _thrift_rows(out["sparse:thrift"], ThriftFactSparse)
    assert [r.entity for r in sparse] == ["E1", "E2"]
    e1 = sparse[0].value
    assert sorted(e1) == ["fish:by_name", "fish:catch", "fish:last_sizes", "fish:name_days",
                          "fish:sizes_total"]  # no tombstone fish:last_n
    assert e1["fish:sizes_total"].primitive.l == 9
    assert {k: v.l for k, v in e1["fish:by_name"].strct.v.items()} == {"Bream": 1, "Wahoo": 1}
    assert {k: v.i for k, v in e1["fish:name_days"].strct.v.items()} == {"Bream": 5,
                                                                           "Wahoo": 9}
    assert [item.p.i for item in e1["fish:last_sizes"].lst.l] == [5, 4]
    assert sorted(sparse[1].value) == ["fish:last_sizes", "fish:sizes_total"]

    dense = _thrift_rows(out["dense:thrift"], ThriftFactDense)
    assert [len(r.value) for r in dense] == [7, 7]
    e1_dense = dense[0].value
    assert e1_dense[2].tombstone is not None  # last_n: a tombstone result
    assert e1_dense[5].tombstone is not None  # size: a set concrete is never output
    assert e1_dense[6].primitive.l == 9
    assert dense[1].value[6].primitive.l == 7 and dense[1].value[0].tombstone is not None
