"""Chord (§10): the job's rule on small DataFrames, the entities file, and the driver end to
end with the local runner (seed snapshot, outputs, identical results without a snapshot)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random

import pytest
from pyspark.sql.types import IntegerType, StructField, StructType

from ivory.chord import (
    ChordError,
    chord,
    parse_chord_output,
    parse_entities,
    plan_chord,
    read_entities,
)
from ivory.dictionaries import import_dictionary
from ivory.dictionary import parse_dictionary
from ivory.errors import UsageError
from ivory.ingest import ingest
from ivory.jobs.chord import chord_values, read_requests
from ivory.jobs.columns import FACT_SCHEMA
from ivory.jobs.extract import dense_lines, emitted_values, sparse_lines
from ivory.jobs.snapshot import latest_facts
from ivory.planning import build_feature_table, parse_output_spec
from ivory.repository import Repository
from ivory.snapshot import snapshot

D = dt.date

# --- the job's rule on small DataFrames -------------------------------------------------

JOB_DICTIONARY = parse_dictionary(
    "ns:age|encoding=int|tombstone=NA\n"
    "ns:name|encoding=string|tombstone=NA\n"
    "ns:seen|encoding=string|mode=set\n"
    "ns:latest_seen|source=ns:seen|expression=latest\n"
)


def fact(entity, name, date, seconds=0, priority=1, tombstone=False, **values):
    row = {c.name: None for c in FACT_SCHEMA.fields}
    row.update(entity=entity, namespace="ns", name=name, date=date, seconds=seconds,
               tombstone=tombstone, priority=priority, **values)
    return row


@pytest.fixture(scope="module")
def features(spark):
    return spark.createDataFrame(
        build_feature_table(JOB_DICTIONARY),
        "namespace string, name string, index int, virtual boolean, encoding string, "
        "mode string, tombstones array<string>",
    )


def facts_frame(spark, rows):
    schema = StructType([*FACT_SCHEMA.fields, StructField("priority", IntegerType(), False)])
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


def requests_frame(spark, pairs):
    return spark.createDataFrame(list(pairs), "entity string, chord_date date")


def chord_rows(spark, features, rows, pairs):
    out = chord_values(facts_frame(spark, rows), features, requests_frame(spark, pairs))
    return {(r.entity, r.chord_date, r.name): r for r in out.collect()}


def test_each_chord_date_of_an_entity_gets_the_value_as_of_that_date_section_10(
        spark, features):
    rows = [
        fact("e1", "age", D(2014, 1, 1), int_value=1),
        fact("e1", "age", D(2014, 3, 1), int_value=2),
        fact("e1", "age", D(2014, 6, 1), int_value=3),
        fact("e2", "age", D(2014, 3, 1), int_value=20),
    ]
    got = chord_rows(spark, features, rows, [
        ("e1", D(2014, 2, 1)), ("e1", D(2014, 3, 1)), ("e1", D(2014, 12, 31)),
        ("e2", D(2014, 3, 1))])
    assert {k: r.int_value for k, r in got.items()} == {
        ("e1", D(2014, 2, 1), "age"): 1,
        ("e1", D(2014, 3, 1), "age"): 2,  # a fact on the chord date is included (§7.2)
        ("e1", D(2014, 12, 31), "age"): 3,
        ("e2", D(2014, 3, 1), "age"): 20,
    }


def test_no_row_before_an_entitys_first_fact_or_after_its_latest_date_section_10(
        spark, features):
    rows = [
        fact("e1", "age", D(2014, 3, 1), int_value=1),
        fact("e2", "age", D(2014, 9, 1), int_value=2),  # after e2's only chord date
        fact("e3", "name", D(2014, 1, 1), string_value="not asked for"),
    ]
    got = chord_rows(spark, features, rows, [
        ("e1", D(2014, 1, 1)), ("e1", D(2014, 4, 1)), ("e2", D(2014, 8, 31)),
        ("e4", D(2014, 4, 1))])
    # latest with no fact on or before the date is null, so not emitted (§8.2).
    assert set(got) == {("e1", D(2014, 4, 1), "age")}


def test_priority_and_time_of_day_break_ties_like_a_snapshot_sections_6_10(spark, features):
    rows = [
        fact("e1", "name", D(2014, 1, 1), priority=2, string_value="older factset"),
        fact("e1", "name", D(2014, 1, 1), priority=1, string_value="newer factset"),
        fact("e1", "name", D(2014, 1, 1), priority=32767, string_value="seed snapshot"),
        fact("e1", "age", D(2014, 1, 1), seconds=7, priority=3, int_value=7),
        fact("e1", "age", D(2014, 1, 1), seconds=6, priority=1, int_value=6),
        # exact ties (same datetime and factset): the value order of latest_facts decides.
        fact("e2", "name", D(2014, 1, 1), string_value="b"),
        fact("e2", "name", D(2014, 1, 1), string_value="c"),
        fact("e2", "name", D(2014, 1, 1), string_value="a"),
    ]
    got = chord_rows(spark, features, rows, [("e1", D(2014, 1, 1)), ("e2", D(2014, 1, 1))])
    assert got[("e1", D(2014, 1, 1), "name")].string_value == "newer factset"
    assert got[("e1", D(2014, 1, 1), "age")].int_value == 7
    assert got[("e2", D(2014, 1, 1), "name")].string_value == "c"
    snap = latest_facts(facts_frame(spark, rows), features, "2014-01-01").collect()
    assert {r.entity: r.string_value for r in snap if r.name == "name"} == {
        "e1": "newer factset", "e2": "c"}


def test_tombstones_win_and_are_not_emitted_section_10(spark, features):
    rows = [
        fact("e1", "age", D(2014, 1, 1), int_value=1),
        fact("e1", "age", D(2014, 2, 1), tombstone=True),
        fact("e1", "age", D(2014, 3, 1), int_value=3),
    ]
    pairs = [("e1", D(2014, 1, 15)), ("e1", D(2014, 2, 15)), ("e1", D(2014, 3, 15))]
    values = chord_values(facts_frame(spark, rows), features, requests_frame(spark, pairs))
    assert values.filter("tombstone").count() == 1
    out = {"delimiter": "|", "escaped": False, "missing": "NA"}
    assert _lines(sparse_lines(emitted_values(values, features, "NA"), out)) == [
        "e1:2014-01-15|ns|age|1", "e1:2014-03-15|ns|age|3"]


def test_set_and_unknown_features_are_not_emitted_section_8_2(spark, features):
    rows = [fact("e1", "seen", D(2014, 1, 1), string_value="x"),
            fact("e1", "gone", D(2014, 1, 1), int_value=1),
            fact("e1", "age", D(2014, 1, 1), int_value=1)]
    assert set(chord_rows(spark, features, rows, [("e1", D(2014, 1, 1))])) == {
        ("e1", D(2014, 1, 1), "age")}


def test_chord_equals_a_snapshot_at_each_date_restricted_to_the_entity_section_10(
        spark, features):
    rng = random.Random(10)
    entities = [f"e{i}" for i in range(6)]
    rows = []
    for _ in range(400):
        day = D(2014, 1, 1) + dt.timedelta(days=rng.randrange(30))
        tomb = rng.random() < 0.15
        rows.append(fact(rng.choice(entities), rng.choice(["age", "name"]), day,
                         seconds=rng.choice([0, 0, 3600]), priority=rng.choice([1, 2, 32767]),
                         tombstone=tomb, int_value=None if tomb else rng.randrange(5),
                         string_value=None if tomb else rng.choice("abc")))
    pairs = {(rng.choice(entities), D(2014, 1, 1) + dt.timedelta(days=rng.randrange(-2, 34)))
             for _ in range(15)}
    got = {k: (r.date, r.seconds, r.tombstone, r.int_value, r.string_value)
           for k, r in chord_rows(spark, features, rows, pairs).items()}
    facts = facts_frame(spark, rows)
    expected = {}
    for date in sorted({d for _, d in pairs}):
        asked = {e for e, d in pairs if d == date}
        for r in latest_facts(facts, features, date.isoformat()).collect():
            if r.entity in asked and r.name in ("age", "name"):
                expected[(r.entity, date, r.name)] = (
                    r.date, r.seconds, r.tombstone, r.int_value, r.string_value)
    assert len(expected) > 10
    assert got == expected


def _lines(frame):
    return [r.value for r in frame.collect()]


def test_extract_lines_in_section_8_5_order_entity_colon_date_section_10(spark, features):
    """Sparse: source feature, then entity bytes, then chord date (§8.5, §10)."""
    rows = [fact(e, "age", D(2014, 1, 1), int_value=n)
            for n, e in enumerate(["ID1", "ID10", "ID2"])]
    rows.append(fact("ID1", "name", D(2014, 1, 1), string_value="x|y"))
    pairs = [("ID1", D(2014, 2, 1)), ("ID1", D(2014, 1, 1)), ("ID10", D(2014, 1, 1)),
             ("ID2", D(2014, 1, 1))]
    values = emitted_values(
        chord_values(facts_frame(spark, rows), features, requests_frame(spark, pairs)),
        features, "NA")
    sparse = {"delimiter": "|", "escaped": True, "missing": "NA"}
    # feature first, then entity bytes ("ID1" before "ID10", although ':' > '0'), then dates.
    assert _lines(sparse_lines(values, sparse)) == [
        "ID1:2014-01-01|ns|age|0", "ID1:2014-02-01|ns|age|0",
        "ID10:2014-01-01|ns|age|1", "ID2:2014-01-01|ns|age|2",
        "ID1:2014-01-01|ns|name|x\\|y", "ID1:2014-02-01|ns|name|x\\|y"]
    dense = {"delimiter": ",", "escaped": False, "missing": "-"}
    # columns: age, latest_seen (virtual), name, seen (set)
    assert _lines(dense_lines(values, 4, dense)) == [
        "ID1:2014-01-01,0,-,x|y,-", "ID1:2014-02-01,0,-,x|y,-", "ID10:2014-01-01,1,-,-,-",
        "ID2:2014-01-01,2,-,-,-"]


def test_job_reads_a_large_entities_file_itself_section_10(spark, tmp_path):
    path = tmp_path / "entities.psv"
    path.write_bytes(b"e1|2014-01-01\r\ne2|2014-02-03\ne1|2014-01-01\n")
    got = read_requests(spark, {"path": f"file://{path}", "count": 2}).collect()
    assert sorted((r.entity, r.chord_date) for r in got) == [
        ("e1", D(2014, 1, 1)), ("e2", D(2014, 2, 3))]


# --- the entities file and arguments ---------------------------------------------------


def test_entities_file_duplicates_collapse_and_several_dates_per_entity_section_10():
    text = "ID1|2014-06-03\r\nID2|2014-01-01\nID1|2014-06-03\nID1|2014-01-02"
    assert parse_entities(text, "c.psv") == [
        ("ID1", D(2014, 1, 2)), ("ID1", D(2014, 6, 3)), ("ID2", D(2014, 1, 1))]


@pytest.mark.parametrize(("text", "reason"), [
    ("ID1|2014-01-01\nID2\n", "line 2: expected 2 fields"),
    ("ID1|2014-01-01|x\n", "line 1: expected 2 fields"),
    ("ID1|2014-13-01\n", "line 1: invalid date '2014-13-01'"),
    ("ID1|14-01-01\n", "line 1: invalid date '14-01-01'"),
    ("|2014-01-01\n", "line 1: the entity is empty"),
    ("ID1|2014-01-01\n\nID2|2014-01-01\n", "line 2: blank line"),
    ("ID1|1599-01-01\n", "line 1: date 1599-01-01 is outside"),
    (("x" * 257) + "|2014-01-01\n", "line 1: entity id 'x+' too large"),
    ("", "has no entity|yyyy-MM-dd line"),
])
def test_bad_entities_file_names_file_line_and_reason_section_10(text, reason):
    with pytest.raises(ChordError, match="entities file c.psv" + (
            ", " if reason.startswith("line") else " ") + reason.replace("|", r"\|")):
        parse_entities(text, "c.psv")


def test_chord_rejects_thrift_and_needs_an_output_section_9_1(tmp_path):
    with pytest.raises(UsageError, match="chord does not write thrift"):
        parse_chord_output(f"dense:thrift={tmp_path}/x")
    assert parse_chord_output(f"dense:escaped:psv={tmp_path}/x").text_format.escaped
    with pytest.raises(UsageError, match="at least one output"):
        chord(None, "unused", [], None)  # type: ignore[arg-type]


# --- the driver end to end ---------------------------------------------------------------

DICTIONARY = """\
fish:weight|encoding=double|tombstone=NA
fish:name|encoding=string|tombstone=NA
fish:caught|encoding=date
fish:fresh|encoding=boolean|mode=set
fish:last_weight|source=fish:weight|expression=latest
"""

FACTS_1 = """\
E1|weight|1.5|2014-01-01
E1|weight|2|2014-02-01
E1|name|Wanda|2014-01-01 10:00:00
E1|name|NA|2014-03-01
E2|weight|NA|2014-02-01
E2|caught|2014-01-31|2014-02-01
E3|fresh|true|2014-01-01
E10|weight|10|2014-05-01
"""

FACTS_2 = """\
E1|weight|9|2014-01-01
E1|weight|3|2014-02-01
E1|weight|4|2014-06-01
E2|weight|7.25|2014-03-01
"""

ENTITIES = """\
E1|2014-01-15
E1|2014-02-01
E1|2014-03-15
E1|2014-01-15
E2|2014-01-15
E2|2014-03-01
E3|2014-06-01
E10|2014-04-30
E4|2014-03-01
"""

# Factset 2 (higher priority) wins the same-datetime ties with factset 1 and the seed
# snapshot; E1's name is a tombstone from 03-01; E2 has no fact by 01-15; E3 has set facts
# only; E10's fact is after its chord date; E4 has no fact. The virtual last_weight (latest,
# no window) follows weight; lines in §8.5 order (source feature, entity, date, position).
EXPECTED_SPARSE = [
    "E2:2014-03-01|fish|caught|2014-01-31",
    "E1:2014-01-15|fish|name|Wanda",
    "E1:2014-02-01|fish|name|Wanda",
    "E1:2014-01-15|fish|weight|9.0",
    "E1:2014-01-15|fish|last_weight|9.0",
    "E1:2014-02-01|fish|weight|3.0",
    "E1:2014-02-01|fish|last_weight|3.0",
    "E1:2014-03-15|fish|weight|3.0",
    "E1:2014-03-15|fish|last_weight|3.0",
    "E2:2014-03-01|fish|weight|7.25",
    "E2:2014-03-01|fish|last_weight|7.25",
]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


@pytest.fixture
def repository(tmp_path, local_runner):
    repo, _ = Repository.create(str(tmp_path / "repo"), "Australia/Sydney")
    import_dictionary(repo, [("dictionary.psv", DICTIONARY)])
    write(str(tmp_path / "in1" / "fish" / "a.psv"), FACTS_1)
    write(str(tmp_path / "in2" / "fish" / "b.psv"), FACTS_2)
    write(str(tmp_path / "entities.psv"), ENTITIES)
    ingest(repo, [f"sparse:delimited:psv={tmp_path}/in1"], local_runner)
    ingest(repo, [f"sparse:delimited:psv={tmp_path}/in2"], local_runner)
    return repo


def read_parts(directory):
    lines = []
    for name in sorted(os.listdir(directory)):
        if name.startswith("part-"):
            lines += (directory / name).read_text().splitlines()
    return lines


def test_same_results_with_and_without_seed_snapshot_section_10(repository, tmp_path,
                                                                local_runner):
    entities = str(tmp_path / "entities.psv")
    bare = chord(repository, entities, [parse_output_spec(f"sparse:psv={tmp_path}/c1")],
                 local_runner, take_snapshot=False)
    assert repository.snapshots() == []
    assert (bare.requests, bare.entities, bare.snapshot_id) == (8, 5, None)
    seeded = chord(repository, entities, [parse_output_spec(f"sparse:psv={tmp_path}/c2")],
                   local_runner)
    records = repository.snapshots()
    assert [(r.snapshot_id, r.date) for r in records] == [("00000000", D(2014, 1, 15))]
    assert (seeded.snapshot_id, seeded.snapshot_reused) == ("00000000", False)
    assert read_parts(tmp_path / "c1") == read_parts(tmp_path / "c2") == EXPECTED_SPARSE
    assert dict(seeded.extract_lines)[f"file://{tmp_path}/c2"] == len(EXPECTED_SPARSE)
    again = chord(repository, entities, [parse_output_spec(f"sparse:psv={tmp_path}/c3")],
                  local_runner)
    assert (again.snapshot_id, again.snapshot_reused) == ("00000000", True)
    assert read_parts(tmp_path / "c3") == EXPECTED_SPARSE


def test_seed_snapshot_of_an_older_store_gives_the_same_values_section_7_4(tmp_path,
                                                                          local_runner):
    repo, _ = Repository.create(str(tmp_path / "repo"), "Australia/Sydney")
    import_dictionary(repo, [("dictionary.psv", DICTIONARY)])
    write(str(tmp_path / "in1" / "fish" / "a.psv"), FACTS_1)
    write(str(tmp_path / "in2" / "fish" / "b.psv"), FACTS_2)
    write(str(tmp_path / "entities.psv"), ENTITIES)
    ingest(repo, [f"sparse:delimited:psv={tmp_path}/in1"], local_runner)
    snapshot(repo, D(2014, 1, 15), [], local_runner)
    ingest(repo, [f"sparse:delimited:psv={tmp_path}/in2"], local_runner)
    requests = read_entities(str(tmp_path / "entities.psv"))
    state = repo.state()
    seed = repo.snapshots(state)[0]
    out = parse_output_spec(f"sparse:psv={tmp_path}/old-seed")
    plan = plan_chord(repo, state, requests, [out], "NA", seed, inline_limit=0)
    assert plan["previous"]["snapshot_id"] == "00000000"
    assert "path" in plan["requests"]  # beyond the inline limit the job reads the file
    # Factset 2 is not in the seed's store: its partitions on or before 01-15 are read too.
    assert any("/2014/01/01/" in f for s in plan["inputs"] if s["priority"] == 1
               for f in s["files"])
    local_runner.run(plan)
    assert read_parts(tmp_path / "old-seed") == EXPECTED_SPARSE


def test_dense_output_and_extract_files_section_10(repository, tmp_path, local_runner):
    outputs = [parse_output_spec(f"dense:psv={tmp_path}/dense"),
               parse_output_spec(f"sparse:escaped:csv={tmp_path}/sparse")]
    result = chord(repository, str(tmp_path / "entities.psv"), outputs, local_runner,
                   missing="-", take_snapshot=False)
    # columns: caught, fresh (set), last_weight (virtual), name, weight
    assert read_parts(tmp_path / "dense") == [
        "E1:2014-01-15|-|-|9.0|Wanda|9.0",
        "E1:2014-02-01|-|-|3.0|Wanda|3.0",
        "E1:2014-03-15|-|-|3.0|-|3.0",
        "E2:2014-03-01|2014-01-31|-|7.25|-|7.25",
    ]
    assert read_parts(tmp_path / "sparse")[0] == "E2:2014-03-01,fish,caught,2014-01-31"
    assert dict(result.extract_lines)[f"file://{tmp_path}/dense"] == 4
    for name in ("dense", "sparse"):
        directory = tmp_path / name
        assert (directory / ".dictionary").read_text().splitlines() == [
            "0|fish|caught|date|||-", "1|fish|fresh|boolean|||-",
            "2|fish|last_weight|double|||-", "3|fish|name|string|||-",
            "4|fish|weight|double|||-"]
        manifest = json.loads((directory / ".manifest.json").read_text())
        assert manifest["metadata"] == {"type": "extract:chord",
                                        "commit": str(repository.state().version)}
        assert (directory / ".profile").read_bytes() == b""  # §9.6: counters disabled upstream


class NoJobRunner:
    def run(self, plan):
        raise AssertionError("no job may run")


def test_bad_entities_file_fails_before_any_job_runs_section_10(repository, tmp_path):
    bad = tmp_path / "bad.psv"
    bad.write_text("E1|2014-01-01\nE2|2014-02-30\n")
    with pytest.raises(ChordError, match=f"entities file {bad}, line 2: invalid date"):
        chord(repository, str(bad), [parse_output_spec(f"sparse:psv={tmp_path}/out")],
              NoJobRunner())
    with pytest.raises(ChordError, match="does not exist"):
        chord(repository, str(tmp_path / "missing.psv"),
              [parse_output_spec(f"sparse:psv={tmp_path}/out")], NoJobRunner())
    assert repository.snapshots() == []
    assert not (tmp_path / "out").exists()
