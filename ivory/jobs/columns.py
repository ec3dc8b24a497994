"""Column expressions for facts: the stored fact schema, parsing raw text, rendering values.

These are the Spark twins of the reference implementation in :mod:`ivory.values` and
:mod:`ivory.facts`; ``tests/spark/test_parsing.py`` checks them against it line by line.
All functions are ``Column -> Column`` (no Python UDFs).

Stored fact schema (factsets and snapshots, D2.5), one row per fact:

=================  =========  ============================================================
column             type       meaning
=================  =========  ============================================================
entity             string     entity id, at most 256 characters (§1.2)
namespace          string     feature namespace (§1.2)
name               string     feature name
date               date       fact date in the repository time zone (§5.3)
seconds            int        seconds of the day, 0..86399
tombstone          boolean    the value is a tombstone (§4.1)
boolean_value      boolean    set for ``boolean`` features, else null
int_value          int        set for ``int`` features
long_value         bigint     set for ``long`` features
double_value       double     set for ``double`` features
string_value       string     set for ``string`` features
date_value         date       set for ``date`` features
struct_value       array      set for struct features: ``array<FIELD>``, the present fields
                              in declaration order (:data:`FIELD`)
list_value         array      set for list features: ``array<ELEMENT>`` (:data:`ELEMENT`)
=================  =========  ============================================================

See :mod:`ivory.schema` for why structs and lists are arrays of typed records.
"""

from __future__ import annotations

import re

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from ivory.schema import FACT_COLUMNS


def _primitive_fields() -> list[StructField]:
    return [
        StructField("boolean_value", BooleanType(), True),
        StructField("int_value", IntegerType(), True),
        StructField("long_value", LongType(), True),
        StructField("double_value", DoubleType(), True),
        StructField("string_value", StringType(), True),
        StructField("date_value", DateType(), True),
    ]


#: One present struct field: its name and the column of its primitive encoding (§4.1).
FIELD = StructType([StructField("name", StringType(), True), *_primitive_fields()])
#: One list element: a primitive column, or ``struct_value`` for a list of structs.
ELEMENT = StructType([*_primitive_fields(), StructField("struct_value", ArrayType(FIELD), True)])

FACT_SCHEMA = StructType(
    [
        StructField("entity", StringType(), False),
        StructField("namespace", StringType(), False),
        StructField("name", StringType(), False),
        StructField("date", DateType(), False),
        StructField("seconds", IntegerType(), False),
        StructField("tombstone", BooleanType(), False),
        *_primitive_fields(),
        StructField("struct_value", ArrayType(FIELD), True),
        StructField("list_value", ArrayType(ELEMENT), True),
    ]
)
assert [f.name for f in FACT_SCHEMA.fields] == FACT_COLUMNS

MIN_DATE = "1600-03-01"
MAX_DATE = "3000-12-31"
MAX_ENTITY_LENGTH = 256

# A noncharacter that marks escapes while an escaped line is split (see split_escaped).
_MARK = "\ufdd0"
_JAVA_WHITESPACE = r"[\x00-\x20]"


def _lit(text: str) -> Column:
    return F.lit(text)


def regex_quote(text: str) -> str:
    """``text`` as a Java regex matching it literally, also inside a character class."""
    return "".join(f"\\x{{{ord(c):x}}}" for c in text)


def java_trim(text: Column) -> Column:
    """Java ``String.trim``: strip characters <= U+0020 at both ends (§5.2).

    ``\\z``, not ``$``: in a Java regex ``$`` also matches before a final line terminator
    (``\\r``, U+0085, U+2028, ...), which would strip spaces in front of it."""
    return F.regexp_replace(text, f"^{_JAVA_WHITESPACE}+|{_JAVA_WHITESPACE}+\\z", "")


def _replacement(text: str) -> str:
    """``text`` as a literal ``regexp_replace`` replacement (Java ``quoteReplacement``)."""
    return text.replace("\\", "\\\\").replace("$", "\\$")


