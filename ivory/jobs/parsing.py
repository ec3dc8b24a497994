"""Parsing text fact lines into facts or error records with DataFrame expressions (§5.2-§5.4).

The Spark twin of :func:`ivory.facts.parse_fact_line`: the same checks in the same order
with the same messages; ``tests/spark/test_parsing.py`` compares the two line by line.

Parsing is staged in successive projections. Spark keeps a projection whose expensive
columns are used several times by the next one (it only inlines cheap or once-used
columns), so each regex, cast and time-zone conversion runs once per line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ivory.dictionary import parse_encoding
from ivory.encoding import ListEncoding, PrimitiveEncoding, StructEncoding
from ivory.jobs.columns import (
    ELEMENT,
    FIELD,
    MAX_DATE,
    MAX_ENTITY_LENGTH,
    MIN_DATE,
    java_trim,
    regex_quote,
    split_escaped,
)

# Anchored with \z: a Java regex ``$`` also matches before a final line terminator (``\n``,
# ``\r``, U+0085, U+2028, ...), so ``12\r`` would pass as an integer.
_LOCAL = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}\z"
_ZONED = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:?[0-9]{2})\z"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\z"
_INTEGRAL = r"^[+-]?[0-9]+\z"

# --- JSON values of struct and list features (§4.2) ------------------------------------------
#
# Spark's from_json cannot say which JSON type a token had when it reads it as a string (the
# string "12" and the number 12 both give "12"). So every string literal of the raw text first
# gets a marker character after its opening quote: read back as strings, string tokens start
# with the marker and no other token does (numbers, true/false, re-serialised objects and
# arrays). Valid JSON stays valid and keeps its structure, because outside string literals
# JSON has no quote characters.
#
# Validity: the raw text is read as the one element of "[" + raw + "]". Known differences
# from the reference (json.loads), not drawn by the differential test: Spark stops after the
# first complete value, so a raw text that closes the wrapper early and continues
# (``{"a":1}],[{}``) is accepted; an escaped lone surrogate (``"\ud800"``) becomes ``?``
# (Spark strings are UTF-8).
_TAG = "\ufdd0"
_STRING_LITERAL = r'(?s)"((?:[^"\\]|\\.)*)"'
_JSON_OPTIONS = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "false",
                 "allowNumericLeadingZeros": "false", "mode": "PERMISSIVE"}
_JSON_NUMBER = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\z"
_JSON_INTEGER = r"^-?[0-9]+\z"
_WHAT = {"boolean": "is not a boolean", "int": "is not an integer", "long": "is not a long",
         "double": "is not a double", "string": "is not a string", "date": "is not a date"}
#: Columns the feature table of :func:`parse_facts` needs for structs and lists.
COMPLEX_FEATURE_SCHEMA = (
    "kind string, fields array<struct<name string, encoding string, optional boolean>>, "
    "element string"
)


def complex_feature_columns(encoding: str) -> dict[str, Any]:
    """``kind`` (a primitive's text, ``struct`` or ``list``), ``fields`` (the struct's or
    the list element struct's fields in declaration order: ``name``, ``encoding``,
    ``optional``) and ``element`` (a list's element: a primitive's text or ``struct``) of an
    encoding text (§3.2); ``{"kind": ""}`` for virtual features (no encoding)."""
    if not encoding:
        return {"kind": "", "fields": None, "element": None}
    parsed = parse_encoding(encoding)
    if isinstance(parsed, PrimitiveEncoding):
        return {"kind": parsed.value, "fields": None, "element": None}
    element = parsed.element if isinstance(parsed, ListEncoding) else None
    struct = parsed if isinstance(parsed, StructEncoding) else element
    fields = None
    if isinstance(struct, StructEncoding):
        fields = [{"name": f.name, "encoding": f.encoding.value, "optional": f.optional}
                  for f in struct.fields]
    return {
        "kind": "struct" if isinstance(parsed, StructEncoding) else "list",
        "fields": fields,
        "element": None if element is None else (
            "struct" if isinstance(element, StructEncoding) else element.value),
    }


def with_complex_columns(features: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Feature-table rows (``encoding`` text) with :func:`complex_feature_columns` added."""
    return [{**row, **complex_feature_columns(str(row.get("encoding") or ""))}
            for row in features]


