"""Windows of virtual features (§8.1) and what a snapshot keeps because of them (§7.3).

Pure code: dates are ``datetime.date``; a window is :class:`ivory.dictionary.Window`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

from ivory.dictionary import ConcreteDefinition, Dictionary, FeatureId, Window

#: Day numbers of reductions count from this date (§8.4 ``days(d)``).
EPOCH = dt.date(1600, 3, 1)


def _months_back(end: dt.date, months: int) -> dt.date:
    """Same day ``months`` earlier, clamped to the month's last day (Joda ``minusMonths``)."""
    total = end.year * 12 + (end.month - 1) - months
    year, month = divmod(total, 12)
    if year < dt.MINYEAR:
        return dt.date.min
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(end.day, last))


def window_start(end: dt.date, window: Window | None) -> dt.date:
    """The exclusive start of the window ``(start, end]`` (§8.1).

    ``n days`` -> end - n days; ``n weeks`` -> end - 7n days; ``n months`` -> same day n
    months earlier clamped to the month's end (2014-03-31 - 1 month = 2014-02-28);
    ``n years`` -> same month and day, Feb 29 -> Feb 28. No window -> ``end`` (§8.1).
    Dates before year 1 clamp to ``datetime.date.min``.
    """
    if window is None:
        return end
    n = window.length
    try:
        if window.unit == "day":
            return end - dt.timedelta(days=n)
        if window.unit == "week":
            return end - dt.timedelta(days=7 * n)
    except OverflowError:
        return dt.date.min
    return _months_back(end, n * (12 if window.unit == "year" else 1))


def days(date: dt.date) -> int:
    """``days(d)`` of §8.4: days from 1600-03-01 to ``date`` (negative before it)."""
    return (date - EPOCH).days


def earliest_window_start(windows: Iterable[Window | None], end: dt.date) -> dt.date | None:
    """``W`` of §7.3 for one concrete feature: the earliest window start among its virtual
    features at ``end``, or None when none of them has a window (store only the last fact).
    """
    starts = [window_start(end, w) for w in windows if w is not None]
    return min(starts) if starts else None


def snapshot_window_starts(dictionary: Dictionary, end: dt.date
                           ) -> dict[FeatureId, dt.date | None]:
    """``W`` (§7.3) of every concrete feature of ``dictionary`` for a snapshot at ``end``."""
    out: dict[FeatureId, dt.date | None] = {}
    for fid, d in dictionary.by_feature.items():
        if isinstance(d, ConcreteDefinition):
            out[fid] = earliest_window_start(
                (v.window for v in dictionary.virtuals_of(fid)), end)
    return out


def covers(old_start: dt.date | None, old_date: dt.date, new_start: dt.date | None,
           new_date: dt.date) -> bool:
    """Whether a snapshot at ``old_date`` that kept facts after ``old_start`` (plus the last
    one on or before it; None = only the last fact) holds every fact a computation at
    ``new_date`` with window start ``new_start`` needs (§7.4)."""
    have = old_date if old_start is None else old_start
    need = new_date if new_start is None else new_start
    return need >= have
