"""Names of the stored fact columns (D2.5), shared by Spark jobs and pyarrow readers.

The Spark schema with types is :data:`ivory.jobs.columns.FACT_SCHEMA`; this module holds only
names (and the pyarrow twin of the schema) so that commands which need no Spark do not import
pyspark.

Struct and list values (§3.2, §4.1) are stored typed, never as text:

* ``struct_value``: ``array<field>``, one ``field`` per *present* struct field in the
  declaration order of the feature's encoding; ``field`` =
  ``struct<name string, boolean_value, int_value, long_value, double_value, string_value,
  date_value>`` with exactly the column of the field's primitive encoding set;
* ``list_value``: ``array<element>``, ``element`` = ``struct<boolean_value, ...,
  date_value, struct_value array<field>>`` with the column of the element encoding set
  (``struct_value`` for a list of structs), order kept.

Arrays (not maps) keep the field order, avoid duplicate-key rules and stay orderable, which the
snapshot's ``max(struct(...))`` needs.
"""

from __future__ import annotations

#: Primitive encoding text -> the column holding values of that encoding.
PRIMITIVE_COLUMNS: dict[str, str] = {
    "boolean": "boolean_value",
    "int": "int_value",
    "long": "long_value",
    "double": "double_value",
    "string": "string_value",
    "date": "date_value",
}
#: Encoding kind (a primitive's text, ``struct`` or ``list``) -> the column of its values.
VALUE_COLUMNS: dict[str, str] = {
    **PRIMITIVE_COLUMNS,
    "struct": "struct_value",
    "list": "list_value",
}
FACT_COLUMNS: list[str] = [
    "entity", "namespace", "name", "date", "seconds", "tombstone", *VALUE_COLUMNS.values(),
]


def encoding_kind(encoding: str) -> str:
    """The kind of an encoding text: its primitive name, ``struct`` (``(...)``) or ``list``
    (``[...]``), §3.2."""
    if encoding.startswith("("):
        return "struct"
    if encoding.startswith("["):
        return "list"
    return encoding


def arrow_fact_schema():  # type: ignore[no-untyped-def]
    """The stored fact schema as a ``pyarrow.Schema`` (for pyarrow writers and tests)."""
    import pyarrow as pa

    prims = [
        ("boolean_value", pa.bool_()), ("int_value", pa.int32()), ("long_value", pa.int64()),
        ("double_value", pa.float64()), ("string_value", pa.string()),
        ("date_value", pa.date32()),
    ]
    field = pa.struct([("name", pa.string()), *prims])
    element = pa.struct([*prims, ("struct_value", pa.list_(field))])
    return pa.schema([
        pa.field("entity", pa.string(), False), pa.field("namespace", pa.string(), False),
        pa.field("name", pa.string(), False), pa.field("date", pa.date32(), False),
        pa.field("seconds", pa.int32(), False), pa.field("tombstone", pa.bool_(), False),
        *prims, ("struct_value", pa.list_(field)), ("list_value", pa.list_(element)),
    ])