def _json_text(text: Column) -> Column:
    """``array<string>`` of one JSON value's text, or null when ``text`` is not JSON."""
    return F.from_json(text, "array<string>", _JSON_OPTIONS)


def _typed(token: Column, encoding: Column) -> Column:
    """One tagged JSON token (see ``_TAG``) as a primitive of ``encoding``: a struct of the
    primitive value columns plus ``ok`` (false when the token is not of the encoding)."""
    is_string = token.startswith(_TAG)
    content = token.substr(F.lit(2), F.length(token))
    integral = ~is_string & token.rlike(_JSON_INTEGER)
    number = ~is_string & token.rlike(_JSON_NUMBER)
    double = F.when((encoding == "double") & number, token.cast("double"))
    date = F.when((encoding == "date") & is_string, _make_date(content))
    values = {
        "boolean_value": F.when((encoding == "boolean") & token.isin("true", "false"),
                                token == "true"),
        "int_value": F.when((encoding == "int") & integral, token.cast("int")),
        "long_value": F.when((encoding == "long") & integral, token.cast("long")),
        "double_value": F.when(~F.isnan(double) & (F.abs(double) != F.lit(float("inf"))),
                               double),
        "string_value": F.when((encoding == "string") & is_string, content),
        "date_value": F.when(_in_range(date), date),
    }
    ok = values["boolean_value"].isNotNull()
    for column in list(values)[1:]:
        ok = ok | values[column].isNotNull()
    return F.struct(*[v.alias(k) for k, v in values.items()], ok.alias("ok"))


def _what(encoding: Column) -> Column:
    out = F.when(F.lit(False), F.lit(None).cast("string"))
    for name, text in _WHAT.items():
        out = out.when(encoding == name, F.lit(text))
    return out


def _struct_entries(fields: Column, tagged_object: Column, raw: Column) -> Column:
    """Check a JSON object (tagged text) against struct ``fields`` (§4.2): returns a struct
    of ``error`` (the first failing field's message in declaration order, or null) and
    ``value`` (``array<FIELD>`` of the present fields)."""
    # from_json keeps every entry of a repeated key; the last one wins, as in Python's json.
    entries = F.map_entries(F.from_json(tagged_object, "map<string,string>", _JSON_OPTIONS))

    def token(name: Column) -> Column:
        key = F.concat(F.lit(_TAG), name)
        return F.element_at(F.filter(entries, lambda e: e["key"] == key), -1)["value"]

    checked = F.transform(fields, lambda f: F.struct(
        f["name"].alias("name"), f["optional"].alias("optional"), f["encoding"].alias("enc"),
        token(f["name"]).alias("token")))
    typed = F.transform(checked, lambda c: F.struct(
        c["name"].alias("name"),
        c["token"].isNotNull().alias("present"),
        _typed(c["token"], c["enc"]).alias("typed"),
        F.when(c["token"].isNull(), F.when(~c["optional"], F.concat(
            F.lit("Mandatory field '"), c["name"], F.lit("' not found in '"), raw, F.lit("'"))))
        .alias("missing"),
        c["enc"].alias("enc")))
    errors = F.transform(typed, lambda t: F.coalesce(t["missing"], F.when(
        t["present"] & ~t["typed"]["ok"], F.concat(
            F.lit("Field '"), t["name"], F.lit("' in '"), raw, F.lit("' "), _what(t["enc"])))))
    value = F.transform(F.filter(typed, lambda t: t["present"]), lambda t: F.struct(
        t["name"].alias("name"),
        *[t["typed"][c].alias(c) for c in
          ("boolean_value", "int_value", "long_value", "double_value", "string_value",
           "date_value")]))
    return F.struct(
        F.element_at(F.filter(errors, lambda e: e.isNotNull()), 1).alias("error"),
        value.alias("value"))


