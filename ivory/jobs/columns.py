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
=================  =========  ============================================================
"""

from __future__ import annotations

import re

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
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

FACT_SCHEMA = StructType(
    [
        StructField("entity", StringType(), False),
        StructField("namespace", StringType(), False),
        StructField("name", StringType(), False),
        StructField("date", DateType(), False),
        StructField("seconds", IntegerType(), False),
        StructField("tombstone", BooleanType(), False),
        StructField("boolean_value", BooleanType(), True),
        StructField("int_value", IntegerType(), True),
        StructField("long_value", LongType(), True),
        StructField("double_value", DoubleType(), True),
        StructField("string_value", StringType(), True),
        StructField("date_value", DateType(), True),
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


def render_value(encoding: Column, missing: str = "NA") -> Column:
    """Render the stored value of a fact row as text (§4.3); tombstones give ``missing``.

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
    )
