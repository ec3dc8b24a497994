"""ivory: a feature store on PySpark.

Facts ``(entity, namespace:feature, value, datetime)`` are ingested into immutable
factsets; a snapshot is, per entity and feature, the winning fact as of a date.
The behaviour follows ``shared/spec/ivory-semantics.md`` (cited as "§n") and the
design requirements ``shared/spec/design.md`` (cited as "Dn").

Naming convention used throughout the package:

* ``parse_*``, ``plan_*``, ``build_*``, ``render_*`` are pure functions: no I/O, no Spark.
* ``read_*``, ``write_*``, ``list_*`` take a storage backend, a SparkSession or a client
  as their first argument and do I/O.
* ``is_*`` / ``are_*`` return ``bool``; ``check_*`` / ``validate_*`` raise an
  :class:`ivory.errors.IvoryError` subclass.

Nothing in the package creates a SparkSession, a boto3 client or a logging
configuration at import time.
"""

from __future__ import annotations

__version__ = "0.1.0"
