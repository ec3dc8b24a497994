"""Identifiers of factsets and snapshots (§1.1).

Current ids are unsigned 32-bit counters rendered as exactly 8 lower-case hex digits
(``00000000``..``ffffffff``); legacy factset ids are 5 decimal digits and sort first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ivory.errors import IvoryError

_CURRENT = re.compile(r"[0-9A-Fa-f]{8}")
_LEGACY = re.compile(r"[0-9]{5}")
MAX_ID = 0xFFFFFFFF


def is_identifier(text: str) -> bool:
    """True when ``text`` parses as a current (8 hex) or legacy (5 digit) identifier."""
    return bool(_CURRENT.fullmatch(text) or _LEGACY.fullmatch(text))


def is_legacy_identifier(text: str) -> bool:
    """Whether ``text`` is the legacy form: exactly 5 decimal digits (§1.1)."""
    return bool(_LEGACY.fullmatch(text))


def parse_identifier(text: str) -> str:
    """Normalise an identifier: current ids to lower case, legacy ids unchanged.

    Raises:
        IvoryError: ``text`` is neither form.
    """
    if _CURRENT.fullmatch(text):
        return text.lower()
    if _LEGACY.fullmatch(text):
        return text
    raise IvoryError(f"'{text}' is not an identifier: expected 8 hex digits such as 00000000")


def identifier_sort_key(identifier: str) -> tuple[int, int]:
    """Order of §1.1: every legacy id before every current id, then by numeric value."""
    if _LEGACY.fullmatch(identifier):
        return (0, int(identifier))
    return (1, int(identifier, 16))


def render_identifier(value: int) -> str:
    """Render a counter as 8 lower-case hex digits."""
    if not 0 <= value <= MAX_ID:
        raise IvoryError(f"identifier {value} is outside 00000000..ffffffff")
    return f"{value:08x}"


def next_identifier(existing: Iterable[str]) -> str:
    """The id after the largest of ``existing`` (``00000000`` for none; after a legacy id,
    ``00000000``) (§1.1).

    Raises:
        IvoryError: the largest id is already ``ffffffff``.
    """
    ids = sorted((parse_identifier(i) for i in existing), key=identifier_sort_key)
    if not ids or _LEGACY.fullmatch(ids[-1]):
        return render_identifier(0)
    return render_identifier(int(ids[-1], 16) + 1)