def split_escaped(line: Column, delimiter: str) -> Column:
    """Split an ``escaped`` line (§5.2): ``\\<delim>`` is a literal delimiter, ``\\\\`` a
    backslash, ``\\n``/``\\r`` LF/CR; any other backslash is kept with its character, and so
    is a trailing lone backslash.

    Returns ``array<string>`` of unescaped fields; a trailing delimiter gives an empty field.

    A line without a backslash is a plain split. Otherwise escaped backslashes and escaped
    delimiters are first replaced by a marker character followed by a code (``1``, ``2``),
    after a marker already in the text has become marker + ``0``; then ``\\n``/``\\r`` are
    unescaped, the line is split on the remaining delimiters, and the codes are turned back
    into ``\\``, the delimiter and the marker. Every marker in the coded text is followed by
    its code, so any text round-trips (the delimiter must not be ``0``, ``1`` or ``2``).
    """
    d = regex_quote(delimiter)
    mark = regex_quote(_MARK)
    coded = F.regexp_replace(line, mark, _MARK + "0")
    coded = F.regexp_replace(coded, r"\\\\", _MARK + "1")
    coded = F.regexp_replace(coded, r"\\" + d, _MARK + "2")
    coded = F.regexp_replace(F.regexp_replace(coded, r"\\n", "\n"), r"\\r", "\r")

    def decode(field: Column) -> Column:
        out = F.regexp_replace(field, mark + "1", _replacement("\\"))
        out = F.regexp_replace(out, mark + "2", _replacement(delimiter))
        out = F.regexp_replace(out, mark + "0", _MARK)
        return F.when(field.contains(_MARK), out).otherwise(field)

    return F.when(line.contains("\\"), F.transform(F.split(coded, d, -1), decode)).otherwise(
        F.split(line, d, -1))


def escape_text(text: Column, delimiter: str) -> Column:
    """Escape a rendered value for ``escaped`` outputs (§9.2): ``\\``, LF, CR, delimiter."""
    out = F.regexp_replace(text, r"\\", r"\\\\")
    out = F.regexp_replace(out, "\n", r"\\n")
    out = F.regexp_replace(out, "\r", r"\\r")
    return F.regexp_replace(out, re.escape(delimiter), "\\\\" + delimiter.replace("\\", "\\\\"))


def render_double(value: Column) -> Column:
    """Java-style double text with the shortest round-trip digits (§4.3).

    Uses Jackson's Schubfach ``DoubleToDecimal`` (on Spark's classpath), which prints what
    JDK 19+'s ``Double.toString`` prints; Java 17's own ``toString`` is not always shortest.
    """
    return F.call_function(
        "java_method",
        F.lit("com.fasterxml.jackson.core.io.schubfach.DoubleToDecimal"),
        F.lit("toString"),
        value,
    )


_MASK32 = 0xFFFFFFFF
# Characters a JSON string escapes (§4.4), and runs of characters it keeps.
_JSON_SPECIAL = '[\\x00-\\x1f\\x7f-\\x9f"\\\\]'
_JSON_TOKENS = '(?s)[^\\x00-\\x1f\\x7f-\\x9f"\\\\]+|.'
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                  "\r": "\\r", "\t": "\\t"}


def json_string(text: Column) -> Column:
    """A JSON string literal with the escaping of §4.4 (twin of
    :func:`ivory.values.render_json_string`): ``"``, ``\\``, ``\\b \\f \\n \\r \\t``,
    other U+0000-U+001F and U+007F-U+009F as ``\\u00xx`` (lower-case hex)."""

    def escape(token: Column) -> Column:
        out = F.when(F.length(token) != 1, token)
        for char, escaped in _SHORT_ESCAPES.items():
            out = out.when(token == char, F.lit(escaped))
        return out.when(token.rlike(_JSON_SPECIAL), F.concat(
            F.lit("\\u"), F.lower(F.hex(F.encode(token, "UTF-16BE"))))).otherwise(token)

    slow = F.array_join(F.transform(
        F.regexp_extract_all(text, F.lit(_JSON_TOKENS), 0), escape), "")
    return F.concat(F.lit('"'), F.when(text.rlike(_JSON_SPECIAL), slow).otherwise(text),
                    F.lit('"'))


