"""Reference parser of text fact lines: ``entity|attribute|value|datetime`` (§5.2-§5.4).

Pure logic, no Spark and no I/O; the Spark ingest is tested against this module.

Check order and error positions of :func:`parse_fact_line` follow upstream's
``EavtParsers.fact`` (a ``ListParser`` over the split fields, found in the Ivory
sources), where the position is the 1-based index of the field being parsed:

====  ===================================================  ============================
step  check                                                 position
====  ===================================================  ============================
1     entity present and non-empty                          1
2     attribute present and non-empty                       2
3     value field present                                   3
4     feature known, not virtual (:data:`LOOKUP_POSITION`)  3
5     value parses (§4.2)                                   3
6     datetime field present                                4
7     datetime parses (§5.3)                                4
8     entity at most 256 UTF-16 units                       4 (:data:`ENTITY_LENGTH_POSITION`)
9     no field after the datetime                           5
====  ===================================================  ============================

Upstream looks the feature up and parses the value in the same ``value(...)`` step
after consuming the value field, so lookup errors are at position 3, and it checks the
entity length in ``Value.validateFact`` after the datetime, so that error is at
position 4. A missing or extra field gives ``Expected 4 fields but found <n>`` at the
position of the first missing (``n + 1``) or first extra (5) field; upstream's text for
these differs between library versions and is not tested (§5.4 AMBIGUOUS).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from ivory.errors import ValueParseError
from ivory.escaping import UNESCAPES
from ivory.javanum import java_trim
from ivory.values import MAX_DATE, MIN_DATE, parse_date, parse_value

__all__ = [
    "ENTITY_LENGTH_POSITION",
    "LOOKUP_POSITION",
    "MAX_ENTITY_LENGTH",
    "Fact",
    "FactError",
    "parse_datetime",
    "parse_fact_line",
    "split_delimited",
    "split_escaped",
]

MAX_ENTITY_LENGTH = 256
"""Longest entity id, in UTF-16 code units like Java ``String.length`` (§5.2)."""
LOOKUP_POSITION = 3
"""Error position of ``Could not find dictionary entry`` and ``Cannot import virtual``."""
ENTITY_LENGTH_POSITION = 4
"""Error position of ``Entity id '<e>' too large! Max length is 256``."""

_DATETIME_POSITION = 4
_UTC = datetime.UTC


# --- splitting (§5.2) -----------------------------------------------------------------


def split_delimited(line: str, delimiter: str) -> list[str]:
    """Split a ``delimited`` line with Java ``String.split`` semantics (§5.2).

    Trailing empty fields are dropped (``e|a|v|`` has 3 fields, ``|||`` has none), a
    line without a delimiter is one field (``""`` -> ``[""]``), leading and inner empty
    fields are kept. When exactly 4 fields result, the 4th (the datetime) is trimmed of
    characters ``<= U+0020`` (Java ``trim``), so CRLF files work.

    Args:
        line: One line without its ``\\n``.
        delimiter: The delimiter character (``|``, ``,`` or TAB).

    Returns:
        The fields.
    """
    fields = line.split(delimiter)
    if len(fields) > 1:
        while fields and fields[-1] == "":
            fields.pop()
    if len(fields) == 4:
        fields[3] = java_trim(fields[3])
    return fields


@lru_cache(maxsize=16)
def _escaped_token_re(delimiter: str) -> re.Pattern[str]:
    d = re.escape(delimiter)
    return re.compile(rf"\\.?|{d}|[^\\{d}]+", re.DOTALL)


def split_escaped(line: str, delimiter: str) -> list[str]:
    """Split an ``escaped`` line and unescape its fields (§5.2).

    ``\\n`` -> LF, ``\\r`` -> CR, ``\\\\`` -> backslash, ``\\<delimiter>`` -> a literal
    delimiter (not a split); a backslash before any other character keeps both; a
    trailing lone backslash is kept. Every delimiter splits, so a delimiter at the very
    end yields a trailing empty field. Nothing is trimmed.

    Args:
        line: One line without its ``\\n``.
        delimiter: The delimiter character.

    Returns:
        The unescaped fields (at least one).
    """
    if "\\" not in line:
        return line.split(delimiter)
    fields: list[str] = []
    current: list[str] = []
    for token in _escaped_token_re(delimiter).findall(line):
        if token == delimiter:
            fields.append("".join(current))
            current = []
        elif token[0] == "\\":
            if len(token) == 1:
                current.append("\\")
            elif token[1] in UNESCAPES:
                current.append(UNESCAPES[token[1]])
            elif token[1] == delimiter:
                current.append(delimiter)
            else:
                current.append(token)
        else:
            current.append(token)
    fields.append("".join(current))
    return fields


# --- datetimes (§5.3) -----------------------------------------------------------------

_LOCAL_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})")
_OFFSET_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:(Z)|([+-])([0-9]{2}):?([0-9]{2}))"
)


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_datetime(text: str, ingest_zone: str, repo_zone: str) -> tuple[datetime.date, int]:
    """Parse the datetime field of a fact (§5.3); the form is chosen by length.

    * 10: ``yyyy-MM-dd`` (as :func:`ivory.values.parse_date`) -> that date, 0 seconds;
      no time-zone conversion.
    * 19: ``yyyy-MM-ddTHH:mm:ss`` or ``yyyy-MM-dd HH:mm:ss``, a local time in
      ``ingest_zone``, converted to ``repo_zone``.
    * any other length: ``yyyy-MM-ddTHH:mm:ss`` followed by ``Z``, ``±hh:mm`` or
      ``±hhmm`` (hours 00-23, minutes 00-59), converted to ``repo_zone``.

    Fields are exactly 2 or 4 ASCII digits; hours 00-23, minutes and seconds 00-59.
    Upstream's Joda patterns were more lenient (``±hh`` alone, ``±hh:mm:ss``, a lower-case
    ``z``, variable-width years); those are rejected here, as the spec lists only the
    forms above.

    DST: a local time (19-character form) that falls in a gap or an overlap is resolved
    as ``java.time.ZonedDateTime.of`` does (and as Spark does): in an overlap the earlier
    offset (the first occurrence) is used; in a gap the time is shifted forward by the
    length of the gap (Sydney 2014-10-05 02:30 -> 03:30 +11:00). Upstream Joda
    rejected gap times as an illegal instant instead.

    The result is the date and seconds of day (hour, minute and second of the local
    time in ``repo_zone``), and the date must lie within 1600-03-01..3000-12-31.

    Args:
        text: The datetime field.
        ingest_zone: IANA zone of local times (``ingest -z``, default the repo zone).
        repo_zone: IANA zone of the repository.

    Returns:
        ``(date, seconds)`` with ``0 <= seconds < 86400``.

    Raises:
        ValueParseError: ``Could not parse '<text>' at position '4'`` (the field is the
            4th of a fact line, and upstream quotes that position in the message).
        zoneinfo.ZoneInfoNotFoundError: A zone name is unknown (a configuration error,
            not a data error).
    """
    n = len(text)
    if n == 10:
        date = parse_date(text)
        if date is None:
            raise _datetime_error(text)
        return date, 0
    match = (_LOCAL_RE if n == 19 else _OFFSET_RE).fullmatch(text)
    if match is None:
        raise _datetime_error(text)
    y, mo, d, hh, mi, ss = (int(g) for g in match.groups()[:6])
    target = _zone(repo_zone)
    if n == 19:
        tz: datetime.tzinfo = _zone(ingest_zone)
    elif match.group(7):
        tz = _UTC
    else:
        off_h, off_m = int(match.group(9)), int(match.group(10))
        if off_h > 23 or off_m > 59:
            raise _datetime_error(text)
        offset = datetime.timedelta(hours=off_h, minutes=off_m)
        tz = datetime.timezone(-offset if match.group(8) == "-" else offset)
    try:
        # fold=0: earlier offset in an overlap, pre-transition offset in a gap (which
        # is java.time's shift forward). Go through UTC: astimezone() to the same tzinfo
        # object would not normalise a gap time.
        moment = datetime.datetime(y, mo, d, hh, mi, ss, tzinfo=tz)
        local = moment.astimezone(_UTC).astimezone(target)
    except (ValueError, OverflowError):
        raise _datetime_error(text) from None
    date = local.date()
    if date < MIN_DATE or date > MAX_DATE:
        raise _datetime_error(text)
    return date, local.hour * 3600 + local.minute * 60 + local.second


def _datetime_error(text: str) -> ValueParseError:
    return ValueParseError(f"Could not parse '{text}' at position '{_DATETIME_POSITION}'")


# --- fact lines (§5.2, §5.4) ----------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One parsed fact (§5.2).

    Attributes:
        entity: Entity id.
        namespace: Namespace the line was read under.
        name: Feature name (the attribute field).
        value: Parsed value (see :mod:`ivory.values`), possibly ``TOMBSTONE``.
        date: Date in the repository time zone.
        seconds: Seconds of day in the repository time zone, ``0 <= seconds < 86400``.
    """

    entity: str
    namespace: str
    name: str
    value: object
    date: datetime.date
    seconds: int


