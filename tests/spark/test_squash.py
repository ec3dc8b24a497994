"""The windowed selection of §7.3 and the squash (§8) on small DataFrames, against the
pure-Python reference."""

from __future__ import annotations

import datetime as dt

from pyspark.sql.types import IntegerType, StructField, StructType

from ivory.dictionary import parse_dictionary
from ivory.jobs.columns import FACT_SCHEMA
from ivory.jobs.squash import (
    chord_squash_values,
    read_groups,
    squash_values,
    starts_frame,
    windowed_facts,
)
from ivory.planning import build_feature_table, build_squash_table

D = dt.date
DICTIONARY = parse_dictionary(
    "ns:st|encoding=int\n"
    "ns:se|encoding=int|mode=set\n"
    "ns:st_sum|source=ns:st|expression=sum|window=10 days\n"
    "ns:se_count|source=ns:se|expression=count|window=10 days\n"
    "ns:se_latest|source=ns:se|expression=latestN,5|window=10 days\n")
PLAN = {"features": build_feature_table(DICTIONARY), "squash": build_squash_table(DICTIONARY)}


def fact(name, date, value, priority=1, seconds=0, tombstone=False):
    row = {c.name: None for c in FACT_SCHEMA.fields}
    row.update(entity="e", namespace="ns", name=name, date=date, seconds=seconds,
               tombstone=tombstone, int_value=None if tombstone else value, priority=priority)
    return row


def frame(spark, rows):
    schema = StructType([*FACT_SCHEMA.fields, StructField("priority", IntegerType(), False)])
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


ROWS = [
    fact("st", D(2014, 6, 1), 1), fact("st", D(2014, 6, 2), 2),  # <= W: only 06-02 kept
    fact("st", D(2014, 6, 25), 3, priority=2), fact("st", D(2014, 6, 25), 4, priority=1),
    fact("st", D(2014, 7, 2), 9),  # after the date
    fact("se", D(2014, 6, 2), 5), fact("se", D(2014, 6, 25), 6, priority=2),
    fact("se", D(2014, 6, 25), 6, priority=1),  # sets keep exact duplicates (§4.1)
]


def test_windowed_selection_keeps_facts_after_w_and_the_last_before_section_7_3(spark):
    starts = starts_frame(spark, read_groups(PLAN), "2014-07-01")  # W = 2014-06-21
    kept = windowed_facts(frame(spark, ROWS), starts, "2014-07-01").collect()
    got = sorted((r.name, r.date.isoformat(), r.int_value) for r in kept)
    assert got == [("se", "2014-06-02", 5), ("se", "2014-06-25", 6), ("se", "2014-06-25", 6),
                   ("st", "2014-06-02", 2), ("st", "2014-06-25", 4)]  # priority 1 wins (§6)


def test_squash_values_match_the_reference_section_8(spark):
    starts = starts_frame(spark, read_groups(PLAN), "2014-07-01")
    stored = windowed_facts(frame(spark, ROWS), starts, "2014-07-01")
    values = {(r.name, r.value, r.position, r.source_index)
              for r in squash_values(stored, PLAN, "2014-07-01").collect()}
    # st_sum: carried-in 06-02 (2) + 06-25 (4); set count and latestN see 06-25 twice.
    assert values == {("st_sum", "6", 1, 3), ("se_count", "2", 2, 0),
                      ("se_latest", "[6,6]", 1, 0)}


KEYED = parse_dictionary(
    "ns:ks|encoding=(a:int,b:boolean,c:string*)|mode=keyed_set,a,b\n"
    "ns:ks_count|source=ns:ks|expression=count|window=1 year\n")
KEYED_PLAN = {"features": build_feature_table(KEYED), "squash": build_squash_table(KEYED)}


def keyed(date, a, b, c, priority, tombstone=False):
    """A keyed_set fact; ``struct_value`` holds the present fields in declaration order."""
    row = fact("ks", date, None, priority=priority, tombstone=tombstone)
    row["int_value"] = None
    if not tombstone:
        row["struct_value"] = [{"name": "a", "int_value": a}, {"name": "b", "boolean_value": b},
                               {"name": "c", "string_value": c}]
    return row


# After the upstream keyed_set case: the same key at the same datetime is one fact (the
# higher priority wins), another key or datetime is another fact.
KEYED_ROWS = [
    keyed(D(2014, 4, 1), 0, True, "a1", 2),
    keyed(D(2014, 4, 2), 0, True, "a2", 2), keyed(D(2014, 4, 2), 0, True, "x", 1),
    keyed(D(2014, 4, 2), 0, False, "y", 1),  # another key (b differs): kept
    keyed(D(2014, 4, 2), None, None, None, 2, tombstone=True),
    keyed(D(2014, 4, 2), None, None, None, 1, tombstone=True),  # tombstones: one kept
]


def test_keyed_set_facts_dedup_by_datetime_and_key_in_windowed_snapshots_section_7_3(spark):
    """§7.3 with §6/§4.1: a windowed snapshot stores one keyed_set fact per (datetime,
    tombstone, key values), the highest priority winning."""
    starts = starts_frame(spark, read_groups(KEYED_PLAN), "2014-04-02")
    kept = windowed_facts(frame(spark, KEYED_ROWS), starts, "2014-04-02").collect()
    got = sorted((r.date.isoformat(), r.tombstone,
                  tuple(sorted((f.name, f.int_value, f.boolean_value, f.string_value)
                               for f in r.struct_value or []))) for r in kept)
    assert got == [
        ("2014-04-01", False, (("a", 0, None, None), ("b", None, True, None),
                               ("c", None, None, "a1"))),
        ("2014-04-02", False, (("a", 0, None, None), ("b", None, False, None),
                               ("c", None, None, "y"))),
        ("2014-04-02", False, (("a", 0, None, None), ("b", None, True, None),
                               ("c", None, None, "x"))),
        ("2014-04-02", True, ()),
    ]
    values = {(r.name, r.value) for r in squash_values(
        windowed_facts(frame(spark, KEYED_ROWS), starts, "2014-04-02"), KEYED_PLAN,
        "2014-04-02").collect()}
    assert values == {("ks_count", "3")}  # a1, x, y: 4 without the key de-duplication


def test_keyed_set_facts_dedup_by_datetime_and_key_in_chords_section_10(spark):
    """§10 with §6: a chord's virtual features see the keyed_set facts de-duplicated like a
    snapshot at the chord date."""
    requests = spark.createDataFrame([("e", D(2014, 4, 1)), ("e", D(2014, 4, 2))],
                                     "entity string, chord_date date")
    got = {(r.chord_date.isoformat(), r.name, r.value) for r in chord_squash_values(
        frame(spark, KEYED_ROWS), requests, KEYED_PLAN).collect()}
    assert got == {("2014-04-01", "ks_count", "1"), ("2014-04-02", "ks_count", "3")}