def _json_scalar(value: Column) -> Column:
    """A primitive of a :data:`FIELD` or :data:`ELEMENT` record as JSON (§4.4)."""
    double = value["double_value"]
    return (
        F.when(value["boolean_value"].isNotNull(),
               F.when(value["boolean_value"], _lit("true")).otherwise(_lit("false")))
        .when(value["int_value"].isNotNull(), value["int_value"].cast("string"))
        .when(value["long_value"].isNotNull(), value["long_value"].cast("string"))
        .when(double.isNotNull(),
              F.when(F.isnan(double) | (F.abs(double) == F.lit(float("inf"))), _lit("null"))
              .otherwise(render_double(double)))
        .when(value["string_value"].isNotNull(), json_string(value["string_value"]))
        .when(value["date_value"].isNotNull(),
              F.concat(_lit('"'), F.date_format(value["date_value"], "yyyy-MM-dd"), _lit('"')))
    )


def java_string_hash(text: Column) -> Column:
    """Java ``String.hashCode`` of ``text`` as a ``bigint`` in ``[0, 2**32)`` (twin of
    :func:`ivory.keyorder.java_string_hash`): ``31 * h + unit`` over UTF-16 code units."""
    units = F.hex(F.encode(text, "UTF-16BE"))
    count = F.length(units) / 4
    return F.when(F.length(text) == 0, F.lit(0).cast("long")).otherwise(F.aggregate(
        F.sequence(F.lit(0), (count - 1).cast("int")), F.lit(0).cast("long"),
        lambda h, j: (h * 31 + F.conv(units.substr(j * 4 + 1, F.lit(4)), 16, 10).cast("long"))
        .bitwiseAND(F.lit(_MASK32))))


def _key_rank(name: Column, count: Column, position: Column) -> Column:
    """Sort key of one struct key among ``count`` present keys (§4.5 rules 1 and 2, as
    :func:`ivory.keyorder.json_key_order` with context ``stored``); ``position`` is its
    0-based declaration position among the present keys."""
    mask = F.lit(_MASK32)
    h = java_string_hash(name)
    # Rule 1 (>= 5 keys): Scala 2.11 immutable HashMap, 5-bit groups from the LSB end.
    s = (h + F.bitwise_not(F.shiftleft(h, 9)).bitwiseAND(mask)).bitwiseAND(mask)
    s = s.bitwiseXOR(F.shiftright(s, 14))
    s = (s + F.shiftleft(s, 4)).bitwiseAND(mask)
    s = s.bitwiseXOR(F.shiftright(s, 10))
    packed = F.lit(0).cast("long")
    for group in range(7):
        packed = packed + F.shiftleft(F.shiftright(s, 5 * group).bitwiseAND(F.lit(31)),
                                      5 * (6 - group))
    # Rule 2 (<= 4 keys): Java 7 HashMap(2n) buckets; latest inserted first in a bucket.
    b = h.bitwiseXOR(F.shiftright(h, 20)).bitwiseXOR(F.shiftright(h, 12))
    b = b.bitwiseXOR(F.shiftright(b, 7)).bitwiseXOR(F.shiftright(b, 4))
    table = F.when(count == 1, 2).when(count == 2, 4).otherwise(8)
    bucket = b.bitwiseAND(table - 1)
    return F.when(count >= 5, F.struct(packed.alias("k"), position.alias("p"))).otherwise(
        F.struct(bucket.cast("long").alias("k"), (-position).alias("p")))