@dataclass(frozen=True)
class FactError:
    """A line that did not parse (§5.4).

    Attributes:
        line: The original line (without its ``\\n``).
        fields: The split (and, for ``escaped``, unescaped) fields.
        reason: Why parsing stopped, e.g. ``Value 'bad' is not a boolean``.
        position: 1-based field position where parsing stopped (see the module table).
    """

    line: str
    fields: tuple[str, ...]
    reason: str
    position: int

    @property
    def message(self) -> str:
        """``<fields joined by ", ">\\n<reason> (position: <p>)`` (§5.4).

        ``cat-errors`` prints ``<line><delimiter><message>``.
        """
        return f"{', '.join(self.fields)}\n{self.reason} (position: {self.position})"


def _java_length(text: str) -> int:
    """``String.length``: UTF-16 code units (a non-BMP character counts twice)."""
    if len(text) * 2 <= MAX_ENTITY_LENGTH or text.isascii():
        return len(text)
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def parse_fact_line(
    line: str,
    namespace: str,
    lookup: Callable[[str, str], object | None],
    *,
    delimiter: str = "|",
    escaped: bool = False,
    ingest_zone: str,
    repo_zone: str,
) -> Fact | FactError:
    """Parse one text fact line (§5.2-§5.4); never raises for bad data.

    Checks run in the order of the module docstring table and the first failure is
    returned as a :class:`FactError`.

    Args:
        line: One line without its ``\\n``.
        namespace: The namespace of the file the line comes from.
        lookup: ``lookup(namespace, attribute)`` returns the feature definition (an object
            with ``encoding``, ``tombstones`` and a boolean ``is_virtual``) or None.
        delimiter: Field delimiter (``|``, ``,`` or TAB).
        escaped: True for the ``escaped`` format (:func:`split_escaped`), False for
            ``delimited`` (:func:`split_delimited`).
        ingest_zone: IANA zone of local datetimes (§5.3).
        repo_zone: IANA zone of the repository.

    Returns:
        The :class:`Fact`, or a :class:`FactError` whose reason is one of
        ``Entity id is empty``, ``Attribute is empty``,
        ``Expected 4 fields but found <n>``,
        ``Could not find dictionary entry for '<ns>:<attr>'``,
        ``Cannot import virtual feature <ns>:<attr>``, a value message (§4.2),
        ``Could not parse '<text>' at position '4'`` or
        ``Entity id '<e>' too large! Max length is 256``.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: A zone name is unknown (configuration error).
    """
    fields = split_escaped(line, delimiter) if escaped else split_delimited(line, delimiter)
    n = len(fields)

    def fail(reason: str, position: int) -> FactError:
        return FactError(line, tuple(fields), reason, position)

    def count_error(position: int) -> FactError:
        return fail(f"Expected 4 fields but found {n}", position)

    if n < 1:
        return count_error(1)
    entity = fields[0]
    if not entity:
        return fail("Entity id is empty", 1)
    if n < 2:
        return count_error(2)
    attribute = fields[1]
    if not attribute:
        return fail("Attribute is empty", 2)
    if n < 3:
        return count_error(3)
    definition = lookup(namespace, attribute)
    if definition is None:
        return fail(
            f"Could not find dictionary entry for '{namespace}:{attribute}'", LOOKUP_POSITION
        )
    if getattr(definition, "is_virtual", False):
        return fail(f"Cannot import virtual feature {namespace}:{attribute}", LOOKUP_POSITION)
    try:
        value = parse_value(
            definition.encoding,  # type: ignore[attr-defined]
            fields[2],
            getattr(definition, "tombstones", None) or (),
        )
    except ValueParseError as error:
        return fail(str(error), 3)
    if n < 4:
        return count_error(4)
    try:
        date, seconds = parse_datetime(fields[3], ingest_zone, repo_zone)
    except ValueParseError as error:
        return fail(str(error), _DATETIME_POSITION)
    if _java_length(entity) > MAX_ENTITY_LENGTH:
        return fail(
            f"Entity id '{entity}' too large! Max length is {MAX_ENTITY_LENGTH}",
            ENTITY_LENGTH_POSITION,
        )
    if n > 4:
        return count_error(5)
    return Fact(entity, namespace, attribute, value, date, seconds)