def _complex_value(kind: Column, raw: Column, fields: Column, element: Column) -> Column:
    """Parse the JSON value of a struct or list feature (§4.2), the twin of
    :func:`ivory.values.parse_value`: a struct of ``tombstone`` (JSON ``null``), ``error``
    (the message, or null) and the ``struct_value`` / ``list_value`` columns."""
    tagged = F.regexp_replace(raw, _STRING_LITERAL, _TAG.join(['"', '$1"']))
    wrapped = _json_text(F.concat(F.lit("["), tagged, F.lit("]")))
    valid = F.coalesce(F.size(wrapped) == 1, F.lit(False))
    top = F.element_at(wrapped, 1)
    is_null = valid & top.isNull()
    struct = _struct_entries(fields, top, raw)
    items = _json_text(top)
    items_indexed = F.transform(items, lambda t, i: F.struct(t.alias("t"), i.alias("i")))

    def element_error(item: Column) -> Column:
        where = F.concat(F.lit("Element "), item["i"].cast("string"), F.lit(" of '"), raw,
                         F.lit("' "))
        return F.when(element == "struct", F.when(
            ~F.coalesce(item["t"].startswith("{"), F.lit(False)),
            F.concat(where, F.lit("is not a JSON object")))
            .otherwise(_struct_entries(fields, item["t"], raw)["error"])
        ).when(~_typed(item["t"], element)["ok"], F.concat(where, _what(element)))

    list_error = F.element_at(
        F.filter(F.transform(items_indexed, element_error), lambda e: e.isNotNull()), 1)
    list_value = F.transform(items, lambda t: F.struct(
        *[_typed(t, element)[c].alias(c) for c in
          ("boolean_value", "int_value", "long_value", "double_value", "string_value",
           "date_value")],
        F.when(element == "struct", _struct_entries(fields, t, raw)["value"])
        .alias("struct_value")))
    is_object = F.coalesce(top.startswith("{"), F.lit(False))
    is_array = F.coalesce(top.startswith("["), F.lit(False))
    error = (
        F.when(~valid, F.concat(F.lit("Value '"), raw, F.lit("' is not valid JSON")))
        .when(is_null, F.lit(None))
        .when((kind == "struct") & ~is_object,
              F.concat(F.lit("Value '"), raw, F.lit("' is not a JSON object")))
        .when(kind == "struct", struct["error"])
        .when(~is_array, F.concat(F.lit("Value '"), raw, F.lit("' is not a JSON array")))
        .otherwise(list_error)
    )
    good = valid & ~is_null
    return F.struct(
        is_null.alias("tombstone"),
        error.alias("error"),
        F.when(good & (kind == "struct"), struct["value"]).alias("struct_value"),
        F.when(good & (kind == "list"), list_value).alias("list_value"),
    )


def _in_range(date: Column) -> Column:
    return date.between(F.lit(MIN_DATE).cast("date"), F.lit(MAX_DATE).cast("date"))


def _make_date(text: Column) -> Column:
    """``yyyy-MM-dd`` -> date via ``make_date`` (null for an invalid day), no range check."""
    return F.when(text.rlike(_DATE), F.make_date(
        F.substring(text, 1, 4).cast("int"), F.substring(text, 6, 2).cast("int"),
        F.substring(text, 9, 2).cast("int")))


def _offset(text: Column) -> Column:
    """The offset of the zoned form without its colon: ``Z``, ``+hhmm`` or ``-hhmm``."""
    return F.regexp_replace(F.substring(text, 20, 6), ":", "")


def _offset_ok(text: Column) -> Column:
    """Offset hours 00-23 and minutes 00-59 (``Z`` is fine)."""
    offset = _offset(text)
    return (offset == "Z") | ((F.substring(offset, 2, 2).cast("int") <= 23)
                              & (F.substring(offset, 4, 2).cast("int") <= 59))


def _offset_seconds(text: Column) -> Column:
    """The offset of the zoned form in seconds east of UTC."""
    offset = _offset(text)
    size = F.substring(offset, 2, 2).cast("int") * 3600 + F.substring(offset, 4, 2).cast("int") * 60
    return (F.when(offset == "Z", F.lit(0)).when(F.substring(offset, 1, 1) == "-", -size)
            .otherwise(size))