def _plain_scalar(value: Column) -> Column:
    """A primitive of a :data:`FIELD` or :data:`ELEMENT` record as plain text (§4.3), the
    form the ``deprecated`` text format uses inside structs and lists (§4.4): nothing quoted
    or escaped, doubles as Java prints them (``NaN`` too)."""
    return (
        F.when(value["boolean_value"].isNotNull(),
               F.when(value["boolean_value"], _lit("true")).otherwise(_lit("false")))
        .when(value["int_value"].isNotNull(), value["int_value"].cast("string"))
        .when(value["long_value"].isNotNull(), value["long_value"].cast("string"))
        .when(value["double_value"].isNotNull(), render_double(value["double_value"]))
        .when(value["string_value"].isNotNull(), value["string_value"])
        .when(value["date_value"].isNotNull(), F.date_format(value["date_value"], "yyyy-MM-dd"))
    )


def _render_struct(fields: Column, deprecated: bool) -> Column:
    count = F.size(fields)
    if deprecated:
        def text(f: Column) -> Column:
            return F.concat(f["name"], F.lit(":"), _plain_scalar(f))
    else:
        def text(f: Column) -> Column:
            return F.concat(json_string(f["name"]), F.lit(":"), _json_scalar(f))
    ranked = F.transform(fields, lambda f, i: F.struct(
        _key_rank(f["name"], count, i).alias("rank"), text(f).alias("text")))
    opening, closing = ("(", ")") if deprecated else ("{", "}")
    return F.concat(F.lit(opening), F.array_join(
        F.transform(F.array_sort(ranked), lambda r: r["text"]), ","), F.lit(closing))


def render_struct_json(fields: Column) -> Column:
    """A stored struct value (``array<FIELD>``) as a compact JSON object, keys in the §4.5
    order of stored values (twin of :func:`ivory.values.render_value`, context ``stored``).
    """
    return _render_struct(fields, False)


def render_struct_deprecated(fields: Column) -> Column:
    """A stored struct value (``array<FIELD>``) in the ``deprecated`` text format (§4.4,
    §9.1): ``(k:v,k2:v2)``, values as plain text, keys in the same §4.5 order as JSON (twin
    of :func:`ivory.values.render_value` with ``text_format="deprecated"``; T: thrift-structs
    ``sparse-deprecated.psv``)."""
    return _render_struct(fields, True)


def render_list(elements: Column, deprecated: bool = False) -> Column:
    """A stored list value (``array<ELEMENT>``) as ``[v1,v2]`` (§4.4): elements as JSON, or
    for the ``deprecated`` format as plain text and ``(k:v)`` structs."""
    scalar = _plain_scalar if deprecated else _json_scalar
    return F.concat(F.lit("["), F.array_join(F.transform(elements, lambda e: F.when(
        e["struct_value"].isNotNull(), _render_struct(e["struct_value"], deprecated))
        .otherwise(scalar(e))), ","), F.lit("]"))


def render_list_json(elements: Column) -> Column:
    """A stored list value (``array<ELEMENT>``) as a compact JSON array (§4.4)."""
    return render_list(elements, False)


def render_value(encoding: Column, missing: str = "NA", deprecated: bool = False) -> Column:
    """Render the stored value of a fact row as text (§4.3, §4.4); tombstones give
    ``missing``. Structs and lists render as JSON (:func:`render_struct_json`,
    :func:`render_list_json`), or with ``deprecated`` in the ``deprecated`` text format
    (:func:`render_struct_deprecated`, §9.1); primitives are the same in both.

    Expects the row to have the :data:`FACT_SCHEMA` value columns and ``tombstone``.
    """
    return (
        F.when(F.col("tombstone"), _lit(missing))
        .when(encoding == "boolean",
              F.when(F.col("boolean_value"), _lit("true")).otherwise(_lit("false")))
        .when(encoding == "int", F.col("int_value").cast("string"))
        .when(encoding == "long", F.col("long_value").cast("string"))
        .when(encoding == "double", render_double(F.col("double_value")))
        .when(encoding == "string", F.col("string_value"))
        .when(encoding == "date", F.date_format(F.col("date_value"), "yyyy-MM-dd"))
        .when(encoding.startswith("("), _render_struct(F.col("struct_value"), deprecated))
        .when(encoding.startswith("["), render_list(F.col("list_value"), deprecated))
    )
