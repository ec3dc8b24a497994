"""Names of the stored fact columns (D2.5), shared by Spark jobs and pyarrow readers.

The Spark schema with types is :data:`ivory.jobs.columns.FACT_SCHEMA`; this module holds only
names so that commands which need no Spark do not import pyspark.
"""

from __future__ import annotations

#: Encoding text -> the column holding values of that encoding.
VALUE_COLUMNS: dict[str, str] = {
    "boolean": "boolean_value",
    "int": "int_value",
    "long": "long_value",
    "double": "double_value",
    "string": "string_value",
    "date": "date_value",
}
FACT_COLUMNS: list[str] = [
    "entity", "namespace", "name", "date", "seconds", "tombstone", *VALUE_COLUMNS.values(),
]