def _timestamp(text: Column, ingest_zone: str, repo_zone: str) -> Column:
    """The fact's wall-clock time in the repository zone (a UTC-session timestamp), for the
    19-character local form and the offset form of §5.3; null otherwise or when invalid.

    Local times in a DST gap move forward by the gap and take the earlier offset in an
    overlap (java.time ``ZonedDateTime.of``, as :func:`ivory.facts.parse_datetime`).

    The offset is applied by arithmetic: java.time offsets (the ``XXX`` pattern) stop at
    ±18:00, while §5.3 allows hours up to 23."""
    # The first 19 characters as a wall-clock time, in seconds since the epoch (UTC session).
    wall = F.unix_timestamp(F.translate(F.substring(text, 1, 19), "T", " "),
                            "yyyy-MM-dd HH:mm:ss")
    return (
        F.when((F.length(text) == 19) & text.rlike(_LOCAL),
               F.from_utc_timestamp(F.to_utc_timestamp(F.timestamp_seconds(wall), ingest_zone),
                                    repo_zone))
        .when((F.length(text) != 10) & text.rlike(_ZONED) & _offset_ok(text),
              F.from_utc_timestamp(F.timestamp_seconds(wall - _offset_seconds(text)), repo_zone))
    )


def split_lines(lines: DataFrame, text_format: dict[str, object]) -> DataFrame:
    """Add ``fields`` (``array<string>``) to ``lines`` (which has ``line``), §5.2.

    ``delimited``: Java ``String.split`` (trailing empty fields dropped, ``""`` is one empty
    field); with exactly four fields the fourth is trimmed. ``escaped``: see
    :func:`ivory.jobs.columns.split_escaped`.
    """
    delimiter = str(text_format["delimiter"])
    if text_format.get("escaped"):
        return lines.select("*", split_escaped(F.col("line"), delimiter).alias("fields"))
    d = regex_quote(delimiter)
    line = F.col("line")
    # trailing delimiters (\z, not $: see the patterns above)
    staged = lines.select("*", F.regexp_replace(line, f"(?:{d})+\\z", "").alias("_stripped"))
    stripped = F.col("_stripped")
    staged = staged.select(
        "*",
        F.when(stripped == "", F.when(line == "", F.array(F.lit("")))
               .otherwise(F.array().cast("array<string>")))
        .otherwise(F.split(stripped, d, -1)).alias("_split"),
    )
    split = F.col("_split")
    fields = F.when(
        F.size(split) == 4,
        F.concat(F.slice(split, 1, 3), F.array(java_trim(F.element_at(split, 4)))),
    ).otherwise(split)
    return staged.select(*lines.columns, fields.alias("fields"))


def split_columns(lines: DataFrame) -> DataFrame:
    """``fields`` (array<string>) -> ``n``, ``entity``, ``name``, ``raw``, ``when``."""
    f = F.col("fields")
    return lines.select(
        "*",
        F.size(f).alias("n"),
        F.element_at(f, 1).alias("entity"),
        F.element_at(f, 2).alias("name"),
        F.element_at(f, 3).alias("raw"),
        F.element_at(f, 4).alias("when"),
    ).select("*")


