"""Windows (§8.1), the snapshot's W (§7.3) and window coverage for incremental snapshots
(§7.4)."""

from __future__ import annotations

import datetime as dt

import pytest

from ivory.dictionary import Window, parse_dictionary
from ivory.planning import is_snapshot_usable
from ivory.repository import SnapshotRecord
from ivory.windows import covers, days, snapshot_window_starts, window_start

D = dt.date


@pytest.mark.parametrize(("end", "window", "start"), [
    (D(2014, 7, 1), Window(2, "month"), D(2014, 5, 1)),  # §8.1 example
    (D(2014, 3, 31), Window(1, "month"), D(2014, 2, 28)),  # clamped to the month's end
    (D(2016, 3, 31), Window(1, "month"), D(2016, 2, 29)),  # leap year
    (D(2016, 2, 29), Window(1, "year"), D(2015, 2, 28)),  # Feb 29 -> Feb 28
    (D(2014, 1, 15), Window(13, "month"), D(2012, 12, 15)),
    (D(2014, 7, 1), Window(3, "day"), D(2014, 6, 28)),
    (D(2014, 7, 1), Window(2, "week"), D(2014, 6, 17)),
    (D(2014, 7, 1), None, D(2014, 7, 1)),  # no window: start = end
])
def test_window_start_section_8_1(end, window, start):
    assert window_start(end, window) == start


def test_day_numbers_count_from_1600_03_01_section_8_4():
    assert days(D(1600, 3, 1)) == 0
    assert days(D(1600, 3, 2)) == 1


def test_snapshot_w_is_the_earliest_window_start_section_7_3():
    d = parse_dictionary(
        "ns:a|encoding=int|mode=set\n"
        "ns:b|encoding=int\n"
        "ns:n1|source=ns:a|expression=count|window=1 month\n"
        "ns:n2|source=ns:a|expression=count|window=2 months\n"
        "ns:n3|source=ns:b|expression=count\n")
    starts = {str(k): v for k, v in snapshot_window_starts(d, D(2014, 5, 3)).items()}
    # T: window snapshot at 2014-05-03 with a 2-month window: W = 2014-03-03.
    assert starts == {"ns:a": D(2014, 3, 3), "ns:b": None}


def test_coverage_of_windows_section_7_4():
    june, july = D(2014, 6, 1), D(2014, 7, 1)
    assert covers(None, june, None, july)  # last fact only, then and now
    assert covers(D(2014, 4, 1), june, D(2014, 5, 1), july)
    assert not covers(None, june, D(2014, 5, 1), july)  # kept only the last fact by June
    assert not covers(D(2014, 5, 15), june, D(2014, 5, 1), july)


def test_other_dictionary_with_a_longer_window_is_not_usable_section_7_4():
    old = parse_dictionary("ns:a|encoding=int\nns:n|source=ns:a|expression=count|window=1 month\n")
    new = parse_dictionary("ns:a|encoding=int\nns:n|source=ns:a|expression=count|window=3 months\n")
    record = SnapshotRecord("00000000", D(2014, 6, 1), "00000001", "00000001")
    store = ["00000000"]
    assert not is_snapshot_usable(record, D(2014, 7, 1), store, store, "00000002", new, old)
    # the other way round the old snapshot kept more than needed
    record3 = SnapshotRecord("00000000", D(2014, 6, 1), "00000001", "00000001")
    assert is_snapshot_usable(record3, D(2014, 7, 1), store, store, "00000002", old, new)
