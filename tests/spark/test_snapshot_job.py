"""The snapshot rule (§7.2, §6) and extracts (§9.2, §9.3) on small DataFrames."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StructField, StructType

from ivory.dictionary import parse_dictionary
from ivory.jobs.columns import FACT_SCHEMA
from ivory.jobs.extract import dense_lines, emitted_values, sparse_lines
from ivory.jobs.snapshot import latest_facts
from ivory.planning import build_feature_table

DICTIONARY = parse_dictionary(
    "ns:age|encoding=int|tombstone=NA\n"
    "ns:name|encoding=string|tombstone=NA\n"
    "ns:score|encoding=double\n"
    "ns:seen|encoding=string|mode=set\n"
    "ns:latest_seen|source=ns:seen|expression=latest\n"
)
D = dt.date


def fact(entity, name, date, seconds=0, priority=1, tombstone=False, **values):
    row = {c.name: None for c in FACT_SCHEMA.fields}
    row.update(entity=entity, namespace="ns", name=name, date=date, seconds=seconds,
               tombstone=tombstone, priority=priority, **values)
    return row


@pytest.fixture(scope="module")
def features(spark):
    return spark.createDataFrame(
        build_feature_table(DICTIONARY),
        "namespace string, name string, index int, virtual boolean, encoding string, "
        "mode string, tombstones array<string>",
    )


def facts_frame(spark, rows):
    schema = StructType([*FACT_SCHEMA.fields, StructField("priority", IntegerType(), False)])
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


def winners(spark, features, rows, date):
    out = latest_facts(facts_frame(spark, rows), features, date)
    return {(r.entity, r.name): r for r in out.collect()}


def test_latest_fact_at_or_before_the_date_wins_section_7_2(spark, features):
    rows = [
        fact("e1", "age", D(2014, 1, 1), int_value=1),
        fact("e1", "age", D(2014, 6, 1), int_value=2),
        fact("e1", "age", D(2014, 6, 2), int_value=3),  # after the date: ignored
        fact("e2", "age", D(2014, 6, 1), seconds=10, int_value=5),
        fact("e2", "age", D(2014, 6, 1), seconds=20, int_value=6),  # later in the day
    ]
    got = winners(spark, features, rows, "2014-06-01")
    assert got[("e1", "age")].int_value == 2
    assert got[("e2", "age")].int_value == 6
    assert got[("e2", "age")].seconds == 20


def test_same_datetime_highest_priority_wins_section_6(spark, features):
    rows = [
        fact("e1", "name", D(2014, 1, 1), priority=2, string_value="older factset"),
        fact("e1", "name", D(2014, 1, 1), priority=1, string_value="newer factset"),
        fact("e1", "name", D(2014, 1, 1), priority=32767, string_value="previous snapshot"),
    ]
    got = winners(spark, features, rows, "2014-12-31")
    assert got[("e1", "name")].string_value == "newer factset"


def test_tombstone_wins_like_a_value_and_is_stored_section_7_3(spark, features):
    rows = [
        fact("e1", "age", D(2014, 1, 1), int_value=1),
        fact("e1", "age", D(2014, 2, 1), tombstone=True),
    ]
    got = winners(spark, features, rows, "2014-12-31")
    assert got[("e1", "age")].tombstone is True
    assert got[("e1", "age")].int_value is None


def test_features_not_in_the_dictionary_are_dropped_section_6(spark, features):
    rows = [fact("e1", "gone", D(2014, 1, 1), int_value=1),
            fact("e1", "age", D(2014, 1, 1), int_value=1)]
    got = winners(spark, features, rows, "2014-12-31")
    assert set(got) == {("e1", "age")}


def test_exact_ties_are_broken_deterministically(spark, features):
    rows = [fact("e1", "name", D(2014, 1, 1), string_value=v) for v in ("b", "c", "a")]
    first = winners(spark, features, rows, "2014-12-31")[("e1", "name")].string_value
    again = winners(spark, features, list(reversed(rows)), "2014-12-31")
    assert first == again[("e1", "name")].string_value == "c"


def test_result_has_the_fact_schema(spark, features):
    out = latest_facts(facts_frame(spark, [fact("e1", "age", D(2014, 1, 1), int_value=1)]),
                       features, "2014-12-31")
    assert out.columns == [f.name for f in FACT_SCHEMA.fields]


@pytest.fixture(scope="module")
def stored(spark):
    rows = [
        fact("e1", "age", D(2014, 1, 1), int_value=42),
        fact("e1", "name", D(2014, 1, 1), string_value="a|b\nc"),
        fact("e1", "score", D(2014, 1, 1), double_value=1e7),
        fact("e1", "seen", D(2014, 1, 1), string_value="set values are never emitted"),
        fact("e2", "age", D(2014, 1, 1), tombstone=True),
        fact("e3", "score", D(2014, 1, 1), double_value=0.1),
    ]
    return facts_frame(spark, rows).drop("priority")


def _lines(frame):
    return [r.value for r in frame.collect()]


def test_sparse_extract_emits_state_values_only_section_9_2(spark, features, stored):
    values = emitted_values(stored, features, "NA")
    out = {"delimiter": "|", "escaped": False, "missing": "NA"}
    assert _lines(sparse_lines(values, out)) == [
        "e1|ns|age|42", "e1|ns|name|a|b\nc", "e1|ns|score|1.0E7", "e3|ns|score|0.1"]


def test_sparse_escaped_extract_escapes_values_section_9_2(spark, features, stored):
    values = emitted_values(stored, features, "NA")
    out = {"delimiter": "|", "escaped": True, "missing": "NA"}
    assert "e1|ns|name|a\\|b\\nc" in _lines(sparse_lines(values, out))


def test_dense_extract_has_a_column_per_feature_section_9_3(spark, features, stored):
    values = emitted_values(stored, features, "NA")
    out = {"delimiter": ",", "escaped": False, "missing": "-"}
    # feature index: age, latest_seen, name, score, seen
    assert _lines(dense_lines(values, 5, out)) == [
        "e1,42,-,a|b\nc,1.0E7,-", "e3,-,-,-,0.1,-"]


def test_emitted_values_shape(spark, features, stored):
    values = emitted_values(stored, features, "NA")
    expected = spark.createDataFrame(
        [("e3", "ns", "score", 3, "0.1", 3, 0)], "entity string, namespace string, "
        "name string, index int, value string, source_index int, position int")
    assert_df_equality(values.filter(F.col("entity") == "e3"), expected,
                       ignore_nullable=True, ignore_row_order=True)


def test_packed_ordering_key_orders_like_date_seconds_then_priority_section_7_2(spark):
    """The ``long`` key of latest_facts sorts exactly like (date, seconds, -priority) over the
    valid range of §5.3 (1600-03-01..3000-12-31) and priorities 1..32767 (§6)."""
    import random

    from ivory.jobs.snapshot import ordering_key

    rng = random.Random(7)
    edges = [D(1600, 3, 1), D(1600, 3, 2), D(1999, 12, 31), D(2000, 1, 1), D(3000, 12, 31)]
    rows = []
    for _ in range(300):
        day = rng.choice(edges) if rng.random() < 0.3 else D.fromordinal(
            rng.randint(D(1600, 3, 1).toordinal(), D(3000, 12, 31).toordinal()))
        rows.append((day, rng.choice([0, 1, 86399, rng.randint(0, 86399)]),
                     rng.choice([1, 2, 32766, 32767, rng.randint(1, 32767)])))
    frame = spark.createDataFrame(rows, "date date, seconds int, priority int")
    keyed = frame.select("date", "seconds", "priority",
                         ordering_key(F.col("date"), F.col("seconds"), F.col("priority"))
                         .alias("key")).collect()
    by_key = sorted(keyed, key=lambda r: r.key)
    by_rule = sorted(keyed, key=lambda r: (r.date, r.seconds, -r.priority))
    assert [r.key for r in by_key] == [r.key for r in by_rule]
    distinct = {(r.date, r.seconds, r.priority) for r in keyed}
    assert len({r.key for r in keyed}) == len(distinct)


def test_unused_value_columns_are_left_out_without_changing_the_winner(spark, features):
    """latest_facts with the dictionary's encodings gives the same rows as with every value
    column (the pruning is an optimisation only), unused columns typed and null."""
    from ivory.jobs.snapshot import carried_values

    assert carried_values({"int"}) == ["tombstone", "int_value"]
    assert carried_values({"(s:string,i:int*)", "[string]", "long"}) == [
        "tombstone", "long_value", "struct_value", "list_value"]
    assert carried_values(None)[0] == "tombstone" and "string_value" in carried_values(None)
    rows = [
        fact("e1", "age", D(2014, 1, 1), int_value=1),
        fact("e1", "age", D(2014, 1, 1), int_value=4, priority=2),
        fact("e1", "name", D(2014, 1, 2), string_value="b"),
        fact("e1", "name", D(2014, 1, 2), string_value="a"),  # exact tie: value order
        fact("e2", "score", D(2014, 1, 3), double_value=0.5),
        fact("e2", "score", D(2014, 1, 3), tombstone=True),
    ]
    frame = facts_frame(spark, rows)
    pruned = latest_facts(frame, features, "2014-12-31", {"int", "string", "double"})
    full = latest_facts(frame, features, "2014-12-31")
    assert pruned.schema == full.schema
    assert_df_equality(pruned, full, ignore_row_order=True)
    assert {r.entity + r.name: r.int_value or r.string_value or r.tombstone
            for r in pruned.collect()} == {"e1age": 1, "e1name": "b", "e2score": True}
