"""Maintenance commands without Spark (§11.6, §11.9): ``factset-statistics`` and
``convert-dictionary`` (``health-recreate``, §11.7, is :mod:`ivory.recreate`). They read
Parquet with pyarrow, one batch at a time."""

from __future__ import annotations

import hashlib
import json
import math

from ivory.debug import object_files, read_rows
from ivory.dictionary import parse_dictionary, render_definition
from ivory.errors import IvoryError
from ivory.identifiers import is_legacy_identifier
from ivory.repository import Repository
from ivory.storage import open_storage
from ivory.values import TOMBSTONE, from_columns, render_stored

TOMBSTONE_MARK = "\u2620"  # ☠, how statistics histograms show tombstones (§11.6)
MAX_HISTOGRAM = 100


def convert_dictionary(source: str, target: str) -> str:
    """Convert a v1 pipe dictionary (§3.3) to v2 text (§3.5 lines); returns the message
    ``File successfully written to <target>`` (§11.9).

    Raises:
        DictionaryError: a bad line (``Line <n>: ...``).
    """
    storage, key = _file(source)
    text = storage.read(key).decode("utf-8")
    dictionary = parse_dictionary(text, source)
    out_storage, out_key = _file(target)
    out_storage.write(out_key, "".join(render_definition(d) + "\n"
                                       for d in dictionary.definitions).encode("utf-8"))
    return f"File successfully written to {target}"


def _file(path: str):  # -> tuple[Storage, str]
    parent, _, name = path.rstrip("/").rpartition("/")
    return open_storage(parent or "."), name


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def factset_statistics(repository: Repository, factset: str) -> tuple[str | None, int]:
    """Write ``factsets/<id>/_stats/part-00000.json``: one JSON line per (feature, date)
    with ``histogram`` (value text -> count, at most 100 distinct, tombstones as ``☠``) and,
    for numeric values, ``numerical`` ``{count, mean, sd}`` (§11.6). Returns the key written
    and the number of lines.

    A *legacy* id (5 decimal digits, §1.1) that names no factset is an empty factset, as
    upstream's statistics job over a missing legacy path (T: statistics runs ``-f 00000`` on
    a repository whose factset is ``00000000`` and expects success): nothing is written and
    the key returned is None.

    Raises:
        IvoryError: the factset (current 8-hex form) does not exist.
    """
    if is_legacy_identifier(factset) and not repository.data.exists(
            f"factsets/{factset}/.allocated"):
        return None, 0
    keys = _factset_keys(repository, factset)
    groups: dict[tuple[str, str, str], dict[str, object]] = {}
    for row in read_rows(repository.data, keys):
        group = groups.setdefault(
            (str(row["namespace"]), str(row["name"]), str(row["date"])),
            {"histogram": {}, "n": 0, "sum": 0.0, "sq": 0.0})
        value = from_columns(row)
        text = TOMBSTONE_MARK if value is TOMBSTONE else render_stored(row)
        histogram = group["histogram"]
        assert isinstance(histogram, dict)
        if text in histogram or len(histogram) < MAX_HISTOGRAM:
            histogram[text] = histogram.get(text, 0) + 1
        if isinstance(value, int | float) and not isinstance(value, bool):
            group["n"] = int(group["n"]) + 1  # type: ignore[call-overload]
            group["sum"] = float(group["sum"]) + value  # type: ignore[arg-type]
            group["sq"] = float(group["sq"]) + float(value) ** 2  # type: ignore[arg-type]
    lines = []
    for (namespace, name, date), g in sorted(groups.items()):
        record: dict[str, object] = {"feature": f"{namespace}:{name}", "date": date,
                                     "histogram": g["histogram"]}
        n = int(g["n"])  # type: ignore[call-overload]
        if n:
            mean = float(g["sum"]) / n  # type: ignore[arg-type]
            variance = max(float(g["sq"]) / n - mean * mean, 0.0)  # type: ignore[arg-type]
            record["numerical"] = {"count": n, "mean": mean, "sd": math.sqrt(variance)}
        lines.append(json.dumps(record, ensure_ascii=False, sort_keys=True))
    key = f"factsets/{factset}/_stats/part-00000.json"
    repository.data.write(key, "".join(line + "\n" for line in lines).encode("utf-8"))
    return key, len(lines)


def _factset_keys(repository: Repository, factset: str) -> list[str]:
    keys = [k for k in object_files(repository, "factset", factset) if k.endswith(".parquet")]
    if not keys and not repository.data.exists(f"factsets/{factset}/.allocated"):
        raise IvoryError(f"there is no factset {factset} in {repository.location}")
    return keys