def parse_facts(lines: DataFrame, features: DataFrame, ingest_zone: str, repo_zone: str,
                complex_values: bool | None = None) -> DataFrame:
    """Parse split lines into facts or errors (§5.2-§5.4).

    Struct and list values are parsed by higher-order functions (``transform``, ``filter``),
    which Spark evaluates without whole-stage code generation; they get a projection of
    their own, and none at all when the dictionary has no struct or list feature
    (``complex_values=False``; None asks the feature table, one small Spark job).

    Args:
        lines: ``line`` string, ``path`` string, ``namespace`` string and ``fields``
            ``array<string>`` (from :func:`split_lines`).
        features: the dictionary table (``namespace``, ``name``, ``virtual``,
            ``encoding``, ``tombstones``, and for struct/list features ``fields`` and
            ``element`` of :data:`COMPLEX_FEATURE_SCHEMA`, see :func:`with_complex_columns`),
            broadcast.
        ingest_zone / repo_zone: IANA zone ids (§5.3).

    Returns:
        The fact columns of :data:`ivory.jobs.columns.FACT_SCHEMA` plus ``line``, ``path``,
        ``input_partition`` (int) and ``error``: the §5.4 message
        ``<fields joined by ", ">\\n<reason> (position: p)``, null for a good fact.
    """
    encoding = F.col("encoding")
    table = F.broadcast(features.select(
        "namespace", "name", F.col("virtual").alias("_virtual"),
        F.when(encoding.startswith("("), F.lit("struct"))
        .when(encoding.startswith("["), F.lit("list")).otherwise(encoding).alias("_encoding"),
        F.col("tombstones").alias("_tombstones"),
        (F.col("fields") if "fields" in features.columns else F.lit(None).cast(
            "array<struct<name string, encoding string, optional boolean>>")).alias("_fields"),
        (F.col("element") if "element" in features.columns else F.lit(None).cast("string"))
        .alias("_element"),
    ))
    df = split_columns(lines).join(table, ["namespace", "name"], "left")
    tomb = F.coalesce(F.array_contains(F.col("_tombstones"), F.col("raw")), F.lit(False))
    if "thrift_tombstone" in lines.columns:  # Thrift input (§5.5): the union says so
        tomb = tomb | F.coalesce(F.col("thrift_tombstone"), F.lit(False))
    # Stage 1: which parser applies, and the raw candidates.
    df = df.select("*", F.when(tomb, "tombstone").otherwise(F.col("_encoding")).alias("_kind"))
    raw, kind = F.col("raw"), F.col("_kind")
    lowered = F.lower(raw)
    df = df.select(
        "*",
        F.when(kind == "boolean", F.when(lowered == "true", True).when(lowered == "false", False))
        .alias("boolean_value"),
        F.when((kind == "int") & raw.rlike(_INTEGRAL), raw.cast("int")).alias("int_value"),
        F.when((kind == "long") & raw.rlike(_INTEGRAL), raw.cast("long")).alias("long_value"),
        F.when(kind == "double", raw.cast("double")).alias("_double"),
        F.when(kind == "string", raw).alias("string_value"),
        F.when(kind == "date", _make_date(raw)).alias("_date_value"),
        F.when(F.length("when") == 10, _make_date(F.col("when"))).alias("_day"),
        _timestamp(F.col("when"), ingest_zone, repo_zone).alias("_stamp"),
    )
    if complex_values is None:
        complex_values = features.filter(
            F.col("encoding").startswith("(") | F.col("encoding").startswith("[")).count() > 0
    complex_type = (
        f"struct<tombstone boolean, error string, struct_value array<{FIELD.simpleString()}>, "
        f"list_value array<{ELEMENT.simpleString()}>>")
    df = df.select("*", F.when(kind.isin("struct", "list"), _complex_value(
        kind, raw, F.col("_fields"), F.col("_element"))).alias("_complex")
        if complex_values else F.lit(None).cast(complex_type).alias("_complex"))
    # Stage 2: validity checks and the fact's date and seconds.
    double, date_value, stamp = F.col("_double"), F.col("_date_value"), F.col("_stamp")
    date = F.when(F.length("when") == 10, F.col("_day")).otherwise(F.to_date(stamp))
    df = df.select(
        "*",
        ((kind == "tombstone") | F.coalesce(F.col("_complex.tombstone"), F.lit(False)))
        .alias("tombstone"),
        F.col("_complex.struct_value").alias("struct_value"),
        F.col("_complex.list_value").alias("list_value"),
        F.when(~F.isnan(double) & (F.abs(double) != F.lit(float("inf"))), double)
        .alias("double_value"),
        F.when(_in_range(date_value), date_value).alias("date_value"),
        F.when(_in_range(date), date).alias("date"),
        F.when(F.length("when") == 10, F.lit(0))
        .otherwise(F.hour(stamp) * 3600 + F.minute(stamp) * 60 + F.second(stamp))
        .alias("seconds"),
    )

    def value_error(name: str, column: str, what: str) -> Column:
        return F.when((kind == name) & F.col(column).isNull(),
                      F.concat(F.lit("Value '"), raw, F.lit(f"' is not {what}")))

    n = F.col("n")
    entity = F.col("entity")

    def fail(reason: Column | str, position: int) -> Column:
        reason = F.lit(reason) if isinstance(reason, str) else reason
        return F.struct(reason.alias("reason"), F.lit(position).alias("position"))

    def count_error(position: int) -> Column:
        return fail(F.concat(F.lit("Expected 4 fields but found "), n.cast("string")), position)

    feature_id = F.concat(F.col("namespace"), F.lit(":"), F.col("name"))
    value_failure = F.coalesce(
        value_error("boolean", "boolean_value", "a boolean"),
        value_error("int", "int_value", "an integer"),
        value_error("long", "long_value", "a long"),
        value_error("double", "double_value", "a double"),
        value_error("date", "date_value", "a date"),
        F.col("_complex.error"),
    )
    too_long = (F.length(entity) > MAX_ENTITY_LENGTH) | (
        (F.length(entity) > MAX_ENTITY_LENGTH // 2)
        & (F.octet_length(F.encode(entity, "UTF-16BE")) > 2 * MAX_ENTITY_LENGTH))
    # Stage 3: the first failing check, in the order of ivory.facts.parse_fact_line.
    # Thrift input (§5.5): bytes that are no ThriftFact fail first.
    decode_error = F.col("decode_error") if "decode_error" in lines.columns else F.lit(None)
    failure = (
        F.when(decode_error.isNotNull(), fail(decode_error.cast("string"), 1))
        .when(n < 1, count_error(1))
        .when(entity == "", fail("Entity id is empty", 1))
        .when(n < 2, count_error(2))
        .when(F.col("name") == "", fail("Attribute is empty", 2))
        .when(n < 3, count_error(3))
        .when(F.col("_virtual").isNull(),
              fail(F.concat(F.lit("Could not find dictionary entry for '"), feature_id,
                            F.lit("'")), 3))
        .when(F.col("_virtual"), fail(F.concat(F.lit("Cannot import virtual feature "),
                                              feature_id), 3))
        .when(value_failure.isNotNull(), fail(value_failure, 3))
        .when(n < 4, count_error(4))
        .when(F.col("date").isNull(),
              fail(F.concat(F.lit("Could not parse '"), F.col("when"),
                            F.lit("' at position '4'")), 4))
        .when(too_long, fail(F.concat(F.lit("Entity id '"), entity,
                                      F.lit(f"' too large! Max length is {MAX_ENTITY_LENGTH}")),
                             4))
        .when(n > 4, count_error(5))
    )
    df = df.select("*", failure.alias("_failure"))
    error = F.when(
        F.col("_failure").isNotNull(),
        F.concat(F.array_join(F.col("fields"), ", "), F.lit("\n"), F.col("_failure.reason"),
                 F.lit(" (position: "), F.col("_failure.position").cast("string"), F.lit(")")),
    )
    return df.select(
        "entity", "namespace", "name", "date", "seconds", "tombstone", "boolean_value",
        "int_value", "long_value", "double_value", "string_value", "date_value",
        "struct_value", "list_value", "line", "path", error.alias("error"),
        F.spark_partition_id().alias("input_partition"),
    )


def is_fact(parsed: DataFrame) -> Column:
    """Filter condition selecting the good facts of :func:`parse_facts`.

    It names the nondeterministic ``input_partition`` column on purpose: Spark does not push
    a filter through a projection holding a nondeterministic column, so the filter runs on
    the parsed rows. Pushed down, it would inline the staged columns into one expression many
    times their size (generated code over 64 KB, which Spark then runs without whole-stage
    code generation, several times slower).
    """
    return parsed["error"].isNull() & (parsed["input_partition"] >= 0)


def is_error(parsed: DataFrame) -> Column:
    """Filter condition selecting the error records of :func:`parse_facts` (see
    :func:`is_fact`)."""
    return parsed["error"].isNotNull() & (parsed["input_partition"] >= 0)
