"""Backslash escaping of the ``escaped`` text formats (§5.2, §9.2).

Used on ingest (``sparse:escaped:*`` input), by sparse/dense ``escaped`` extracts and by
``debug-dump-facts``. Pure functions.
"""

from __future__ import annotations

__all__ = ["UNESCAPES", "escape_text", "unescape_text"]

UNESCAPES = {"n": "\n", "r": "\r", "\\": "\\"}
"""Escape letters other than the delimiter, mapped to the character they stand for."""


def escape_text(text: str, delimiter: str) -> str:
    """Escape a field for ``escaped`` text output (§9.2, inverse of §5.2).

    ``\\`` -> ``\\\\``, LF -> ``\\n``, CR -> ``\\r``, the delimiter -> ``\\<delimiter>``;
    every other character is kept.

    Args:
        text: The field text.
        delimiter: The single-character field delimiter (``|``, ``,`` or TAB).

    Returns:
        The escaped text; ``unescape_text(escape_text(t, d), d) == t``.
    """
    table = {ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r"}
    table[ord(delimiter)] = "\\" + delimiter
    return text.translate(table)


def unescape_text(text: str, delimiter: str) -> str:
    """Undo ``escaped`` text escaping (§5.2).

    ``\\n`` -> LF, ``\\r`` -> CR, ``\\\\`` -> ``\\``, ``\\<delimiter>`` -> delimiter; a
    backslash followed by any other character keeps both characters; a trailing lone
    backslash is kept.

    Args:
        text: Escaped text (one field; an unescaped delimiter is kept as is).
        delimiter: The single-character field delimiter.

    Returns:
        The unescaped text.
    """
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("\\", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        if j + 1 == n:
            out.append("\\")
            break
        nxt = text[j + 1]
        if nxt in UNESCAPES:
            out.append(UNESCAPES[nxt])
        elif nxt == delimiter:
            out.append(delimiter)
        else:
            out.append("\\" + nxt)
        i = j + 2
    return "".join(out)
