"""The validate job: every stored fact of some factsets checked against the dictionary.

Plan (from :func:`ivory.validate.build_validate_plan`)::

    {"job": "validate", "examples": 5,
     "features": [{"namespace", "name", "index", "virtual", "encoding", "mode",
                   "tombstones"}],
     "sources": [{"factset": "00000001", "files": ["file:///repo/factsets/00000001/..."]}]}

Each fact gets the first violation that applies, in this order (the ``kind`` names):

=========================  ================================================================
kind                       the fact ...
=========================  ================================================================
unknown-feature            names a feature that is not in the dictionary (§6: snapshots
                           drop it silently)
virtual-feature            names a virtual feature, which cannot have facts (§5.2)
date-out-of-range          has a date outside 1600-03-01..3000-12-31 or seconds outside
                           0..86399 (§5.3)
tombstone-not-declared     is a tombstone of a primitive feature that declares no tombstone
                           string (§4.1; struct/list tombstones come from JSON ``null``)
wrong-encoding             has a value that is not of the feature's encoding: another value
                           column set, a struct field not declared or of another type, a
                           list element of another type, a date value out of range (§4.2)
missing-mandatory-field    is a struct (or a list of structs) without a mandatory field
=========================  ================================================================

Returns ``{"facts": int, "counts": {kind: int}, "examples": {kind: [example]}}`` where an
example is ``{"entity", "feature", "value", "date", "factset", "reason"}`` (``date`` as
``yyyy-MM-ddTHH:mm:ss``; ``value`` rendered as JSON/§4.3 from whatever column is set).
Writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ivory.jobs import columns as C
from ivory.jobs.parsing import COMPLEX_FEATURE_SCHEMA, with_complex_columns
from ivory.schema import PRIMITIVE_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

KINDS = ("unknown-feature", "virtual-feature", "date-out-of-range", "tombstone-not-declared",
         "wrong-encoding", "missing-mandatory-field")


def read_facts(spark: SparkSession, sources: list[dict[str, Any]]) -> DataFrame:
    """The facts of every source with a ``factset`` column (string)."""
    frames = [spark.read.schema(C.FACT_SCHEMA).parquet(*s["files"])
              .withColumn("factset", F.lit(s["factset"])) for s in sources if s["files"]]
    if not frames:
        return spark.createDataFrame([], C.FACT_SCHEMA).withColumn("factset", F.lit(""))
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def _only(record: Column, encoding: Column, with_struct: bool) -> Column:
    """True when exactly the value column of primitive ``encoding`` is set in ``record``
    (and a range-checked date for ``date``)."""
    ok = F.lit(True)
    for name, column in PRIMITIVE_COLUMNS.items():
        ok = ok & (record[column].isNotNull() == (encoding == name))
    if with_struct:
        ok = ok & record["struct_value"].isNull()
    date = record["date_value"]
    return ok & (date.isNull() | date.between(F.lit(C.MIN_DATE).cast("date"),
                                              F.lit(C.MAX_DATE).cast("date")))


def _fields_ok(entries: Column, fields: Column) -> Column:
    """Every stored struct field is declared and of its declared encoding."""
    return F.forall(entries, lambda e: F.exists(
        fields, lambda f: (f["name"] == e["name"]) & _only(e, f["encoding"], False)))


def _mandatory_ok(entries: Column, fields: Column) -> Column:
    return F.forall(fields, lambda f: f["optional"] | F.exists(
        entries, lambda e: e["name"] == f["name"]))


def _no_primitive() -> Column:
    ok = F.lit(True)
    for column in PRIMITIVE_COLUMNS.values():
        ok = ok & F.col(column).isNull()
    return ok


def classify(facts: DataFrame, features: DataFrame) -> DataFrame:
    """``facts`` (fact schema + ``factset``) with ``kind`` and ``reason`` of the first
    violation (null for a good fact), see the module docstring."""
    table = F.broadcast(features.select(
        "namespace", "name", F.col("virtual").alias("_virtual"),
        F.col("encoding").alias("_encoding"), F.col("kind").alias("_kind"),
        F.col("tombstones").alias("_tombstones"), F.col("fields").alias("_fields"),
        F.col("element").alias("_element")))
    df = facts.join(table, ["namespace", "name"], "left")
    kind, fields, element = F.col("_kind"), F.col("_fields"), F.col("_element")
    struct_value, list_value = F.col("struct_value"), F.col("list_value")
    row = F.struct(*[F.col(c) for c in PRIMITIVE_COLUMNS.values()])
    prim_ok = _only(row, kind, False) & struct_value.isNull() & list_value.isNull()
    struct_ok = (_no_primitive() & list_value.isNull() & struct_value.isNotNull()
                 & _fields_ok(struct_value, fields))
    list_ok = _no_primitive() & struct_value.isNull() & list_value.isNotNull() & F.forall(
        list_value, lambda e: F.when(
            element == "struct",
            _only(e, F.lit(""), False) & e["struct_value"].isNotNull()
            & _fields_ok(e["struct_value"], fields))
        .otherwise(_only(e, element, True)))
    encoding_ok = (F.when(kind == "struct", struct_ok).when(kind == "list", list_ok)
                   .otherwise(prim_ok))
    mandatory_ok = (F.when(kind == "struct", _mandatory_ok(struct_value, fields))
                    .when((kind == "list") & (element == "struct"), F.forall(
                        list_value, lambda e: _mandatory_ok(e["struct_value"], fields)))
                    .otherwise(F.lit(True)))
    seconds_ok = F.col("seconds").between(0, 86399)
    date_ok = F.col("date").between(F.lit(C.MIN_DATE).cast("date"),
                                    F.lit(C.MAX_DATE).cast("date"))
    feature = F.concat(F.col("namespace"), F.lit(":"), F.col("name"))
    violation = (
        F.when(F.col("_virtual").isNull(), F.struct(
            F.lit("unknown-feature").alias("kind"),
            F.concat(F.lit("feature "), feature, F.lit(" is not in the dictionary"))
            .alias("reason")))
        .when(F.col("_virtual"), F.struct(
            F.lit("virtual-feature").alias("kind"),
            F.concat(F.lit("feature "), feature, F.lit(" is virtual")).alias("reason")))
        .when(~(date_ok & seconds_ok), F.struct(
            F.lit("date-out-of-range").alias("kind"),
            F.concat(F.lit("date "), F.col("date").cast("string"), F.lit(" seconds "),
                     F.col("seconds").cast("string"),
                     F.lit(f" not within {C.MIN_DATE}..{C.MAX_DATE}, 0..86399"))
            .alias("reason")))
        .when(F.col("tombstone") & ~kind.isin("struct", "list")
              & (F.size(F.col("_tombstones")) == 0), F.struct(
            F.lit("tombstone-not-declared").alias("kind"),
            F.concat(F.lit("tombstone, but "), feature, F.lit(" declares no tombstone"))
            .alias("reason")))
        .when(~F.col("tombstone") & ~F.coalesce(encoding_ok, F.lit(False)), F.struct(
            F.lit("wrong-encoding").alias("kind"),
            F.concat(F.lit("value is not of encoding "), F.col("_encoding")).alias("reason")))
        .when(~F.col("tombstone") & ~F.coalesce(mandatory_ok, F.lit(False)), F.struct(
            F.lit("missing-mandatory-field").alias("kind"),
            F.concat(F.lit("a mandatory field of "), F.col("_encoding"),
                     F.lit(" is missing")).alias("reason")))
    )
    return df.select(*facts.columns, violation.alias("violation"))


def render_any(missing: str = "NA") -> Column:
    """The value of a fact row as text from whichever value column is set (§4.3, §4.4)."""
    c = F.col
    return (
        F.when(c("tombstone"), F.lit(missing))
        .when(c("struct_value").isNotNull(), C.render_struct_json(c("struct_value")))
        .when(c("list_value").isNotNull(), C.render_list_json(c("list_value")))
        .when(c("boolean_value").isNotNull(),
              F.when(c("boolean_value"), F.lit("true")).otherwise(F.lit("false")))
        .when(c("int_value").isNotNull(), c("int_value").cast("string"))
        .when(c("long_value").isNotNull(), c("long_value").cast("string"))
        .when(c("double_value").isNotNull(), C.render_double(c("double_value")))
        .when(c("string_value").isNotNull(), c("string_value"))
        .when(c("date_value").isNotNull(), F.date_format(c("date_value"), "yyyy-MM-dd"))
        .otherwise(F.lit(""))
    )


def run(spark: SparkSession, plan: dict[str, Any]) -> dict[str, Any]:
    """Run a validate plan (see the module docstring); writes nothing."""
    features = spark.createDataFrame(
        with_complex_columns(plan["features"]),
        "namespace string, name string, index int, virtual boolean, encoding string, "
        "mode string, tombstones array<string>, " + COMPLEX_FEATURE_SCHEMA,
    )
    checked = classify(read_facts(spark, plan["sources"]), features)
    checked = checked.select("*", F.col("violation.kind").alias("_v")).cache()
    try:
        counts = {r["_v"]: int(r["n"]) for r in
                  checked.groupBy("_v").agg(F.count(F.lit(1)).alias("n")).collect()}
        limit = int(plan.get("examples", 5))
        order = Window.partitionBy("_v").orderBy("factset", "entity", "namespace", "name",
                                                 "date", "seconds")
        seconds = F.col("seconds")
        when = F.concat(F.col("date").cast("string"), F.lit("T"), F.format_string(
            "%02d:%02d:%02d", (seconds / 3600).cast("int"), (seconds / 60 % 60).cast("int"),
            seconds % 60))
        rows = (checked.filter(F.col("_v").isNotNull())
                .select("*", F.row_number().over(order).alias("_n"))
                .filter(F.col("_n") <= limit)
                .select("_v", "_n", "entity",
                        F.concat(F.col("namespace"), F.lit(":"), F.col("name"))
                        .alias("feature"), render_any().alias("value"),
                        when.alias("date"), "factset", F.col("violation.reason")
                        .alias("reason"))
                .orderBy("_v", "_n").collect())
    finally:
        checked.unpersist()
    examples: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        examples.setdefault(r["_v"], []).append(
            {k: r[k] for k in ("entity", "feature", "value", "date", "factset", "reason")})
    return {
        "facts": sum(counts.values()),
        "counts": {k: counts[k] for k in KINDS if k in counts},
        "examples": examples,
    }
